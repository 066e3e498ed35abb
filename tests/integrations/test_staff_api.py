"""The staff API: personal tokens (hashed, scoped, expiring, revocable) on the console's ticket actions,
with the console's role and tier rules."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from kb_engine.cli.main import cli
from kb_engine.helpdesk.models import ApiToken, TicketEvent
from kb_engine.integrations.tokens import digest
from tests.apps import app_ticket
from tests.integrations.conftest import sessions


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_lists_shows_and_changes_tickets_through_the_ticket_service(staff_app, make_token) -> None:
    client = staff_app.test_client()
    reference, _ = app_ticket(staff_app, query="VPN drops every ten minutes")
    token = make_token("lea", "agent-L2")
    listed = client.get("/api/v1/staff/tickets?tier=L1", headers=bearer(token))
    assert listed.status_code == 200 and listed.headers["Cache-Control"] == "no-store"
    assert [t["reference"] for t in listed.get_json()["tickets"]] == [reference]
    assert client.get("/api/v1/staff/tickets?tier=L2", headers=bearer(token)).get_json()["tickets"] == []
    noted = client.post(f"/api/v1/staff/tickets/{reference}/notes", json={"text": "checked the logs"},
                        headers=bearer(token))  # fmt: skip
    assert noted.status_code == 201, noted.get_json()
    taken = client.post(
        f"/api/v1/staff/tickets/{reference}/assign", json={"assignee": "me"}, headers=bearer(token)
    )
    assert taken.get_json()["assignee"] == "lea" and taken.get_json()["status"] == "open"
    mine = client.get("/api/v1/staff/tickets?assignee=me", headers=bearer(token)).get_json()["tickets"]
    assert [t["reference"] for t in mine] == [reference]
    up = client.post(f"/api/v1/staff/tickets/{reference}/escalate", json={"reason": "needs the network team"},
                     headers=bearer(token))  # fmt: skip
    assert up.status_code == 200 and up.get_json()["tier"] == "L2"
    shown = client.get(f"/api/v1/staff/tickets/{reference}", headers=bearer(token)).get_json()
    kinds = [e["kind"] for e in shown["history"]]
    assert kinds[-3:] == ["note", "taken", "escalated"] and shown["history"][-1]["actor"] == "lea"
    higher = client.post(f"/api/v1/staff/tickets/{reference}/escalate", json={"reason": "firmware bug"},
                         headers=bearer(token))  # fmt: skip
    assert higher.get_json()["tier"] == "L3"
    # an L2 agent cannot act on the L3 ticket any more, as in the console
    refused = client.post(
        f"/api/v1/staff/tickets/{reference}/close", json={"reason": "spam"}, headers=bearer(token)
    )
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    admin = make_token("root", "admin")
    done = client.post(f"/api/v1/staff/tickets/{reference}/resolve", json={"note": "router replaced"},
                       headers=bearer(admin))  # fmt: skip
    assert done.get_json()["status"] == "resolved"
    closed = client.post(
        f"/api/v1/staff/tickets/{reference}/close", json={"reason": "done"}, headers=bearer(admin)
    )
    assert closed.get_json()["status"] == "closed"
    again = client.post(
        f"/api/v1/staff/tickets/{reference}/close", json={"reason": "done"}, headers=bearer(admin)
    )
    assert again.status_code == 409


def test_missing_unknown_revoked_and_expired_tokens_get_401(staff_app, make_token, runner) -> None:
    client = staff_app.test_client()
    assert client.get("/api/v1/staff/tickets").status_code == 401
    response = client.get("/api/v1/staff/tickets", headers=bearer("kbt_" + "x" * 43))
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"] == {"code": "unauthorized", "message": "unknown token", "status": 401}
    # a cookie session is no token: a logged-in console user still gets 401 here
    token = make_token("max", "agent-L1")
    assert client.get("/api/v1/staff/tickets", headers=bearer(token)).status_code == 200
    with sessions(staff_app)() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
        assert row is not None and token not in (row.token_hash, row.prefix) and row.last_used_at is not None
        row.revoked_at = dt.datetime(2026, 1, 1)
        session.commit()
    revoked = client.get("/api/v1/staff/tickets", headers=bearer(token))
    assert revoked.status_code == 401 and "revoked" in revoked.get_json()["error"]["message"]
    old = make_token("max", "agent-L1", days=1)
    with sessions(staff_app)() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(old)))
        row.expires_at = dt.datetime(2020, 1, 1)
        session.commit()
    expired = client.get("/api/v1/staff/tickets", headers=bearer(old))
    assert expired.status_code == 401 and "expired" in expired.get_json()["error"]["message"]


def test_read_scope_cannot_write_and_l1_token_cannot_change_an_l2_ticket(staff_app, make_token) -> None:
    client = staff_app.test_client()
    reference, _ = app_ticket(staff_app)
    reader = make_token("ro", "agent-L3", scopes="tickets:read")
    assert client.get(f"/api/v1/staff/tickets/{reference}", headers=bearer(reader)).status_code == 200
    refused = client.post(
        f"/api/v1/staff/tickets/{reference}/notes", json={"text": "x"}, headers=bearer(reader)
    )
    assert refused.status_code == 403 and "tickets:write" in refused.get_json()["error"]["message"]
    l2 = make_token("senior", "agent-L2")
    client.post(
        f"/api/v1/staff/tickets/{reference}/escalate", json={"reason": "driver issue"}, headers=bearer(l2)
    )
    l1 = make_token("junior", "agent-L1")
    for action, body in (("notes", {"text": "x"}), ("assign", {"assignee": "me"}), ("close", {"reason": "x"}),
                         ("resolve", {"note": "x"}), ("escalate", {"reason": "x"})):  # fmt: skip
        response = client.post(f"/api/v1/staff/tickets/{reference}/{action}", json=body, headers=bearer(l1))
        assert response.status_code == 403, (action, response.get_json())
        assert "cannot act on an L2 ticket" in response.get_json()["error"]["message"]
    with sessions(staff_app)() as session:
        actors = set(session.scalars(select(TicketEvent.actor)))
    assert "junior" not in actors and "ro" not in actors
    # an assignee whose role does not cover the tier is refused with the reason
    bad = client.post(
        f"/api/v1/staff/tickets/{reference}/assign", json={"assignee": "junior"}, headers=bearer(l2)
    )
    assert bad.status_code == 409 and "cannot work on an L2 ticket" in bad.get_json()["error"]["message"]
    assert bad.get_json()["error"]["code"] == "refused"


def test_bad_input_gets_the_error_envelope(staff_app, make_token) -> None:
    client = staff_app.test_client()
    token = make_token("lea", "agent-L2")
    bad = client.get("/api/v1/staff/tickets?status=nonsense&limit=0", headers=bearer(token))
    assert bad.status_code == 422 and set(bad.get_json()["error"]["fields"]) >= {"status.0", "limit"}
    assert client.get("/api/v1/staff/tickets/KB-999999", headers=bearer(token)).status_code == 404
    reference, _ = app_ticket(staff_app)
    blank = client.post(
        f"/api/v1/staff/tickets/{reference}/notes", json={"text": "   "}, headers=bearer(token)
    )
    assert blank.status_code == 422


def test_cli_creates_shows_once_lists_and_revokes_tokens(staff_app, runner, monkeypatch) -> None:
    from kb_engine.helpdesk.users import create_user

    monkeypatch.setenv("KB_DATABASE_URL", staff_app.config["DATABASE_URL"])
    with sessions(staff_app)() as session:
        create_user(session, "ana", "correct horse battery staple", "agent-L1")
        create_user(session, "writer", "correct horse battery staple", "author")
        session.commit()
    created = runner.invoke(
        cli, ["users", "token", "create", "ana", "jira", "--scope", "tickets:read", "--json"]
    )
    assert created.exit_code == 0, created.output
    data = json.loads(created.output)
    assert (
        data["token"].startswith("kbt_") and data["scopes"] == ["tickets:read"] and data["state"] == "active"
    )
    client = staff_app.test_client()
    assert client.get("/api/v1/staff/tickets", headers=bearer(data["token"])).status_code == 200
    listed = runner.invoke(cli, ["users", "token", "list", "--json"])
    assert data["token"] not in listed.output and json.loads(listed.output)[0]["prefix"] == data["token"][:12]
    assert runner.invoke(cli, ["users", "token", "revoke", str(data["id"])]).exit_code == 0
    assert client.get("/api/v1/staff/tickets", headers=bearer(data["token"])).status_code == 401
    author = runner.invoke(cli, ["users", "token", "create", "writer", "x"])
    assert author.exit_code == 2 and "works no tickets" in author.output
    scope = runner.invoke(cli, ["users", "token", "create", "ana", "y", "--scope", "tickets:admin"])
    assert scope.exit_code == 2 and "scopes are" in scope.output
