"""Domain errors. Each carries the HTTP status the web layer answers with."""

from __future__ import annotations


class KBError(Exception):
    """Base class: a clear message for a person, and an HTTP status for the web layer."""

    status: int = 500
    code: str = "error"
    # Seconds after which trying again may work (a 429 or 503 answers it as Retry-After); None: unknown.
    retry_after: int | None = None

    def __init__(self, message: str, *, status: int | None = None, key: str | None = None, **params: object):
        """`key` and `params` name the message for a translated interface (see web/i18n.py `error_text`);
        `message` is the English text for logs, the CLI and the API."""
        super().__init__(message)
        self.message = message
        self.key = key
        self.params = params
        if status is not None:
            self.status = status


class ArticleError(KBError):
    """An article file cannot be used; says which file and why."""

    status = 422
    code = "bad_article"

    def __init__(self, path: str, reason: str, *, line: int | None = None) -> None:
        super().__init__(f"{path}:{line}: {reason}" if line else f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.line = line  # the file's line (1-based) the problem is on, when it is known


class ConfigError(KBError):
    status = 500
    code = "bad_config"


class IndexMissing(KBError):
    status = 503
    code = "index_missing"


class IndexMismatch(KBError):
    """The index on disk was built with another model or format: re-index."""

    status = 503
    code = "index_mismatch"


class IndexBusy(KBError):
    status = 409
    code = "index_busy"


class InvalidQuery(KBError):
    status = 400
    code = "invalid_query"


class NotFound(KBError):
    status = 404
    code = "not_found"


class InvalidTransition(KBError):
    """A ticket change that its lifecycle refuses (resolving a closed ticket, escalating past L4...)."""

    status = 409
    code = "invalid_transition"


class Forbidden(KBError):
    status = 403
    code = "forbidden"


class StoreUnavailable(KBError):
    """The ticket database is locked, full or unreachable."""

    status = 503
    code = "store_unavailable"
    retry_after = 5


class TooManyRequests(KBError):
    """An anonymous visitor created too much too fast (tickets, replies, feedback): try again later."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, key="too_many", minutes=max(1, (retry_after + 59) // 60))
        self.retry_after = retry_after
