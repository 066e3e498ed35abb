"""Login brute-force limit, per account and per address, kept in the ticket database.

The failures live in the `login_failure` table, so every worker process (and, with PostgreSQL, every
machine) counts the same attempts: a limit kept in one process's memory would be multiplied by the
number of workers. An account or address that failed `max_failures` times within the window is refused
until its oldest failure in the window ages out; a successful login clears the account's failures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kb_engine.helpdesk.models import LoginFailure, utcnow


@dataclass(frozen=True)
class LoginThrottle:
    """Counts failed logins in a sliding window.

    Args:
        session: the database session (the caller commits).
        per_account: failures of one username allowed within the window.
        per_address: failures from one client address allowed within the window (any username).
        window_seconds: length of the window.
    """

    session: Session
    per_account: int = 5
    per_address: int = 20
    window_seconds: int = 900

    def _key(self, username: str) -> str:
        return username.strip().lower()[:80]

    def retry_after(self, username: str, address: str, now: dt.datetime | None = None) -> int:
        """Seconds to wait before this username or address may try again (0: it may try now)."""
        now = now or utcnow()
        since = now - dt.timedelta(seconds=self.window_seconds)
        waits = [0]
        for column, value, limit in (
            (LoginFailure.account, self._key(username), self.per_account),
            (LoginFailure.address, address[:64], self.per_address),
        ):
            count, oldest = self.session.execute(
                select(func.count(), func.min(LoginFailure.at)).where(
                    column == value, LoginFailure.at > since
                )
            ).one()
            if count >= limit and oldest is not None:
                waits.append(max(1, int((oldest - since).total_seconds()) + 1))
        return max(waits)

    def failed(self, username: str, address: str, now: dt.datetime | None = None) -> None:
        """Record a failed login (and forget failures older than the window)."""
        now = now or utcnow()
        self.session.execute(
            delete(LoginFailure).where(LoginFailure.at <= now - dt.timedelta(seconds=self.window_seconds))
        )
        self.session.add(LoginFailure(account=self._key(username), address=address[:64], at=now))
        self.session.flush()

    def succeeded(self, username: str) -> None:
        """A successful login clears the account's failures (not the address's)."""
        self.session.execute(delete(LoginFailure).where(LoginFailure.account == self._key(username)))
