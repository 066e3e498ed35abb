"""Automations and SLA timers: rules in a YAML file admins edit (`articles/automations.yml`), run by
`kb tickets automate` and by each web server's scheduler thread.

A rule has conditions (`when`) and actions (`do`)::

    rules:
      - name: p1-unassigned-notify
        when: {priority: 1, unassigned: true, status: [new, open], idle: 15m}
        do: [{notify: team, message: "P1 unassigned for 15 minutes"}]
      - name: waiting-reminder
        when: {status: waiting_on_customer, since_agent: 3d}
        do: [{remind: customer}]
    sla:                       # resolution targets per priority (first response: the priority rule's)
      resolution: {1: 8h, 2: 1d, 3: 3d, 4: 7d}

Conditions (all must hold): `status`, `tier`, `priority`, `category`, `team` (a value or a list),
`unassigned` (true/false), `age` (since the ticket was opened), `idle` (since the ticket last moved:
a new status, assignee, tier or message), `since_customer` (since the customer's last message),
`since_agent` (since support's last message to the customer), `breached` (`first_response`,
`resolution` or `any`). Durations: `90s`, `15m`, `1h`, `3d`.
Actions: `notify: team` (an email to the team's address in routing.yml), `escalate: <reason>`,
`priority: raise` or `priority: <1-4>`, `remind: customer` (the reminder email, repeating support's last
question), `resolve: <message>`, `close: <message>`, `note: <text>`.

Each rule fires at most once per ticket until the ticket moves again (its `idle` anchor): a firing is a
`automation` event in the ticket's history naming the rule and that anchor, and a run skips rules already
recorded. Runs are therefore idempotent: running twice, or on two servers, changes nothing more.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from kb_engine.content.yaml_files import yaml_config
from kb_engine.errors import ConfigError, KBError
from kb_engine.helpdesk import priority as priority_rule
from kb_engine.helpdesk.models import Ticket, TicketEvent
from kb_engine.helpdesk.tickets import ACTIVE, STATUSES, TIERS, TicketService
from kb_engine.helpdesk.tickets.rules import iso

log = logging.getLogger(__name__)

FILENAME = "automations.yml"
ACTOR = "automation"
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
CONDITIONS = {
    "status",
    "tier",
    "priority",
    "category",
    "team",
    "unassigned",
    "age",
    "idle",
    "since_customer",
    "since_agent",
    "breached",
}
ACTIONS = {"notify", "escalate", "priority", "remind", "resolve", "close", "note"}
# Events that move a ticket: a rule's timer restarts from the latest one.
MOVES = frozenset(
    (
        "created",
        "taken",
        "assigned",
        "asked_customer",
        "customer_reply",
        "escalated",
        "reopened",
        "transferred",
        "resolved",
    )
)
AGENT_MESSAGES = frozenset(("asked_customer", "resolved", "message"))

DEFAULT_FILE = """\
rules:
  - name: p1-unassigned-notify
    when: {priority: 1, unassigned: true, status: [new, open], idle: 15m}
    do: [{notify: team, message: "A P1 ticket has had nobody on it for 15 minutes."}]
  - name: p1-unassigned-escalate
    when: {priority: 1, unassigned: true, status: [new, open], idle: 1h}
    do: [{escalate: "P1 with nobody on it for an hour: escalated automatically"}]
  - name: waiting-reminder
    when: {status: waiting_on_customer, since_agent: 3d}
    do: [{remind: customer}]
  - name: waiting-resolve
    when: {status: waiting_on_customer, since_agent: 7d}
    do: [{resolve: "No answer for 7 days: resolved. Reply to open it again."}]
  - name: sla-breach-raise-priority
    when: {status: [new, open], breached: any}
    do: [{priority: raise}]
sla:
  resolution: {1: 8h, 2: 1d, 3: 3d, 4: 7d}
