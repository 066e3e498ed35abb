"""Problems (recurring incidents) and known issues: proposing, linking, confirming, resolving."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select

from kb_engine.errors import InvalidTransition, NotFound
from kb_engine.helpdesk.models import Problem, ProblemWatch, Ticket
from kb_engine.helpdesk.similarity import (
    Embed,
    similarities,
)
from kb_engine.helpdesk.tickets.lifecycle import LifecycleMixin
from kb_engine.helpdesk.tickets.rules import ACTIVE, ENGINE, check_email, check_length, iso, required_field


def customer_of(ticket: Ticket) -> str:
    """Who a ticket stands for when counting customers: the address an anonymous visitor opened it from,
    else its email, else the ticket itself (opened by an agent, who vouches for it)."""
    if ticket.client_address:
        return f"address:{ticket.client_address}"
    if ticket.contact_email and ticket.contact_email.strip():
        return f"email:{ticket.contact_email.strip().lower()}"
    return f"ticket:{ticket.id}"


class ProblemsMixin(LifecycleMixin):
    """Problems and the tickets linked to them (resolving a problem resolves its tickets: the lifecycle)."""

    def _problem_texts(self, problem: Problem) -> list[str]:
        """What a query is compared with to match a problem: its first customers' words."""
        first = self.session.scalars(
            select(Ticket.query).where(Ticket.problem_id == problem.id).order_by(Ticket.id).limit(20)
        )
        return [problem.query, *(q for q in first if q.strip())]

    def _best_problem(
        self, query: str, problems: Sequence[Problem], embed: Embed, threshold: float
    ) -> Problem | None:
        best, best_score = None, threshold
        for problem in problems:
            score = float(similarities(embed, query, self._problem_texts(problem)).max(initial=-1.0))
            if score >= best_score:
                best, best_score = problem, score
        return best

    def link_problem(self, ticket: Ticket, problem: Problem, actor: str) -> None:
        """Attach a ticket to a problem (a recurring incident)."""
        if ticket.problem is problem:
            return
        ticket.problem = problem
        self._event(ticket, actor, "problem_linked", None, problem=problem.id)
        if problem.status == "open":
            self._event(ticket, actor, "problem_confirmed", problem.banner, problem=problem.id)

    def unlink_problem(self, ticket: Ticket, actor: str) -> None:
        """Detach a ticket from its problem (it was about something else)."""
        problem = ticket.problem
        if problem is None:
            return
        ticket.problem = None
        self._event(ticket, actor, "problem_unlinked", None, problem=problem.id)

    def problem_customers(self, problem: Problem) -> int:
        """How many customers the problem's tickets speak for (contacts, at least one per ticket)."""
        return sum(max(1, len(t.contacts)) for t in problem.tickets if t.merged_into_id is None)

    def link_or_propose_problem(
        self,
        ticket: Ticket,
        embed: Embed,
        *,
        window: dt.timedelta | None = None,
        min_tickets: int | None = None,
        threshold: float | None = None,
    ) -> Problem | None:
        """Attach a new ticket to the proposed or open problem it matches, or propose a new problem.

        A problem is proposed when tickets about the same thing from at least `min_tickets` different
        customers (`customer_of`: one visitor's many tickets count once) arrived within `window` of it;
        agents then confirm or reject it. A proposed problem grows only by a customer it does not have yet,
        so one sender alone neither makes nor grows one. Returns the problem, if any.
        (`window`, `min_tickets`, `threshold`: the service's rules unless given.)
        """
        window, min_tickets, threshold = self._rules(window, min_tickets, threshold)
        if ticket.problem is not None or ticket.merged_into_id is not None or not ticket.query.strip():
            return ticket.problem
        current = list(self.session.scalars(select(Problem).where(Problem.status.in_(("proposed", "open")))))
        match = self._best_problem(ticket.query, current, embed, threshold)
        if match is not None:
            if match.status == "proposed" and customer_of(ticket) in {customer_of(t) for t in match.tickets}:
                return None  # the same customer again: not more evidence of an incident
            self.link_problem(ticket, match, ENGINE)
            return match
        recent = [
            t
            for t in self.session.scalars(
                select(Ticket).where(
                    Ticket.created_at >= ticket.created_at - window,
                    Ticket.created_at <= ticket.created_at + window,
                    Ticket.problem_id.is_(None),
                    Ticket.merged_into_id.is_(None),
                    Ticket.id != ticket.id,
                )
            )
            if t.query.strip()
        ]
        if len(recent) + 1 < min_tickets:
            return None
        sims = similarities(embed, ticket.query, [t.query for t in recent])
        members = sorted(
            [ticket, *(t for t, s in zip(recent, sims.tolist(), strict=True) if s >= threshold)],
            key=lambda t: (t.created_at, t.id),
        )
        if len({customer_of(t) for t in members}) < min_tickets:
            return None
        leader = members[0]
        categories = Counter(t.category for t in members if t.category)
        problem = Problem(
            title=" ".join(leader.query.split())[:120],
            query=leader.query,
            category=categories.most_common(1)[0][0] if categories else None,
            status="proposed",
            created_by=ENGINE,
            created_at=self.clock(),
        )
        self.session.add(problem)
        for member in members:
            self.link_problem(member, problem, ENGINE)
        self.session.flush()
        return problem

    def propose_problems(
        self,
        embed: Embed,
        *,
        window: dt.timedelta | None = None,
        min_tickets: int | None = None,
        threshold: float | None = None,
    ) -> list[Problem]:
        """Look at every ticket of the last `window` not yet linked; returns the problems proposed now."""
        window, min_tickets, threshold = self._rules(window, min_tickets, threshold)
        existing = set(self.session.scalars(select(Problem.id)))
        candidates = self.session.scalars(
            select(Ticket)
            .where(
                Ticket.created_at >= self.clock() - window,
                Ticket.problem_id.is_(None),
                Ticket.merged_into_id.is_(None),
            )
            .order_by(Ticket.created_at, Ticket.id)
        ).all()
        fresh: dict[int, Problem] = {}
        for ticket in candidates:
            if ticket.problem is not None:  # linked meanwhile, to a problem proposed in this loop
                continue
            problem = self.link_or_propose_problem(
                ticket, embed, window=window, min_tickets=min_tickets, threshold=threshold
            )
            if problem is not None and problem.id not in existing:
                fresh[problem.id] = problem
        return list(fresh.values())

    def get_problem(self, problem_id: int) -> Problem:
        problem = self.session.get(Problem, problem_id)
        if problem is None:
            raise NotFound(f"no problem {problem_id}")
        return problem

    def problems(self, statuses: Sequence[str] = ("proposed", "open")) -> list[Problem]:
        return list(
            self.session.scalars(
                select(Problem).where(Problem.status.in_(statuses)).order_by(Problem.created_at, Problem.id)
            )
        )

    def _require_problem(self, problem: Problem, action: str, allowed: Sequence[str]) -> None:
        if problem.status not in allowed:
            raise InvalidTransition(f"cannot {action} problem {problem.id}: it is {problem.status}")

    def confirm_problem(
        self,
        problem: Problem,
        actor: str,
        *,
        title: str | None = None,
        banner: str | None = None,
        banners: Mapping[str, str | None] | None = None,
    ) -> Problem:
        """An agent confirms a proposed problem: it opens and its banner shows to matching searches.

        Give a `title` (or a `banner`): the proposed title is the first customer's own words, which
        should not be shown to other customers as they are. `banners`: the banner in each interface
        language (`{"en": ..., "fr": ...}`); the first one given is the default `banner` too.
        """
        self._require_problem(problem, "confirm", ("proposed",))
        texts = {
            lang: text
            for lang, text in ((k, check_length("banner", v)) for k, v in (banners or {}).items())
            if text
        }
        banner = check_length("banner", banner) or next(iter(texts.values()), None)
        problem.title = check_length("title", title) or problem.title
        problem.banners = texts or None
        problem.banner = banner or f"Known issue: {problem.title}. We are on it."
        problem.status = "open"
        problem.confirmed_at = self.clock()
        problem.confirmed_by = actor
        for ticket in problem.tickets:
            self._event(ticket, actor, "problem_confirmed", problem.banner, problem=problem.id)
        self.session.flush()
        return problem

    def reject_problem(self, problem: Problem, actor: str, reason: str | None = None) -> Problem:
        """Not one incident after all: the proposal is dropped (its tickets stay linked, for the record)."""
        return self._end_problem(problem, actor, "rejected", check_length("reason", reason))

    def resolve_problem(
        self, problem: Problem, actor: str, note: str, *, resolve_tickets: bool = False
    ) -> Problem:
        """The incident is over: the banner goes; with `resolve_tickets`, its open tickets are resolved."""
        self._end_problem(problem, actor, "resolved", required_field("message", note))
        if resolve_tickets:
            with self._quietly("resolved"):  # "the known issue is fixed" already told each customer
                for ticket in problem.tickets:
                    if ticket.status in ACTIVE and ticket.merged_into_id is None:
                        self.resolve(ticket, actor, note=problem.resolution_note)
        self.session.flush()
        return problem

    def watch_problem(self, problem: Problem, email: str, lang: str | None) -> ProblemWatch:
        """A customer who saw the known issue's banner asks to be emailed once it is fixed (no ticket is
        opened); asking twice with one address keeps one request.

        Raises:
            InvalidQuery: no address, or not one address.
            InvalidTransition: the problem is not a known issue now (not confirmed, or already over).
        """
        address = required_field("contact_email", check_email("contact_email", email)).lower()
        if problem.status != "open":
            raise InvalidTransition("this known issue is over: there is nothing left to wait for", key="over")
        watch = self.session.scalar(
            select(ProblemWatch).where(ProblemWatch.problem_id == problem.id, ProblemWatch.email == address)
        )
        if watch is None:
            watch = ProblemWatch(problem_id=problem.id, email=address, lang=lang, created_at=self.clock())
            self.session.add(watch)
            self.session.flush()
        return watch

    def _tell_watchers(self, problem: Problem) -> None:
        """Email each customer who asked from the banner, once (not again when a ticket of theirs already
        told them), then forget their addresses."""
        watches = self.session.scalars(select(ProblemWatch).where(ProblemWatch.problem_id == problem.id))
        for watch in watches:
            if "problem_fixed" in self._quiet:
                break
            lang = self.notifier.language(watch.lang)
            self.notifier.queue_standalone(
                self.session,
                "known_issue_fixed",
                watch.email,
                lang,
                {
                    "problem_title": problem.title,
                    "banner": problem.banner_for(lang) or "",
                    "message": problem.resolution_note or "",
                },
                now=self.clock(),
                key=f"problem_fixed:{problem.id}:{watch.email}",
            )
        self.session.execute(delete(ProblemWatch).where(ProblemWatch.problem_id == problem.id))

    def _end_problem(self, problem: Problem, actor: str, status: str, note: str | None) -> Problem:
        """Reject a proposed problem or resolve an open one, telling each of its tickets."""
        allowed = "proposed" if status == "rejected" else "open"
        self._require_problem(problem, "reject" if status == "rejected" else "resolve", (allowed,))
        problem.status = status
        problem.resolved_at = self.clock()
        problem.resolved_by = actor
        problem.resolution_note = note
        for ticket in problem.tickets:
            event = self._event(ticket, actor, f"problem_{status}", note, problem=problem.id)
            if status == "resolved":  # every customer of every linked ticket, once per address
                self._tell(
                    self.surviving(ticket),
                    "problem_fixed",
                    event,
                    once=f"problem_fixed:{problem.id}",
                    message=note or "",
                    problem_title=problem.title,
                )
        self.session.flush()
        self._tell_watchers(problem)  # after the tickets' customers: one email per address
        self.session.flush()
        return problem

    def active_problem_for(
        self, query: str, embed: Embed | None, *, threshold: float | None = None
    ) -> Problem | None:
        """The open (confirmed) problem a customer's query is about, for the "known issue" banner."""
        if embed is None or not query.strip():
            return None
        problems = self.problems(("open",))
        threshold = self.rules.similarity if threshold is None else threshold
        return self._best_problem(query, problems, embed, threshold) if problems else None


def problem_to_dict(problem: Problem) -> dict[str, Any]:
    return {
        "id": problem.id,
        "status": problem.status,
        "title": problem.title,
        "banner": problem.banner,
        "banners": problem.banners or {},
        "query": problem.query,
        "category": problem.category,
        "tickets": [t.reference for t in problem.tickets],
        "created_at": iso(problem.created_at),
        "confirmed_by": problem.confirmed_by,
        "confirmed_at": iso(problem.confirmed_at),
        "resolved_by": problem.resolved_by,
        "resolved_at": iso(problem.resolved_at),
        "resolution_note": problem.resolution_note,
    }
