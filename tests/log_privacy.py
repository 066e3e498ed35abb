"""No customer's email or query text in any server log of the test suite (issue 27), with default settings.

`tests/conftest.py` applies this to every test: the log records the test's own process wrote (the app in a
test client or a live server thread, the CLI in-process) and the `*.log` files its servers and `kb`
subprocesses wrote under its `tmp_path`. A test that turns query logging on on purpose is marked
`logs_personal_data`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pythonjsonlogger.json import JsonFormatter

# An email address, or a request line / URL carrying a search (`?q=`, `&q=`): what a customer typed.
PERSONAL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|[?&]q=[^&\s\"]")


# Loggers of the stand-ins for outside services the tests start (aiosmtpd's SMTP receiver is somebody
# else's mail server): not our servers' logs.
OUTSIDE = ("mail.log",)


class Recorder(logging.Handler):
    """Every record at INFO and above, formatted as the servers format them (message and extra fields)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter("{levelname}{name}{message}", style="{"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(OUTSIDE):
            return
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is the logging module's problem
            self.lines.append(f"{record.name}: {record.msg!r}")


def leaks(lines: list[str], where: str) -> list[str]:
    return [f"{where}: {line[:300]}" for line in lines if PERSONAL.search(line)]


def leaks_in_files(folder: Path) -> list[str]:
    found: list[str] = []
    for path in sorted(folder.rglob("*.log")):
        try:
            text = path.read_text("utf-8", errors="replace")
        except OSError:
            continue
        found += leaks(text.splitlines(), str(path.name))
    return found
