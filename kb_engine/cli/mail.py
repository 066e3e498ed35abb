"""`kb mail-in`: a support email becomes a ticket (or joins its thread's ticket); the reply suggests articles.

The usual way a mail server hands a message to a program is a pipe: e.g. in /etc/aliases
``support: "|/srv/kb/.venv/bin/kb mail-in"`` (Postfix, Exim and sendmail alike), or a `.eml` file.

Exit codes follow sysexits.h, which mail servers understand: 0 done, 65 (EX_DATAERR) the message is
unusable (bounced, not retried), 75 (EX_TEMPFAIL) the ticket store, the index or the reply file is
unavailable, or anything unexpected happened (the server keeps the message and retries). With
KB_SMTP_URL the reply is queued in the outbox with the ticket: an SMTP server that is down delays it
(exit 0, a warning), it is never lost, and the incoming email is not filed twice. Errors are one
line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import smtplib
import sys
from pathlib import Path
from typing import IO, Any

import click

from kb_engine.cli.context import Context, json_option, open_searcher
from kb_engine.errors import KBError, StoreUnavailable
from kb_engine.helpdesk.db import make_engine, make_session_factory, store_errors, upgrade
from kb_engine.helpdesk.mail_intake import IncomingMail, IntakeResult, MailError, intake, parse_message
from kb_engine.helpdesk.mail_stream import MessageTooLarge, read_message
from kb_engine.helpdesk.models import utcnow
from kb_engine.helpdesk.outbox import OutboxSender, queue_email
from kb_engine.helpdesk.recurring import RecurringRules
from kb_engine.helpdesk.tickets import TicketService
from kb_engine.search.answer import response_card

pass_ctx = click.make_pass_decorator(Context, ensure=True)

EX_DATAERR = 65
EX_TEMPFAIL = 75
MAX_MESSAGE_BYTES = 25 * 1024 * 1024


def _summary(result: IntakeResult, reply_file: Path | None, sent: bool) -> dict[str, Any]:
    response = result.response
    return {
        "action": result.action,
        "reference": result.reference,
        "lang": response.lang if response else (result.ticket.lang if result.ticket else None),
        "articles": [{"id": h.id, "title": h.title, "url": h.url} for h in response.hits] if response else [],
        "reply_file": str(reply_file) if reply_file and result.reply is not None else None,
        "reply_sent": sent,
    }


@click.command("mail-in")
@click.argument("message", type=click.File("rb"), default="-", required=False)
@click.option(
    "--reply-to-file",
    "reply_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the reply (an RFC 5322 message) here instead of stdout.",
)
@click.option("--database", help="Ticket store URL (KB_DATABASE_URL).")
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index folder (KB_INDEX_DIR).")
@json_option("Print what happened as one JSON object.")
@pass_ctx
def mail_in(
    ctx: Context,
    message: IO[bytes],
    reply_file: Path | None,
    database: str | None,
    index_dir: Path | None,
    as_json: bool,
) -> None:
    """File an incoming support email (a .eml file, or stdin) as a ticket and answer it with articles.

    Prints the ticket's reference and what happened (created, attached to its thread's ticket, duplicate,
    ignored). The reply goes to --reply-to-file; else, with KB_SMTP_URL, through the outbox (committed
    with the ticket, sent at once, retried by the outbox sender if the mail server is down); else to
    stdout (with the reference on stderr), ready for `sendmail -t`.

    \b
    Example: kb mail-in message.eml --reply-to-file reply.eml
    Example (mail server alias): support: "|/srv/kb/.venv/bin/kb mail-in"
    """
    try:
        # Read line by line: attachments are counted, never held (kb_engine.helpdesk.mail_stream).
        mail = parse_message(read_message(message, MAX_MESSAGE_BYTES))
    except (MailError, MessageTooLarge) as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(EX_DATAERR)
    try:
        _file(ctx, mail, reply_file, database, index_dir, as_json)
    except MailError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(EX_DATAERR)
    except KBError as exc:  # the index or the settings: the message stays queued until they are fixed
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(EX_TEMPFAIL)
    except (OSError, smtplib.SMTPException) as exc:
        click.echo(f"error: cannot write or send the reply: {exc}", err=True)
        sys.exit(EX_TEMPFAIL)
    except Exception as exc:  # noqa: BLE001 - a mail server shows stderr to a person: one line, no traceback
        click.echo(f"error: internal error ({type(exc).__name__}: {exc}); the message stays queued", err=True)
        sys.exit(EX_TEMPFAIL)


def _file(
    ctx: Context,
    mail: IncomingMail,
    reply_file: Path | None,
    database: str | None,
    index_dir: Path | None,
    as_json: bool,
) -> None:
    settings = ctx.settings(DATABASE_URL=database, INDEX_DIR=index_dir)
    searcher = open_searcher(settings)
    embedder = searcher.embedder
    engine = make_engine(settings["DATABASE_URL"])
    # With KB_SMTP_URL the reply is an outbox row committed with the ticket: a mail server that is down
    # delays it (the outbox retries) but never loses it nor makes the mail server file the email twice.
    by_outbox = reply_file is None and bool(settings["SMTP_URL"])
    queued: int | None = None
    sent = False
    try:
        with store_errors():
            upgrade(engine)
            sessions = make_session_factory(engine)
            sender = OutboxSender.from_settings(sessions, settings) if by_outbox else None
            with sessions() as session:
                service = TicketService.from_settings(session, settings)
                result = intake(
                    session,
                    service,
                    mail,
                    search=lambda q: searcher.search(q, k=settings["RESULTS"]),
                    public_url=settings["PUBLIC_URL"],
                    mail_from=settings["MAIL_FROM"],
                    embed=embedder.encode_queries if embedder is not None else None,
                    card=lambda r: response_card(
                        searcher, r, base_url=settings["PUBLIC_URL"].rstrip("/"), query="ch=email"
                    ),
                    recurring=RecurringRules.from_settings(settings),
                )
                if sender is not None and result.reply is not None:
                    row = queue_email(
                        session,
                        result.reply,
                        kind="mail_reply",
                        ticket_id=result.ticket.id if result.ticket is not None else None,
                        now=utcnow(),
                        dedupe_key=f"mail_reply:{mail.message_id}" if mail.message_id else None,
                    )
                    queued = row.id if row is not None else None
                session.commit()
            if sender is not None and queued is not None:
                sent = bool(sender.send_due(1, only=[queued]).sent)
                if not sent:
                    click.echo(
                        "warning: the reply could not be sent now; it is queued and the outbox sends it "
                        "(kb outbox send, or a web server)",
                        err=True,
                    )
    except StoreUnavailable as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(EX_TEMPFAIL)
    finally:
        engine.dispose()
    line = f"{result.reference or '-'} {result.action}"
    to_stdout = result.reply is not None and reply_file is None and not settings["SMTP_URL"]
    if result.reply is not None and not by_outbox:
        if reply_file is not None:
            reply_file.write_bytes(bytes(result.reply))
        else:
            sys.stdout.buffer.write(bytes(result.reply))
            sys.stdout.flush()
    if as_json:
        summary = _summary(result, reply_file, sent) | {"reply_queued": queued is not None}
        click.echo(json.dumps(summary, ensure_ascii=False), err=to_stdout)
    else:
        click.echo(line, err=to_stdout)


COMMANDS = (mail_in,)
