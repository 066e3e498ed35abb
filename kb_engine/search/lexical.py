"""Lexical signal: BM25 (bm25s) per language, with real French and English analysis.

Each language has its own analyzer (case and accent folding, French elisions, stop words, Snowball
stemming) and its own BM25 index over that language's articles, so a query is matched against each
language with the right analysis and no language guess is needed here. Query words absent from the
vocabulary are corrected to the nearest known word (typo tolerance), with a lower weight.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import Stemmer
from bm25s import stopwords as bm25_stopwords
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from kb_engine.content.articles import Article, plain_text
from kb_engine.content.text import fold

SNOWBALL = {"en": "english", "fr": "french", "de": "german", "es": "spanish", "it": "italian", "nl": "dutch"}
_STOPWORDS = {"en": bm25_stopwords.STOPWORDS_EN_PLUS, "fr": bm25_stopwords.STOPWORDS_FRENCH}
# Words customers use constantly that carry no topic (beyond the stock lists).
_EXTRA_STOPWORDS = {
    "en": {"please", "pls", "plz", "hi", "hello", "help", "thanks", "thank", "can", "cant", "get", "got",
           "since", "still", "anymore", "just", "really", "need", "want", "trying", "try", "tried", "work",
           "working", "works", "doesnt", "dont", "isnt", "wont", "im", "ive", "thing", "stuff", "way"},
    "fr": {"bonjour", "merci", "svp", "stp", "aide", "aider", "besoin", "veux", "voudrais", "peux", "peut",
           "arrive", "marche", "fonctionne", "plus", "truc", "chose", "depuis", "toujours", "encore", "faire",
           "fait", "comment", "quoi", "ya", "jai", "j", "c", "est", "ca", "ça", "ne", "pas", "sais"},
}  # fmt: skip
_ELISION = re.compile(r"^(?:l|d|j|qu|n|s|c|m|t|jusqu|lorsqu|puisqu|quoiqu)['’]", re.IGNORECASE)
_WORD = re.compile(r"[\w'’]+", re.UNICODE)
_APOSTROPHE = re.compile(r"['’]")
TYPO_WEIGHT = 0.7
# Per-analyzer memo of surface word -> kept words and word -> stem: an index build meets the same few
# thousand words millions of times. Bounded (queries bring new words forever): full, it stops growing.
MEMO_MAX = 200_000


class Analyzer:
    """Text -> index terms for one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        name = SNOWBALL.get(lang)
        self._stemmer = Stemmer.Stemmer(name) if name else None
        stop = set(_STOPWORDS.get(lang, ())) | _EXTRA_STOPWORDS.get(lang, set())
        self.stopwords = {fold(w) for w in stop}
        # raw token -> (kept words, their stems)
        self._kept: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._stems: dict[str, str] = {}

    def analyse(self, text: str) -> tuple[list[str], list[str]]:
        """(words, terms) of a text: `words` and their stems, in one pass."""
        words: list[str] = []
        stems: list[str] = []
        kept = self._kept
        for raw in _WORD.findall(text.lower()):
            entry = kept.get(raw)
            if entry is None:
                parts = self._keep(raw)
                entry = (parts, tuple(self.stem(w) for w in parts))
                if len(kept) < MEMO_MAX:
                    kept[raw] = entry
            words.extend(entry[0])
            stems.extend(entry[1])
        return words, stems

    def words(self, text: str) -> list[str]:
        """Surface words, elisions removed, lowercased (accents kept for the stemmer)."""
        return self.analyse(text)[0]

    def _keep(self, raw: str) -> tuple[str, ...]:
        parts = _APOSTROPHE.split(_ELISION.sub("", raw)) if ("'" in raw or "’" in raw) else (raw,)
        out = []
        for word in parts:
            word = word.strip("_")
            if word and (len(word) > 1 or word.isdigit()) and fold(word) not in self.stopwords:
                out.append(word)
        return tuple(out)

    def stem(self, word: str) -> str:
        stem = self._stems.get(word)
        if stem is None:
            # Fold first: customers type without accents, and "oublie" must stem like "oublié".
            folded = fold(word)
            stem = self._stemmer.stemWord(folded) if self._stemmer else folded
            if len(self._stems) < MEMO_MAX:
                self._stems[word] = stem
        return stem

    def terms(self, text: str) -> list[str]:
        return self.analyse(text)[1]


