"""`kb mail-in` with real .eml files: a file or stdin, the reply to stdout or a file, exit codes."""

from __future__ import annotations

import email
import email.policy
import json
import sqlite3
from pathlib import Path

import pytest

from kb_engine.cli.main import cli
from tests.smtp_server import free_port, smtp_server

MAIL = Path(__file__).resolve().parent / "data" / "mail"


@pytest.fixture()
def kb(runner, tmp_path: Path, index_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KB_PUBLIC_URL", "https://help.example.com")
    monkeypatch.setenv("KB_MAIL_FROM", "IT Support <support@example.com>")
    monkeypatch.delenv("KB_SMTP_URL", raising=False)
    database = f"sqlite:///{tmp_path / 'mail.sqlite3'}"

    def run(*args: str, stdin: bytes | None = None):
        return runner.invoke(
            cli, ["mail-in", *args, "--database", database, "--index-dir", str(index_dir)], input=stdin
        )

    run.database = tmp_path / "mail.sqlite3"  # type: ignore[attr-defined]
    return run


def rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_mail_in_file_prints_the_reference_and_writes_the_reply(kb, tmp_path: Path) -> None:
    reply_file = tmp_path / "reply.eml"
    result = kb(str(MAIL / "plain.eml"), "--reply-to-file", str(reply_file))
    assert result.exit_code == 0, result.output
    reference, action = result.output.split()
    assert reference.startswith("KB-") and action == "created"
    reply = email.message_from_bytes(reply_file.read_bytes(), policy=email.policy.default)
    assert reply["To"] == "Ana Silva <ana.silva@example.com>" and reference in reply["Subject"]
    assert "https://help.example.com/articles/en/printer-offline?ch=email" in reply.get_content()
    # The answer card: the section that answers, in the article's own words, linked at that section.
    assert "This step from our help centre should solve it:" in reply.get_content()
    assert "https://help.example.com/articles/en/printer-offline?ch=email#" in reply.get_content()
    assert rows(kb.database, "SELECT source, contact_email FROM ticket") == [
        ("email", "ana.silva@example.com")
    ]


def test_mail_in_reads_stdin_and_writes_the_reply_to_stdout(kb) -> None:
    result = kb(stdin=(MAIL / "french-qp.eml").read_bytes())
    assert result.exit_code == 0, result.output
    reply = email.message_from_bytes(result.stdout_bytes, policy=email.policy.default)
    assert "Nous avons bien reçu votre demande KB-" in reply.get_content()
    assert "created" in result.stderr


@pytest.mark.parametrize("name", ["plain", "html-only", "french-qp", "attachment"])
def test_mail_in_json_for_every_kind_of_message(kb, tmp_path: Path, name: str) -> None:
    result = kb(str(MAIL / f"{name}.eml"), "--reply-to-file", str(tmp_path / "r.eml"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["action"] == "created" and data["reference"].startswith("KB-") and data["articles"]


def test_mail_in_attaches_a_reply_to_its_ticket(kb, tmp_path: Path) -> None:
    first = kb(str(MAIL / "plain.eml"), "--reply-to-file", str(tmp_path / "1.eml"))
    second = kb(str(MAIL / "reply.eml"), "--reply-to-file", str(tmp_path / "2.eml"))
    assert second.exit_code == 0, second.output
    assert second.output.split() == [first.output.split()[0], "attached"]
    assert rows(kb.database, "SELECT count(*) FROM ticket") == [(1,)]


def test_mail_in_refuses_what_is_not_an_email_with_ex_dataerr(kb) -> None:
    result = kb(stdin=b"hello, this is not an email")
    assert result.exit_code == 65 and "not an email" in result.stderr


def outbox(path: Path) -> list[tuple]:
    return rows(path, "SELECT kind, recipient, status, attempts FROM outbox ORDER BY id")


def test_mail_in_sends_its_reply_through_the_outbox_to_a_real_smtp_server(
    kb, monkeypatch: pytest.MonkeyPatch
) -> None:
    with smtp_server() as (url, mailbox):
        monkeypatch.setenv("KB_SMTP_URL", url)
        result = kb(str(MAIL / "plain.eml"), "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert data["reply_sent"] and data["reply_queued"]
        (reply,) = mailbox.messages
    assert reply["To"] == "Ana Silva <ana.silva@example.com>" and data["reference"] in reply["Subject"]
    assert reply["Auto-Submitted"] == "auto-replied" and reply["In-Reply-To"]
    assert "https://help.example.com/articles/en/printer-offline?ch=email" in reply.get_content()
    assert outbox(kb.database) == [("mail_reply", "ana.silva@example.com", "sent", 1)]


def test_mail_in_with_the_smtp_server_down_files_once_and_the_outbox_sends_the_reply_later(
    kb, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()  # nothing listens there yet
    monkeypatch.setenv("KB_SMTP_URL", f"smtp://127.0.0.1:{port}")
    first = kb(str(MAIL / "plain.eml"))
    assert first.exit_code == 0, first.output  # filed: the mail server must not deliver it again
    assert "queued" in first.stderr
    assert outbox(kb.database) == [("mail_reply", "ana.silva@example.com", "pending", 1)]
    again = kb(str(MAIL / "plain.eml"))  # delivered twice anyway: still one ticket, one reply
    assert again.exit_code == 0 and "duplicate" in again.output
    assert rows(kb.database, "SELECT count(*) FROM ticket") == [(1,)] and len(outbox(kb.database)) == 1
    with sqlite3.connect(kb.database) as conn:  # its back-off is over
        conn.execute("UPDATE outbox SET next_attempt_at = '2000-01-01 00:00:00'")
    with smtp_server(port) as (_url, mailbox):
        sent = runner.invoke(cli, ["outbox", "--database", f"sqlite:///{kb.database}", "send"])
        assert sent.exit_code == 0, sent.output
        (reply,) = mailbox.messages
    assert reply["Auto-Submitted"] == "auto-replied" and "ana.silva@example.com" in reply["To"]
    assert outbox(kb.database) == [("mail_reply", "ana.silva@example.com", "sent", 2)]


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\x01\x02 not a mail at all",
        b"From: =?utf-8?b?////?= <>\r\nMessage-ID: <x@y>\r\n\r\nbody",
        b'From: a@b.c\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\n'
        b"Content-Type: text/plain; charset=no-such-charset\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n@@@\r\n",
    ],
    ids=["binary", "no-address", "bad-charset"],
)
def test_mail_in_maps_unreadable_messages_to_65_without_a_traceback(kb, raw: bytes) -> None:
    result = kb(stdin=raw)
    assert result.exit_code in (0, 65), result.output
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    if result.exit_code == 65:
        assert result.stderr.startswith("error: ")


def test_mail_in_bounces_a_sender_name_with_an_encoded_cr_lf_with_65(kb) -> None:
    """`=?utf-8?q?...=0D=0A...?=` in the From name decodes to a line break, which the email package refuses
    in an address: the message is unusable (65, the mail server bounces it to its sender), one line on
    stderr, no traceback (it was exit 1 with a traceback)."""
    raw = (
        b"From: =?utf-8?q?Eve=0D=0ABcc=3A_victim=40example=2Ecom?= <eve@example.com>\r\n"
        b"To: support@example.com\r\nSubject: printer\r\n"
        b"Message-ID: <crlf-1@example.com>\r\n\r\nMy printer is offline.\r\n"
    )
    result = kb(stdin=raw)
    assert result.exit_code == 65, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: the message cannot be read") and result.stderr.count("\n") == 1
    assert not kb.database.exists() or rows(kb.database, "SELECT count(*) FROM ticket") == [(0,)]


def test_mail_in_writes_a_subject_with_an_encoded_cr_lf_on_one_line(kb, tmp_path: Path) -> None:
    raw = (
        b"From: Eve <eve@example.com>\r\nTo: support@example.com\r\n"
        b"Subject: =?utf-8?q?printer=0D=0ABcc=3A_x=40y=2Ez?=\r\n"
        b"Message-ID: <crlf-2@example.com>\r\n\r\nMy printer is offline.\r\n"
    )
    reply_file = tmp_path / "reply.eml"
    result = kb("--reply-to-file", str(reply_file), stdin=raw)
    assert result.exit_code == 0, result.output
    reply = email.message_from_bytes(reply_file.read_bytes(), policy=email.policy.default)
    assert reply["Bcc"] is None and "printer Bcc: x@y.z" in str(reply["Subject"])
