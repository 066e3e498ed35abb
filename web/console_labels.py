"""Words of the ticket store as the console shows them, in the console's language.

Statuses, channels, roles, tiers and history events are stored as English identifiers
(`kb_engine.helpdesk.tickets.rules`); templates show them through the filters registered here
(`|status_label`, `|channel_label`, `|role_label`, `|tier_label`, `|event_label`, `|problem_status_label`).
An identifier without a label (a new event kind) is shown as it is, underscores turned into spaces.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from jinja2 import pass_context

from kb_engine.errors import KBError
from web.i18n import error_text

STATUS_LABELS = {
    "new": _l("new"),
    "open": _l("open"),
    # The customer pages say "waiting on customer" to the customer ("en attente de votre réponse").
    "waiting_on_customer": _lp("console", "waiting on customer"),
    "resolved": _l("resolved"),
    "closed": _l("closed"),
}
PROBLEM_STATUS_LABELS = {
    "proposed": _lp("problem", "proposed"),
    "open": _lp("problem", "confirmed"),
    "resolved": _lp("problem", "resolved"),
    "rejected": _lp("problem", "rejected"),
}
CHANNEL_LABELS = {
    "search_miss": _lp("channel", "search miss"),
    "not_helpful": _lp("channel", "article did not help"),
    "contact_form": _lp("channel", "contact form"),
    "agent": _lp("channel", "agent"),
    "api": _lp("channel", "API"),
    "email": _lp("channel", "email"),
    "phone": _lp("channel", "phone"),
    "walk_in": _lp("channel", "walk-in"),
}
ROLE_LABELS = {
    "agent-L1": _l("L1 agent"),
    "agent-L2": _l("L2 agent"),
    "agent-L3": _l("L3 agent"),
    "author": _l("author"),
    "admin": _l("admin"),
}
EVENT_LABELS = {
    "created": _lp("event", "created"),
    "assigned": _lp("event", "assigned"),
    "unassigned": _lp("event", "unassigned"),
    "taken": _lp("event", "taken"),
    "transferred": _lp("event", "handed to a team"),
    "escalated": _lp("event", "escalated"),
    "note": _lp("event", "internal note"),
    "message": _lp("event", "message to the customer"),
    "asked_customer": _lp("event", "asked the customer"),
    "customer_reply": _lp("event", "customer replied"),
    "contact_added": _lp("event", "contact added"),
    "resolved": _lp("event", "resolved"),
    "reopened": _lp("event", "reopened"),
    "closed": _lp("event", "closed"),
    "merged": _lp("event", "merged"),
    "merged_into": _lp("event", "merged into another ticket"),
    "priority_set": _lp("event", "priority set"),
    "possibly_related": _lp("event", "possibly related"),
    "problem_linked": _lp("event", "linked to a problem"),
    "problem_unlinked": _lp("event", "unlinked from a problem"),
    "problem_confirmed": _lp("event", "problem confirmed"),
    "problem_resolved": _lp("event", "problem resolved"),
    "recurring": _lp("event", "recurring for this customer"),
    "automation": _lp("event", "automation"),
    "satisfaction": _lp("event", "satisfaction answer"),
}
ARTICLE_OUTCOMES = {
    "shown": _lp("outcome", "shown"),
    "opened": _lp("outcome", "opened"),
    "not_helpful": _lp("outcome", "did not help"),
    "solved": _lp("outcome", "solved"),
}
# Ticket fields the engine names in its errors, as the console's French names them.
FIELD_LABELS = {
    "reason": _l("reason"),
    "message": _l("message"),
    "assignee": _l("person to assign"),
    "contact_email": _l("email address"),
}
_TIER = re.compile(r"\bL([1-4])\b")


def _plain(value: object) -> str:
    return str(value or "").replace("_", " ")


def tier_label(value: object) -> str:
    """A tier (L1…L4) as the interface names it: N1…N4 in French, as the French articles do."""
    return _TIER.sub(lambda m: _("L%(n)s", n=m.group(1)), str(value or ""))


def label(table: dict, value: object) -> str:
    found = table.get(str(value))
    return str(found) if found is not None else _plain(value)


# The reasons kb_engine.helpdesk.priority gives for a level (English text), as the console shows them.
_FIXED_REASONS = {
    "set by an agent": _l("set by an agent"),
    "no severity words": _l("no severity words"),
    "customer cannot be reached": _l("customer cannot be reached"),
    "customer's window closes soon": _l("customer's window closes soon"),
    "customer is in no hurry": _l("customer is in no hurry"),
}
_SEVERITY = re.compile(r"severity (\d+) \((.*)\)$")
_CUSTOMERS = re.compile(r"(\d+) customers$")
_WAITING = re.compile(r"waiting ([\d.]+) (days|hours), past its target (\d+) time\(s\)$")


def priority_reason(reason: object) -> str:
    """One reason of a ticket's priority in the console's language (unknown ones as they are)."""
    text = str(reason)
    if text in _FIXED_REASONS:
        return str(_FIXED_REASONS[text])
    if m := _SEVERITY.match(text):
        return _("severity %(score)s (%(words)s)", score=m.group(1), words=m.group(2))
    if m := _CUSTOMERS.match(text):
        return _("%(num)s customers", num=m.group(1))
    if m := _WAITING.match(text):
        amount = format_decimal(float(m.group(1)), "0.0")
        span = _("%(num)s days", num=amount) if m.group(2) == "days" else _("%(num)s hours", num=amount)
        return _("waiting %(span)s, past its target %(num)s time(s)", span=span, num=m.group(3))
    return text


# The engine's errors agents meet most (English text without a key), as the console translates them: the
# pattern's named groups fill the message's placeholders.
_ERRORS = [
    (
        r"cannot resolve (?P<ref>\S+): it is already resolved",
        _l("cannot resolve %(ref)s: it is already resolved"),
    ),
    (r"cannot \w+ (?P<ref>\S+): it was merged into (?P<into>\S+)", _l("%(ref)s was merged into %(into)s")),
    (r"cannot merge (?P<ref>\S+) into itself", _l("cannot merge %(ref)s into itself")),
    (r"no ticket '(?P<ref>[^']*)'", _l("no ticket “%(ref)s”")),
    (r"no problem (?P<id>\d+)", _l("no problem %(id)s")),
    (r"cannot \w+ problem (?P<id>\d+): it is (?P<status>\w+)", _l("problem %(id)s is %(status)s")),
    (
        r"say how it was resolved: an article id or a note describing the fix",
        _l("say how it was resolved: an article or a note describing the fix"),
    ),
    (r"transfer to a team, an agent, or both", _l("transfer to a team, an agent, or both")),
    (
        r"escalating to (?P<tier>L\d) needs the vendor and the vendor's reference",
        _l("escalating to %(tier)s needs the vendor and the vendor's reference"),
    ),
    (
        r"the password needs at least (?P<num>\d+) characters",
        _l("the password needs at least %(num)s characters"),
    ),
    (
        r"the password is longer than (?P<num>\d+) characters",
        _l("the password is longer than %(num)s characters"),
    ),
    (
        r"the password contains the username: choose one that does not",
        _l("the password contains the username: choose one that does not"),
    ),
    (r"no agent account '(?P<name>[^']*)'", _l("no agent account “%(name)s”")),
    (
        r"(?P<name>\S+) \((?P<role>[\w-]+)\) cannot work on an (?P<tier>L\d) ticket",
        _l("%(name)s (%(role)s) cannot work on an %(tier)s ticket"),
    ),
    (r"user '(?P<name>[^']*)' already exists", _l("user “%(name)s” already exists")),
    (
        r"(?P<to>\S+) is not one of the customers of (?P<ref>\S+)",
        _l("%(to)s is not one of the customers of %(ref)s"),
    ),
]
ERRORS = [(re.compile(pattern + "$"), message) for pattern, message in _ERRORS]


def console_error(exc: KBError) -> str:
    """An engine error as the console shows it: the engine's own words in English; in French, the
    translation when the error has a key (`KBError.key`) or is one of `ERRORS`, else the English words."""
    if str(get_locale() or "en").startswith("en"):
        return exc.message
    if exc.key == "required":
        field = str(exc.params.get("field", ""))
        return _("Please fill in the %(field)s field.", field=str(FIELD_LABELS.get(field, field)))
    if exc.key is None:
        for pattern, message in ERRORS:
            if m := pattern.match(exc.message):
                values = m.groupdict()
                if "tier" in values:
                    values["tier"] = tier_label(values["tier"])
                if "role" in values:
                    values["role"] = label(ROLE_LABELS, values["role"])
                if "status" in values:
                    values["status"] = label(PROBLEM_STATUS_LABELS, values["status"])
                return str(message) % values
    return error_text(exc)


def _at_render(words: Callable[[Any], str]) -> Callable[..., str]:
    """A filter that Jinja calls at each render: its words depend on the request's language, and Jinja
    would otherwise compute `'L1'|tier_label` once, when it compiles the template (constant folding), in
    whatever language the first render had."""
    return pass_context(lambda _context, value: words(value))


def init_app(app: Flask) -> None:
    filters = app.jinja_env.filters
    filters["status_label"] = _at_render(lambda v: label(STATUS_LABELS, v))
    filters["problem_status_label"] = _at_render(lambda v: label(PROBLEM_STATUS_LABELS, v))
    filters["channel_label"] = _at_render(lambda v: label(CHANNEL_LABELS, v))
    filters["role_label"] = _at_render(lambda v: label(ROLE_LABELS, v))
    filters["event_label"] = _at_render(lambda v: label(EVENT_LABELS, v))
    filters["outcome_label"] = _at_render(lambda v: label(ARTICLE_OUTCOMES, v or "shown"))
    filters["tier_label"] = _at_render(tier_label)
    filters["priority_reason"] = _at_render(priority_reason)
