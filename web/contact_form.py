"""The customer's contact fields (contact form, "Still need help?"): checked field by field, so that the
page can show an error summary (focused, with links to the fields) and each message at its field, in the
interface's language, never the browser's own bubbles (the forms are `novalidate`)."""

from __future__ import annotations

from flask import current_app, request
from flask_babel import gettext as _

from kb_engine.errors import InvalidQuery
from kb_engine.helpdesk.phones import phone_ok
from kb_engine.helpdesk.tickets.rules import check_email
from web.i18n import error_text

CONTACT_FIELDS = ("name", "email", "phone", "availability", "details")


def contact_form() -> dict[str, str]:
    return {k: request.form.get(k, "") for k in CONTACT_FIELDS}


def contact_errors(form: dict[str, str]) -> dict[str, str]:
    """Field id -> message, in the order the fields are on the page (empty: the form can be sent)."""
    email, phone = form["email"].strip(), form["phone"].strip()
    errors: dict[str, str] = {}
    if not email and not phone:
        errors["email"] = _("Give an email address or a phone number so that we can reach you.")
        return errors
    if email:
        try:  # the one rule and the one message of the form, the API and `kb tickets create`
            check_email("email", email)
        except InvalidQuery as exc:
            errors["email"] = error_text(exc)
    if phone and not phone_ok(phone, current_app.config["PHONE_REGION"]):
        errors["phone"] = _("Enter a phone number we can call, like +33 1 23 45 67 89 or 01 23 45 67 89.")
    return errors


def support_hours(lang: str) -> str:
    """`KB_SUPPORT_HOURS` in `lang` (else its first language's text)."""
    texts = {}
    for part in str(current_app.config["SUPPORT_HOURS"]).split("|"):
        code, sep, text = part.partition("=")
        if sep and text.strip():
            texts[code.strip()] = text.strip()
    return texts.get(lang) or next(iter(texts.values()), "")
