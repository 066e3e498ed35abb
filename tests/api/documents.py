"""The OpenAPI documents the app publishes, each one run through schemathesis by test_contract.py.

A new surface (the staff API, webhook payloads...) adds a `Document` here: every phase (examples, coverage,
fuzzing, stateful) then runs over each of its operations, in the fixed-seed run and in the random one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def no_headers(app: Any) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Document:
    """An OpenAPI document the app serves at `path`.

    `headers(app)` gives what every request to its operations sends (a staff API key created in the test's
    database, say). `max_examples` bounds the fuzzing phase per operation and the stateful scenarios.
    `operations` are schemathesis `[[operations]]` settings (a check turned off for one operation, with
    the reason next to it).
    """

    name: str
    path: str
    headers: Callable[[Any], dict[str, str]] = field(default=no_headers)
    max_examples: int = 25
    operations: tuple[dict[str, Any], ...] = ()


PUBLIC = Document(
    "public",
    "/api/v1/openapi.json",
    operations=(
        {
            # The ticket's token travels in the reply's body; this check only looks at the path and query
            # to decide that a link supplied everything, so a reply whose token the run did not take from
            # the link (a 404, as for any wrong token) would read as "created ticket not found". The
            # check still runs on GET /tickets/{reference}, where reference and token are both parameters.
            "include-name": "POST /api/v1/tickets/{reference}/replies",
            "checks": {"ensure_resource_availability": {"enabled": False}},
        },
    ),
)


def staff_token(app: Any) -> dict[str, str]:
    """An admin's staff API token (every tier, both scopes), created in the run's own database."""
    from kb_engine.helpdesk.db import make_session_factory
    from kb_engine.helpdesk.users import create_user
    from kb_engine.integrations.tokens import create_token

    with make_session_factory(app.extensions["kb_engine"])() as session:
        create_user(session, "api-fuzzer", "correct horse battery staple", "admin")
        _, raw = create_token(session, "api-fuzzer", "schemathesis", "tickets:read,tickets:write")
        session.commit()
    return {"Authorization": f"Bearer {raw}"}


# The same document as PUBLIC, run with a staff token: the staff operations (/api/v1/staff) get past 401.
STAFF = Document(
    "staff", "/api/v1/openapi.json", headers=staff_token, max_examples=15, operations=PUBLIC.operations
)

DOCUMENTS: tuple[Document, ...] = (PUBLIC, STAFF)
