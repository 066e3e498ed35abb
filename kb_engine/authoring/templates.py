"""The `kb new` templates: one per kind of article, in the article's language throughout.

- troubleshooting: something is broken (Symptoms, Quick checks, Steps per platform, If it still fails,
  Before you contact support) — the headings of docs/article-format.md;
- howto: a request or a task (Before you start, Steps, What happens next, If it does not work);
- policy: a rule or reference (In short, Who it applies to, The rule, Exceptions, Who to contact).

A translation (`kb new --slug EXISTING --lang fr`) starts from the source article's own sections: a
heading the templates know is put in the new language, any other is kept with a `TODO` to translate it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence

from kb_engine.content.articles import PLACEHOLDER, Article

KINDS = ("troubleshooting", "howto", "policy")

# (heading, sub-headings, placeholder line) per section; the placeholder line is "- TODO", "1. TODO"…
_SECTIONS: dict[str, dict[str, list[tuple[str, tuple[str, ...], str]]]] = {
    "troubleshooting": {
        "en": [("Symptoms", (), "-"), ("Quick checks", (), "-"),
               ("Steps", ("Windows", "macOS", "Phone"), "1."), ("If it still fails", (), ""),
               ("Before you contact support", (), "-")],
        "fr": [("Symptômes", (), "-"), ("Vérifications rapides", (), "-"),
               ("Procédure", ("Windows", "macOS", "Téléphone"), "1."), ("Si le problème persiste", (), ""),
               ("Avant de contacter le support", (), "-")],
    },
    "howto": {
        "en": [("Before you start", (), "-"), ("Steps", (), "1."), ("What happens next", (), ""),
               ("If it does not work", (), "")],
        "fr": [("Avant de commencer", (), "-"), ("Étapes", (), "1."), ("Et ensuite", (), ""),
               ("Si cela ne marche pas", (), "")],
    },
    "policy": {
        "en": [("In short", (), ""), ("Who it applies to", (), "-"), ("The rule", (), ""),
               ("Exceptions", (), "-"), ("Who to contact", (), "")],
        "fr": [("En bref", (), ""), ("Qui est concerné", (), "-"), ("La règle", (), ""),
               ("Exceptions", (), "-"), ("Qui contacter", (), "")],
    },
}  # fmt: skip

_TEXT = {
    "en": {
        "draft": "# A draft is never published: remove this line when the article is finished.",
        "questions": "# 3 to 6 ways a customer would ask this, in their own vague words (docs/authoring.md).",
        "question": {
            "troubleshooting": "how a customer would describe the problem",
            "howto": "how a customer would ask for this",
            "policy": "what a customer would ask about this rule",
        },
        "intro": "one or two lines saying what this article solves.",
        "translate": "translate this section",
    },
    "fr": {
        "draft": "# Un brouillon n'est jamais publié : supprimez cette ligne quand l'article est terminé.",
        "questions": "# 3 à 6 façons dont un client le demanderait, avec ses mots (docs/authoring.md).",
        "question": {
            "troubleshooting": "comment un client décrirait le problème",
            "howto": "comment un client le demanderait",
            "policy": "ce qu'un client demanderait sur cette règle",
        },
        "intro": "une ou deux lignes qui disent ce que cet article résout.",
        "translate": "traduire cette section",
    },
}


def _yaml_str(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar: quotes, colons and '#' in titles are safe.
    return json.dumps(text, ensure_ascii=False)


def front_matter(
    *, title: str, lang: str, category: str | None, audience: str, tags: tuple[str, ...], updated: dt.date,
    kind: str, questions: Sequence[str] = (),
) -> list[str]:  # fmt: skip
    """The front-matter lines of a draft, `questions` (else a placeholder) included.

    Written line by line, not dumped through python-frontmatter, on purpose: its comments (what a draft
    is, how to word `questions`) are the author's guide, and a YAML dump drops comments. Every value is a
    JSON string (`_yaml_str`), a valid YAML scalar whatever it contains.
    """
    text = _TEXT.get(lang, _TEXT["en"])
    return [
        "---",
        f"title: {_yaml_str(title)}",
        f"lang: {lang}",
        f"category: {category}" if category else f"category: {PLACEHOLDER}",
        f"tags: [{', '.join(_yaml_str(t) for t in tags)}]",
        f"audience: {audience}",
        str(text["draft"]),
        "status: draft",
        str(text["questions"]),
        "questions:",
        *(
            [f"  - {_yaml_str(q)}" for q in questions]
            or [f"  - {_yaml_str(PLACEHOLDER + ': ' + text['question'][kind])}"]  # type: ignore[index]
        ),
        f"updated: {updated.isoformat()}",
        "---",
        "",
    ]


def body(kind: str, lang: str) -> list[str]:
    """The body of a new article of this kind: intro line and section headings with placeholders."""
    text = _TEXT.get(lang, _TEXT["en"])
    lines = [f"{PLACEHOLDER}: {text['intro']}", ""]
    sections = _SECTIONS[kind]
    for heading, subs, item in sections.get(lang, sections["en"]):
        lines += [f"## {heading}", ""]
        placeholder = f"{item} {PLACEHOLDER}".strip()
        for sub in subs:
            lines += [f"### {sub}", "", placeholder, ""]
        if not subs:
            lines += [placeholder, ""]
    return lines


def _known_headings() -> dict[str, dict[str, str]]:
    """heading (any language) -> {lang: the same heading in lang}, for every template heading."""
    known: dict[str, dict[str, str]] = {}
    for sections in _SECTIONS.values():
        langs = list(sections)
        for i in range(len(sections[langs[0]])):
            row = {lang: sections[lang][i][0] for lang in langs}
            subs = {lang: sections[lang][i][1] for lang in langs}
            for lang in langs:
                known.setdefault(row[lang].casefold(), row)
                for j, sub in enumerate(subs[lang]):
                    known.setdefault(sub.casefold(), {other: subs[other][j] for other in langs})
    # The desk's older heading for the last troubleshooting section: a translation takes the new one.
    for old in ("Before escalating", "Avant d'escalader"):
        known.setdefault(old.casefold(), known["before you contact support"])
    return known


_HEADING = re.compile(r"^(#{2,6})[ \t]+(.+?)[ \t#]*$")


def translation_body(source: Article, lang: str) -> list[str]:
    """The body of a translation of source into lang: its sections, headings put in lang when the
    templates know them, each with a `TODO` to write it (the source's first line shown as a reminder)."""
    text = _TEXT.get(lang, _TEXT["en"])
    known = _known_headings()
    sections: list[tuple[str | None, bool, list[str]]] = [(None, True, [])]
    in_code = False
    for row in source.body.split("\n"):
        if row.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
        match = None if in_code else _HEADING.match(row)
        if match is None:
            sections[-1][2].append(row)
            continue
        heading = match.group(2).strip()
        translated = known.get(heading.casefold(), {}).get(lang)
        sections.append((f"{match.group(1)} {translated or heading}", translated is not None, []))
    lines = [f"{PLACEHOLDER}: {text['intro']}", ""]
    for heading, known_heading, rows in sections[1:]:  # the intro is the TODO line above
        lines += [str(heading), ""]
        first = next((row.strip() for row in rows if row.strip()), "")
        if first or not known_heading:
            hint = f" ({source.lang}: {first[:80]})" if first else ""
            lines += [f"{PLACEHOLDER}: {text['translate']}{hint}", ""]
    return lines
