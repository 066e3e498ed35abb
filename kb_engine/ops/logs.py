"""Structured logs: one JSON object per line (python-json-logger), for the web app and the CLI jobs alike.

What is logged is decided by the callers, and by default it never holds personal data: the web app logs
the route pattern (not the path with its query), the status, the latency, the role and the request id; a
customer's query text is added only when `KB_LOG_QUERIES` is on.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys

from pythonjsonlogger.json import JsonFormatter

FORMATS = ("json", "text")
# A request id taken from a proxy (nginx's $request_id) must look like one: anything else is replaced, so a
# client cannot write arbitrary text into the logs or the response headers through X-Request-ID.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_CONFIGURED = "_kb_engine_handler"


def new_request_id() -> str:
    return secrets.token_hex(16)


def request_id_from(header: str | None) -> str:
    """The proxy's request id when it is well formed, else a new one."""
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return new_request_id()


class _Stderr:
    """Whatever `sys.stderr` is when a line is written (a test's capture, a daemon's redirection)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(fmt: str = "json", level: int | str = logging.INFO, stream=None) -> None:
    """Send the root logger's records to `stream` (stderr) as JSON lines (or plain text), once per process.

    Args:
        fmt: "json" (one object per line: time, level, logger, message and any `extra` fields) or "text".
        level: the root level.
        stream: where lines go (default stderr).
    """
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS}, not {fmt!r}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _CONFIGURED, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or _Stderr())
    setattr(handler, _CONFIGURED, True)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
