"""The ticket service: the one place where tickets are created and changed.

The web app, the JSON API and the CLI all go through `TicketService`; every change appends a
`TicketEvent` (the history is never edited: the ORM and database triggers refuse it). Reference numbers
come from the database's own auto-increment id, so concurrent processes can neither lose nor duplicate one.

Lifecycle (anything else raises `InvalidTransition`)::

    new ──take / assign──▶ open ◀──customer_reply── waiting_on_customer
                            └──────ask_customer──────────▲
    new, open, waiting ──resolve (article or fix)──▶ resolved ──close──▶ closed
                  open ◀──reopen / customer_reply── resolved
    any status but closed ──close──▶ closed   (final: nothing changes it again but internal notes)

    escalate: L1 → L2 → L3 → L4 (outside vendor: vendor and vendor's reference required), with a reason,
      while new, open or waiting; the escalation packet goes into the history.
    merge: the merged ticket is closed (merged_into set); its contacts move to the survivor, its history
      stays readable from the survivor, and its customer's replies reach the survivor.
"""

from __future__ import annotations

from kb_engine.helpdesk.tickets.escalation import EscalationMixin
from kb_engine.helpdesk.tickets.merging import MergingMixin
from kb_engine.helpdesk.tickets.problems import ProblemsMixin
from kb_engine.helpdesk.tickets.queue import QueueMixin


class TicketService(ProblemsMixin, EscalationMixin, MergingMixin, QueueMixin):
    # ProblemsMixin brings LifecycleMixin (resolving a problem resolves its tickets).
    """Creates and changes tickets inside the caller's session (the caller commits).

    Args:
        session: the SQLAlchemy session to work in.
        routing: category → tier and team for new tickets and escalations (default: all L1, no team).
        clock: the time source (naive UTC), so tests can age tickets.
        rules: when tickets are about the same thing, and when they make a problem (default: the
            constants above; `from_settings` takes the `KB_TICKET_SIMILARITY`, `KB_PROBLEM_*` settings).
    """
