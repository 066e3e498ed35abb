"""Which section of an article answers a query: the best section of each hit.

An article's chunks already carry their heading path; a hit's best section is the section whose chunks
score best for the query: the dense score of its best window, plus the share of the query's words (and
their glossary equivalents) found in its heading and text, plus a strong preference for the platform the
customer named ("on my iPhone" -> Steps > Phone). Sections that describe the problem or what to have ready
for support (Symptoms, Before you contact support; "Before escalating" in older articles) are not answers:
they are chosen only when nothing else matches.

Only the few hits shown are looked at, so this adds a small constant to a query, not a pass over the index.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kb_engine.content.articles import Article
from kb_engine.content.chunking import KINDS
from kb_engine.content.glossary import Glossary
from kb_engine.content.platforms import PlatformVocabulary, load_platforms
from kb_engine.content.sections import section_by_path
from kb_engine.content.text import fold
from kb_engine.errors import ArticleError
from kb_engine.search.lexical import analyzer

log = logging.getLogger(__name__)

# Platforms recognised in section headings and in queries, in both languages: facet value -> words.
# A heading names a platform when one of its words is one of these (after folding accents and case).
DEFAULT_PLATFORMS: dict[str, tuple[str, ...]] = {
    "windows": ("windows", "pc", "win10", "win11", "ordi", "ordinateur"),
    "macos": ("macos", "mac", "macbook", "imac", "osx", "apple"),
    "linux": ("linux", "ubuntu", "debian", "fedora"),
    "phone": (
        "phone", "telephone", "smartphone", "mobile", "cellphone", "cell", "iphone", "android",
        "samsung", "pixel", "ios", "ipad", "tablette", "tablet", "gsm",
    ),
    "iphone": ("iphone", "ios", "ipad", "apple"),
    "android": ("android", "samsung", "pixel", "galaxy", "xiaomi", "huawei"),
    "web": ("web",),  # not "browser" or "ligne": "clear the browser cache", "hors ligne" name no platform
}  # fmt: skip
# Headings that are not answers, folded: what the problem looks like, and what to have ready before
# contacting support (written "Before escalating" in the desk's words until the shipped articles spoke
# the customers'; knowledge bases started from the older template still use it).
NOT_ANSWER_HEADINGS = frozenset(
    {
        "symptoms", "symptomes", "before you contact support", "avant de contacter le support",
        "before escalating", "avant d'escalader", "avant d escalader",
    }
)  # fmt: skip
# How far below the best answer section a platform's section may score for the question to be asked.
# Measured on eval/ambiguity.tsv against eval/queries.tsv (README "Which one are you using?").
CLARIFY_MARGIN = 0.1
# How close other hits must be to the first (share of its score) for "the results split by platform" to
# count: articles that differ only by the platform score alike for a query that names none.
CLARIFY_GAP = 0.15
_WORD = re.compile(r"[a-z0-9]+")
# Bullets and step numbers left in a flattened passage ("- Check the cable. 2. Restart"): snippet noise.
LIST_MARKER = re.compile(r"(?<!\S)(?:[-*+]|\d{1,2}\.)\s+(?=\S)")


@dataclass(frozen=True)
class SectionWeights:
    """How a section's score is made: dense score + words found + platform named - not an answer."""

    heading_words: float = 0.25
    text_words: float = 0.15
    platform: float = 0.3
    other_platform: float = 0.08
    not_answer: float = 0.12
    intro: float = 0.1


@dataclass
class Platforms:
    """The platform vocabulary (facet value -> words), as configured, and the options' labels per
    language (value -> {lang: label}; the page's own labels otherwise)."""

    words: Mapping[str, Sequence[str]] = field(default_factory=lambda: dict(DEFAULT_PLATFORMS))
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # The front-matter field an article declares its platforms in (setting FACET_FIELD).
    facet_field: str = "platform"

    @classmethod
    def with_vocabulary(cls, vocabulary: PlatformVocabulary, facet_field: str = "platform") -> Platforms:
        """The built-in vocabulary with an articles folder's platforms file added to it."""
        words = {value: tuple(found) for value, found in DEFAULT_PLATFORMS.items()}
        for value, extra in vocabulary.words.items():
            words[value] = tuple(dict.fromkeys((*words.get(value, ()), *extra)))
        return cls(words, dict(vocabulary.labels), facet_field)

    def declared(self, article: Article) -> list[str]:
        """The known platforms an article declares in its front matter, in its order (unknown values,
        which `kb lint` reports, left out)."""
        return [value for value in article.facet(self.facet_field) if value in self.words]

    def __post_init__(self) -> None:
        self._index: dict[str, set[str]] = {}
        for value, words in self.words.items():
            for word in (value, *words):
                self._index.setdefault(fold(word), set()).add(value)

    def of_text(self, text: str) -> set[str]:
        """Platforms a text names (a query, or a heading)."""
        found: set[str] = set()
        for word in _WORD.findall(fold(text)):
            found |= self._index.get(word, set())
        return found

    def of_heading(self, title: str) -> set[str]:
        """Platforms a section heading is about: the most specific ones it names ("iPhone" is iphone,
        not also phone; "Phone" is phone)."""
        words = _WORD.findall(fold(title))
        direct = {w for w in words if w in self.words}
        if direct:
            return direct
        return self.of_text(title)


