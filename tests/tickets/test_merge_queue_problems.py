"""Merging, similar tickets, the priority-ordered queue and problems, on SQLite and PostgreSQL.

Similarity uses the real bundled model (loaded once per session), as the app does.
"""

from __future__ import annotations

import pytest

from kb_engine.errors import InvalidTransition
from kb_engine.helpdesk.tickets import TicketService

VPN_QUERIES = (
    "The VPN is down for everyone",
    "nobody can connect to the VPN",
    "VPN not working for the whole office",
    "vpn down",
    "VPN connection fails for all of us",
)


def miss(service: TicketService, query: str, category: str | None = "network"):
    return service.create(source="search_miss", query=query, lang="en", category=category)


def customer(service: TicketService, query: str, email: str, **fields):
    return service.create(source="contact_form", query=query, contact_email=email, **fields)


# -- merging ----------------------------------------------------------------------------------------------


def test_merging_keeps_every_customers_contact_and_both_histories(service, session) -> None:
    first = customer(service, "The VPN is down for everyone", "ana@example.com", contact_name="Ana")
    second = customer(service, "nobody can connect to the VPN", "ben@example.com", contact_phone="555-0101")
    service.take(second, "bob")
    service.add_note(second, "bob", "Ben is in the Lyon office")
    service.merge(first, second, "bob", "same outage")
    session.commit()
    assert sorted((c.email, c.phone, c.origin_reference) for c in first.contacts) == [
        ("ana@example.com", None, first.reference),
        ("ben@example.com", "555-0101", second.reference),
    ]
    assert (second.status, second.merged_into_id) == ("closed", first.id)
    history = [(e.ticket.reference, e.kind) for e in service.history(first)]
    assert (second.reference, "note") in history and (second.reference, "taken") in history
    assert (first.reference, "merged") in history and (second.reference, "merged_into") not in history
    assert "merged_into" in [e.kind for e in service.history(second)]  # told once, on each side
    packet = service.escalation_packet(first)
    assert [n["note"] for n in packet["notes"]] == ["Ben is in the Lyon office"]
    assert packet["merged"] == [{"reference": second.reference, "query": "nobody can connect to the VPN"}]


def test_merging_a_ticket_that_already_absorbed_others_moves_all_their_contacts(service) -> None:
    a, b, c = (customer(service, "VPN down", f"{name}@example.com") for name in ("a", "b", "c"))
    service.merge(b, c, "bob")
    service.merge(a, b, "bob")
    assert sorted(x.email for x in a.contacts) == ["a@example.com", "b@example.com", "c@example.com"]
    assert service.surviving(c).id == a.id and c.merged_into_id == a.id
    assert {t.reference for t in service.merged_tickets(a)} == {b.reference, c.reference}


def test_merge_refuses_itself_closed_and_already_merged_tickets(service) -> None:
    a, b, c = (customer(service, "VPN down", f"{name}@example.com") for name in ("a", "b", "c"))
    with pytest.raises(InvalidTransition, match="into itself"):
        service.merge(a, a, "bob")
    service.close(c, "bob", "spam")
    with pytest.raises(InvalidTransition, match="it is closed"):
        service.merge(a, c, "bob")
    service.merge(a, b, "bob")
    d = customer(service, "VPN down", "d@example.com")
    with pytest.raises(InvalidTransition, match=f"was merged into {a.reference}"):
        service.merge(d, b, "bob")


def test_merged_customer_follows_the_survivor_and_their_reply_reaches_it(service) -> None:
    first = customer(service, "The VPN is down for everyone", "ana@example.com")
    second = customer(service, "nobody can connect to the VPN", "ben@example.com")
    service.merge(first, second, "bob")
    service.customer_reply(second, "Still down here in Lyon")
    service.customer_reply(first, "Ana here, still down")
    service.escalate(first, "bob", "gateway")
    replies = [(e.message, e.data["customer"]) for e in first.events if e.kind == "customer_reply"]
    assert replies == [
        ("Still down here in Lyon", second.reference),
        ("Ana here, still down", first.reference),
    ]
    seen_by_ben = [item["text"] for item in service.customer_history(second)]
    assert "You replied: Still down here in Lyon" in seen_by_ben
    assert "Your request was passed to a specialist team." in seen_by_ben
    assert not any("Ana" in text for text in seen_by_ben)  # nothing about the other customer
    assert not any("Lyon" in item["text"] for item in service.customer_history(first))


# -- similar tickets --------------------------------------------------------------------------------------


def test_similar_open_tickets_are_found_for_merging(service, embed) -> None:
    target = customer(service, VPN_QUERIES[0], "ana@example.com")
    same = [customer(service, q, f"c{i}@example.com") for i, q in enumerate(VPN_QUERIES[1:3])]
    customer(service, "my printer says offline", "p@example.com")
    done = customer(service, "vpn down", "d@example.com")
    service.resolve(done, "bob", note="fixed")
    found = service.find_similar(target, embed)
    assert {t.reference for t, _ in found} == {t.reference for t in same}
    assert all(score >= 0.6 for _, score in found)


