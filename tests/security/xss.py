"""The XSS payload list and a checker that finds executable markup in a rendered page.

The checker is written here on purpose, with the standard library's HTML parser: the oracle of a test of
the sanitiser (nh3) must not be that sanitiser, or it would agree with its own mistakes.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

PAYLOADS: tuple[str, ...] = tuple(
    line
    for line in (Path(__file__).with_name("xss_payloads.txt")).read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
)

FORBIDDEN_TAGS = {
    "iframe", "frame", "frameset", "object", "embed", "applet", "base", "svg", "math", "bgsound",
    "xss", "isindex", "keygen", "marquee", "xmp", "plaintext", "template", "video", "audio",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "background", "dynsrc", "lowsrc", "data", "poster"}
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_C0_AND_SPACE = "".join(chr(i) for i in range(0x21))


def url_as_browser_reads(value: str) -> str:
    """The WHATWG URL parser strips leading/trailing controls and spaces and drops tabs and newlines."""
    return _TAB_OR_NEWLINE.sub("", value.strip(_C0_AND_SPACE)).lower()


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}> tag")
        if tag == "script":
            self._in_script = True
            if not values.get("src", "").startswith("/static/"):
                self.problems.append(f"script not from /static/: {values}")
        if tag == "meta" and "http-equiv" in values and values["http-equiv"].lower() == "refresh":
            self.problems.append("meta refresh")
        if tag == "link" and not values.get("href", "").startswith("/static/"):
            self.problems.append(f"link to {values.get('href')!r}")
        if tag == "style":
            self.problems.append("inline <style>")
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"event handler {name}={value!r} on <{tag}>")
            if name == "style" and re.search(r"expression|javascript|url\(", value, re.I):
                self.problems.append(f"style {value!r}")
            if name in URL_ATTRIBUTES:
                url = url_as_browser_reads(value)
                if url.startswith(("javascript:", "vbscript:", "data:text", "data:image/svg")):
                    self.problems.append(f"{name}={value!r} on <{tag}>")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script {data[:60]!r}")


def executable_markup(html: str) -> list[str]:
    """What in `html` a browser could run: script, event handlers, script URLs, frames, objects..."""
    checker = _Checker()
    checker.feed(html)
    checker.close()
    return checker.problems
