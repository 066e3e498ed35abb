"""The support dashboard (/console/dashboard): deflection funnel, search quality, tickets; JSON and CSV.

The numbers come from `kb_engine.insights.dashboard`; the page draws its charts with the vendored Chart.js
from the JSON in a `data-` attribute (the CSP allows no inline script).
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from flask import Blueprint, Response, jsonify, render_template, request

from kb_engine.errors import InvalidQuery
from kb_engine.helpdesk.models import utcnow
from kb_engine.insights.dashboard import FUNNEL_STAGES, Period, dashboard, to_rows
from kb_engine.insights.workload import workload
from web.auth import login_required_for_blueprint, staff, staff_required
from web.resources import get_db

bp = Blueprint("dashboard", __name__, url_prefix="/console")
login_required_for_blueprint(bp)

DEFAULT_DAYS = 30
MAX_DAYS = 366


def period_from_args() -> Period:
    """The period of `?from=YYYY-MM-DD&to=YYYY-MM-DD` (default: the last 30 days, today included)."""
    today = utcnow().date()
    try:
        last = dt.date.fromisoformat(request.args["to"]) if request.args.get("to") else today
        first = (
            dt.date.fromisoformat(request.args["from"])
            if request.args.get("from")
            else last - dt.timedelta(days=DEFAULT_DAYS - 1)
        )
    except ValueError:
        raise InvalidQuery("dates are YYYY-MM-DD") from None
    period = Period.days(first, last)
    if (period.end - period.start).days > MAX_DAYS:
        raise InvalidQuery(f"choose a period of at most {MAX_DAYS} days")
    return period


@bp.get("/dashboard")
@staff_required
def page():
    """The dashboard for a period, with charts and a CSV export."""
    period = period_from_args()
    data = dashboard(get_db(), period)
    lead = workload(get_db(), period.start, period.end)
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
    writer = csv.writer(out)
    writer.writerow(("section", "metric", "value"))
    for section, metric, value in to_rows(dashboard(get_db(), period)):
        # A leading =, +, - or @ would be run as a formula by spreadsheets (queries are customers' text).
        text = str(metric)
        if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
            text = "'" + text
        writer.writerow((section, text, "" if value is None else value))
    name = f"kb-dashboard-{period.to_dict()['from']}-{period.to_dict()['to']}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
