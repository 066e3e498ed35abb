"""The privacy notice (both languages, linked from the contact form) and the admins' personal-data page:
export, erase with confirmation, the audit log; other roles refused."""

from __future__ import annotations

import json

from tests.apps import app_ticket
from tests.conftest import csrf_token, login_staff


def test_the_privacy_notice_is_linked_from_the_contact_form_in_both_languages(client):
    contact = client.get("/contact?q=my+printer+is+offline").get_data(as_text=True)
    assert 'href="/privacy"' in contact
    english = client.get("/privacy?lang=en").get_data(as_text=True)
    assert "Privacy notice" in english and "90 days" in english
    french = client.get("/privacy?lang=fr").get_data(as_text=True)
    assert "Politique de confidentialité" in french and "90 jours" in french


def test_the_desk_edits_the_notice_in_its_instance_folder(app, client):
    from pathlib import Path

    (Path(app.instance_path) / "privacy-notice.en.md").write_text("## Our own words\n\nKept 30 days.\n")
    page = client.get("/privacy?lang=en").get_data(as_text=True)
    assert "Our own words" in page and "Kept 30 days." in page


def test_admins_export_and_erase_a_customer_and_the_audit_log_shows_it(app, client):
    reference, _token = app_ticket(app, contact_email="grace@example.com", contact_name="Grace Hopper",
                                   query="my compiler fails")  # fmt: skip
    login_staff(app, client, "root", role="admin")
    token = csrf_token(client, "/console/privacy")

    def post(action: str, **fields: str):
        return client.post("/console/privacy", data={"csrf_token": token, "action": action, **fields})

    exported = post("export", email="grace@example.com")
    assert exported.status_code == 200
    assert [t["reference"] for t in json.loads(exported.get_data(as_text=True))["tickets"]] == [reference]

    unconfirmed = post("erase", email="grace@example.com", confirm="nope")
    assert unconfirmed.status_code == 302
    again = post("export", email="grace@example.com")
    assert json.loads(again.get_data(as_text=True))["tickets"], "nothing erased without confirmation"

    post("erase", email="grace@example.com", confirm="GRACE@example.com")
    after = post("export", email="grace@example.com")
    assert json.loads(after.get_data(as_text=True))["tickets"] == []
    page = client.get("/console/privacy").get_data(as_text=True)
    assert "privacy_erase" in page and "privacy_export" in page and "grace@example.com" not in page
    log = json.loads(client.get("/console/audit.json").get_data(as_text=True))
    assert [e["action"] for e in log][:2] == ["privacy_export", "privacy_erase"]


def test_agents_cannot_reach_personal_data(app, client):
    login_staff(app, client, "ann", role="agent-L1")
    assert client.get("/console/privacy").status_code == 403
    assert client.get("/console/audit.json").status_code == 403
