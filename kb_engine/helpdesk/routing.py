"""Ticket routing: which tier and team a new ticket goes to, by category (a small YAML file authors edit).

`articles/routing.yml`::

    default: {tier: L1, team: service-desk}      # unlisted categories, tickets without a category
    escalation: {L2: desktop-support, L3: infrastructure, L4: vendor-management}
    categories:
      security: {tier: L2, team: security}
      network: {tier: L1, team: network, escalation: {L3: network-engineering}}
    teams:                                       # where a team's alerts go (a new P1, an escalation)
      security: security-team@example.com

`escalation` names the team that picks up a ticket escalated to a tier (per category or for all). A
missing file routes everything to L1 with no team. The file is re-read when it changes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb_engine.content.yaml_files import yaml_config
from kb_engine.errors import ConfigError

log = logging.getLogger(__name__)

TIERS = ("L1", "L2", "L3", "L4")
FILENAME = "routing.yml"


@dataclass(frozen=True)
class Route:
    tier: str = "L1"
    team: str | None = None
    escalation: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Routing:
    default: Route = field(default_factory=Route)
    categories: dict[str, Route] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)

    def route(self, category: str | None) -> Route:
        """The tier and team for a new ticket of this category."""
        return self.categories.get(category or "", self.default)

    def escalation_team(self, category: str | None, tier: str) -> str | None:
        """The team that picks up a ticket of this category escalated to `tier` (None if unnamed)."""
        route = self.route(category)
        return route.escalation.get(tier) or self.default.escalation.get(tier)

    def team_address(self, team: str | None) -> str | None:
        """The email address of a team's alerts (None: the routing file names none)."""
        return self.teams.get(team or "")

    def team_names(self, tier: str | None = None) -> list[str]:
        """Every team the file names (those working at `tier`, if given), sorted: the console's pickers."""
        found: set[str] = set()
        for route in (self.default, *self.categories.values()):
            if route.team and tier in (None, route.tier):
                found.add(route.team)
            found.update(team for at, team in route.escalation.items() if tier in (None, at))
        if tier is None:
            found.update(self.teams)
        return sorted(found)


def _tier(value: Any, where: str) -> str:
    tier = str(value).upper()
    if tier not in TIERS:
        raise ConfigError(f"{where}: tier {value!r} is not one of {', '.join(TIERS)}")
    return tier


def _route(data: Any, where: str, fallback: Route) -> Route:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping like {{tier: L1, team: service-desk}}")
    unknown = set(data) - {"tier", "team", "escalation"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    escalation = data.get("escalation") or {}
    if not isinstance(escalation, dict):
        raise ConfigError(f"{where}.escalation: expected a mapping of tier to team")
    team = data.get("team", fallback.team)
    return Route(
        tier=_tier(data.get("tier", fallback.tier), f"{where}.tier"),
        team=str(team) if team else None,
        escalation={_tier(k, f"{where}.escalation"): str(v) for k, v in escalation.items()},
    )


def parse_routing(data: Any, where: str = FILENAME) -> Routing:
    """A Routing from the parsed YAML document; ConfigError naming the bad entry."""
    if data is None:
        return Routing()
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with default, escalation and categories")
    unknown = set(data) - {"default", "escalation", "categories", "teams"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    default = _route(
        {**(data.get("default") or {}), "escalation": data.get("escalation") or {}},
        f"{where}: default",
        Route(),
    )
    categories = data.get("categories") or {}
    if not isinstance(categories, dict):
        raise ConfigError(f"{where}: categories must map a category to {{tier, team}}")
    teams = data.get("teams") or {}
    if not isinstance(teams, dict) or not all(
        isinstance(v, str) and "@" in v and len(v) <= 320 for v in teams.values()
    ):
        raise ConfigError(f"{where}: teams must map a team to its email address (team: alerts@example.com)")
    return Routing(
        default=default,
        teams={str(k): v.strip() for k, v in teams.items()},
        categories={
            str(name): _route(
                spec, f"{where}: categories.{name}", Route(tier=default.tier, team=default.team)
            )
            for name, spec in categories.items()
        },
    )


def load_routing(path: Path) -> Routing:
    """Read a routing file; a missing file routes everything to L1."""
    if not path.is_file():
        return Routing()
    data = yaml_config(path)
    return parse_routing(data, str(path))


_cache: dict[Path, tuple[float, Routing]] = {}
_cache_lock = threading.Lock()


def routing_for(articles_dir: Path) -> Routing:
    """The routing file of an articles folder, re-read only when it changed (cheap to call per ticket).

    A broken edit must not stop tickets from being opened: it is logged, and the last good routing (or
    the default, all L1) stays in use until the file is fixed. `load_routing` reports it strictly.
    """
    path = Path(articles_dir) / FILENAME
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return Routing()
    with _cache_lock:
        cached = _cache.get(path)
        if cached is None or cached[0] != mtime:
            try:
                routing = load_routing(path)
            except ConfigError as exc:
                log.error("routing file not used until fixed: %s", exc.message)
                routing = cached[1] if cached is not None else Routing()
            cached = (mtime, routing)
            _cache[path] = cached
        return cached[1]
