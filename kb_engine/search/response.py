"""What a search answers (`Hit`, `SearchResponse`: the JSON contract of `kb search --json` and the API),
the three outcomes, and where a build's ranking parameters come from."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from kb_engine.errors import InvalidQuery

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass
class Hit:
    id: str
    title: str
    lang: str
    score: float
    url: str
    snippet: str = ""
    category: str | None = None
    audience: str = "public"
    other_language: bool = False
    matched: str = ""  # which field matched best: title, question, section
    section: dict[str, str] | None = None  # the best section: heading, anchor, passage, url

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "lang": self.lang,
            "score": round(self.score, 4),
            "url": self.url,
            "snippet": self.snippet,
            "category": self.category,
            "audience": self.audience,
            "other_language": self.other_language,
            "matched": self.matched,
            "section": self.section,
        }


@dataclass
class SearchResponse:
    query: str
    answered: bool
    confidence: float
    hits: list[Hit] = field(default_factory=list)
    lang: str = "en"
    degraded: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    redirect: dict[str, str] | None = None  # where to go instead, for a request the desk does not handle
    # "answered" (confident), "suggest" (these might help: suggestions with the ticket offered at once) or
    # "out_of_scope" (nothing close enough, or a request the desk does not handle).
    outcome: str = "out_of_scope"
    # Asked for only (clarify=True): {"facet": "platform", "options": [...]} when the answer depends on it.
    clarify: dict[str, Any] | None = None
    facet: str | None = None  # the facet value the hits were re-ranked for

    def to_dict(self) -> dict[str, Any]:
        data = {
            "query": self.query,
            "answered": self.answered,
            "outcome": self.outcome,
            "confidence": round(self.confidence, 4),
            "lang": self.lang,
            "degraded": self.degraded,
            "hits": [h.to_dict() for h in self.hits],
        }
        if self.redirect:
            data["redirect"] = self.redirect
        data.update({name: v for name, v in (("clarify", self.clarify), ("facet", self.facet)) if v})
        return data


def ranking_source(manifest: dict[str, Any]) -> dict[str, Any]:
    """Where a build's ranking and confidence come from: `kb calibrate` (labelled queries, feedback) when
    it was run on this format, else the fit made at index time (`fit`, with any value set by hand in
    `calibration.params` on top), else the defaults."""
    calibration = manifest.get("calibration") or {}
    if calibration.get("format") == 2:
        return dict(calibration)
    fit = dict(manifest.get("fit") or {})
    params = calibration.get("params") or {}
    if params and "confidence" not in params:
        # Values set by hand (a threshold, weights) override the fit's. An older `kb calibrate` model
        # (other confidence features, and the threshold that went with them) is not used.
        fit["params"] = {**(fit.get("params") or {}), **params}
    return fit


def outcome_of(answered: bool, has_hits: bool, ranked: Any, suggest_threshold: float) -> str:
    """The three outcomes of a search: answered; suggest (might help); out of scope (nothing close enough,
    or closer to a request the desk does not handle than to any article)."""
    if answered:
        return "answered"
    if not has_hits or ranked.negative > 0 or ranked.confidence < suggest_threshold:
        return "out_of_scope"
    return "suggest"


def clean_query(text: str, max_chars: int) -> str:
    """Normalise a raw query: NFC, no control characters, collapsed spaces; InvalidQuery if too long."""
    if len(text) > max_chars:
        raise InvalidQuery(f"query is {len(text)} characters long; the limit is {max_chars}")
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()
