"""The staff audit log: who did which action that matters (logins, role changes, exports, erasures,
backups, merges, closes), when, on what. Kept with the desk, whose actions it records; read by admins.
Append-only: the database refuses changes (migration 0009)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from kb_engine.helpdesk.models import Base, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(timespec="seconds"),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "details": self.details,
        }


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
