"""The ticket priority rule: pure functions, no database, no clock of their own.

Priorities run from 1 (critical) to 4 (low); 3 is normal. The rule, in order:

1. **Severity** of what the customer wrote (the query and the contact form's details), from impact and
   urgency words in English and French, matched case- and accent-insensitively on whole words. Each
   group counts once:

   | group | weight | examples |
   |---|---|---|
   | security incident | 4 | ransomware, rançongiciel, hacked, piraté, malware, fuite de données |
   | security | 2 | security, sécurité, phishing, hameçonnage, suspicious, compromised |
   | wide impact | 2 | everyone, all users, whole team, production, outage, tout le monde, personne ne peut |
   | blocked | 2 | cannot work, can't work, blocked, down, impossible de travailler, bloqué |
   | urgency | 1 | urgent, asap, emergency, deadline, urgence, au plus vite, immédiatement |

   "not urgent", "no rush", "pas urgent"… are removed before matching. Severity 4 or more starts at
   priority 1, 2 or 3 at priority 2, less at priority 3.
2. **Reachability and availability** of the customer: one level lower (less urgent) when nobody left a
   way to reach them (an anonymous search miss) or when they say there is no hurry ("anytime", "next
   week", "n'importe quand"); one level higher when their window closes soon ("today", "this morning",
   "before 5 pm", "aujourd'hui", "avant midi").
3. **Volume**: one level higher when 5 or more customers are on it (a group of misses, merged tickets),
   two when 20 or more.
4. **Waiting time**: each priority has a target (1: 1 hour, 2: 4 hours, 3: 1 day, 4: 3 days). Each time
   a ticket has waited a full target at its current level, it rises one level; waiting alone never
   makes a ticket critical (it stops at 2).
5. An **agent's override** replaces all of the above (the ticket service records who set it and why).

The queue is ordered by this priority, then by age (oldest first).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from kb_engine.content.text import fold as fold_accents

HIGHEST = 1
LOWEST = 4
NORMAL = 3
AGEING_CEILING = 2  # waiting alone never makes a ticket critical

TARGETS: dict[int, dt.timedelta] = {
    1: dt.timedelta(hours=1),
    2: dt.timedelta(hours=4),
    3: dt.timedelta(days=1),
    4: dt.timedelta(days=3),
}

# (group, weight, phrases separated by "|"). Written naturally; matching folds case and accents.
SEVERITY_GROUPS: tuple[tuple[str, int, str], ...] = (
    (
        "security incident",
        4,
        "ransomware|rançongiciel|rançongiciels|hacked|hacker|piraté|piratage|malware|data breach|breach|"
        "fuite de données|data leak|encrypted files|fichiers chiffrés|cryptolocker",
    ),
    (
        "security",
        2,
        "security|sécurité|phishing|hameçonnage|suspicious|suspect|compromised|compromis|virus|stolen|volé",
    ),
    (
        "wide impact",
        2,
        "everyone|everybody|all users|all of us|whole team|whole office|entire team|entire office|"
        "nobody can|no one can|production|prod|outage|all customers|tout le monde|tous les utilisateurs|"
        "toute l'équipe|tout le service|tout le bureau|personne ne peut|panne générale|tous les clients",
    ),
    (
        "blocked",
        2,
        "cannot work|can't work|cant work|unable to work|blocked|is down|are down|completely down|"
        "nothing works|impossible de travailler|peux plus travailler|peut plus travailler|bloqué|bloquée|"
        "bloqués|rien ne fonctionne|rien ne marche",
    ),
    (
        "urgency",
        1,
        "urgent|urgently|asap|as soon as possible|emergency|immediately|critical|deadline|urgence|"
        "au plus vite|immédiatement|critique|dès que possible",
    ),
)

RELAXED = (
    "not urgent|no rush|no hurry|whenever|anytime|any time|next week|when you can|pas urgent|pas pressé|"
    "pas pressée|rien ne presse|n'importe quand|quand vous voulez|quand vous pouvez|semaine prochaine"
)
CLOSING_SOON = (
    "today|tonight|this morning|this afternoon|this evening|right now|now|before|until|aujourd'hui|"
    "ce matin|cet après-midi|ce soir|maintenant|avant|jusqu'à"
)

VOLUME_STEPS = ((20, 2), (5, 1))  # (customers at least, levels up)


def fold(text: str) -> str:
    """Lower case, no accents, typographic apostrophes made plain: what the word lists are matched on."""
    return fold_accents(text.replace("’", "'"))


def _pattern(phrases: str) -> re.Pattern[str]:
    words = sorted({fold(p.strip()) for p in phrases.split("|")}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)")


_GROUPS = tuple((name, weight, _pattern(phrases)) for name, weight, phrases in SEVERITY_GROUPS)
_RELAXED = _pattern(RELAXED)
_CLOSING_SOON = _pattern(CLOSING_SOON)


@dataclass(frozen=True)
class Severity:
    """How bad the customer says it is: a score and the words that made it."""

    score: int
    words: tuple[str, ...] = ()


def severity(*texts: str | None) -> Severity:
    """Severity of the customer's own words (query, details...).

    Args:
        texts: what the customer wrote; None and empty strings are ignored.

    Returns:
        The score (sum of the weights of the groups found, each group once) and the words found.
    """
    text = _RELAXED.sub(" ", fold(" ".join(t for t in texts if t)))
    score = 0
    words: list[str] = []
    for _name, weight, pattern in _GROUPS:
        found = pattern.findall(text)
        if found:
            score += weight
            words.extend(dict.fromkeys(found))
    return Severity(score, tuple(words))


def base_priority(score: int) -> int:
    """Priority from the severity score alone."""
    if score >= 4:
        return 1
    if score >= 2:
        return 2
    return NORMAL


def availability_step(availability: str | None, *, reachable: bool) -> int:
    """Levels up (+1), down (-1) or 0 from how and when the customer can be reached."""
    if not reachable:
        return -1
    text = fold(availability or "")
    if _RELAXED.search(text):
        return -1
    if _CLOSING_SOON.search(text):
        return 1
    return 0


def volume_step(customers: int) -> int:
    """Levels up for the number of customers waiting on the same thing."""
    return next((steps for least, steps in VOLUME_STEPS if customers >= least), 0)


def clamp(level: int) -> int:
    return max(HIGHEST, min(LOWEST, level))


@dataclass(frozen=True)
class Priority:
    """A computed priority, the reasons for it (for the agent), and when a first response is due."""

    level: int
    reasons: tuple[str, ...] = field(default_factory=tuple)
    due_at: dt.datetime | None = None
    overridden: bool = False


def compute_priority(
    *,
    texts: tuple[str | None, ...],
    created_at: dt.datetime,
    now: dt.datetime,
    availability: str | None = None,
    reachable: bool = True,
    customers: int = 1,
    override: int | None = None,
) -> Priority:
    """The priority of a ticket (or a group of tickets) at `now`, by the rule in this module's docstring.

    Args:
        texts: the customer's words (query, details).
        created_at: when the ticket (the oldest of a group) arrived.
        now: the time to compute at (the caller's clock, so tests can age tickets).
        availability: the customer's preferred window, free text.
        reachable: whether any contact detail was left.
        customers: how many customers are on it.
        override: an agent's priority, which wins.

    Returns:
        The level (1 critical … 4 low) with its reasons and the time a first response is due.
    """
    if override is not None:
        level = clamp(override)
        return Priority(level, ("set by an agent",), created_at + TARGETS[level], overridden=True)
    sev = severity(*texts)
    level = base_priority(sev.score)
    reasons = [f"severity {sev.score} ({', '.join(sev.words)})"] if sev.words else ["no severity words"]
    step = availability_step(availability, reachable=reachable)
    if step:
        reasons.append(
            "customer cannot be reached"
            if not reachable
            else ("customer's window closes soon" if step > 0 else "customer is in no hurry")
        )
    volume = volume_step(customers)
    if volume:
        reasons.append(f"{customers} customers")
    level = clamp(level - step - volume)
    due_at = created_at + TARGETS[level]
    waited = now - created_at
    climbed = 0
    while level > AGEING_CEILING and waited >= TARGETS[level]:
        waited -= TARGETS[level]
        level -= 1
        climbed += 1
    if climbed:
        reasons.append(f"waiting {_duration(now - created_at)}, past its target {climbed} time(s)")
        due_at = now
    return Priority(level, tuple(reasons), due_at)


def _duration(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"
