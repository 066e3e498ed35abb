"""The contact fields (issue 25): every error at its field and in a summary, in the interface's language,
phone numbers checked with libphonenumber, nothing typed lost; the confirmation repeats how we will reach
the customer and when; an empty search says so."""

from __future__ import annotations

import html as html_lib

import pytest

from kb_engine.helpdesk.phones import phone_ok
from tests.conftest import csrf_token
from tests.test_customer_selfservice import describe
from tests.test_web import db_rows


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("abc", False),
        ("12", False),
        ("555-0199", False),
        ("1-800-FLOWERS", False),
        ("+33 1 23 45 67 89", True),
        ("01 23 45 67 89", True),
        ("0044 20 7946 0958", True),
        ("+1 212 555 0123", True),
        ("ext 4357", True),
    ],
)
def test_phone_numbers_are_checked(text: str, ok: bool) -> None:
    assert phone_ok(text, "FR") is ok


def contact_step(client, lang: str = "en") -> tuple[str, int]:
    client.get(f"/?lang={lang}")
    location = describe(client, "my printer says offline").headers["Location"]
    return csrf_token(client, location), int(location.split("s=")[1])


@pytest.mark.parametrize(
    ("lang", "reach", "phone"),
    [
        ("en", "Give an email address or a phone number", "Enter a phone number we can call"),
        ("fr", "Indiquez une adresse e-mail ou un numéro de téléphone", "Saisissez un numéro de téléphone"),
    ],
)
def test_contact_errors_are_summarised_and_marked_in_the_visitors_language(client, app, lang, reach, phone):
    token, search_id = contact_step(client, lang)
    empty = client.post("/contact/send", data={"csrf_token": token, "s": search_id, "name": "Ana"})
    assert empty.status_code == 400
    page = html_lib.unescape(empty.get_data(as_text=True))
    summary = page.split('class="error-summary"')[1].split("</div>")[0]
    assert 'href="#email"' in summary and reach in summary
    assert 'id="email" name="email"' in page and 'aria-invalid="true"' in page.split('id="email"')[1][:400]
    assert 'value="Ana"' in page  # nothing typed is lost
    assert "novalidate" in page.split('action="/contact/send"')[1][:40]
    bad_phone = client.post("/contact/send", data={"csrf_token": token, "s": search_id, "phone": "abc"})
    page = html_lib.unescape(bad_phone.get_data(as_text=True))
    assert bad_phone.status_code == 400 and phone in page and 'href="#phone"' in page
    assert 'value="abc"' in page
    assert db_rows(app, "SELECT count(*) FROM ticket") == [(0,)]


def test_a_bad_email_is_marked_at_its_field(client, app) -> None:
    token, search_id = contact_step(client)
    bad = client.post("/contact/send", data={"csrf_token": token, "s": search_id, "email": "ana@"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400 and 'aria-describedby="email-error reach-hint" aria-invalid="true"' in page
    assert db_rows(app, "SELECT count(*) FROM ticket") == [(0,)]


def test_confirmation_repeats_the_contact_details_and_the_reply_time_in_french(client, app) -> None:
    token, search_id = contact_step(client, "fr")
    sent = client.post(
        "/contact/send",
        data={"csrf_token": token, "s": search_id, "phone": "+33 6 12 34 56 78", "availability": "le matin"},
    )
    assert sent.status_code == 303
    page = html_lib.unescape(client.get(sent.headers["Location"]).get_data(as_text=True)).replace("\xa0", " ")
    assert "par téléphone au +33 6 12 34 56 78" in page and "le matin" in page
    assert "Nous visons une réponse sous 1 jour, du lundi au vendredi, de 8 h à 18 h." in page
    assert "Reçue, en attente d'un technicien" in page  # a status word customers use


def test_need_help_refuses_a_bad_phone_and_keeps_the_ticket_unchanged(client, app) -> None:
    token = csrf_token(client)
    client.post("/search", data={"q": "recipe for a chocolate cake xyzzy", "csrf_token": token})
    ((reference,),) = db_rows(app, "SELECT reference FROM ticket")
    bad = client.post(f"/help/{reference}", data={"csrf_token": token, "phone": "abc"})
    assert bad.status_code == 400 and 'href="#phone"' in bad.get_data(as_text=True)
    assert db_rows(app, "SELECT contact_phone FROM ticket") == [(None,)]
    good = client.post(f"/help/{reference}", data={"csrf_token": token, "phone": "01 23 45 67 89"})
    assert good.status_code == 303 and "created=1" in good.headers["Location"]


@pytest.mark.parametrize(("lang", "message"), [("en", "Type a few words"), ("fr", "Décrivez d'abord")])
def test_an_empty_search_says_so(client, lang: str, message: str) -> None:
    client.get(f"/?lang={lang}")
    empty = client.post("/search", data={"q": "   ", "csrf_token": csrf_token(client)})
    assert empty.status_code == 400
    page = html_lib.unescape(empty.get_data(as_text=True))
    assert message in page and 'aria-invalid="true" aria-describedby="search-error"' in page
