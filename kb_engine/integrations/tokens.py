"""Staff API tokens: personal, scoped, expiring, revocable; only their SHA-256 is stored.

A token is shown once, when it is created (`kb users token create`): `kbt_` and 43 URL-safe characters
(256 random bits; a fast hash is enough for a secret that long, and lets a request find its row by index).
It acts as its user, with that user's role and tiers, and only within its scopes; a disabled user, a
revoked or expired token gets 401.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.errors import InvalidQuery, KBError, NotFound
from kb_engine.helpdesk.models import ApiToken, User, utcnow
from kb_engine.helpdesk.users import TICKET_ROLES, StaffUser, get_user

SCOPES = ("tickets:read", "tickets:write")
PREFIX = "kbt_"
DEFAULT_DAYS = 90
MAX_DAYS = 366


class Unauthorized(KBError):
    """No valid token: missing, unknown, revoked, expired, or its user disabled."""

    status = 401
    code = "unauthorized"


@dataclass(frozen=True)
class TokenUser:
    """Who a request's token acts as, and what it may do."""

    user: StaffUser
    scopes: frozenset[str]
    token_id: int


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def parse_scopes(text: str) -> str:
    """`tickets:read,tickets:write` checked and normalised (InvalidQuery on an unknown scope)."""
    scopes = [s.strip() for s in text.replace(" ", ",").split(",") if s.strip()]
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise InvalidQuery(f"scopes are a comma-separated list of {', '.join(SCOPES)}; got {text!r}")
    return ",".join(s for s in SCOPES if s in scopes)


def create_token(
    session: Session,
    username: str,
    name: str,
    scopes: str,
    *,
    days: int = DEFAULT_DAYS,
    now: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `username` (an agent or admin); returns the row and the token, shown only now."""
    user = get_user(session, username)
    if user.role not in TICKET_ROLES:
        raise InvalidQuery(
            f"{username} ({user.role}) works no tickets: staff API tokens are for agents and admins"
        )
    if not user.active:
        raise InvalidQuery(f"{username} is disabled")
    name = name.strip()
    if not name or len(name) > 80:
        raise InvalidQuery("give the token a name of 1 to 80 characters (what it is for)")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidQuery(f"a token lasts 1 to {MAX_DAYS} days")
    taken = session.scalar(
        select(ApiToken.id).where(
            ApiToken.user_id == user.id, ApiToken.name == name, ApiToken.revoked_at.is_(None)
        )
    )
    if taken is not None:
        raise InvalidQuery(f"{username} already has a token named {name!r}: revoke it or choose another name")
    raw = PREFIX + secrets.token_urlsafe(32)
    now = now or utcnow()
    row = ApiToken(
        user_id=user.id,
        name=name,
        prefix=raw[:12],
        token_hash=digest(raw),
        scopes=parse_scopes(scopes),
        created_at=now,
        expires_at=now + dt.timedelta(days=days),
    )
    session.add(row)
    session.flush()
    return row, raw


def list_tokens(session: Session, username: str | None = None) -> list[tuple[ApiToken, str]]:
    """Tokens (newest first) with their user's name."""
    stmt = (
        select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id.desc())
    )
    if username:
        stmt = stmt.where(User.username == username)
    return [(token, name) for token, name in session.execute(stmt).all()]


def revoke_token(session: Session, token_id: int, *, now: dt.datetime | None = None) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
    return row


def authenticate(session: Session, raw: str, *, now: dt.datetime | None = None) -> TokenUser:
    """Who a bearer token acts as (Unauthorized when it is not a live token of an active user)."""
    now = now or utcnow()
    if not raw.startswith(PREFIX) or len(raw) > 100:
        raise Unauthorized("give a staff API token: Authorization: Bearer kbt_…")
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(raw)))
    if row is None or not hmac.compare_digest(row.token_hash, digest(raw)):
        raise Unauthorized("unknown token")
    if row.revoked_at is not None:
        raise Unauthorized("this token was revoked")
    if row.expires_at <= now:
        raise Unauthorized("this token has expired: create a new one")
    user = session.get(User, row.user_id)
    if user is None or not user.active or user.role not in TICKET_ROLES:
        raise Unauthorized("the token's account is disabled or works no tickets")
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=1):
        row.last_used_at = now  # at most one write a minute per token
    return TokenUser(StaffUser.from_model(user), frozenset(row.scopes.split(",")), row.id)


def token_to_dict(row: ApiToken, username: str, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    state = "revoked" if row.revoked_at else "expired" if row.expires_at <= now else "active"
    return {
        "id": row.id,
        "user": username,
        "name": row.name,
        "prefix": row.prefix,
        "scopes": row.scopes.split(","),
        "state": state,
        "created_at": row.created_at.isoformat(timespec="seconds"),
        "expires_at": row.expires_at.isoformat(timespec="seconds"),
        "last_used_at": row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else None,
    }
