"""The routing file: category -> default tier and team, and who picks up escalations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kb_engine.errors import ConfigError
from kb_engine.helpdesk.routing import load_routing, parse_routing, routing_for
from tests.conftest import SHIPPED


def test_shipped_routing_file_is_valid_and_names_a_team_for_every_shipped_category() -> None:
    routing = load_routing(SHIPPED / "routing.yml")
    categories = {
        line.split(":", 1)[1].strip()
        for path in SHIPPED.glob("*/*.md")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("category:")
    }
    assert categories <= set(routing.categories)
    assert routing.route("security").tier == "L2"
    assert all(routing.escalation_team(None, tier) for tier in ("L2", "L3", "L4"))


def test_category_escalation_team_wins_over_the_default() -> None:
    routing = parse_routing(
        {
            "default": {"tier": "L1", "team": "desk"},
            "escalation": {"L2": "support", "L3": "infra"},
            "categories": {"network": {"team": "net", "escalation": {"L3": "net-eng"}}},
        }
    )
    assert routing.route("network").tier == "L1" and routing.route("network").team == "net"
    assert routing.escalation_team("network", "L3") == "net-eng"
    assert routing.escalation_team("network", "L2") == "support"
    assert routing.route(None).team == "desk"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"categories": {"email": {"tier": "L9"}}}, "categories.email.tier"),
        ({"categories": {"email": {"teem": "x"}}}, "unknown key"),
        ({"defaults": {}}, "unknown key"),
        (["L1"], "expected a mapping"),
    ],
)
def test_bad_routing_file_names_the_bad_entry(document, message) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_routing(document)


def edit(folder: Path, email_route: str, *, mtime: int | None = None) -> Path:
    """Write a routing file routing the `email` category; a distinct mtime marks a later edit."""
    path = folder / "routing.yml"
    path.write_text(f"categories:\n  email: {email_route}\n", encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_missing_file_routes_everything_to_l1_and_edits_are_picked_up(tmp_path: Path) -> None:
    assert routing_for(tmp_path).route("email").tier == "L1"
    edit(tmp_path, "{tier: L2, team: mail}")
    assert routing_for(tmp_path).route("email").team == "mail"
    edit(tmp_path, "{tier: L3, team: mail}", mtime=1)
    assert routing_for(tmp_path).route("email").tier == "L3"


def test_a_broken_edit_keeps_the_last_good_routing(tmp_path: Path, caplog) -> None:
    edit(tmp_path, "{tier: L2, team: mail}")
    assert routing_for(tmp_path).route("email").tier == "L2"
    path = edit(tmp_path, "{tier: L7}", mtime=2)
    assert routing_for(tmp_path).route("email").team == "mail"
    assert "routing file not used until fixed" in caplog.text
    with pytest.raises(ConfigError):
        load_routing(path)
