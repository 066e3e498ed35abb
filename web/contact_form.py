"""The customer's contact fields (contact form, "Still need help?"): checked field by field, so that the
page can show an error summary (focused, with links to the fields) and each message at its field, in the
interface's language, never the browser's own bubbles (the forms are `novalidate`)."""

from __future__ import annotations

import re

from flask import current_app, request
from flask_babel import gettext as _

from kb_engine.helpdesk.phones import phone_ok

CONTACT_FIELDS = ("name", "email", "phone", "availability", "details")
EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")


def contact_form() -> dict[str, str]:
    return {k: request.form.get(k, "") for k in CONTACT_FIELDS}


def contact_errors(form: dict[str, str]) -> dict[str, str]:
    """Field id -> message, in the order the fields are on the page (empty: the form can be sent)."""
    email, phone = form["email"].strip(), form["phone"].strip()
    errors: dict[str, str] = {}
    if not email and not phone:
        errors["email"] = _("Give an email address or a phone number so that we can reach you.")
        return errors
    if email and not EMAIL_RE.fullmatch(email):
        errors["email"] = _("Enter an email address like name@example.com.")
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