"""


def parse_duration(value: Any, where: str) -> dt.timedelta:
    match = DURATION.match(str(value))
    if not match:
        raise ConfigError(f"{where}: {value!r} is not a duration like 90s, 15m, 1h or 3d")
    return dt.timedelta(**{UNITS[match.group(2)]: float(match.group(1))})


@dataclass(frozen=True)
class Rule:
    name: str
    when: dict[str, Any]
    do: tuple[tuple[str, Any, dict[str, Any]], ...]


@dataclass(frozen=True)
class Automations:
    rules: tuple[Rule, ...] = ()
    resolution: dict[int, dt.timedelta] = field(default_factory=dict)


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _condition(key: str, value: Any, where: str) -> Any:
    if key in ("age", "idle", "since_customer", "since_agent"):
        return parse_duration(value, f"{where}.{key}")
    if key == "unassigned":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}.unassigned: true or false")
        return value
    if key == "breached":
        if value not in ("first_response", "resolution", "any"):
            raise ConfigError(f"{where}.breached: first_response, resolution or any")
        return value
    values = _values(value)
    allowed = {"status": STATUSES, "tier": TIERS, "priority": (1, 2, 3, 4)}.get(key)
    if key == "tier":
        values = [str(v).upper() for v in values]
    if allowed is not None and any(v not in allowed for v in values):
        raise ConfigError(f"{where}.{key}: {value!r} is not one of {', '.join(map(str, allowed))}")
    return values


def _action(data: Any, where: str) -> tuple[str, Any, dict[str, Any]]:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: an action is a mapping like {{escalate: reason}}")
    names = [k for k in data if k in ACTIONS]
    if len(names) != 1 or set(data) - {names[0], "message"}:
        raise ConfigError(f"{where}: one of {', '.join(sorted(ACTIONS))} (and an optional message)")
    name, value = names[0], data[names[0]]
    if name == "priority" and value != "raise" and value not in (1, 2, 3, 4):
        raise ConfigError(f"{where}.priority: raise, or a level 1-4")
    if name in ("escalate", "resolve", "close", "note") and not str(value or "").strip():
        raise ConfigError(f"{where}.{name}: give the message (it goes in the history)")
    return name, value, {"message": str(data.get("message") or "")}


def parse_automations(data: Any, where: str = FILENAME) -> Automations:
    """Automations from the parsed YAML; ConfigError naming the bad entry."""
    if not isinstance(data, dict) or set(data) - {"rules", "sla"}:
        raise ConfigError(f"{where}: expected a mapping with rules (and sla)")
    rules = []
    for n, spec in enumerate(data.get("rules") or []):
        at = f"{where}: rules[{n}]"
        if not isinstance(spec, dict) or set(spec) - {"name", "when", "do"} or not spec.get("name"):
            raise ConfigError(f"{at}: expected name, when and do")
        when = spec.get("when") or {}
        if not isinstance(when, dict) or set(when) - CONDITIONS:
            unknown = set(when) - CONDITIONS if isinstance(when, dict) else when
            raise ConfigError(
                f"{at}.when: unknown condition(s) {unknown}; known: {', '.join(sorted(CONDITIONS))}"
            )
        actions = spec.get("do") or []
        if not isinstance(actions, list) or not actions:
            raise ConfigError(f"{at}.do: a list of actions")
        rules.append(
            Rule(
                name=str(spec["name"]),
                when={k: _condition(k, v, f"{at}.when") for k, v in when.items()},
                do=tuple(_action(a, f"{at}.do[{i}]") for i, a in enumerate(actions)),
            )
        )
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: rule names must be unique")
    sla = data.get("sla") or {}
    resolution = {
        int(level): parse_duration(value, f"{where}: sla.resolution.{level}")
        for level, value in (sla.get("resolution") or {}).items()
    }
    return Automations(tuple(rules), resolution)


def defaults() -> Automations:
    return parse_automations(yaml.safe_load(DEFAULT_FILE), "built-in automations")


def load_automations(articles_dir: Path) -> Automations:
    """The articles folder's automations.yml, or the built-in defaults when there is none."""
    path = Path(articles_dir) / FILENAME
    if not path.is_file():
        return defaults()
    data = yaml_config(path)
    return parse_automations(data, str(path))


# -- timers ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timer:
    """One SLA target of a ticket: when it is due, and whether it was met or breached at `now`."""

    target: str  # first_response | resolution
    due_at: dt.datetime
    met: bool
    breached: bool
    left: dt.timedelta  # negative once breached

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "due_at": iso(self.due_at),
            "met": self.met,
            "breached": self.breached,
            "seconds_left": int(self.left.total_seconds()),
        }


def target_level(service: TicketService, ticket: Ticket) -> int:
    """The priority the ticket's targets are set by: an agent's, else the rule's when it arrived (ageing
    past a target raises the queue's priority, not the target)."""
    return service.priority_of(ticket, ticket.created_at).level


def timers(
    service: TicketService, ticket: Ticket, automations: Automations, now: dt.datetime | None = None
) -> list[Timer]:
    """The ticket's first-response and resolution targets at `now` (for the queue and ticket page).

    A target is met once done in time, breached while not done past its due time (a late first response
    is neither: it is history, shown as not met).
    """
    now = now or service.clock()
    level = target_level(service, ticket)
    targets = [("first_response", priority_rule.TARGETS[level], ticket.first_response_at)]
    if level in automations.resolution:
        done = ticket.resolved_at or ticket.closed_at if ticket.status in ("resolved", "closed") else None
        targets.append(("resolution", automations.resolution[level], done))
    found = []
    for target, delay, done in targets:
        due = ticket.created_at + delay
        found.append(
            Timer(
                target,
                due,
                met=done is not None and done <= due,
                breached=done is None and now > due,
                left=due - now,
            )
        )
    return found


