"""Personal data on the web: the privacy notice customers read (`/privacy`, its text in a Markdown file the
desk edits) and the admins' page to export or erase a customer's data and read the audit log."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from kb_engine.content.articles import render_markdown
from kb_engine.helpdesk import audit
from kb_engine.helpdesk.db import store_errors
from kb_engine.ops import privacy
from web.auth import roles_required, staff
from web.resources import get_db

SHIPPED = Path(__file__).parent  # notice.<lang>.md; a copy in the instance folder wins
bp = Blueprint("privacy", __name__)


def notice_text(lang: str) -> str:
    """The notice in `lang` (else English): `instance/privacy-notice.<lang>.md` if the desk wrote one."""
    instance = Path(current_app.instance_path)
    for path in (
        instance / f"privacy-notice.{lang}.md",
        SHIPPED / f"notice.{lang}.md",
        SHIPPED / "notice.en.md",
    ):
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return ""


@bp.route("/privacy")
def notice():
    """The privacy notice, in the interface language."""
    lang = str(get_locale() or "en")
    return render_template("privacy.html", notice=render_markdown(notice_text(lang)))


@bp.route("/console/privacy", methods=["GET", "POST"])
@roles_required("admin")
def admin():
    """Admins: export or erase what the desk holds about an email address; the audit log."""
    session = get_db()
    if request.method == "POST":
        email = (request.form.get("email") or "").strip()
        actor = staff().username
        try:
            if request.form.get("action") == "export":
                with store_errors():
                    data = privacy.export(session, email, actor)
                    session.commit()
                body = json.dumps(data, indent=2, ensure_ascii=False)
                return Response(
                    body,
                    mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="personal-data.json"',
                             "Cache-Control": "no-store"},
                )  # fmt: skip
            if request.form.get("confirm", "").strip().lower() != email.lower():
                flash(_("Type the address again to confirm the erasure."), "error")
                return redirect(url_for("privacy.admin"))
            with store_errors():
                counts = privacy.erase(session, email, actor)
                session.commit()
            privacy.compact(current_app.extensions["kb_engine"])
            flash(
                _("Erased: %(counts)s", counts=", ".join(f"{n} {what}" for what, n in counts.items())), "ok"
            )
        except ValueError as exc:
            flash(str(exc), "error")
        return redirect(url_for("privacy.admin"))
    return render_template("console/privacy.html", entries=audit.entries(session, limit=200))


@bp.route("/console/audit.json")
@roles_required("admin")
def audit_json():
    """The whole audit log as JSON, newest first (for an archive or a SIEM)."""
    entries = [entry.to_dict() for entry in audit.entries(get_db(), limit=100_000)]
    return Response(
        json.dumps(entries, indent=1, ensure_ascii=False),
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="audit-log.json"', "Cache-Control": "no-store"},
    )
