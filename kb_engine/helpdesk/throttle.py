"""Login brute-force limit, per account and per address, kept in the ticket database.

Attempts live in the `login_failure` table, so every worker process (and, with PostgreSQL, every machine)
counts the same ones: a limit kept in one process's memory would be multiplied by the number of workers.

- **Recorded before the password is checked.** `begin` inserts the attempt and counts, under one lock per
  database (SQLite's write lock; a transaction-scoped advisory lock on PostgreSQL), and the caller commits
  before checking the password. Parallel attempts therefore see each other: 24 wrong passwords sent at
  once get no more password checks than the limit. A refused attempt is rolled back (not counted); a
  successful one is deleted with the failures of the same account from the same address.
- **Per address**: an address with `per_address` attempts in the window is refused, whatever the account.
- **Per account, without locking out the real user**: an account with `per_account` failures in the window
  is refused to every address that failed on it in the window, but an address with no recent failure on
  it may still try, so someone guessing from elsewhere cannot lock the real user out. Guessing from many
  addresses gets one try per address.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from kb_engine.helpdesk.models import LoginFailure, utcnow


@dataclass(frozen=True)
class Attempt:
    """A recorded login attempt: its row, and the seconds to wait when refused (0: check the password)."""

    id: int
    wait: int
    account_failures: int  # failures of the account in the window before this attempt


@dataclass(frozen=True)
class LoginThrottle:
    """Counts login attempts in a sliding window.

    Args:
        session: the database session (the caller commits).
        per_account: failures of one username within the window before addresses that failed on it are
            refused.
        per_address: attempts from one client address allowed within the window (any username).
        window_seconds: length of the window.
    """

    session: Session
    per_account: int = 5
    per_address: int = 20
    window_seconds: int = 900

    @classmethod
    def from_settings(cls, session: Session, settings: Mapping[str, Any]) -> LoginThrottle:
        """The limits the settings give (`KB_LOGIN_MAX_FAILURES`, `…_PER_ADDRESS`, `…_WINDOW_SECONDS`)."""
        return cls(
            session,
            per_account=int(settings["LOGIN_MAX_FAILURES"]),
            per_address=int(settings["LOGIN_MAX_FAILURES_PER_ADDRESS"]),
            window_seconds=int(settings["LOGIN_WINDOW_SECONDS"]),
        )

    def _key(self, username: str) -> str:
        return username.strip().lower()[:80]

    def _count(self, *where: object) -> tuple[int, dt.datetime | None]:
        count, oldest = self.session.execute(
            select(func.count(), func.min(LoginFailure.at)).where(*where)  # type: ignore[arg-type]
        ).one()
        return int(count), oldest

    def begin(self, username: str, address: str, now: dt.datetime | None = None) -> Attempt:
        """Record an attempt before its password is checked, and say whether it may go on.

        The caller commits at once when `wait` is 0 (so that parallel attempts count this one), then
        checks the password and calls `succeeded` or leaves the row as a failure; when `wait` > 0 it rolls
        back and answers 429 without checking the password.
        """
        now = now or utcnow()
        since = now - dt.timedelta(seconds=self.window_seconds)
        account, address = self._key(username), address[:64]
        if self.session.get_bind().dialect.name == "postgresql":
            key = zlib.crc32(b"kb-login-throttle") & 0x7FFFFFFF
            self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        self.session.execute(delete(LoginFailure).where(LoginFailure.at <= since))
        row = LoginFailure(account=account, address=address, at=now)
        self.session.add(row)
        self.session.flush()
        recent = LoginFailure.at > since
        waits = [0]
        by_address, oldest = self._count(LoginFailure.address == address, recent)
        if by_address > self.per_address and oldest is not None:
            waits.append(max(1, int((oldest - since).total_seconds()) + 1))
        failures, oldest = self._count(LoginFailure.account == account, recent, LoginFailure.id != row.id)
        if failures >= self.per_account and oldest is not None:
            mine, _ = self._count(
                LoginFailure.account == account,
                LoginFailure.address == address,
                recent,
                LoginFailure.id != row.id,
            )
            if mine:  # this address failed on the account: refused; a fresh address may still try
                waits.append(max(1, int((oldest - since).total_seconds()) + 1))
        return Attempt(id=row.id, wait=max(waits), account_failures=failures)

    def recent_failures(self, now: dt.datetime | None = None) -> dict[str, tuple[int, int]]:
        """Per account: (failed logins, distinct addresses) within the window, for admins (`kb users list`).
        An account with `per_account` failures or more is locked for those addresses."""
        since = (now or utcnow()) - dt.timedelta(seconds=self.window_seconds)
        rows = self.session.execute(
            select(LoginFailure.account, func.count(), func.count(LoginFailure.address.distinct()))
            .where(LoginFailure.at > since)
            .group_by(LoginFailure.account)
        ).all()
        return {str(account): (int(n), int(addresses)) for account, n, addresses in rows}

    def lockouts(self, now: dt.datetime | None = None) -> dict[str, dict[str, int]]:
        """What admins are shown (`kb users list`, the console's staff accounts page), per account with
        failed logins in the window: `failed_logins`, and `locked_for_addresses`, the addresses it is
        refused to (0 while under `per_account`; other addresses may still log in)."""
        return {
            account: {"failed_logins": n, "locked_for_addresses": addresses if n >= self.per_account else 0}
            for account, (n, addresses) in self.recent_failures(now).items()
        }

    def succeeded(self, attempt: Attempt, username: str, address: str) -> None:
        """The password was right: forget this attempt and the account's failures from this address."""
        self.session.execute(
            delete(LoginFailure).where(
                (LoginFailure.id == attempt.id)
                | ((LoginFailure.account == self._key(username)) & (LoginFailure.address == address[:64]))
            )
        )