def platforms_for(articles_dir: str | Path, facet_field: str = "platform") -> Platforms:
    """The platform vocabulary for an articles folder: the built-in one plus its `platforms.yml`, and the
    front-matter field articles declare theirs in. A malformed file is logged and left out (the built-in
    vocabulary still serves); `kb lint` reports it."""
    try:
        return Platforms.with_vocabulary(load_platforms(Path(articles_dir)), facet_field)
    except ArticleError as exc:
        log.error("platforms file left out: %s", exc)
        return Platforms(facet_field=facet_field)


def is_answer_heading(path: str) -> bool:
    top = fold(path.split(" > ", 1)[0]).replace("’", "'").strip()
    return top not in NOT_ANSWER_HEADINGS


@dataclass(frozen=True)
class Candidate:
    """One section of a hit, with what the query found in it."""

    path: str
    dense: float
    heading_share: float
    text_share: float
    platforms: frozenset[str]


def section_score(
    cand: Candidate, query_platforms: Iterable[str], weights: SectionWeights = SectionWeights()
) -> float:
    wanted = set(query_platforms)
    score = cand.dense + weights.heading_words * cand.heading_share + weights.text_words * cand.text_share
    if wanted and cand.platforms:
        score += weights.platform if wanted & cand.platforms else -weights.other_platform
    if not cand.path:
        score -= weights.intro
    elif not is_answer_heading(cand.path):
        score -= weights.not_answer
    return score


@dataclass(frozen=True)
class SectionQuery:
    """What a query brings to section choice: its stems (with glossary equivalents) and platforms."""

    terms: frozenset[str]
    platforms: frozenset[str]


_SECTION_KIND = KINDS.index("section")


