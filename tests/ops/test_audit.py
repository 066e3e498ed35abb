"""The audit log records the staff actions that matter: logins, account changes (CLI and web), merges and
closes; admins read it."""

from __future__ import annotations

import json

from click.testing import CliRunner

from kb_engine.cli.main import cli
from kb_engine.helpdesk.db import make_session_factory
from kb_engine.helpdesk.tickets import TicketService
from tests.conftest import login_staff


def test_logins_account_changes_merges_and_closes_are_audited(app, client):
    env = {"KB_DATABASE_URL": app.config["DATABASE_URL"], "USER": "ops"}
    created = CliRunner().invoke(cli, ["users", "create", "lea", "--role", "agent-L1", "--password-stdin"],
                                 input="a long enough passphrase 42\n", env=env)  # fmt: skip
    assert created.exit_code == 0, created.output
    assert CliRunner().invoke(cli, ["users", "role", "lea", "agent-L2"], env=env).exit_code == 0
    with make_session_factory(app.extensions["kb_engine"])() as session:
        service = TicketService.from_settings(session, app.config)
        first = service.create(source="api", query="printer offline", contact_email="a@example.com")
        second = service.create(source="api", query="printer offline too", contact_email="b@example.com")
        service.merge(first, second, "lea", "same printer")
        service.close(first, "lea", "fixed the printer")
        session.commit()
    login_staff(app, client, "root", role="admin")
    log = json.loads(client.get("/console/audit.json").get_data(as_text=True))
    seen = [(e["actor"], e["action"], e["target"]) for e in reversed(log)]
    assert ("cli:ops", "user_create", "lea") in seen
    assert ("cli:ops", "user_role", "lea") in seen
    assert ("lea", "ticket_merge", first.reference) in seen
    assert ("lea", "ticket_close", first.reference) in seen
    assert ("root", "login", "root") in seen
