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


# Articles are immutable values: a long-lived indexer (`kb watch`) re-analyses only the ones that changed.
@lru_cache(maxsize=20_000)
def article_terms(article: Article) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(words, terms) of what BM25 sees of an article (`article_text`)."""
    words, stems = analyzer(article.lang).analyse(article_text(article))
    return tuple(words), tuple(stems)


def article_text(article: Article) -> str:
    """What BM25 sees of an article: title (twice: it is the strongest field), questions, tags, body."""
    parts = [
        article.title,
        article.title,
        *article.questions,
        " ".join(article.tags),
        plain_text(article.body),
    ]
    return "\n".join(parts)


@dataclass
class _LangIndex:
    retriever: bm25s.BM25
    rows: list[int]  # article row (in the whole index) of each BM25 document
    vocab: dict[str, str]  # folded surface word -> stem, for typo correction
    terms: set[str]


class LexicalIndex:
    """BM25 over articles, one index per language."""

    def __init__(self, n_articles: int, langs: dict[str, _LangIndex]) -> None:
        self.n_articles = n_articles
        self.langs = langs
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

    def _term_scores(self, ix: _LangIndex, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(documents, BM25 scores) of one term, read straight from the index's CSC matrix: what
        `get_scores([term])` returns without its dense per-term array."""
        token = ix.retriever.vocab_dict.get(term)
        if token is None or getattr(ix.retriever, "nonoccurrence_array", None) is not None:
            return None
        matrix = ix.retriever.scores
        start, end = int(matrix["indptr"][token]), int(matrix["indptr"][token + 1])
        return np.asarray(matrix["indices"][start:end]), np.asarray(matrix["data"][start:end])

    @classmethod
    def build(cls, articles: Sequence[Article]) -> LexicalIndex:
        by_lang: dict[str, list[int]] = {}
        for row, article in enumerate(articles):
            by_lang.setdefault(article.lang, []).append(row)
        langs = {}
        for lang, rows in sorted(by_lang.items()):
            corpus: list[list[str]] = []
            vocab: dict[str, str] = {}
            for row in rows:
                words, stems = article_terms(articles[row])
                for word, stem in dict(zip(words, stems, strict=True)).items():
                    vocab.setdefault(fold(word), stem)  # a word's stem depends on its folded form only
                corpus.append(list(stems) or [""])
            retriever = bm25s.BM25()
            retriever.index(corpus, show_progress=False)
            langs[lang] = _LangIndex(retriever, rows, vocab, set(retriever.vocab_dict))
        return cls(len(articles), langs)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        langs_meta: dict[str, Any] = {}
        meta = {"n_articles": self.n_articles, "langs": langs_meta}
        for lang, ix in self.langs.items():
            ix.retriever.save(str(directory / lang), show_progress=False)
            langs_meta[lang] = {"rows": ix.rows, "vocab": ix.vocab}
        (directory / "lexical.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        meta = json.loads((directory / "lexical.json").read_text(encoding="utf-8"))
        langs = {}
        for lang, data in meta["langs"].items():
            retriever = bm25s.BM25.load(str(directory / lang), mmap=True, show_progress=False, verbosity=0)
            langs[lang] = _LangIndex(retriever, data["rows"], data["vocab"], set(retriever.vocab_dict))
        return cls(meta["n_articles"], langs)

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

    def scores(self, text: str, *, extra: Mapping[str, Iterable[str]] | None = None) -> np.ndarray:
        """BM25 score of every article (row order of the index) for a query, each in its own language."""
        out = np.zeros(self.n_articles, dtype=np.float32)
        for lang, ix in self.langs.items():
            weights = self.query_terms(text, lang, extra=(extra or {}).get(lang, ()))
            if not weights:
                continue
            lang_scores = np.zeros(len(ix.rows), dtype=np.float32)
            for term, weight in weights.items():
                posting = self._term_scores(ix, term)
                if posting is None:
                    lang_scores += weight * ix.retriever.get_scores([term])
                else:  # the same float32 sums, only where the term occurs (elsewhere it adds 0)
                    docs, values = posting
                    lang_scores[docs] += weight * values
            out[ix.rows] = lang_scores
        return out

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
