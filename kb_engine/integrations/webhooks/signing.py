"""The signature of a webhook delivery: `KB-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
`"<t>." + body` with the endpoint's secret (the scheme Stripe and others use). A receiver recomputes it,
compares in constant time, and refuses a timestamp outside its replay window (default 5 minutes)."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "KB-Signature"
REPLAY_WINDOW = 300


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for `body` sent at `timestamp` (now by default)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode("utf-8"), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(
    secret: str, body: bytes, header: str, *, now: float | None = None, window: int = REPLAY_WINDOW
) -> bool:
    """True when `header` signs `body` with `secret` and its timestamp is within `window` seconds of now."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > window:
        return False
    expected = sign(secret, body, t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