# -- queue ------------------------------------------------------------------------------------------------


def test_queue_puts_severe_tickets_first_and_ageing_tickets_climb(service, clock) -> None:
    old = customer(service, "my second screen flickers", "old@example.com")
    clock.advance(hours=1)
    outage = customer(service, "production is down, everyone is blocked", "ops@example.com")
    clock.advance(hours=22)
    blocked = customer(service, "I cannot work, Excel crashes on start", "x@example.com")
    clock.advance(minutes=30)
    calm = customer(service, "keyboard layout question", "k@example.com", availability="anytime next week")
    order = [e.lead.reference for e in service.queue()]
    assert order == [outage.reference, blocked.reference, old.reference, calm.reference]
    assert [e.priority.level for e in service.queue()] == [1, 2, 3, 4]
    clock.advance(hours=3)  # old has now waited 26.5 h: past its 1-day target, it climbs to 2
    entries = service.queue()
    assert [e.lead.reference for e in entries] == [
        outage.reference,
        old.reference,
        blocked.reference,
        calm.reference,
    ]
    assert entries[1].priority.level == 2 and "past its target" in entries[1].priority.reasons[-1]


def test_priority_override_reorders_the_queue(service) -> None:
    first = customer(service, "production down for everyone", "a@example.com")
    second = customer(service, "mouse pointer is slow", "b@example.com")
    service.set_priority(second, "lead", 1, "the CEO")
    service.set_priority(first, "lead", 2, "only a test system, in fact")
    assert [e.lead.reference for e in service.queue()] == [second.reference, first.reference]


def test_anonymous_misses_about_the_same_thing_are_one_queue_entry(service, embed) -> None:
    misses = [miss(service, q) for q in VPN_QUERIES]
    printer = miss(service, "printer prints blank pages", category="printing")
    named = customer(service, "the VPN is down", "ana@example.com")
    entries = service.queue(embed)
    groups = [e for e in entries if e.kind == "group"]
    assert len(groups) == 1
    group = groups[0]
    assert {t.reference for t in group.tickets} == {t.reference for t in misses}
    assert group.label == f"5 customers searched for “{VPN_QUERIES[0]}”" and group.customers == 5
    assert {e.lead.reference for e in entries if e.kind == "ticket"} == {printer.reference, named.reference}
    data = group.to_dict()
    assert data["kind"] == "group" and data["customers"] == 5 and len(data["references"]) == 5


def test_without_a_model_the_queue_groups_identical_wording(service) -> None:
    for _ in range(3):
        miss(service, "VPN  down")
    miss(service, "vpn down")
    miss(service, "nobody can connect to the VPN")
    entries = service.queue(None)
    assert sorted(e.customers for e in entries) == [1, 4]


# -- problems ---------------------------------------------------------------------------------------------


def test_a_burst_of_similar_tickets_proposes_a_problem_that_agents_confirm(service, clock, embed) -> None:
    tickets = []
    for query in VPN_QUERIES[:3]:
        tickets.append(miss(service, query))
        clock.advance(minutes=10)
    miss(service, "printer prints blank pages", category="printing")
    proposed = service.propose_problems(embed)
    assert len(proposed) == 1
    problem = proposed[0]
    assert problem.status == "proposed" and problem.category == "network"
    assert {t.reference for t in problem.tickets} == {t.reference for t in tickets}
    assert service.active_problem_for("VPN down again", embed) is None  # not until an agent confirms
    service.confirm_problem(problem, "lead", title="VPN outage")
    assert problem.banner == "Known issue: VPN outage. We are on it." and problem.confirmed_by == "lead"
    assert service.active_problem_for("cannot connect to vpn", embed) is problem
    assert service.active_problem_for("printer out of toner", embed) is None
    later = miss(service, "VPN connection fails for all of us")
    assert service.link_or_propose_problem(later, embed) is problem
    assert "This is a known issue; we are working on it." in [
        i["text"] for i in service.customer_history(later)
    ]
    service.resolve_problem(problem, "lead", "Gateway certificate renewed", resolve_tickets=True)
    assert service.active_problem_for("cannot connect to vpn", embed) is None
    assert {t.status for t in problem.tickets} == {"resolved"}


def test_tickets_spread_over_time_propose_no_problem(service, clock, embed) -> None:
    for query in VPN_QUERIES[:3]:
        miss(service, query)
        clock.advance(hours=5)
    assert service.propose_problems(embed) == []
    assert service.problems() == []


def test_a_rejected_problem_never_shows_a_banner(service, embed) -> None:
    for query in VPN_QUERIES[:3]:
        miss(service, query)
    (problem,) = service.propose_problems(embed)
    service.reject_problem(problem, "lead", "three unrelated home networks")
    assert problem.status == "rejected" and service.active_problem_for("vpn down", embed) is None
    with pytest.raises(InvalidTransition):
        service.confirm_problem(problem, "lead")
