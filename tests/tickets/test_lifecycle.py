"""Ticket lifecycle through the service layer, on SQLite and PostgreSQL: every transition, every refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from kb_engine.errors import InvalidQuery, InvalidTransition
from kb_engine.helpdesk.models import Ticket, TicketEvent
from kb_engine.helpdesk.tickets import TicketService

SHOWN = [{"id": "en/vpn-cannot-connect", "title": "VPN cannot connect", "score": 0.41}]


def new_ticket(service: TicketService, query: str = "VPN says authentication failed", **fields) -> Ticket:
    fields.setdefault("contact_email", "ana@example.com")
    fields.setdefault("category", "network")
    return service.create(source="contact_form", query=query, lang="en", shown=SHOWN, **fields)


def kinds(service: TicketService, ticket: Ticket) -> list[str]:
    return [e.kind for e in service.history(ticket)]


def test_new_ticket_gets_reference_token_route_and_history(service, session) -> None:
    ticket = new_ticket(service)
    session.commit()
    assert ticket.reference == f"KB-{ticket.id:06d}" and len(ticket.token) >= 32
    assert (ticket.status, ticket.tier, ticket.team) == ("new", "L1", "network")
    assert ticket.shown == SHOWN and [c.email for c in ticket.contacts] == ["ana@example.com"]
    assert kinds(service, ticket) == ["created"]


def test_routing_file_sends_security_tickets_to_l2_and_unknown_categories_to_the_default(service) -> None:
    security = new_ticket(service, "I clicked a link in a strange email", category="security")
    unknown = new_ticket(service, "something odd", category="no-such-category")
    assert (security.tier, security.team) == ("L2", "security")
    assert (unknown.tier, unknown.team) == ("L1", "service-desk")


def test_take_opens_and_assigns_to_the_agent(service, clock) -> None:
    ticket = new_ticket(service)
    clock.advance(minutes=5)
    service.take(ticket, "bob")
    assert (ticket.status, ticket.assignee) == ("open", "bob")
    assert ticket.first_response_at == clock.now
    event = service.history(ticket)[-1]
    assert (event.kind, event.actor, event.data["assignee"]) == ("taken", "bob", "bob")


def test_assign_to_another_agent_is_recorded_with_who_did_it(service) -> None:
    ticket = new_ticket(service)
    service.assign(ticket, "lead", "carol")
    event = service.history(ticket)[-1]
    assert (ticket.status, ticket.assignee) == ("open", "carol")
    assert (event.kind, event.actor, event.data["assignee"]) == ("assigned", "lead", "carol")


def test_asking_the_customer_waits_and_their_reply_reopens_the_work(service) -> None:
    ticket = new_ticket(service)
    service.take(ticket, "bob")
    service.ask_customer(ticket, "bob", "Which VPN client version do you have?")
    assert ticket.status == "waiting_on_customer"
    service.customer_reply(ticket, "Version 5.2 on Windows 11")
    assert ticket.status == "open"
    assert kinds(service, ticket)[-2:] == ["asked_customer", "customer_reply"]


def test_resolve_records_the_article_or_the_fix(service, clock) -> None:
    by_article, by_note = new_ticket(service), new_ticket(service)
    service.resolve(by_article, "bob", article="en/vpn-cannot-connect")
    service.resolve(by_note, "bob", note="Reset the VPN profile on the gateway")
    assert by_article.status == by_note.status == "resolved" and by_article.resolved_at == clock.now
    assert by_article.resolution_article == "en/vpn-cannot-connect"
    assert by_note.resolution_note == "Reset the VPN profile on the gateway"
    assert service.history(by_article)[-1].data["article"] == "en/vpn-cannot-connect"


def test_resolve_without_article_or_fix_is_refused(service) -> None:
    with pytest.raises(InvalidQuery, match="article id or a note"):
        service.resolve(new_ticket(service), "bob")


def test_resolving_a_closed_ticket_is_refused(service) -> None:
    ticket = new_ticket(service)
    service.close(ticket, "bob", "duplicate of a phone call")
    with pytest.raises(InvalidTransition, match="it is closed"):
        service.resolve(ticket, "bob", note="fixed")
    assert ticket.status == "closed" and kinds(service, ticket) == ["created", "closed"]


def test_resolving_twice_is_refused(service) -> None:
    ticket = new_ticket(service)
    service.resolve(ticket, "bob", note="fixed")
    with pytest.raises(InvalidTransition, match="already resolved"):
        service.resolve(ticket, "bob", note="fixed again")


def test_close_after_resolve_and_nothing_changes_a_closed_ticket_again(service) -> None:
    ticket = new_ticket(service)
    service.resolve(ticket, "bob", note="fixed")
    service.close(ticket, "bob")
    assert ticket.status == "closed" and ticket.closed_at is not None
    refused = [
        lambda: service.take(ticket, "bob"),
        lambda: service.reopen(ticket, "bob", "customer called"),
        lambda: service.escalate(ticket, "bob", "needs L2"),
        lambda: service.close(ticket, "bob"),
        lambda: service.customer_reply(ticket, "still broken"),
        lambda: service.ask_customer(ticket, "bob", "?"),
        lambda: service.transfer(ticket, "bob", team="network"),
        lambda: service.set_priority(ticket, "bob", 1, "VIP"),
    ]
    for change in refused:
        with pytest.raises(InvalidTransition):
            change()
    service.add_note(ticket, "bob", "customer called back, told them to open a new request")
    assert kinds(service, ticket)[-1] == "note"


def test_reopen_a_resolved_ticket(service) -> None:
    ticket = new_ticket(service)
    service.resolve(ticket, "bob", note="fixed")
    service.reopen(ticket, "bob", "the customer called: it broke again")
    assert ticket.status == "open" and ticket.resolved_at is None
    with pytest.raises(InvalidTransition, match="it is open"):
        service.reopen(ticket, "bob", "again")


def test_customer_reply_to_a_resolved_ticket_reopens_it(service) -> None:
    ticket = new_ticket(service)
    service.resolve(ticket, "bob", note="fixed")
    service.customer_reply(ticket, "It is broken again this morning")
    assert ticket.status == "open"
    assert kinds(service, ticket)[-2:] == ["customer_reply", "reopened"]


def test_escalation_climbs_one_tier_at_a_time_to_the_team_the_routing_file_names(service) -> None:
    ticket = new_ticket(service)
    service.take(ticket, "bob")
    packet = service.escalate(ticket, "bob", "certificate error on the gateway, not a client problem")
    assert (ticket.tier, ticket.team, ticket.assignee, ticket.status) == (
        "L2",
        "desktop-support",
        None,
        "open",
    )
    assert packet["escalation"] == {
        "from": "L1",
        "to": "L2",
        "reason": "certificate error on the gateway, not a client problem",
        "by": "bob",
    }
    service.escalate(ticket, "dan", "gateway configuration", team="network-engineering")
    assert (ticket.tier, ticket.team) == ("L3", "network-engineering")


def test_escalation_to_l4_needs_the_vendor_and_its_reference(service) -> None:
    ticket = new_ticket(service)
    service.escalate(ticket, "bob", "L2 please")
    service.escalate(ticket, "dan", "L3 please")
    with pytest.raises(InvalidQuery, match="vendor"):
        service.escalate(ticket, "erin", "firmware bug", vendor="Acme VPN")
    assert ticket.tier == "L3"
    service.escalate(ticket, "erin", "firmware bug", vendor="Acme VPN", vendor_ref="ACME-4711")
    assert (ticket.tier, ticket.vendor, ticket.vendor_ref, ticket.team) == (
        "L4",
        "Acme VPN",
        "ACME-4711",
        "vendor-management",
    )


def test_escalating_past_l4_is_refused(service) -> None:
    ticket = new_ticket(service)
    for reason in ("to L2", "to L3"):
        service.escalate(ticket, "bob", reason)
    service.escalate(ticket, "bob", "to vendor", vendor="Acme", vendor_ref="A-1")
    with pytest.raises(InvalidTransition, match="already at L4"):
        service.escalate(ticket, "bob", "higher still", vendor="Acme", vendor_ref="A-1")
    assert ticket.tier == "L4" and kinds(service, ticket).count("escalated") == 3


def test_escalation_needs_a_reason_and_an_unresolved_ticket(service) -> None:
    ticket = new_ticket(service)
    with pytest.raises(InvalidQuery, match="reason"):
        service.escalate(ticket, "bob", "  ")
    service.resolve(ticket, "bob", note="fixed")
    with pytest.raises(InvalidTransition, match="it is resolved"):
        service.escalate(ticket, "bob", "too late")


def test_escalation_packet_carries_everything_so_nobody_asks_twice(service) -> None:
    ticket = new_ticket(
        service,
        details="Since this morning",
        availability="afternoons",
        contact_name="Ana",
        contact_phone="555",
    )
    service.take(ticket, "bob")
    service.ask_customer(ticket, "bob", "Are you at home or in the office?")
    service.customer_reply(ticket, "At home, on fibre")
    service.add_note(ticket, "bob", "Gateway logs show TLS handshake failures")
    packet = service.escalate(ticket, "bob", "gateway side")
    assert packet["query"] == "VPN says authentication failed" and packet["details"] == "Since this morning"
    assert packet["articles_tried"] == [{**h, "outcome": "shown"} for h in SHOWN]
    assert packet["contacts"] == [
        {
            "name": "Ana",
            "email": "ana@example.com",
            "phone": "555",
            "availability": "afternoons",
            "from": ticket.reference,
        }
    ]
    assert [(m["from"], m["message"]) for m in packet["conversation"]] == [
        ("bob", "Are you at home or in the office?"),
        ("customer", "At home, on fibre"),
    ]
    assert [n["note"] for n in packet["notes"]] == ["Gateway logs show TLS handshake failures"]
    stored = service.history(ticket)[-1]
    assert stored.kind == "escalated" and stored.data["packet"]["conversation"] == packet["conversation"]


def test_transfer_to_another_team_at_the_same_tier(service) -> None:
    ticket = new_ticket(service)
    service.take(ticket, "bob")
    service.transfer(ticket, "bob", team="messaging", reason="it is really the mail relay")
    assert (ticket.tier, ticket.team, ticket.assignee) == ("L1", "messaging", None)
    event = service.history(ticket)[-1]
    assert event.kind == "transferred" and event.data["previous"] == {"team": "network", "assignee": "bob"}
    with pytest.raises(InvalidQuery):
        service.transfer(ticket, "bob")


def test_priority_override_is_recorded_and_wins(service) -> None:
    ticket = new_ticket(service)
    assert service.priority_of(ticket).level == 3
    service.set_priority(ticket, "lead", 1, "the CEO's laptop")
    assert service.priority_of(ticket).level == 1 and ticket.priority_override == 1
    event = service.history(ticket)[-1]
    assert (event.kind, event.actor, event.message, event.data["override"]) == (
        "priority_set",
        "lead",
        "the CEO's laptop",
        1,
    )
    service.set_priority(ticket, "lead", None, "back to the rule")
    assert service.priority_of(ticket).level == 3
    with pytest.raises(InvalidQuery):
        service.set_priority(ticket, "lead", 7, "off the scale")


def test_internal_notes_and_agent_moves_are_not_shown_to_the_customer(service) -> None:
    ticket = new_ticket(service)
    service.take(ticket, "bob")
    service.add_note(ticket, "bob", "probably a user error")
    service.escalate(ticket, "bob", "needs the network team")
    service.ask_customer(ticket, "dan", "Does it fail on another network too?")
    texts = [item["text"] for item in service.customer_history(ticket)]
    assert texts == [
        "We received your request.",
        "Your request was passed to a specialist team.",
        "Support asked: Does it fail on another network too?",
    ]


def test_history_is_append_only_in_the_orm_and_in_the_database(service, session) -> None:
    ticket = new_ticket(service)
    session.commit()
    event = service.history(ticket)[0]
    event.message = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        session.flush()
    session.rollback()
    for sql in ("UPDATE ticket_event SET actor = 'someone else'", "DELETE FROM ticket_event"):
        with pytest.raises(Exception, match="append-only"):
            session.execute(text(sql))
        session.rollback()
    assert session.query(TicketEvent).count() == 1


def test_asking_a_customer_without_contact_is_refused_and_offers_a_note(service) -> None:
    ticket = service.create(source="search_miss", query="wifi drops", lang="en")
    with pytest.raises(InvalidQuery, match="no contact.*internal note"):
        service.ask_customer(ticket, "bob", "Did you restart the router?")
    assert ticket.status == "new"


def test_the_packet_says_what_the_customer_did_with_each_article(service, session) -> None:
    from kb_engine.helpdesk.models import Feedback, SearchLog

    search = SearchLog(query="vpn fails", hits=[], visitor="v1")
    session.add(search)
    session.flush()
    shown = [{"id": "en/a", "score": 0.5}, {"id": "en/b", "score": 0.4}, {"id": "en/c", "score": 0.3}]
    ticket = service.create(source="not_helpful", query="vpn fails", shown=shown, search_id=search.id)
    session.add_all(
        [
            Feedback(article_id="en/a", kind="view", search_id=search.id),
            Feedback(article_id="en/b", kind="view", search_id=search.id),
            Feedback(article_id="en/b", kind="not_helpful", search_id=search.id),
        ]
    )
    session.flush()
    outcomes = {a["id"]: a["outcome"] for a in service.escalation_packet(ticket)["articles_tried"]}
    assert outcomes == {"en/a": "opened", "en/b": "did not help", "en/c": "shown"}


def test_solved_after_a_miss_resolves_the_visitors_anonymous_tickets_only(service, session) -> None:
    from kb_engine.helpdesk.models import SearchLog

    searches = [SearchLog(query="q", hits=[], visitor=v) for v in ("v1", "v1", "v2")]
    session.add_all(searches)
    session.flush()
    mine = service.create(source="search_miss", query="sap error", search_id=searches[0].id)
    reachable = service.create(
        source="search_miss", query="sap error 2", search_id=searches[1].id, contact_email="a@x.org"
    )
    other = service.create(source="search_miss", query="sap error", search_id=searches[2].id)
    assert service.resolve_by_self_service("v1", "en/printer-offline") == [mine]
    assert (mine.status, mine.resolution_note) == ("resolved", "solved by self-service")
    assert reachable.status == "new" and other.status == "new"
    assert service.resolve_by_self_service(None, "en/x") == []


def test_a_merge_is_told_once_in_the_survivors_history(service) -> None:
    first, second = new_ticket(service), new_ticket(service, "VPN broken")
    service.merge(first, second, "bob", "same outage")
    assert kinds(service, first).count("merged") == 1 and "merged_into" not in kinds(service, first)
    assert "merged_into" in kinds(service, second)
