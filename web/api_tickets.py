"""Customers' tickets in the JSON API (/api/v1/tickets): open one, follow it with its token, reply.

The same `TicketService` as the web pages and `kb tickets`. A ticket opened here has the source `api`;
the answer carries its reference and the unguessable token that is the only way to read it again.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app, url_for

from kb_engine.errors import InvalidQuery
from kb_engine.helpdesk.db import store_errors
from kb_engine.helpdesk.models import Ticket
from kb_engine.helpdesk.tickets import LIMITS, status_label
from web import csrf
from web.json_input import Blueprint
from web.resources import get_db, get_searcher, get_tickets, limit, open_ticket

blp = Blueprint("api_tickets", __name__, url_prefix="/api/v1/tickets", description="Customers' tickets")
csrf.exempt(blp)  # JSON only, no cookies read: a cross-site form cannot forge it


@blp.after_request
def no_store(response: Any) -> Any:
    response.headers["Cache-Control"] = "no-store"  # a ticket's history is the customer's private data
    return response


def _text(field: str, **kwargs: Any) -> ma.fields.String:
    return ma.fields.String(validate=ma.validate.Length(max=LIMITS[field]), **kwargs)


class NewTicketSchema(ma.Schema):
    query = _text("query", required=True, metadata={"description": "The customer's problem, in their words."})
    details = _text("details", load_default=None)
    name = _text("contact_name", load_default=None)
    # Checked by the ticket service, as for the form and the CLI (one check, one message).
    email = _text("contact_email", load_default=None, metadata={"format": "email"})
    phone = _text("contact_phone", load_default=None)
    availability = _text("availability", load_default=None, metadata={"description": "e.g. mornings"})


class TokenSchema(ma.Schema):
    t = ma.fields.String(required=True, metadata={"description": "The ticket's token."})


class ReplySchema(TokenSchema):
    message = _text("message", required=True)


class EventSchema(ma.Schema):
    at = ma.fields.DateTime(required=True)
    kind = ma.fields.String(required=True)
    text = ma.fields.String(required=True)


class TicketSchema(ma.Schema):
    reference = ma.fields.String(required=True)
    token = ma.fields.String()
    status = ma.fields.String(required=True)
    status_url = ma.fields.String(required=True)
    merged_into = ma.fields.String(allow_none=True)
    history = ma.fields.List(ma.fields.Nested(EventSchema))


def _ticket_document(ticket: Ticket, *, with_token: bool = False) -> dict[str, Any]:
    service = get_tickets()
    survivor = service.surviving(ticket)
    data = {
        "reference": ticket.reference,
        "status": status_label(survivor.status),
        "status_url": current_app.config["PUBLIC_URL"].rstrip("/")
        + url_for("customer.ticket_status", reference=ticket.reference, t=ticket.token),
        "merged_into": survivor.reference if survivor.id != ticket.id else None,
        "history": service.customer_history(ticket),
    }
    if with_token:
        data["token"] = ticket.token
    return data


@blp.route("", methods=["POST"])
@blp.arguments(NewTicketSchema)
@blp.response(201, TicketSchema)
def create_ticket(args: dict[str, Any]) -> dict[str, Any]:
    """Open a ticket; the answer has its token (keep it: it is the only way to follow the ticket)."""
    if not (args["email"] or args["phone"]):
        raise InvalidQuery("give an email address or a phone number so that support can reach you")
    response = get_searcher().search(args["query"], k=current_app.config["RESULTS"])
    db = get_db()
    with store_errors():
        limit("ticket", args["email"])
        ticket = open_ticket(
            source="api",
            query=args["query"],
            response=response,
            contact_name=args["name"],
            contact_email=args["email"],
            contact_phone=args["phone"],
            availability=args["availability"],
            details=args["details"],
        )
        db.commit()
    return _ticket_document(ticket, with_token=True)


@blp.route("/<reference>")
@blp.arguments(TokenSchema, location="query")
@blp.response(200, TicketSchema)
def get_ticket(args: dict[str, Any], reference: str) -> dict[str, Any]:
    """A ticket's status and the history meant for its customer (token required)."""
    return _ticket_document(get_tickets().get_for_customer(reference, args["t"]))


@blp.route("/<reference>/replies", methods=["POST"])
@blp.arguments(ReplySchema)
@blp.response(201, TicketSchema)
def reply(args: dict[str, Any], reference: str) -> dict[str, Any]:
    """The customer answers support; a ticket waiting on them, or resolved, reopens."""
    service = get_tickets()
    ticket = service.get_for_customer(reference, args["t"])
    with store_errors():
        limit("reply")
        service.customer_reply(ticket, args["message"])
        get_db().commit()
    return _ticket_document(ticket)
