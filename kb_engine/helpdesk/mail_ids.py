"""Message-IDs of the emails we send about a ticket: they name the ticket and carry a MAC keyed by its
secret token, so a reply that quotes one (In-Reply-To, References) joins that ticket and nobody can forge
one for another ticket. Used by `kb mail-in`'s replies and by the outbox's notifications.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.helpdesk.models import Ticket

# <KB-000123.nonce.mac@domain>
OUR_ID = re.compile(r"^<?(KB-\d{6,})\.([0-9a-f]{16})\.([0-9a-f]{24})@", re.IGNORECASE)


def _mac(ticket: Ticket, nonce: str) -> str:
    return hmac.new(
        ticket.token.encode(), f"{ticket.reference}.{nonce}".encode(), hashlib.sha256
    ).hexdigest()[:24]


def reply_message_id(ticket: Ticket, domain: str) -> str:
    """A Message-ID for one of our emails that names its ticket and cannot be forged without its token."""
    nonce = secrets.token_hex(8)
    return f"<{ticket.reference}.{nonce}.{_mac(ticket, nonce)}@{domain}>"


def ticket_of_our_id(session: Session, message_id: str) -> Ticket | None:
    """The ticket one of our Message-IDs names, if its MAC is right."""
    match = OUR_ID.match(message_id)
    if not match:
        return None
    reference, nonce, mac = match.groups()
    ticket = session.scalar(select(Ticket).where(Ticket.reference == reference.upper()))
    if ticket is None or not hmac.compare_digest(_mac(ticket, nonce.lower()), mac.lower()):
        return None
    return ticket
