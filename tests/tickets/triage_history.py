"""A generated ticket history for learned triage: `TICKETS` tickets over `DAYS` days through the real
ticket service (fake clock), where `software` and `meetings` tickets always end at L2 although the routing
file sends them to L1, and the other categories are solved at L1 (a few escalated when they mention a
server)."""

from __future__ import annotations

import datetime as dt
import random

from kb_engine.helpdesk.tickets import TicketService

TICKETS = 540
DAYS = 60
ALWAYS_L2 = ("software", "meetings")
WORDS = {
    "software": "ERP SAP licence install crash update accounting module plugin macro report export",
    "meetings": "Teams webcam conference room projector audio echo recording invite calendar booking",
    "accounts": "password locked account reset login expired MFA code username",
    "printing": "printer toner paper jam queue offline scan duplex tray",
    "network": "wifi cable slow internet disconnect proxy DNS hotspot",
}
FRENCH = {
    "software": "logiciel plante",
    "meetings": "réunion visio",
    "accounts": "mot de passe",
    "printing": "imprimante",
    "network": "réseau lent",
}


def generate(service: TicketService, clock, *, seed: int = 7) -> dict[str, int]:
    """Open, work and resolve the history; returns tickets per category."""
    rng = random.Random(seed)
    start = clock.now
    counts: dict[str, int] = {}
    for n in range(TICKETS):
        clock.now = start + dt.timedelta(minutes=n * DAYS * 24 * 60 / TICKETS)
        category = rng.choice(list(WORDS))
        lang = rng.choice(("en", "fr"))
        words = rng.sample(WORDS[category].split(), 4)
        query = " ".join(words) + (f" {FRENCH[category]}" if lang == "fr" else "")
        to_l2 = category in ALWAYS_L2 or (rng.random() < 0.1 and "server" in (query := query + " server"))
        ticket = service.create(source="agent", query=query, lang=lang, category=category, actor="agent")
        service.take(ticket, "lena")
        clock.advance(hours=rng.uniform(0.2, 6))
        if to_l2 and ticket.tier == "L1":
            service.escalate(ticket, "lena", "needs L2")
            service.take(ticket, "omar")
            clock.advance(hours=rng.uniform(1, 24))
        service.resolve(ticket, ticket.assignee or "lena", note="done")
        counts[category] = counts.get(category, 0) + 1
    service.session.commit()
    return counts
