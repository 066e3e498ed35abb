"""The support dashboard (/console/dashboard): deflection funnel, search quality, tickets; JSON and CSV.

The numbers come from `kb_engine.insights.dashboard`; the page draws its charts with the vendored Chart.js
from the JSON in a `data-` attribute (the CSP allows no inline script).
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from flask import Blueprint, Response, jsonify, render_template, request
from flask_babel import gettext as _

from kb_engine.errors import InvalidQuery
from kb_engine.helpdesk.models import utcnow
from kb_engine.insights.dashboard import FUNNEL_STAGES, Period, dashboard, to_rows
from kb_engine.insights.workload import workload
from kb_engine.integrations.exports import safe_cell
from web.auth import login_required_for_blueprint, staff, staff_required
from web.desk import desk_automations
from web.resources import get_db

bp = Blueprint("dashboard", __name__, url_prefix="/console")
login_required_for_blueprint(bp)

DEFAULT_DAYS = 30
MAX_DAYS = 366


# Dates a support desk's data can have: anything else (0001-01-01, 9999-12-31) is a 400, not an overflow.
FIRST_DATE, LAST_DATE = dt.date(2000, 1, 1), dt.date(2999, 12, 31)


def _date(name: str) -> dt.date | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidQuery(_("dates are YYYY-MM-DD")) from None
    if not FIRST_DATE <= value <= LAST_DATE:
        raise InvalidQuery(
            _(
                "dates are between %(first)s and %(last)s",
                first=FIRST_DATE.isoformat(),
                last=LAST_DATE.isoformat(),
            )
        )
    return value


def period_from_args() -> Period:
    """The period of `?from=YYYY-MM-DD&to=YYYY-MM-DD` (default: the last 30 days, today included)."""
    last = _date("to") or utcnow().date()
    first = _date("from") or max(FIRST_DATE, last - dt.timedelta(days=DEFAULT_DAYS - 1))
    period = Period.days(first, last)
    if (period.end - period.start).days > MAX_DAYS:
        raise InvalidQuery(_("choose a period of at most %(num)s days", num=MAX_DAYS))
    return period


@bp.get("/dashboard")
@staff_required
def page():
    """The dashboard for a period, with charts and a CSV export."""
    period = period_from_args()
    data = dashboard(get_db(), period)
    lead = workload(get_db(), period.start, period.end, automations=desk_automations())
    return render_template("console/dashboard.html", data=data, lead=lead, stages=FUNNEL_STAGES, user=staff())


@bp.get("/dashboard.json")
@staff_required
def as_json():
    """The dashboard's numbers as JSON (what the charts draw)."""
    return jsonify(dashboard(get_db(), period_from_args()))


@bp.get("/dashboard.csv")
@staff_required
def as_csv():
    """The dashboard's numbers as CSV rows: section, metric, value."""
    period = period_from_args()
    out = io.StringIO()
    # Every cell quoted, so that no `;` or tab splits one in a spreadsheet that uses it as the separator.
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    writer.writerow(("section", "metric", "value"))
    for section, metric, value in to_rows(dashboard(get_db(), period)):
        writer.writerow((safe_cell(section), safe_cell(metric), "" if value is None else safe_cell(value)))
    name = f"kb-dashboard-{period.to_dict()['from']}-{period.to_dict()['to']}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