def past_targets(
    service: TicketService, ticket: Ticket, automations: Automations, now: dt.datetime | None = None
) -> list[Timer]:
    """The targets `ticket` is past at `now` (breached, not done): the one definition of "past its targets"
    that the queue's view and the lead's dashboard share. An anonymous miss nobody can answer has none."""
    if service._anonymous_miss(ticket) or ticket.status not in ACTIVE:
        return []
    return [timer for timer in timers(service, ticket, automations, now) if timer.breached]


# -- running --------------------------------------------------------------------------------------------
@dataclass
class Firing:
    reference: str
    rule: str
    actions: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "rule": self.rule, "actions": self.actions}


def _last(events: list[TicketEvent], kinds: frozenset[str] | set[str], default: dt.datetime) -> dt.datetime:
    return max((e.at for e in events if e.kind in kinds), default=default)


def _matches(
    service: TicketService,
    ticket: Ticket,
    rule: Rule,
    automations: Automations,
    now: dt.datetime,
    events: list[TicketEvent],
    anchor: dt.datetime,
) -> bool:
    when = rule.when
    checks: dict[str, Callable[[Any], bool]] = {
        "status": lambda v: ticket.status in v,
        "tier": lambda v: ticket.tier in v,
        "priority": lambda v: service.priority_of(ticket, now).level in v,
        "category": lambda v: ticket.category in v,
        "team": lambda v: ticket.team in v,
        "unassigned": lambda v: (ticket.assignee is None) == v,
        "age": lambda v: now - ticket.created_at >= v,
        "idle": lambda v: now - anchor >= v,
        "since_customer": lambda v: (
            now - _last(events, {"created", "customer_reply"}, ticket.created_at) >= v
        ),
        "since_agent": lambda v: now - _last(events, AGENT_MESSAGES, ticket.created_at) >= v,
        "breached": lambda v: any(
            t.breached and (v == "any" or t.target == v) for t in timers(service, ticket, automations, now)
        ),
    }
    return all(checks[key](value) for key, value in when.items())


def run(service: TicketService, automations: Automations, now: dt.datetime | None = None) -> list[Firing]:
    """Apply every rule to every active ticket once (the caller commits); returns what fired."""
    now = now or service.clock()
    fired: list[Firing] = []
    tickets = list(
        service.session.scalars(
            select(Ticket)
            .where(Ticket.status.in_(ACTIVE), Ticket.merged_into_id.is_(None))
            .order_by(Ticket.id)
            # Two servers running at once: each ticket is worked by one of them (PostgreSQL row locks).
            .with_for_update(skip_locked=True)
        )
    )
    for ticket in tickets:
        for rule in automations.rules:
            if ticket.status not in ACTIVE:
                break  # an earlier rule resolved or closed it
            events = list(ticket.events)
            anchor = _last(events, MOVES, ticket.created_at)
            done = {(e.data.get("rule"), e.data.get("anchor")) for e in events if e.kind == "automation"}
            if (rule.name, iso(anchor)) in done or not _matches(
                service, ticket, rule, automations, now, events, anchor
            ):
                continue
            record = service._event(
                ticket, ACTOR, "automation", rule.name, rule=rule.name, anchor=iso(anchor)
            )
            service.session.flush()
            actions = []
            for name, value, extra in rule.do:
                try:
                    _apply(service, ticket, record, rule, name, value, extra, now, events)
                    actions.append(name)
                except KBError as exc:  # e.g. nothing above L4: recorded, the other actions still run
                    actions.append(f"{name} skipped: {exc.message}")
            fired.append(Firing(ticket.reference or "", rule.name, actions))
    service.session.flush()
    return fired


def _apply(
    service: TicketService,
    ticket: Ticket,
    record: TicketEvent,
    rule: Rule,
    name: str,
    value: Any,
    extra: dict[str, Any],
    now: dt.datetime,
    events: list[TicketEvent],
) -> None:
    reason = f"automation {rule.name}"
    if name == "notify":
        message = extra["message"] or f"Automation {rule.name} fired on {ticket.reference}."
        service._alert(ticket, "staff_alert", ticket.team, record, message=message)
    elif name == "escalate":
        service.escalate(ticket, ACTOR, str(value))
    elif name == "priority":
        current = target_level(service, ticket)
        level = max(priority_rule.HIGHEST, current - 1) if value == "raise" else int(value)
        if level != current:
            service.set_priority(
                ticket, ACTOR, level, f"{reason}: {extra['message'] or 'SLA target breached'}"
            )
    elif name == "remind":
        asked = [e for e in events if e.kind == "asked_customer"]
        since = now - (asked[-1].at if asked else ticket.created_at)
        service._tell(
            ticket,
            "reminder",
            record,
            message=asked[-1].message if asked else "",
            days=max(1, since.days),
        )
    elif name == "resolve":
        service.resolve(ticket, ACTOR, note=str(value))
    elif name == "close":
        service.close(ticket, ACTOR, str(value))
    elif name == "note":
        service.add_note(ticket, ACTOR, str(value))


def describe(firings: list[Firing]) -> list[Mapping[str, Any]]:
    return [f.to_dict() for f in firings]
