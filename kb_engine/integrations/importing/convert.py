"""HTML to clean Markdown for an imported article: unsafe and unsupported parts removed (and named, for the
report), headings shifted under the title, links and images handed to the importer to rewrite.

The conversion itself is markdownify's; this module decides what reaches it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bs4 import BeautifulSoup, Comment, PageElement, Tag
from markdownify import MarkdownConverter

# Elements that never carry article text: removed with their content, and listed in the report.
DROPPED = (
    "script", "style", "noscript", "template", "object", "embed", "applet", "canvas", "svg", "form",
    "input", "button", "select", "textarea", "link", "meta", "base", "audio", "video", "frameset", "frame",
)  # fmt: skip
# Confluence macros whose content is article text (kept); any other macro is removed and reported.
KEPT_MACROS = {"info", "note", "tip", "warning", "panel", "code", "noformat", "expand", "excerpt", "details",
               "section", "column", "status", "anchor", "toc-zone", "quote"}  # fmt: skip
CALLOUT_CLASSES = ("confluence-information-macro", "callout", "alert")

# A rewritten href: the new target, or None to keep only the link's text.
LinkRewriter = Callable[[str], str | None]
# A rewritten image src: the new relative path, or None to drop the image (the importer says why).
ImageRewriter = Callable[[str, str], str | None]


@dataclass
class Converted:
    markdown: str
    dropped: list[str]


def _code_language(el: Tag) -> str:
    """The language of a code block: Confluence's `data-syntaxhighlighter-params="brush: bash; …"`, or a
    `language-x` class on the <pre> or its <code>."""
    brush = re.search(r"brush:\s*([\w+-]+)", str(el.get("data-syntaxhighlighter-params") or ""))
    if brush:
        return brush.group(1)
    code = el.find("code")
    classes = [
        *el.get_attribute_list("class"),
        *(code.get_attribute_list("class") if isinstance(code, Tag) else []),
    ]
    found = re.search(r"(?:language|lang)-([\w+-]+)", " ".join(str(c) for c in classes if c))
    return found.group(1) if found else ""


def html_to_markdown(
    html: str,
    *,
    title: str = "",
    link: LinkRewriter | None = None,
    image: ImageRewriter | None = None,
) -> Converted:
    """Markdown of an article body.

    Args:
        html: the body, however broken (parsed leniently).
        title: the article's title: a first heading repeating it is removed (the page shows the title).
        link: rewrites each href (links between imported articles, relative links); None keeps them.
        image: rewrites each image src to a copied file; None drops the image.

    Returns:
        The Markdown, and what was left out (for the import report).
    """
    soup = BeautifulSoup(html or "", "lxml")
    dropped: list[str] = []

    def drop(what: str) -> None:
        if what not in dropped:
            dropped.append(what)

    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for el in soup.find_all(DROPPED):
        drop(f"<{el.name}> element")
        el.decompose()
    for el in soup.find_all("iframe"):
        src = str(el.get("src") or "")
        if re.match(r"https?://", src):
            replacement = soup.new_tag("p")
            anchor = soup.new_tag("a", href=src)
            anchor.string = src
            replacement.append(anchor)
            el.replace_with(replacement)
            drop(f"embedded frame {src} (kept as a link)")
        else:
            el.decompose()
            drop("embedded frame")
    for el in soup.select("[data-macro-name]"):
        if el.decomposed:
            continue
        name = str(el.get("data-macro-name"))
        if name not in KEPT_MACROS:
            drop(f"Confluence macro {name!r}")
            el.decompose()
    for el in soup.find_all(["div", "aside"]):
        if el.decomposed:
            continue
        classes = el.get_attribute_list("class")
        if any(c in CALLOUT_CLASSES for c in classes) and not el.find_parent("blockquote"):
            el.name = "blockquote"
    _close_headings(soup)
    _shift_headings(soup, title)
    for a in soup.find_all("a"):
        href = str(a.get("href") or "").strip()
        if not href:
            a.unwrap()
            continue
        if re.match(r"(?i)\s*(javascript|vbscript|data):", href):
            drop(f"link with a {href.split(':', 1)[0].lower()}: address")
            a.unwrap()
            continue
        new = link(href) if link else href
        if new is None:
            a.unwrap()
        else:
            a["href"] = new
            for attribute in list(a.attrs):
                if attribute not in ("href", "title"):
                    del a[attribute]
    for img in soup.find_all("img"):
        src = str(img.get("src") or "").strip()
        alt = str(img.get("alt") or "").strip()
        new = image(src, alt) if image and src else None
        if new is None:
            img.decompose()
        else:
            img.attrs = {"src": new, "alt": alt or _alt_from(src)}
    markdown = MarkdownConverter(
        heading_style="ATX",
        bullets="-",
        strong_em_symbol="*",
        table_infer_header=True,
        code_language_callback=_code_language,
        escape_misc=False,
    ).convert_soup(soup)
    return Converted(_tidy(markdown), dropped)


BLOCKS = {
    "p",
    "div",
    "pre",
    "table",
    "ul",
    "ol",
    "dl",
    "blockquote",
    "img",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
}


def _close_headings(soup: BeautifulSoup) -> None:
    """An unclosed heading (`<h2>Title<p>text…`) must not swallow what follows, as browsers see it."""
    for h in soup.find_all(re.compile(r"^h[1-6]$")):
        if h.parent is None:
            continue
        anchor: PageElement = h
        started = False
        for child in list(h.children):
            started = started or (isinstance(child, Tag) and child.name in BLOCKS)
            if started:
                moved = child.extract()
                anchor.insert_after(moved)
                anchor = moved


def _shift_headings(soup: BeautifulSoup, title: str) -> None:
    """No H1 in a body (the title is the H1): drop a first heading repeating the title, shift the rest."""
    headings = []
    for h in soup.find_all(re.compile(r"^h[1-6]$")):
        if h.get_text(strip=True) or h.find("img"):
            headings.append(h)
        else:
            h.decompose()  # `<h2>Title<h2>` (an unclosed tag written twice) leaves an empty heading
    if headings and _same(headings[0].get_text(" ", strip=True), title):
        headings[0].decompose()
        headings = headings[1:]
    if headings:
        # The body's top level becomes H2, under the page's title (`<h3>` only bodies, `<h1>` sections).
        shift = 2 - min(int(h.name[1]) for h in headings)
        for h in headings:
            h.name = f"h{max(2, min(6, int(h.name[1]) + shift))}"


def _same(a: str, b: str) -> bool:
    norm = lambda s: re.sub(r"\W+", " ", s).strip().lower()  # noqa: E731
    return bool(a) and norm(a) == norm(b)


def _alt_from(src: str) -> str:
    name = src.rsplit("/", 1)[-1].split("?", 1)[0]
    return re.sub(r"[-_]+", " ", name.rsplit(".", 1)[0]).strip() or "image"


def _tidy(markdown: str) -> str:
    lines = [line.rstrip() for line in markdown.replace("\r\n", "\n").replace("\xa0", " ").split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"(?m)^((?!>).*\S.*)\n(?=>)", r"\1\n\n", text)  # a quote starts a paragraph
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n"
