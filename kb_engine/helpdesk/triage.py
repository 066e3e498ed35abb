"""Learned triage: from resolved tickets (their words, category and language, and the tier and team that
finally resolved them) a scikit-learn model proposes the tier and team of a new ticket, with its
confidence. Above `KB_TRIAGE_THRESHOLD` the ticket goes there directly; otherwise the routing file decides.
Either way the proposal and the words that weighed most are kept in the ticket's `created` event, so agents
see why.

The model learns only from tickets resolved at least `KB_TRIAGE_MIN_AGE_DAYS` ago (a resolution can still
be reopened before that) and only when there are `KB_TRIAGE_MIN_TICKETS` of them. `kb tickets triage
--train` (and each web server's scheduler, every `KB_TRIAGE_RETRAIN_HOURS`) saves it to
`<KB_INSTANCE_DIR>/triage.joblib`; `kb tickets triage --evaluate` replays the history in time order.

Model: TF-IDF of words and word pairs (plus `category:` and `lang:` tokens) and a logistic regression over
"tier|team" labels: small, fast to retrain, and its weights say which words pushed a ticket where.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.content.files import atomic_file
from kb_engine.helpdesk.models import Ticket
from kb_engine.helpdesk.routing import TIERS, Routing

log = logging.getLogger(__name__)

FILENAME = "triage.joblib"
TEXT_CHARS = 2000


@dataclass(frozen=True)
class Example:
    """One resolved ticket as the model sees it."""

    text: str
    category: str | None
    lang: str | None
    tier: str
    team: str | None
    created_at: dt.datetime
    resolved_at: dt.datetime

    @property
    def label(self) -> str:
        return f"{self.tier}|{self.team or ''}"


@dataclass(frozen=True)
class Proposal:
    tier: str
    team: str | None
    confidence: float
    because: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "team": self.team,
            "confidence": round(self.confidence, 3),
            "because": list(self.because),
        }


def features(text: str, category: str | None, lang: str | None) -> str:
    return f"{text[:TEXT_CHARS]} category:{category or 'none'} lang:{lang or 'none'}"


def examples(session: Session, *, before: dt.datetime | None = None) -> list[Example]:
    """Resolved (or closed after a resolution) tickets, oldest first; those resolved before `before`."""
    stmt = (
        select(Ticket)
        .where(Ticket.resolved_at.is_not(None), Ticket.merged_into_id.is_(None))
        .order_by(Ticket.created_at, Ticket.id)
    )
    if before is not None:
        stmt = stmt.where(Ticket.resolved_at <= before)
    return [
        Example(
            text=" ".join(part for part in (t.query, t.details or "") if part),
            category=t.category,
            lang=t.lang,
            tier=t.tier,
            team=t.team,
            created_at=t.created_at,
            resolved_at=t.resolved_at,  # type: ignore[arg-type]
        )
        for t in session.scalars(stmt)
    ]


@dataclass
class TriageModel:
    """A trained model; `propose` says where a new ticket should go."""

    pipeline: Pipeline
    trained_on: int
    trained_at: dt.datetime
    threshold: float = 0.8

    @classmethod
    def train(
        cls, data: Sequence[Example], *, threshold: float = 0.8, now: dt.datetime | None = None
    ) -> TriageModel | None:
        """A model of `data`, or None when it holds fewer than two destinations."""
        labels = [e.label for e in data]
        if len(set(labels)) < 2:
            return None
        pipeline = Pipeline(
            [
                (
                    "tfidf",
                    TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, token_pattern=r"[\w:]+"),
                ),
                ("model", LogisticRegression(max_iter=1000, C=10.0)),
            ]
        )
        pipeline.fit([features(e.text, e.category, e.lang) for e in data], labels)
        return cls(pipeline, len(data), now or dt.datetime.now(dt.UTC).replace(tzinfo=None), threshold)

    def propose(self, text: str, category: str | None, lang: str | None) -> Proposal:
        doc = features(text, category, lang)
        probabilities = self.pipeline.predict_proba([doc])[0]
        best = int(np.argmax(probabilities))
        label = str(self.pipeline.classes_[best])
        tier, _, team = label.partition("|")
        return Proposal(tier, team or None, float(probabilities[best]), self._because(doc, best))

    def _because(self, doc: str, best: int, top: int = 5) -> tuple[str, ...]:
        """The words of the ticket that pushed most towards the proposal (the model's weights × TF-IDF)."""
        tfidf: TfidfVectorizer = self.pipeline.named_steps["tfidf"]
        model: LogisticRegression = self.pipeline.named_steps["model"]
        row = tfidf.transform([doc]).tocoo()
        weights = model.coef_[best] if model.coef_.shape[0] > 1 else model.coef_[0] * (1 if best else -1)
        names = tfidf.get_feature_names_out()
        scored = sorted(
            ((float(v * weights[c]), str(names[c])) for c, v in zip(row.col, row.data, strict=True)),
            reverse=True,
        )
        return tuple(name for score, name in scored[:top] if score > 0)


def route(
    model: TriageModel | None, routing: Routing, *, text: str, category: str | None, lang: str | None
) -> tuple[str, str | None, dict[str, Any] | None]:
    """The tier and team of a new ticket, and what triage said (None without a model)."""
    fallback = routing.route(category)
    if model is None:
        return fallback.tier, fallback.team, None
    proposal = model.propose(text, category, lang)
    used = proposal.confidence >= model.threshold
    said = {**proposal.to_dict(), "used": used, "routing": {"tier": fallback.tier, "team": fallback.team}}
    if used:
        return proposal.tier, proposal.team, said
    return fallback.tier, fallback.team, said


# -- persistence ------------------------------------------------------------------------------------------
def save(model: TriageModel, instance_dir: Path) -> Path:
    path = Path(instance_dir) / FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, "wb") as fh:
        joblib.dump(model, fh)
    return path


