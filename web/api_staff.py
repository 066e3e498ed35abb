"""The staff API (/api/v1/staff/tickets): the queue and the ticket actions of the console, for scripts
and other tools, with a personal token (`Authorization: Bearer kbt_…`, `kb users token create`).

The same `TicketService` as the console, and the same rules: the token acts as its user (role and tiers:
an L1 agent's token cannot change an L2 ticket, 403), within its scopes (`tickets:read` lists and reads,
`tickets:write` changes; a missing scope is 403); a missing, revoked or expired token is 401.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import marshmallow as ma
from flask import g, request

from kb_engine.errors import Forbidden, InvalidQuery, KBError
from kb_engine.helpdesk.db import store_errors
from kb_engine.helpdesk.models import Ticket
from kb_engine.helpdesk.tickets import STATUSES, TIERS, TicketService
from kb_engine.helpdesk.tickets.rules import REFERENCE_PREFIX
from kb_engine.helpdesk.users import assignee_for
from kb_engine.integrations.tokens import TokenUser, Unauthorized, authenticate
from kb_engine.integrations.webhooks.endpoints import EVENTS
from web import csrf
from web.json_input import Blueprint
from web.openapi import errors, path_parameter, text
from web.resources import get_db, get_tickets

blp = Blueprint(
    "api_staff",
    __name__,
    url_prefix="/api/v1/staff/tickets",
    description="Staff: the queue and ticket actions, with a personal token (Bearer).",
)
csrf.exempt(blp)  # a bearer token, never a cookie: a cross-site form cannot forge it

SECURITY: list[dict[str, list[str]]] = [{"staffToken": []}]
REFERENCE_PATH = [
    path_parameter("reference", rf"^{REFERENCE_PREFIX}[0-9]{{6,}}$", "The ticket's reference.", "KB-000042")
]
LIMIT_NOTE = 4000
LIMIT_REASON = 2000


@blp.before_request
def bearer() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise Unauthorized("give a staff API token: Authorization: Bearer kbt_…")
    with store_errors():
        g.api_token = authenticate(get_db(), raw.strip())
        get_db().commit()  # its last use


@blp.after_request
def no_store(response: Any) -> Any:
    response.headers["Cache-Control"] = "no-store"
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="kb-engine staff API"'
    return response


class Refused(KBError):
    """A well-formed change the desk refuses: the ticket's status, an assignee whose role does not cover
    its tier, escalating to L4 without a vendor… (the console shows these beside the form)."""

    status = 409
    code = "refused"


@contextmanager
def refusals() -> Iterator[None]:
    try:
        with store_errors():
            yield
    except InvalidQuery as exc:
        get_db().rollback()
        raise Refused(exc.message) from exc
    except KBError:
        get_db().rollback()
        raise


def caller(scope: str) -> TokenUser:
    token: TokenUser = g.api_token
    if scope not in token.scopes:
        raise Forbidden(f"this token lacks the {scope} scope")
    return token


def acting_on(reference: str) -> tuple[TicketService, Ticket, str]:
    """The service, the ticket and the actor's name, once the token may change that ticket."""
    token = caller("tickets:write")
    service = get_tickets()
    ticket = service.get(reference)
    if not token.user.may_act_on(ticket.tier):
        allowed = ", ".join(token.user.tiers) or "none"
        who = f"{token.user.username} ({token.user.role})"
        raise Forbidden(f"{who} cannot act on an {ticket.tier} ticket (tiers: {allowed})")
    return service, ticket, token.user.username


# -- schemas ---------------------------------------------------------------------------------------------
def nullable(field: type[ma.fields.Field] = ma.fields.String, **kwargs: Any) -> ma.fields.Field:
    return field(allow_none=True, required=True, **kwargs)


class StaffEventSchema(ma.Schema):
    at = ma.fields.String(required=True)
    actor = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    message = nullable()
    data = ma.fields.Dict(required=True)


class StaffTicketSchema(ma.Schema):
    reference = ma.fields.String(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(STATUSES))
    tier = ma.fields.String(required=True, validate=ma.validate.OneOf(TIERS))
    team = nullable()
    assignee = nullable()
    priority = ma.fields.Integer(required=True)
    priority_reasons = ma.fields.List(ma.fields.String(), required=True)
    category = nullable()
    lang = nullable()
    source = ma.fields.String(required=True)
    query = ma.fields.String(required=True)
    details = nullable()
    created_at = nullable()
    updated_at = nullable()
    resolved_at = nullable()
    closed_at = nullable()
    merged_into = nullable()
    vendor = nullable()
    vendor_ref = nullable()
    history = ma.fields.List(ma.fields.Nested(StaffEventSchema))


class StaffQueueEntrySchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(["ticket", "group"]))
    reference = ma.fields.String(required=True)
    references = ma.fields.List(ma.fields.String(), required=True)
    query = ma.fields.String(required=True)
    customers = ma.fields.Integer(required=True)
    priority = ma.fields.Integer(required=True)
    priority_reasons = ma.fields.List(ma.fields.String(), required=True)
    due_at = nullable()
    status = ma.fields.String(required=True)
    tier = ma.fields.String(required=True)
    team = nullable()
    assignee = nullable()
    category = nullable()


class StaffQueueSchema(ma.Schema):
    tickets = ma.fields.List(ma.fields.Nested(StaffQueueEntrySchema), required=True)


class StaffQueueArgs(ma.Schema):
    status = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(STATUSES)),
        load_default=lambda: ["new", "open"],
        metadata={"description": "Statuses to list (repeatable); default new and open."},
    )
    tier = ma.fields.String(load_default=None, validate=ma.validate.OneOf(TIERS))
    team = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=80))
    assignee = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(min=1, max=80),
        metadata={"description": "An agent's username, or `me` (the token's user)."},
    )
    misses = ma.fields.String(
        load_default="exclude", validate=ma.validate.OneOf(["include", "exclude", "only"])
    )
    limit = ma.fields.Integer(load_default=100, validate=ma.validate.Range(1, 500))


class StaffNoteArgs(ma.Schema):
    text = text(limit=LIMIT_NOTE, required=True)


class StaffAssignArgs(ma.Schema):
    assignee = ma.fields.String(
        required=True,
        allow_none=True,
        validate=ma.validate.Length(min=1, max=80),
        metadata={"description": "An agent's username, `me`, or null to unassign."},
    )


class StaffEscalateArgs(ma.Schema):
    reason = text(limit=LIMIT_REASON, required=True)
    team = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=80))
    vendor = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=120))
    vendor_ref = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=120))


class StaffResolveArgs(ma.Schema):
    article = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=120))
    note = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=LIMIT_NOTE))


class StaffCloseArgs(ma.Schema):
    reason = text(limit=LIMIT_REASON, required=True)


# -- operations ------------------------------------------------------------------------------------------
def _document(service: TicketService, ticket: Ticket) -> dict[str, Any]:
    return service.describe(ticket, history=True)


@blp.route("")
@blp.doc(operationId="staffListTickets", security=SECURITY)
@blp.arguments(StaffQueueArgs, location="query")
@blp.response(200, StaffQueueSchema)
@errors(blp, 401, 403, 503)
def list_tickets(args: dict[str, Any]) -> dict[str, Any]:
    """The queue, highest priority first, with the console's filters."""
    token = caller("tickets:read")
    assignee = token.user.username if args["assignee"] == "me" else args["assignee"]
    with store_errors():
        entries = get_tickets().queue(
            statuses=args["status"],
            tier=args["tier"],
            team=args["team"],
            assignee=assignee,
            limit=args["limit"],
            misses=args["misses"],
        )
    return {"tickets": [entry.to_dict() for entry in entries]}


@blp.route("/<reference>", parameters=REFERENCE_PATH)
@blp.doc(operationId="staffGetTicket", security=SECURITY)
@blp.response(200, StaffTicketSchema)
@errors(blp, 401, 403, 404, 503)
def show(reference: str) -> dict[str, Any]:
    """A ticket with its whole history (internal notes included)."""
    caller("tickets:read")
    service = get_tickets()
    with store_errors():
        return _document(service, service.get(reference))


def ticket_action(
    path: str, operation: str, arguments: type[ma.Schema], *, status: int = 200
) -> Callable[[Callable[[dict[str, Any], TicketService, Ticket, str], None]], Callable[..., dict[str, Any]]]:
    """A staff action on one ticket at `path`: the operation's document (id, arguments, answer, errors) and
    its steps around `change(args, service, ticket, actor)` (the token may act on the ticket's tier; the
    desk's refusals answer 409; committed, then the ticket's document)."""

    def decorate(
        change: Callable[[dict[str, Any], TicketService, Ticket, str], None],
    ) -> Callable[..., dict[str, Any]]:
        @functools.wraps(change)
        def view(args: dict[str, Any], reference: str) -> dict[str, Any]:
            service, ticket, actor = acting_on(reference)
            with refusals():
                change(args, service, ticket, actor)
            with store_errors():
                get_db().commit()
            return _document(service, ticket)

        documented = errors(blp, 401, 403, 404, 409, 503)(view)
        documented = blp.response(status, StaffTicketSchema)(documented)
        documented = blp.arguments(arguments)(documented)
        documented = blp.doc(operationId=operation, security=SECURITY)(documented)
        return blp.route(path, methods=["POST"], parameters=REFERENCE_PATH)(documented)

    return decorate