class SectionPicker:
    """Best section of an article for a query, over one index build's chunk table."""

    def __init__(
        self,
        chunk_rows: np.ndarray,
        chunk_kinds: np.ndarray,
        headings: Sequence[str],
        passages: Sequence[str],
        langs: Sequence[str],
        segments: np.ndarray | None,
        platforms: Platforms,
        weights: SectionWeights = SectionWeights(),
        declared: Sequence[Sequence[str]] | None = None,
    ) -> None:
        self.chunk_kinds = chunk_kinds
        self.headings = headings
        self.passages = passages
        self.langs = langs
        self.platforms = platforms
        self.weights = weights
        # Per article row: the platforms its front matter declares (setting FACET_FIELD), else empty.
        self.declared = declared or []
        self._terms: dict[int, tuple[frozenset[str], frozenset[str]]] = {}
        self._heading_platforms: dict[str, frozenset[str]] = {}
        if segments is not None:
            ends = np.append(segments[1:], chunk_rows.size)
            pairs = zip(segments.tolist(), ends.tolist(), strict=True)
            self._ranges = {int(chunk_rows[s]): np.arange(s, e) for s, e in pairs}
        else:
            found: dict[int, list[int]] = {}
            for i, row in enumerate(chunk_rows.tolist()):
                found.setdefault(row, []).append(i)
            self._ranges = {row: np.array(ix, dtype=np.int64) for row, ix in found.items()}

    @classmethod
    def of(cls, searcher: Any) -> SectionPicker:
        """The picker over a searcher's loaded build (its chunk table, languages and platforms)."""
        return cls(
            searcher.chunk_rows,
            searcher.chunk_kinds,
            searcher.chunk_headings,
            searcher.chunk_passages,
            searcher.langs,
            searcher.segments,
            searcher.platforms,
            declared=[searcher.platforms.declared(a) for a in searcher.articles],
        )

    def chunks_of(self, row: int) -> np.ndarray:
        return self._ranges.get(row, np.empty(0, dtype=np.int64))

    def query(self, text: str, lang: str, glossary: Glossary, facet: str | None = None) -> SectionQuery:
        """A query's terms and platforms (`facet`, the customer's answer to the question, when given)."""
        extra = " ".join(glossary.expand(text).get(lang, []))
        terms = frozenset(analyzer(lang).analyse(f"{text} {extra}")[1])
        return SectionQuery(terms, frozenset({facet} if facet else self.platforms.of_text(text)))

    def article_platforms(self, row: int) -> list[str]:
        """The platforms an article is for: those its front matter declares, else those its section
        headings name, in article order."""
        if row < len(self.declared) and self.declared[row]:
            return list(self.declared[row])
        found: list[str] = []
        for c in self.chunks_of(row).tolist():
            if self.chunk_kinds[c] == _SECTION_KIND and self.headings[c]:
                found += [p for p in sorted(self.heading_platforms(self.headings[c])) if p not in found]
        return found

    def facet_first(self, groups: Sequence[Any], facet: str | None) -> list[Any]:
        """Hits re-ranked for a chosen facet value: articles with a section for it first (stable)."""
        if not facet:
            return list(groups)
        return sorted(groups, key=lambda g: facet not in self.article_platforms(g.row))

    def clarify(
        self,
        groups: Sequence[Any],
        chunk_scores: np.ndarray | None,
        query: SectionQuery,
        margin: float = CLARIFY_MARGIN,
        answered: bool = True,
    ) -> dict[str, Any] | None:
        """The one question worth asking, or None: when the query names no platform, the first hit's
        sections cover two platforms or more and a platform's section is the best answer or within
        `margin` of it (the steps the customer needs depend on the platform). The options are the
        platforms of the first hit's sections, in article order. Also when the hits within `CLARIFY_GAP`
        (a share of its score) of the first are articles for one platform each, two platforms or more
        between them (a knowledge base that writes one article per platform): the options are theirs, in
        rank order; that one is asked when the engine is not `answered` too (the close hits are why it is
        unsure)."""
        if query.platforms or not groups:
            return None
        close = [g for g in groups[:3] if g.score >= groups[0].score - CLARIFY_GAP * abs(groups[0].score)]
        singles = [self.article_platforms(g.row) for g in close]
        if len(close) >= 2 and all(len(found) == 1 for found in singles):
            split = list(dict.fromkeys(found[0] for found in singles))
            if len(split) >= 2:
                return {"facet": "platform", "options": split}
        if not answered:
            return None
        options = self.article_platforms(groups[0].row)
        if len(options) < 2:
            return None
        cands = self.candidates(groups[0].row, chunk_scores, query)
        answers = [(c, s) for c, s in cands if is_answer_heading(self.headings[c])]
        if not answers:
            return None
        best = max(s for _, s in answers)
        on_platform = max((s for c, s in answers if self.heading_platforms(self.headings[c])), default=None)
        if on_platform is None or on_platform < best - margin:
            return None  # a section for every platform answers better: the platform does not matter
        return {"facet": "platform", "options": options}

    def _terms_of(self, chunk: int, lang: str) -> tuple[frozenset[str], frozenset[str]]:
        terms = self._terms.get(chunk)
        if terms is None:
            an = analyzer(lang)
            terms = (
                frozenset(an.analyse(self.headings[chunk])[1]),
                frozenset(an.analyse(self.passages[chunk])[1]),
            )
            if len(self._terms) < 200_000:  # bounded: a huge KB's rarely shown chunks are re-analysed
                self._terms[chunk] = terms
        return terms

    def heading_platforms(self, path: str) -> frozenset[str]:
        found = self._heading_platforms.get(path)
        if found is None:
            found = frozenset(self.platforms.of_heading(path.rsplit(" > ", 1)[-1]))
            self._heading_platforms[path] = found
        return found

    def candidates(
        self, row: int, chunk_scores: np.ndarray | None, query: SectionQuery
    ) -> list[tuple[int, float]]:
        """(chunk, score) of each section window of article `row`, in article order."""
        lang = self.langs[row]
        n_terms = max(1, len(query.terms))
        out = []
        for c in self.chunks_of(row).tolist():
            if self.chunk_kinds[c] != _SECTION_KIND or not self.headings[c]:
                continue
            heading_terms, text_terms = self._terms_of(c, lang)
            cand = Candidate(
                path=self.headings[c],
                dense=float(chunk_scores[c]) if chunk_scores is not None else 0.0,
                heading_share=len(query.terms & heading_terms) / n_terms,
                text_share=len(query.terms & text_terms) / n_terms,
                platforms=self.heading_platforms(self.headings[c]),
            )
            out.append((c, section_score(cand, query.platforms, self.weights)))
        return out

    def best(
        self, row: int, chunk_scores: np.ndarray | None, query: SectionQuery
    ) -> tuple[int, float] | None:
        """The chunk of the section of article `row` that answers the query best, and its score; None
        when the article has no sections."""
        found = self.candidates(row, chunk_scores, query)
        return max(found, key=lambda cs: cs[1]) if found else None

    def section_of(
        self, article: Article, row: int, chunk_scores: np.ndarray | None, query: SectionQuery | None
    ) -> tuple[dict[str, str] | None, int | None]:
        """A hit's `section` field (heading, anchor, passage, url) and the chunk it comes from."""
        picked = self.best(row, chunk_scores, query) if query is not None else None
        if picked is None:
            return None, None
        heading = self.headings[picked[0]]
        found = section_by_path(article.body, heading)
        if found is None:
            return None, None
        section = {
            "heading": heading,
            "anchor": found.anchor,
            "passage": LIST_MARKER.sub("", self.passages[picked[0]]).strip(),
            "url": f"{article.url}#{found.anchor}",
        }
        return section, picked[0]
