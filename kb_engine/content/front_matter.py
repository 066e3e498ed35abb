"""Front-matter mistakes explained: the file line of a YAML error and a hint for the common ones (an
unclosed quote, a tab, a key without a space after its colon, an unquoted ": " in a value)."""

from __future__ import annotations

import re

import yaml

FENCE = re.compile(r"^-{3,}\s*$")
KEY_NO_SPACE = re.compile(r"^\s*(?:- )?([A-Za-z_][\w-]*):([^\s/].*)$")


def front_matter_hint(front: list[str]) -> tuple[int, str] | None:
    """The first common mistake in front-matter lines (front[i] is file line i + 2): a tab, a key
    without a space after its colon, an unbalanced quote."""
    for i, text in enumerate(front):
        if "\t" in text[: len(text) - len(text.lstrip())]:
            return i + 2, f"line {i + 2} is indented with a tab: YAML indents with spaces only"
        m = KEY_NO_SPACE.match(text)
        if m and not m.group(2).startswith(("//", ":")):
            key = m.group(1)
            return i + 2, f"put a space after the colon on line {i + 2}: `{key}: {m.group(2)}`"
    for i, text in enumerate(front):
        value = text.split(":", 1)[1].strip() if ":" in text else text.strip().removeprefix("- ")
        for quote in ('"', "'"):
            if value.startswith(quote) and (len(value) == 1 or not value.rstrip().endswith(quote)):
                return i + 2, f"the {quote} opened on line {i + 2} is never closed: close it or remove it"
    return None


def yaml_problem(exc: yaml.YAMLError, front: list[str]) -> tuple[int | None, str]:
    """The file line and a message, with a hint, for a YAML error in the front matter (front[i] is on
    file line i + 2; YAML's own lines count from the opening '---', file line 1)."""
    mark = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context", None) or ""
    context_mark = getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    line = mark.line + 1 if mark is not None else None
    hint = ""
    if "quoted scalar" in context and context_mark is not None:
        # PyYAML notices an unclosed quote where the front matter ends: point at where it was opened.
        line, problem = context_mark.line + 1, "unclosed quote"
        hint = "the quote opened on this line is never closed: close it or remove it"
    elif context_mark is not None and line is not None and line > len(front) and "flow" in context:
        # An unclosed `[` or `{` is noticed where the front matter ends too.
        line, problem = context_mark.line + 1, "unclosed bracket"
        bracket = "[ ... ]" if "sequence" in context else "{ ... }"
        hint = f"the {bracket[0]} opened on this line is never closed: write {bracket} on one line"
    elif "tab" in problem or "'\\t'" in problem:
        found = next((i + 2 for i, t in enumerate(front) if "\t" in t), line)
        line, hint = found, "YAML indents with spaces only: replace the tab with spaces"
    elif "mapping values are not allowed" in problem:
        hint = 'a value containing ": " must be quoted, e.g. title: "Error: disk full"'
    else:
        found = front_matter_hint(front)
        if found:
            line, hint = found
            if "never closed" in hint:
                problem = "unclosed quote"
    if line is not None and 2 <= line <= len(front) + 1:
        shown_line = front[line - 2].strip()
        hint = f"{hint} (line {line}: {shown_line[:60]!r})" if hint else f"line {line}: {shown_line[:60]!r}"
    return line, f"{problem}: {hint}" if hint else str(problem)
