"""Sending email by SMTP, for `kb mail-in`'s replies and the outbox (`KB_SMTP_URL`).

`smtp://[user:password@]host[:port]`, `smtps://…` (TLS from the start, port 465) or `smtp+starttls://…`.
Failures are sorted into the ones worth retrying (the server is down, drops the connection, answers 4xx)
and the permanent ones (5xx: the address or the message is refused; retrying would not help).
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from urllib.parse import SplitResult, unquote, urlsplit

from kb_engine.errors import ConfigError

SCHEMES = {"smtp", "smtps", "smtp+starttls"}
TIMEOUT_SECONDS = 30


def parse_smtp_url(url: str) -> SplitResult:
    """The URL's parts; ConfigError saying what is expected when it is not an SMTP URL."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ConfigError(f"KB_SMTP_URL: expected smtp://, smtps:// or smtp+starttls://host, got {url!r}")
    return parts


def send_smtp(url: str, message: EmailMessage) -> None:
    """Send one message through the SMTP server of `url` (see the module's doc for the forms).

    Raises:
        ConfigError: `url` is not an SMTP URL.
        smtplib.SMTPException, OSError: the server refused or could not be reached (see `is_permanent`).
    """
    parts = parse_smtp_url(url)
    smtp_class = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    default_port = 465 if parts.scheme == "smtps" else 25
    with smtp_class(parts.hostname or "", parts.port or default_port, timeout=TIMEOUT_SECONDS) as smtp:
        if parts.scheme == "smtp+starttls":
            smtp.starttls()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(message)


def is_permanent(exc: BaseException) -> bool:
    """True when the server refused for good (5xx for the sender, every recipient, or the message)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False
