"""The staff audit log: who did which action that matters (logins, role changes, exports, erasures,
backups, merges, closes), when, on what. Kept with the desk, whose actions it records; read by admins.
Append-only: the database refuses changes (migration 0009)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.helpdesk.models import AuditEntry


def record(
    session: Session, actor: str, action: str, target: str | None = None, **details: Any
) -> AuditEntry:
    """Add one entry to the caller's session (the caller commits with the change it records)."""
    entry = AuditEntry(
        actor=actor[:80], action=action[:40], target=(target or "")[:200] or None, details=details
    )
    session.add(entry)
    return entry


def entries(session: Session, *, action: str | None = None, limit: int = 500) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))