@ticket_action("/<reference>/notes", "staffAddNote", StaffNoteArgs, status=201)
def note(args: dict[str, Any], service: TicketService, ticket: Ticket, actor: str) -> None:
    """Add an internal note (never shown to the customer)."""
    service.add_note(ticket, actor, args["text"])


@ticket_action("/<reference>/assign", "staffAssign", StaffAssignArgs)
def assign(args: dict[str, Any], service: TicketService, ticket: Ticket, actor: str) -> None:
    """Assign to an agent whose role covers the ticket's tier (`me`: the token's user), or unassign."""
    chosen = args["assignee"]
    if chosen is None:
        service.unassign(ticket, actor)
        return
    username = actor if chosen == "me" else chosen
    service.assign(ticket, actor, assignee_for(service.session, username, ticket.tier))


@ticket_action("/<reference>/escalate", "staffEscalate", StaffEscalateArgs)
def escalate(args: dict[str, Any], service: TicketService, ticket: Ticket, actor: str) -> None:
    """Hand the ticket to the next tier with a reason (to L4: `vendor` and `vendor_ref` required)."""
    service.escalate(
        ticket, actor, args["reason"], team=args["team"] or None, vendor=args["vendor"] or None,
        vendor_ref=args["vendor_ref"] or None,
    )  # fmt: skip


@ticket_action("/<reference>/resolve", "staffResolve", StaffResolveArgs)
def resolve(args: dict[str, Any], service: TicketService, ticket: Ticket, actor: str) -> None:
    """Resolve with an article (`en/slug`) or a note saying what fixed it; the customer is told."""
    service.resolve(ticket, actor, article=args["article"] or None, note=args["note"] or None)


@ticket_action("/<reference>/close", "staffClose", StaffCloseArgs)
def close(args: dict[str, Any], service: TicketService, ticket: Ticket, actor: str) -> None:
    """Close for good, saying why (duplicate, spam, withdrawn…)."""
    service.close(ticket, actor, args["reason"])


def register(api: Any) -> None:
    api.spec.components.security_scheme(
        "staffToken",
        {"type": "http", "scheme": "bearer", "description": "A staff API token (`kb users token create`)."},
    )
    # Webhook payloads are sent, not served: their schema is a component of the document (OpenAPI 3.0).
    api.spec.components.schema("WebhookEvent", schema=WebhookEventSchema)
    api.register_blueprint(blp)


class WebhookTicketSchema(ma.Schema):
    reference = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    tier = ma.fields.String(required=True)
    team = nullable()
    assignee = nullable()
    priority = ma.fields.Integer(required=True)
    category = nullable()
    lang = nullable()
    source = ma.fields.String(required=True)
    query = ma.fields.String(required=True)
    url = ma.fields.String(required=True, metadata={"description": "The ticket in the support console."})


class WebhookDataSchema(ma.Schema):
    ticket = ma.fields.Nested(WebhookTicketSchema, metadata={"description": "ticket.* events"})
    actor = ma.fields.String(metadata={"description": "Who made the change (ticket.* events)."})
    message = ma.fields.String(allow_none=True, metadata={"description": "The change's reason or note."})
    details = ma.fields.Dict(metadata={"description": "The change's own fields (assignee, tier, team…)."})
    problem = ma.fields.Dict(metadata={"description": "problem.* events: id, title, status."})
    article = ma.fields.Dict(metadata={"description": "article.* events: id (`en/slug`)."})
    query = ma.fields.String(
        allow_none=True, metadata={"description": "article.* events: what was searched."}
    )


class WebhookEventSchema(ma.Schema):
    """The body of every webhook delivery (POST, JSON), signed in `KB-Signature` (see README "Webhooks")."""

    id = ma.fields.String(required=True, metadata={"description": "The delivery's id (also `KB-Delivery`)."})
    type = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(EVENTS),
        metadata={"description": "The event (also `KB-Event`)."},
    )
    created_at = ma.fields.String(
        required=True, metadata={"description": "When it happened (UTC, RFC 3339)."}
    )
    data = ma.fields.Nested(WebhookDataSchema, required=True)