@lru_cache(maxsize=8)
def analyzer(lang: str) -> Analyzer:
    return Analyzer(lang)


# BM25 per field, each field its own collection (its own length normalisation and term statistics), summed
# with these weights: on FAQs a word of the title says far more than the same word deep in the body. Each
# `questions` line is a document of its own (an article's questions field scores as its best line), so a
# line can be held out exactly when the ranking is fitted (kb_engine.search.fitting). Tags go with the title.
FIELDS = ("title", "questions", "body")
FIELD_WEIGHTS = {"title": 2.0, "questions": 1.5, "body": 1.0}


def field_texts(article: Article) -> dict[str, list[str]]:
    """The documents each field holds for an article: one title (+ tags), one per question, one body."""
    return {
        "title": [f"{article.title}\n{' '.join(article.tags)}"],
        "questions": list(article.questions),
        "body": [plain_text(article.body)],
    }


# Articles are immutable values: a long-lived indexer (`kb watch`) re-analyses only the ones that changed.
@lru_cache(maxsize=20_000)
def article_terms(article: Article) -> tuple[tuple[str, ...], tuple[tuple[tuple[str, ...], ...], ...]]:
    """(words of the whole article, stems of each field's documents in FIELDS order)."""
    an = analyzer(article.lang)
    words: list[str] = []
    fields = []
    for docs in field_texts(article).values():
        stems = []
        for text in docs:
            w, t = an.analyse(text)
            words.extend(w)
            stems.append(tuple(t))
        fields.append(tuple(stems))
    return tuple(words), tuple(fields)


def article_text(article: Article) -> str:
    """All the text BM25 sees of an article, as one string (for a plain single-field baseline)."""
    return "\n".join(t for docs in field_texts(article).values() for t in docs)


@dataclass
class _Field:
    retriever: bm25s.BM25
    rows: np.ndarray  # article row (in the whole index) of each document of this field


@dataclass
class _LangIndex:
    fields: dict[str, _Field]
    rows: list[int]  # article rows of this language
    vocab: dict[str, str]  # folded surface word -> stem, for typo correction
    terms: set[str]


