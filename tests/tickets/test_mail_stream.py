"""`kb mail-in` reads a message line by line and never holds its attachments: the ticket lists them with
their exact sizes, the text is the same as a full parse, and memory stays small whatever their size."""

from __future__ import annotations

import io
import os
import tracemalloc
from email.message import EmailMessage

import pytest

from kb_engine.helpdesk.mail_intake import parse_message
from kb_engine.helpdesk.mail_stream import MessageTooLarge, read_message

MB = 1024 * 1024


def big_mail(attachment_bytes: int) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"] = "Ana Silva <ana.silva@example.com>", "support@example.com"
    msg["Subject"], msg["Message-ID"] = "VPN error, screenshots attached", "<big-1@example.com>"
    msg.set_content("The VPN says error 809 since this morning.\nScreenshots attached.")
    msg.add_alternative("<p>The VPN says <b>error 809</b> since this morning.</p>", subtype="html")
    msg.add_attachment(
        os.urandom(attachment_bytes), maintype="application", subtype="zip", filename="logs.zip"
    )
    msg.add_attachment(b"x" * 1001, maintype="image", subtype="png", filename="small.png")
    inner = EmailMessage()
    inner["Subject"] = "forwarded"
    inner.set_content("an earlier message")
    inner.add_attachment(b"\x00\x01" * 500, maintype="application", subtype="octet-stream", filename="in.bin")
    msg.add_attachment(inner)
    return bytes(msg)


def test_streamed_message_reads_like_the_whole_one() -> None:
    raw = big_mail(300_000)
    whole, streamed = parse_message(raw), parse_message(read_message(io.BytesIO(raw), 50 * MB))
    assert streamed.body == whole.body and streamed.subject == whole.subject
    assert streamed.sender == whole.sender and streamed.message_id == whole.message_id
    files = [(a.filename, a.content_type, a.size) for a in streamed.attachments]
    # A forwarded email counts its size too (the whole parse gave 0 for it).
    assert files[:2] == [(a.filename, a.content_type, a.size) for a in whole.attachments][:2]
    assert files[2][1] == "message/rfc822" and files[2][2] > 1000
    assert ("logs.zip", "application/zip", 300_000) in [
        (a.filename, a.content_type, a.size) for a in streamed.attachments
    ]


def test_a_10_mb_attachment_is_never_held_in_memory() -> None:
    raw = big_mail(10 * MB)
    stream = io.BytesIO(raw)
    tracemalloc.start()
    try:
        mail = parse_message(read_message(stream, 25 * MB))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ("logs.zip", 10 * MB) in [(a.filename, a.size) for a in mail.attachments]
    assert peak < 2 * MB, f"peak {peak / MB:.1f} MB for a {len(raw) / MB:.0f} MB message"


def test_a_message_over_the_limit_is_refused() -> None:
    with pytest.raises(MessageTooLarge):
        read_message(io.BytesIO(big_mail(2 * MB)), 1 * MB)
