"""Tickets for the higher tiers: one `TicketService` for the web app, the API, email and the CLI.

Its parts each own one concern: `rules` (what a ticket is made of), `base` (history, reading, priority),
`lifecycle`, `escalation` (and its packet), `merging` (and similar tickets), `problems` (and known issues),
`queue`; `service` puts them together. Callers import from this package only.
"""

from kb_engine.helpdesk.tickets.problems import problem_to_dict
from kb_engine.helpdesk.tickets.queue import QueueEntry
from kb_engine.helpdesk.tickets.rules import (
    ACTIVE,
    CUSTOMER,
    ENGINE,
    LIMITS,
    LIVE_SOURCES,
    MISS_SOURCES,
    PROBLEM_STATUSES,
    SOURCES,
    STATUSES,
    TIERS,
    VENDOR_TIER,
    IncidentRules,
    reference_for,
    status_label,
)
from kb_engine.helpdesk.tickets.service import TicketService

__all__ = [
    "ACTIVE",
    "CUSTOMER",
    "ENGINE",
    "LIMITS",
    "LIVE_SOURCES",
    "MISS_SOURCES",
    "PROBLEM_STATUSES",
    "SOURCES",
    "STATUSES",
    "TIERS",
    "VENDOR_TIER",
    "IncidentRules",
    "QueueEntry",
    "TicketService",
    "problem_to_dict",
    "reference_for",
    "status_label",
]
