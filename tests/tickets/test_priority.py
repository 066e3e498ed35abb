"""The priority rule (kb_engine.helpdesk.priority): pure functions, no database."""

from __future__ import annotations

import datetime as dt

import pytest

from kb_engine.helpdesk.priority import TARGETS, availability_step, compute_priority, severity, volume_step

T0 = dt.datetime(2026, 3, 2, 9, 0)


def level(*texts: str, waited: dt.timedelta = dt.timedelta(0), **kwargs) -> int:
    return compute_priority(texts=texts, created_at=T0, now=T0 + waited, **kwargs).level


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rançongiciel : tous nos fichiers sont chiffrés", 1),
        ("ransomware on the file server", 1),
        ("Everyone in the office cannot work", 1),
        ("production is down", 1),
        ("tout le monde est bloqué, c'est urgent", 1),
        ("problème de sécurité sur mon compte", 2),
        ("I cannot work, Outlook crashes", 2),
        ("the production line printer is jammed", 2),
        ("urgent: my mouse is slow", 3),
        ("my second screen flickers", 3),
        ("not urgent, just a question about fonts", 3),
    ],
)
def test_severity_words_in_english_and_french_set_the_starting_priority(text: str, expected: int) -> None:
    assert level(text) == expected


def test_severity_matching_ignores_case_accents_and_partial_words() -> None:
    assert severity("SECURITE du VPN").words == ("securite",)
    assert severity("my products page").score == 0  # "prod" is a whole word only
    assert severity("everyone", "details: urgent").score == 3  # query and form details both count


def test_each_severity_group_counts_once() -> None:
    assert severity("urgent urgent urgent, ASAP, emergency").score == 1


@pytest.mark.parametrize(
    ("availability", "reachable", "step"),
    [
        ("today until 5 pm", True, 1),
        ("aujourd'hui avant midi", True, 1),
        ("anytime next week", True, -1),
        ("n'importe quand", True, -1),
        ("weekday mornings", True, 0),
        (None, True, 0),
        (None, False, -1),
    ],
)
def test_availability_moves_priority_one_level(availability, reachable, step) -> None:
    assert availability_step(availability, reachable=reachable) == step


def test_customers_who_cannot_be_reached_or_are_in_no_hurry_go_lower() -> None:
    assert level("printer jam", reachable=False) == 4
    assert level("printer jam", availability="whenever") == 4
    assert level("printer jam", availability="this afternoon only") == 2


def test_many_customers_on_the_same_thing_raise_priority() -> None:
    assert [volume_step(n) for n in (1, 4, 5, 19, 20)] == [0, 0, 1, 1, 2]
    assert level("vpn down", reachable=False, customers=37) == 2


def test_waiting_raises_priority_one_level_per_target_but_never_to_critical() -> None:
    assert level("printer jam", waited=TARGETS[3] - dt.timedelta(minutes=1)) == 3
    assert level("printer jam", waited=TARGETS[3]) == 2
    assert level("printer jam", waited=dt.timedelta(days=30)) == 2
    assert level("printer jam", reachable=False, waited=TARGETS[4]) == 3
    assert level("printer jam", reachable=False, waited=TARGETS[4] + TARGETS[3]) == 2


def test_override_wins_and_says_so() -> None:
    result = compute_priority(texts=("ransomware",), created_at=T0, now=T0, override=4)
    assert (result.level, result.overridden, result.reasons) == (4, True, ("set by an agent",))


def test_reasons_and_due_time_explain_the_priority() -> None:
    result = compute_priority(texts=("everyone is blocked",), created_at=T0, now=T0)
    assert result.level == 1 and result.due_at == T0 + TARGETS[1]
    assert "everyone" in result.reasons[0] and "blocked" in result.reasons[0]
