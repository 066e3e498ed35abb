"""The email replies' texts are gettext messages that translators see in the library's own catalogue."""

from __future__ import annotations

from babel.messages.extract import extract_from_file

from kb_engine.helpdesk import mail_intake
from tests.catalogues import compiled_differs, untranslated

CATALOG = mail_intake.LOCALE_DIR / "fr" / "LC_MESSAGES"


def _reply_messages() -> set[str]:
    return {m[1] for m in extract_from_file("python", mail_intake.__file__)}


def test_every_reply_text_has_a_french_translation() -> None:
    assert len(_reply_messages()) >= 10
    missing = untranslated(CATALOG / "mail.po", _reply_messages())
    assert not missing, "add to kb_engine/helpdesk/translations/fr/LC_MESSAGES/mail.po: " + "; ".join(missing)


def test_compiled_mail_catalog_matches_the_po_file() -> None:
    differs = compiled_differs(CATALOG / "mail.po")
    assert not differs, "run: .venv/bin/pybabel compile -D mail -d kb_engine/helpdesk/translations"


def test_reply_catalogue_falls_back_to_english() -> None:
    assert mail_intake.reply_catalogue("fr").gettext("The support desk") == "Le support informatique"
    assert mail_intake.reply_catalogue("de").gettext("The support desk") == "The support desk"