_cache: dict[Path, tuple[float, TriageModel | None]] = {}
_lock = threading.Lock()


def model_for(instance_dir: Path, threshold: float) -> TriageModel | None:
    """The saved model of an instance folder (re-read when it changes); None when there is none yet."""
    path = Path(instance_dir) / FILENAME
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    with _lock:
        cached = _cache.get(path)
        if cached is None or cached[0] != mtime:
            try:
                model = joblib.load(path)
            except Exception as exc:  # noqa: BLE001 - a broken file must not stop tickets being opened
                log.error("triage model %s not used: %s", path, exc)
                model = None
            cached = (mtime, model if isinstance(model, TriageModel) else None)
            _cache[path] = cached
    model = cached[1]
    if model is not None:
        model.threshold = threshold
    return model


def train_now(
    session: Session, *, min_tickets: int, min_age: dt.timedelta, threshold: float, now: dt.datetime
) -> TriageModel | None:
    """A model of the tickets resolved at least `min_age` before `now`, if there are `min_tickets`."""
    data = examples(session, before=now - min_age)
    if len(data) < min_tickets:
        return None
    return TriageModel.train(data, threshold=threshold, now=now)


# -- replay ---------------------------------------------------------------------------------------------
@dataclass
class Replay:
    """What routing would have done, ticket by ticket in time order: the model (when it had learned
    enough) versus the routing file alone."""

    rows: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, category: str, outcome: dict[str, bool]) -> None:
        for key in (category, "all"):
            counts = self.rows.setdefault(key, Counter())
            counts["tickets"] += 1
            counts.update({k: int(v) for k, v in outcome.items()})

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {k: dict(v) for k, v in sorted(self.rows.items(), key=lambda kv: (kv[0] == "all", kv[0]))}

    def table(self) -> str:
        head = (
            f"{'category':<14}{'tickets':>8}{'model':>7}{'straight':>10}{'routing':>9}{'too high':>9}"
            f"{'  straight to final tier: model / routing file'}"
        )
        lines = [head]
        for key, c in self.to_dict().items():
            n = c["tickets"] or 1
            lines.append(
                f"{key:<14}{c['tickets']:>8}{c.get('model_ready', 0):>7}{c.get('straight', 0):>10}"
                f"{c.get('routing_straight', 0):>9}{c.get('too_high', 0):>9}"
                f"  {100 * c.get('straight', 0) / n:5.1f}% / {100 * c.get('routing_straight', 0) / n:5.1f}%"
            )
        return "\n".join(lines)


def replay(
    data: Sequence[Example],
    routing: Routing,
    *,
    min_tickets: int,
    min_age: dt.timedelta,
    threshold: float,
    retrain: dt.timedelta = dt.timedelta(days=1),
) -> Replay:
    """Replay `data` (resolved tickets) in time order: each ticket is routed by a model trained only on the
    tickets resolved `min_age` before it arrived (retrained every `retrain`), and by the routing file.

    Counted per category: `straight` (sent at once to the tier that finally resolved it), `routing_straight`
    (what the routing file alone would have achieved), `too_high` (the model sent it above its final tier),
    `model_ready` (a model existed).
    """
    ordered = sorted(data, key=lambda e: e.created_at)
    result = Replay()
    model: TriageModel | None = None
    trained_until: dt.datetime | None = None
    for example in ordered:
        if trained_until is None or example.created_at - trained_until >= retrain:
            cutoff = example.created_at - min_age
            seen = [e for e in ordered if e.resolved_at <= cutoff]
            model = (
                TriageModel.train(seen, threshold=threshold, now=cutoff) if len(seen) >= min_tickets else None
            )
            trained_until = example.created_at
        tier, _team, said = route(
            model, routing, text=example.text, category=example.category, lang=example.lang
        )
        fallback = routing.route(example.category).tier
        result.add(
            example.category or "-",
            {
                "model_ready": said is not None,
                "straight": tier == example.tier,
                "routing_straight": fallback == example.tier,
                "too_high": TIERS.index(tier) > TIERS.index(example.tier),
            },
        )
    return result
