"""/console/integrations: agents create and revoke their own tokens (shown once); admins declare webhook
endpoints and read the delivery log with "Send again"."""

from __future__ import annotations

import re

from sqlalchemy import select

from kb_engine.helpdesk.models import AuditEntry, OutboxMessage
from kb_engine.helpdesk.tickets import TicketService
from tests.conftest import csrf_token, login_staff
from tests.integrations.conftest import sessions


def test_agent_creates_sees_once_uses_and_revokes_a_token(staff_app) -> None:
    client = staff_app.test_client()
    login_staff(staff_app, client, "lena", role="agent-L1")
    token = csrf_token(client, "/console/integrations")
    created = client.post(
        "/console/integrations/tokens",
        data={"csrf_token": token, "name": "glpi", "scopes": ["tickets:read"], "days": "30"},
    )
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    raw = re.search(r'value="(kbt_[A-Za-z0-9_-]+)"', created.get_data(as_text=True)).group(1)
    api = client.get("/api/v1/staff/tickets", headers={"Authorization": f"Bearer {raw}"})
    assert api.status_code == 200
    page = client.get("/console/integrations").get_data(as_text=True)
    assert raw not in page and raw[:12] in page and "Webhooks" not in page  # not an admin
    token_id = re.search(r'data-token="(\d+)"', page).group(1)
    revoked = client.post(f"/console/integrations/tokens/{token_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert client.get("/api/v1/staff/tickets", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    bad = client.post("/console/integrations/tokens", data={"csrf_token": token, "name": "x", "days": "400"})
    assert bad.status_code == 400 and "1 to 366 days" in bad.get_data(as_text=True)


def test_agent_cannot_revoke_someone_elses_token(staff_app, make_token) -> None:
    make_token("other", "agent-L2")
    client = staff_app.test_client()
    login_staff(staff_app, client, "lena", role="agent-L1")
    refused = client.post("/console/integrations/tokens/1/revoke", data={"csrf_token": csrf_token(client)})
    assert refused.status_code == 403


def test_admin_declares_a_webhook_and_sends_a_delivery_again(staff_app) -> None:
    client = staff_app.test_client()
    login_staff(staff_app, client, "root", role="admin")
    token = csrf_token(client, "/console/integrations")
    refused = client.post(
        "/console/integrations/webhooks",
        data={"csrf_token": token, "url": "http://127.0.0.1:9/hook", "events": ["ticket.created"]},
    )
    assert refused.status_code == 400 and "https" in refused.get_data(as_text=True)
    assert 'value="http://127.0.0.1:9/hook"' in refused.get_data(as_text=True)  # what was typed is kept
    staff_app.config["WEBHOOKS_ALLOW_PRIVATE"] = True
    added = client.post(
        "/console/integrations/webhooks",
        data={"csrf_token": token, "url": "http://127.0.0.1:9/hook", "events": ["ticket.created"]},
    )
    assert added.status_code == 201 and "Signing secret" in added.get_data(as_text=True)
    with sessions(staff_app)() as session:
        TicketService(session).create(source="agent", query="monitor flickers")
        session.commit()
        delivery = session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "webhook"))
        delivery_id = delivery.id
    page = client.get("/console/integrations").get_data(as_text=True)
    assert f'data-delivery="{delivery_id}"' in page and "ticket.created" in page
    again = client.post(
        f"/console/integrations/deliveries/{delivery_id}/send-again", data={"csrf_token": token}
    )
    assert again.status_code == 303
    assert "queued again" in client.get("/console/integrations").get_data(as_text=True)
    removed = client.post("/console/integrations/webhooks/1/remove", data={"csrf_token": token})
    assert removed.status_code == 303
    with sessions(staff_app)() as session:
        actions = list(session.scalars(select(AuditEntry.action)))
    assert "webhook_add" in actions and "webhook_remove" in actions