class LexicalIndex:
    """Per-field BM25 over articles, one index per language."""

    def __init__(
        self, n_articles: int, langs: dict[str, _LangIndex], weights: dict[str, float] | None = None
    ) -> None:
        self.n_articles = n_articles
        self.langs = langs
        self.weights = dict(weights or FIELD_WEIGHTS)
        self._vocab_lists = {lang: list(ix.vocab) for lang, ix in langs.items()}
        # Per index (not per class): a replaced build's caches go with it.
        self._correct = lru_cache(maxsize=4096)(self._nearest_word)
        self._near_length = lru_cache(maxsize=256)(self._words_near_length)

    def _nearest_word(self, lang: str, folded: str, limit: int) -> str | None:
        """The vocabulary word nearest to `folded` within `limit` edits (the first in vocabulary order among
        equals), or None. Only words whose length is within `limit` can qualify, so only those are
        compared: the same answer as scanning the whole vocabulary, for a fraction of the time."""
        candidates = self._near_length(lang, len(folded), limit)
        match = process.extractOne(folded, candidates, scorer=Levenshtein.distance, score_cutoff=limit)
        return None if match is None else str(match[0])

    def _words_near_length(self, lang: str, length: int, limit: int) -> list[str]:
        return [w for w in self._vocab_lists[lang] if abs(len(w) - length) <= limit]

    @staticmethod
    def _term_scores(retriever: bm25s.BM25, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(documents, BM25 scores) of one term, read straight from the index's CSC matrix: what
        `get_scores([term])` returns without its dense per-term array."""
        token = retriever.vocab_dict.get(term)
        if token is None:
            return None
        matrix = retriever.scores
        start, end = int(matrix["indptr"][token]), int(matrix["indptr"][token + 1])
        return np.asarray(matrix["indices"][start:end]), np.asarray(matrix["data"][start:end])

    @classmethod
    def build(cls, articles: Sequence[Article]) -> LexicalIndex:
        by_lang: dict[str, list[int]] = {}
        for row, article in enumerate(articles):
            by_lang.setdefault(article.lang, []).append(row)
        langs = {}
        for lang, rows in sorted(by_lang.items()):
            corpora: dict[str, list[list[str]]] = {name: [] for name in FIELDS}
            doc_rows: dict[str, list[int]] = {name: [] for name in FIELDS}
            vocab: dict[str, str] = {}
            an = analyzer(lang)
            for row in rows:
                words, fields = article_terms(articles[row])
                for word in dict.fromkeys(words):
                    vocab.setdefault(fold(word), an.stem(word))  # a word's stem depends on its folded form
                for name, docs in zip(FIELDS, fields, strict=True):
                    for stems in docs:
                        corpora[name].append(list(stems) or [""])
                        doc_rows[name].append(row)
            fields_ix = {}
            for name in FIELDS:
                retriever = bm25s.BM25()
                retriever.index(corpora[name] or [[""]], show_progress=False)
                fields_ix[name] = _Field(retriever, np.array(doc_rows[name] or [-1], dtype=np.int64))
            terms = {t for f in fields_ix.values() for t in f.retriever.vocab_dict}
            langs[lang] = _LangIndex(fields_ix, rows, vocab, terms)
        return cls(len(articles), langs)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        langs_meta: dict[str, Any] = {}
        meta = {"n_articles": self.n_articles, "weights": self.weights, "langs": langs_meta}
        for lang, ix in self.langs.items():
            for name, f in ix.fields.items():
                f.retriever.save(str(directory / lang / name), show_progress=False)
                np.save(directory / lang / name / "rows.npy", f.rows)
            langs_meta[lang] = {"rows": ix.rows, "vocab": ix.vocab}
        (directory / "lexical.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        meta = json.loads((directory / "lexical.json").read_text(encoding="utf-8"))
        langs = {}
        for lang, data in meta["langs"].items():
            fields = {}
            for name in FIELDS:
                folder = directory / lang / name
                retriever = bm25s.BM25.load(str(folder), mmap=True, show_progress=False, verbosity=0)
                fields[name] = _Field(retriever, np.load(folder / "rows.npy", mmap_mode="r"))
            terms = {t for f in fields.values() for t in f.retriever.vocab_dict}
            langs[lang] = _LangIndex(fields, data["rows"], data["vocab"], terms)
        return cls(meta["n_articles"], langs, meta.get("weights"))

    def query_terms(self, text: str, lang: str, *, extra: Iterable[str] = ()) -> dict[str, float]:
        """Weighted query terms for one language: exact terms 1.0, typo corrections and extras lower."""
        ix = self.langs.get(lang)
        if ix is None:
            return {}
        an = analyzer(lang)
        weights: dict[str, float] = {}
        for word, stem in zip(*an.analyse(text), strict=True):
            if stem in ix.terms:
                weights[stem] = max(weights.get(stem, 0.0), 1.0)
                continue
            folded = fold(word)
            if len(folded) < 4 or folded.isdigit():
                continue
            limit = 1 if len(folded) <= 6 else 2
            match = self._correct(lang, folded, limit)
            if match is not None:
                corrected = ix.vocab[match]
                weights[corrected] = max(weights.get(corrected, 0.0), TYPO_WEIGHT)
        for phrase in extra:
            for stem in an.terms(phrase):
                if stem in ix.terms:
                    weights.setdefault(stem, TYPO_WEIGHT)
        return weights

    def field_scores(
        self, text: str, *, extra: Mapping[str, Iterable[str]] | None = None
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per field: (article row of each document, its BM25 score) over every language's documents,
        each language's documents scored with that language's analysis."""
        out: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {name: ([], []) for name in FIELDS}
        for lang, ix in self.langs.items():
            weights = self.query_terms(text, lang, extra=(extra or {}).get(lang, ()))
            if not weights:
                continue
            for name, f in ix.fields.items():
                doc_scores = np.zeros(f.rows.size, dtype=np.float32)
                for term, weight in weights.items():
                    posting = self._term_scores(f.retriever, term)
                    if posting is not None:  # the same float32 sums, only where the term occurs
                        docs, values = posting
                        doc_scores[docs] += weight * values
                out[name][0].append(np.asarray(f.rows))
                out[name][1].append(doc_scores)
        return {
            name: (np.concatenate(rows), np.concatenate(scores))
            if rows
            else (np.zeros(0, np.int64), np.zeros(0, np.float32))
            for name, (rows, scores) in out.items()
        }

    def combine(self, fields: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Article scores from field document scores: each field's best document per article, weighted."""
        out = np.zeros(self.n_articles, dtype=np.float32)
        for name, (rows, scores) in fields.items():
            if rows.size:
                best = np.zeros(self.n_articles + 1, dtype=np.float32)
                np.maximum.at(best, rows, scores)  # rows of -1 (an empty field) land in the spare slot
                out += self.weights.get(name, 0.0) * best[: self.n_articles]
        return out

    def scores(self, text: str, *, extra: Mapping[str, Iterable[str]] | None = None) -> np.ndarray:
        """Per-field BM25 score of every article (row order of the index), each in its own language."""
        return self.combine(self.field_scores(text, extra=extra))

    def coverage(self, text: str, lang: str) -> float:
        """Share of the query's content words that the language's vocabulary knows (0 when none)."""
        ix = self.langs.get(lang)
        words = analyzer(lang).words(text)
        if ix is None or not words:
            return 0.0
        return sum(analyzer(lang).stem(w) in ix.terms for w in words) / len(words)

    def language_evidence(self, text: str, lang: str) -> float:
        """How much the knowledge base's vocabulary says the query is in `lang`: the share of its words
        known in that language, plus the share known in that language only (strong on short queries
        whose other words are shared cognates like "teams" or "webcam")."""
        ix = self.langs.get(lang)
        words = [fold(w) for w in analyzer(lang).words(text)]
        if ix is None or not words:
            return 0.0
        others = [other.vocab for code, other in self.langs.items() if code != lang]
        own = sum(w in ix.vocab for w in words)
        exclusive = sum(w in ix.vocab and not any(w in v for v in others) for w in words)
        return (own + exclusive) / len(words)

    def matched(self, text: str, lang: str, row: int, *, held_out: tuple[str, int] | None = None) -> float:
        """Share of the query's content words (known to the knowledge base or not) that article `row`
        contains, in any field: what one shared rare word cannot fake ("payroll app gives bad gateway
        502" shares only "gateway" with the VPN article). held_out: (field, k) leaves out the article's
        k-th document of that field (a fitted pseudo-query's own line)."""
        ix = self.langs.get(lang)
        stems = list(dict.fromkeys(analyzer(lang).terms(text)))
        if ix is None or not stems:
            return 0.0
        found = 0
        for stem in stems:
            for name, f in ix.fields.items():
                posting = self._term_scores(f.retriever, stem)
                if posting is None:
                    continue
                docs = posting[0]
                hits = docs[np.asarray(f.rows)[docs] == row]
                if held_out is not None and held_out[0] == name:
                    own = np.flatnonzero(np.asarray(f.rows) == row)
                    hits = hits[hits != own[held_out[1]]] if own.size > held_out[1] else hits
                if hits.size:
                    found += 1
                    break
        return found / len(stems)
