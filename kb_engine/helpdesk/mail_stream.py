"""Reading an incoming email from a stream without holding its attachments.

A ticket lists attachments (name, type, size) and never stores them, so their contents need not be in
memory at all: `read_message` reads the message line by line (each line bounded), follows the MIME
structure (nested multipart boundaries), and keeps the headers of every part but the body only of the
text parts (the body the customer wrote); the body of an attachment is counted, not kept, and its
decoded size written into its headers as `X-KB-Attachment-Size`. What it returns is a small message the
standard parser then reads (`mail_intake.parse_message`). Peak memory is the text parts plus one line,
whatever the size of the attachments (it was ~30 times the message with the whole message parsed).
"""

from __future__ import annotations

import re
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import IO

from kb_engine.errors import KBError

SIZE_HEADER = "X-KB-Attachment-Size"
MAX_LINE = 64 * 1024  # a longer line is read in pieces (only attachment bodies have such lines)
_B64 = re.compile(rb"[A-Za-z0-9+/]")


class MessageTooLarge(KBError):
    status = 413
    code = "too_large"


def _headers(lines: list[bytes]) -> tuple[str, str | None, bool, str]:
    """(content type, multipart boundary, whether the part's body is kept, transfer encoding)."""
    msg = BytesHeaderParser(policy=compat32).parsebytes(b"".join(lines) + b"\r\n")
    ctype = msg.get_content_type()
    boundary = msg.get_boundary() if msg.get_content_maintype() == "multipart" else None
    disposition = str(msg.get("Content-Disposition", "")).split(";")[0].strip().lower()
    keep = ctype in ("text/plain", "text/html") and disposition != "attachment"
    return ctype, boundary, keep, str(msg.get("Content-Transfer-Encoding", "")).strip().lower()


def _decoded_size(line: bytes, encoding: str) -> float:
    if encoding == "base64":
        return len(_B64.findall(line)) * 3 / 4
    return len(line.rstrip(b"\r\n")) + 1 if line.endswith(b"\n") else len(line)


def read_message(stream: IO[bytes], max_bytes: int) -> bytes:
    """The message on `stream` with the bodies of its attachments left out (their sizes kept).

    Raises:
        MessageTooLarge: more than `max_bytes` bytes on the stream.
    """
    out: list[bytes] = []
    boundaries: list[bytes] = []  # open multipart boundaries, innermost last
    header_lines: list[bytes] = []
    in_headers = True  # the top-level message starts with its headers
    keep_body = True
    encoding = ""
    dropped = 0.0
    total = 0

    pending_headers: list[bytes] = []  # the headers of a dropped part, written once its size is known
    while True:
        line = stream.readline(MAX_LINE)
        if not line:
            break
        total += len(line)
        if total > max_bytes:
            raise MessageTooLarge(f"message larger than {max_bytes} bytes")
        if in_headers:
            if line.strip(b"\r\n"):
                header_lines.append(line)
                continue
            _ctype, boundary, keep_body, encoding = _headers(header_lines)
            if boundary:
                boundaries.append(b"--" + boundary.encode("ascii", "replace"))
                keep_body = True  # a multipart's own body is its preamble and its parts
            if keep_body:
                out.extend(header_lines)
                out.append(line)
            else:
                pending_headers = [*header_lines]
            header_lines = []
            in_headers = False
            continue
        stripped = line.rstrip(b"\r\n").rstrip()
        matched = next((b for b in reversed(boundaries) if stripped.startswith(b)), None)
        if matched is not None and stripped in (matched, matched + b"--"):
            if not keep_body:
                out.extend(pending_headers)
                out.append(f"{SIZE_HEADER}: {int(dropped)}\r\n\r\n".encode())
                pending_headers, dropped = [], 0.0
            while boundaries and boundaries[-1] != matched:
                boundaries.pop()  # an inner multipart that never closed
            out.append(line)
            keep_body = True
            if stripped == matched + b"--":
                boundaries.pop()  # the epilogue follows, then the outer part goes on
            else:
                in_headers = True
            continue
        if keep_body:
            out.append(line)
        else:
            dropped += _decoded_size(line, encoding)
    if in_headers and header_lines:
        out.extend(header_lines)
    if not keep_body and pending_headers:
        out.extend(pending_headers)
        out.append(f"{SIZE_HEADER}: {int(dropped)}\r\n\r\n".encode())
    return b"".join(out)
