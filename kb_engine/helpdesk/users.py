"""Staff accounts: agents, authors and admins, with Argon2-hashed passwords and roles.

Roles, and the ticket tiers each may act on (a lower tier never acts on a ticket above its own):

    agent-L1  L1               agent-L3  L1, L2, L3 and L4 (vendor tickets are followed by L3)
    agent-L2  L1, L2           admin     every tier, and every page
    author    no tickets: the authors' pages (content gaps, article feedback, learned questions)

Every staff member may read the console (queue, tickets, agent search, dashboard). Logging out bumps the
account's `session_version`, which invalidates every session of that account on the server side; so does
disabling it or changing its password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.errors import InvalidQuery, NotFound
from kb_engine.helpdesk.models import User
from kb_engine.helpdesk.tickets import TIERS

AGENT_ROLES = ("agent-L1", "agent-L2", "agent-L3")
ROLES = (*AGENT_ROLES, "author", "admin")
# Tiers each role may act on. L3 follows the tickets handed to an outside vendor (L4).
ROLE_TIERS: dict[str, tuple[str, ...]] = {
    "agent-L1": ("L1",),
    "agent-L2": ("L1", "L2"),
    "agent-L3": ("L1", "L2", "L3", "L4"),
    "author": (),
    "admin": TIERS,
}
AUTHOR_ROLES = ("author", "admin")
TICKET_ROLES = (*AGENT_ROLES, "admin")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,79}$")
MIN_PASSWORD_CHARS = 12
MIN_PASSWORD_SCORE = 3  # zxcvbn's 0-4 scale: 3 is "safely unguessable" (about 10^8 guesses or more)
MAX_PASSWORD_CHARS = 1024

_hasher = PasswordHasher()
# Verified against when the username is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password, only for constant-time refusals")


@dataclass(frozen=True)
class StaffUser:
    """A logged-in staff member as the web app and the CLI see it (no password hash)."""

    id: int
    username: str
    role: str
    active: bool
    session_version: int

    @property
    def tiers(self) -> tuple[str, ...]:
        return tiers_for(self.role)

    def may_act_on(self, tier: str) -> bool:
        return may_act_on(self.role, tier)

    @property
    def works_tickets(self) -> bool:
        return self.role in TICKET_ROLES

    @property
    def is_author(self) -> bool:
        return self.role in AUTHOR_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def from_model(cls, user: User) -> StaffUser:
        return cls(user.id, user.username, user.role, bool(user.active), int(user.session_version or 0))


def tiers_for(role: str) -> tuple[str, ...]:
    """The ticket tiers a role may act on (empty for authors and unknown roles)."""
    return ROLE_TIERS.get(role, ())


def may_act_on(role: str, tier: str) -> bool:
    """Whether a member with `role` may change a ticket at `tier` (take, escalate, resolve...)."""
    return tier in tiers_for(role)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidQuery(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    return role


def _repeats_a_short_unit(password: str) -> bool:
    """`aaaaaaaaaaaa`, `abcabcabcabc`, `12121212...`: a unit of up to 4 characters repeated."""
    lowered = password.lower()
    for size in range(1, 5):
        unit = lowered[:size]
        if len(lowered) >= 2 * size and (unit * (len(lowered) // size + 1)).startswith(lowered):
            return True
    return False


def check_password(password: str, username: str | None = None) -> str:
    """The password, if it is one a staff account may have; else InvalidQuery saying why.

    Refused: shorter than MIN_PASSWORD_CHARS; containing the username; a short unit repeated (or only a
    few different characters); and what zxcvbn (Dropbox's estimator, with its lists of common and
    breached passwords, names and keyboard patterns) scores below MIN_PASSWORD_SCORE, with its reason.
    """
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidQuery(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidQuery(f"the password is longer than {MAX_PASSWORD_CHARS} characters")
    name = (username or "").strip().lower()
    if len(name) >= 3 and name in password.lower():
        raise InvalidQuery("the password contains the username: choose one that does not")
    if _repeats_a_short_unit(password) or len(set(password.lower())) <= 3:
        raise InvalidQuery(
            "the password repeats a few characters: choose a longer mix, or a few random words"
        )
    from zxcvbn import zxcvbn  # loads its word lists (a few MB) only where passwords are set

    verdict = zxcvbn(password[:100], user_inputs=[name, "kb-engine", "support", "helpdesk"] if name else [])
    if int(verdict["score"]) < MIN_PASSWORD_SCORE:
        feedback = verdict.get("feedback") or {}
        why = str(feedback.get("warning") or "").rstrip(".") or "it is easy to guess"
        tips = " ".join(str(s) for s in feedback.get("suggestions") or [])
        raise InvalidQuery(
            f"the password is too easy to guess: {why[0].lower() + why[1:]}. "
            + (tips + " " if tips else "")
            + "A few random words make a good one."
        )
    return password


def hash_password(password: str, username: str | None = None) -> str:
    return _hasher.hash(check_password(password, username))


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def assignee_for(session: Session, username: str, tier: str | None) -> str:
    """The agent a ticket at `tier` may be assigned to: an active account whose role covers that tier
    (the console's and the staff API's one rule); InvalidQuery otherwise."""
    try:
        user = get_user(session, username)
    except NotFound:
        raise InvalidQuery(f"no agent account {username!r}") from None
    if not user.active or not tier or tier not in tiers_for(user.role):
        raise InvalidQuery(f"{user.username} ({user.role}) cannot work on an {tier} ticket")
    return user.username


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def create_user(session: Session, username: str, password: str, role: str) -> User:
    """Create an active account (the caller commits).

    Args:
        session: the database session.
        username: lowercase letters, digits, '.', '_' or '-', 2 to 80 characters.
        password: at least MIN_PASSWORD_CHARS characters; only its Argon2id hash is stored.
        role: one of ROLES.

    Raises:
        InvalidQuery: bad username, password or role, or the username is taken.
    """
    name = username.strip().lower()
    if not USERNAME_RE.match(name):
        raise InvalidQuery(f"username {username!r}: 2-80 lowercase letters, digits, '.', '_' or '-'")
    check_role(role)
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise InvalidQuery(f"user {name!r} already exists")
    user = User(username=name, password_hash=hash_password(password, name), role=role, active=True)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active account with this username and password, else None (same time either way).

    A hash made with older Argon2 parameters is upgraded on the way (the caller commits).
    """
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    candidate = user.password_hash if user is not None else _DUMMY_HASH
    try:
        _hasher.verify(candidate, password[:MAX_PASSWORD_CHARS])
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def end_sessions(user: User) -> None:
    """Invalidate every session of this account (logout, disable, new password)."""
    user.session_version = int(user.session_version or 0) + 1


def set_active(session: Session, username: str, active: bool) -> User:
    """Disable (its sessions end at once) or re-enable an account."""
    user = get_user(session, username)
    user.active = active
    if not active:
        end_sessions(user)
    session.flush()
    return user


def set_password(session: Session, username: str, password: str) -> User:
    """Give an account a new password; its open sessions end."""
    user = get_user(session, username)
    user.password_hash = hash_password(password, user.username)
    end_sessions(user)
    session.flush()
    return user


def set_role(session: Session, username: str, role: str) -> User:
    """Change an account's role; its open sessions end (they carried the old role)."""
    user = get_user(session, username)
    user.role = check_role(role)
    end_sessions(user)
    session.flush()
    return user
