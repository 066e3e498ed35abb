"""Customers' tickets in the JSON API (/api/v1/tickets): open one, follow it with its token, reply.

The same `TicketService` as the web pages and `kb tickets`. A ticket opened here has the source `api`;
the answer carries its reference and the unguessable token that is the only way to read it again.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import marshmallow as ma
from flask import current_app, url_for

from kb_engine.helpdesk.db import store_errors
from kb_engine.helpdesk.models import Ticket
from kb_engine.helpdesk.tickets import LIMITS, status_label
from kb_engine.helpdesk.tickets.rules import BAD_EMAIL, CUSTOMER_TEXT, REFERENCE_PREFIX, STATUSES
from web import csrf
from web.json_input import Blueprint
from web.openapi import EMAIL, HAS_TEXT, Pattern, SettingLength, errors, link, path_parameter, text
from web.resources import get_db, get_searcher, get_tickets, limit, open_ticket

blp = Blueprint("api_tickets", __name__, url_prefix="/api/v1/tickets", description="Customers' tickets")
csrf.exempt(blp)  # JSON only, no cookies read: a cross-site form cannot forge it


@blp.after_request
def no_store(response: Any) -> Any:
    response.headers["Cache-Control"] = "no-store"  # a ticket's history is the customer's private data
    return response


# A ticket's token (secrets.token_urlsafe: URL-safe base64) and reference (KB-000042).
TOKEN = r"^[A-Za-z0-9_-]{16,64}$"
REFERENCE = rf"^{REFERENCE_PREFIX}[0-9]{{6,}}$"
REFERENCE_PATH = [
    path_parameter("reference", REFERENCE, "The ticket's reference, as answered when it was opened.")
]


def _optional(field: str, **kwargs: Any) -> ma.fields.String:
    return ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.Length(max=LIMITS[field]), **kwargs
    )


class NewTicketSchema(ma.Schema):
    # The query is searched too: KB_MAX_QUERY_CHARS applies when it is shorter than the ticket's own limit.
    query = text(
        limit=SettingLength("MAX_QUERY_CHARS", cap=LIMITS["query"]),
        required=True,
        metadata={"description": "The customer's problem, in their words."},
    )
    details = _optional("details")
    name = _optional("contact_name")
    # The pattern is within the ticket service's check (as for the form and the CLI), with its message.
    email = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=[ma.validate.Length(max=LIMITS["contact_email"]), Pattern(EMAIL, error=BAD_EMAIL)],
        metadata={"description": "An email address (accented Latin letters allowed)."},
    )
    phone = _optional("contact_phone")
    availability = _optional("availability", metadata={"description": "e.g. mornings"})

    # Support must be able to reach the customer: an email address, or a phone number with some text.
    openapi_extra = {
        "anyOf": [
            {"required": ["email"], "properties": {"email": {"type": "string", "pattern": HAS_TEXT}}},
            {"required": ["phone"], "properties": {"phone": {"type": "string", "pattern": HAS_TEXT}}},
        ]
    }

    @ma.validates_schema
    def reachable(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not any(re.match(HAS_TEXT, data.get(field) or "") for field in ("email", "phone")):
            raise ma.ValidationError("give an email address or a phone number so that support can reach you")


class TokenSchema(ma.Schema):
    t = ma.fields.String(
        required=True,
        validate=Pattern(TOKEN, error="not a ticket token"),
        metadata={"description": "The ticket's token, as answered when it was opened."},
    )


class ReplySchema(TokenSchema):
    message = text(limit=LIMITS["message"], required=True)


class UTCDateTime(ma.fields.DateTime):
    """The store keeps UTC without a zone: answered with it (RFC 3339 needs an offset)."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class EventSchema(ma.Schema):
    at = UTCDateTime(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(sorted(CUSTOMER_TEXT)))
    text = ma.fields.String(required=True)


class TicketSchema(ma.Schema):
    reference = ma.fields.String(required=True, validate=ma.validate.Regexp(REFERENCE))
    token = ma.fields.String(
        validate=ma.validate.Regexp(TOKEN),
        metadata={"description": "Only when the ticket is opened: keep it, it is the only way to follow it."},
    )
    status = ma.fields.String(required=True, validate=ma.validate.OneOf([status_label(s) for s in STATUSES]))
    status_url = ma.fields.String(
        required=True, metadata={"description": "The customer's status page (its token included)."}
    )
    merged_into = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Regexp(REFERENCE),
        metadata={"description": "The ticket that carries on this one's work, if it was merged."},
    )
    history = ma.fields.List(ma.fields.Nested(EventSchema))


# Where a created ticket (or a reply) leads: its reference and token, passed on (OpenAPI links).
FOLLOW_CREATED = {
    "getTicket": link(
        "getTicket",
        "Follow the ticket with the reference and token just answered.",
        reference="$response.body#/reference",
        t="$response.body#/token",
    ),
    "replyToTicket": link(
        "replyToTicket",
        "Answer support on the ticket: its token goes in the body, with the message.",
        body={"t": "$response.body#/token"},
        reference="$response.body#/reference",
    ),
}
FOLLOW_READ = {
    "replyToTicket": link(
        "replyToTicket",
        "Answer support on the ticket just read.",
        body={"t": "$request.query.t"},
        reference="$request.path.reference",
    )
}
FOLLOW_REPLIED = {
    "getTicket": link(
        "getTicket",
        "Read the ticket again, with its reply.",
        reference="$request.path.reference",
        t="$request.body#/t",
    )
}


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
@blp.doc(operationId="createTicket", responses={201: {"links": FOLLOW_CREATED}})
@blp.arguments(NewTicketSchema)
@blp.response(201, TicketSchema)
@errors(blp, 400, 413, 429, 503)
def create_ticket(args: dict[str, Any]) -> dict[str, Any]:
    """Open a ticket; the answer has its token (keep it: it is the only way to follow the ticket)."""
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


@blp.route("/<reference>", parameters=REFERENCE_PATH)
@blp.doc(operationId="getTicket", responses={200: {"links": FOLLOW_READ}})
@blp.arguments(TokenSchema, location="query")
@blp.response(200, TicketSchema)
@errors(blp, 404, 503)
def get_ticket(args: dict[str, Any], reference: str) -> dict[str, Any]:
    """A ticket's status and the history meant for its customer (token required)."""
    return _ticket_document(get_tickets().get_for_customer(reference, args["t"]))


@blp.route("/<reference>/replies", methods=["POST"], parameters=REFERENCE_PATH)
@blp.doc(operationId="replyToTicket", responses={201: {"links": FOLLOW_REPLIED}})
@blp.arguments(ReplySchema)
@blp.response(201, TicketSchema)
@errors(blp, 400, 404, 409, 413, 429, 503)
def reply(args: dict[str, Any], reference: str) -> dict[str, Any]:
    """The customer answers support; a ticket waiting on them, or resolved, reopens."""
    service = get_tickets()
    ticket = service.get_for_customer(reference, args["t"])
    with store_errors():
        limit("reply")
        service.customer_reply(ticket, args["message"])
        get_db().commit()
    return _ticket_document(ticket)
