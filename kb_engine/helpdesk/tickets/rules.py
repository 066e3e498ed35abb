"""What tickets are made of: sources, statuses, tiers, field limits, what a customer sees, and the
incident rules (when tickets are about the same thing and make a problem).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from marshmallow import ValidationError
from marshmallow.validate import Email

from kb_engine.errors import InvalidQuery
from kb_engine.helpdesk.models import TicketEvent
from kb_engine.helpdesk.similarity import (
    SAME_THING,
)

SOURCES = ("search_miss", "not_helpful", "contact_form", "agent", "api", "email", "phone", "walk_in")
# Channels where an agent talks to the customer live: a ticket solved there is a first-contact resolution.
LIVE_SOURCES = ("phone", "walk_in")
MISS_SOURCES = ("search_miss", "not_helpful")
STATUSES = ("new", "open", "waiting_on_customer", "resolved", "closed")
ACTIVE = ("new", "open", "waiting_on_customer")
TIERS = ("L1", "L2", "L3", "L4")
VENDOR_TIER = "L4"
PROBLEM_STATUSES = ("proposed", "open", "resolved", "rejected")
REFERENCE_PREFIX = "KB-"
CUSTOMER = "customer"
ENGINE = "engine"
# The resolution note of an anonymous miss the customer then solved with an article on their own.
SELF_SERVICE = "solved by self-service"

# A problem is proposed when this many tickets about the same thing arrive within this window.
PROBLEM_MIN_TICKETS = 3
PROBLEM_WINDOW = dt.timedelta(hours=2)

# Field limits, enforced here so every entry point (form, API, CLI, email) gets the same clear error.
LIMITS = {
    "query": 2000,
    "contact_name": 200,
    "contact_email": 320,
    "contact_phone": 40,
    "availability": 200,
    "details": 10000,
    "message": 10000,
    "reason": 2000,
    "article": 120,
    "team": 80,
    "assignee": 80,
    "vendor": 120,
    "vendor_ref": 120,
    "title": 200,
    "banner": 500,
}

# What a customer sees of the history on their status page; every other kind is internal.
CUSTOMER_TEXT: dict[str, Callable[[TicketEvent], str]] = {
    "created": lambda e: "We received your request.",
    "contact_added": lambda e: "You left your contact details.",
    "asked_customer": lambda e: f"Support asked: {e.message}",
    "message": lambda e: f"Support wrote: {e.message}",
    "customer_reply": lambda e: f"You replied: {e.message}",
    "escalated": lambda e: "Your request was passed to a specialist team.",
    "resolved": lambda e: "Resolved." + (f" {e.message}" if e.message else ""),
    "reopened": lambda e: "Reopened.",
    "closed": lambda e: "Closed.",
    "merged_into": lambda e: f"Joined with request {e.data.get('into')} about the same problem.",
    "problem_confirmed": lambda e: "This is a known issue; we are working on it.",
    "problem_resolved": lambda e: "The known issue behind your request has been fixed.",
}
# Kinds a merged ticket's customer also sees from the surviving ticket (nothing about other customers).
SHARED_KINDS = frozenset(
    (
        "asked_customer",
        "message",
        "escalated",
        "resolved",
        "reopened",
        "closed",
        "problem_confirmed",
        "problem_resolved",
    )
)


def reference_for(ticket_id: int) -> str:
    return f"{REFERENCE_PREFIX}{ticket_id:06d}"


def check_length(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    limit = LIMITS.get(field)
    if limit is not None and len(value) > limit:
        raise InvalidQuery(
            f"{field.replace('_', ' ')} is {len(value)} characters long; the limit is {limit}",
            key="too_long",
            field=field,
            length=len(value),
            limit=limit,
        )
    return value or None


# The one check of a customer's email address, for the form, the API, `kb tickets create` and mail intake.
# marshmallow's validator (already the API's schema library): syntax only, no DNS, and it accepts intranet
# domains (`ana@corp.local`) that email-validator refuses as special-use names.
_EMAIL = Email()
BAD_EMAIL = "That email address does not look right."


def check_email(field: str, value: str | None) -> str | None:
    """The address, stripped (None when empty); InvalidQuery (key `bad_email`) unless it is one address."""
    checked = check_length(field, value)
    if checked is not None:
        try:
            _EMAIL(checked)
        except ValidationError:
            raise InvalidQuery(BAD_EMAIL, key="bad_email", field=field) from None
    return checked


def required_field(field: str, value: str | None) -> str:
    checked = check_length(field, value)
    if not checked:
        raise InvalidQuery(f"give a {field.replace('_', ' ')}", key="required", field=field)
    return checked


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def status_label(status: str) -> str:
    return status.replace("_", " ")


@dataclass(frozen=True)
class IncidentRules:
    """Tickets at least `similarity` alike (cosine of their embedded texts) are about the same thing;
    `min_tickets` of them within `window` make a proposed problem."""

    similarity: float = SAME_THING
    window: dt.timedelta = PROBLEM_WINDOW
    min_tickets: int = PROBLEM_MIN_TICKETS
