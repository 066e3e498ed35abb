"""Canned replies: message templates agents pick on a ticket page, in the ticket's language.

They live in `articles/canned-replies.yml` (authors and team leads edit it, like routing.yml)::

    ask-details:
      en: {title: "Ask for details", text: "Hello {customer_name}, about {reference}: ..."}
      fr: {title: "Demander des précisions", text: "Bonjour {customer_name}, ..."}

Placeholders: {customer_name} {reference} {article_url} {article_title} {agent_name}. An unknown or empty
placeholder is left as written, so the agent sees what to fill in before sending.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb_engine.content.yaml_files import yaml_config
from kb_engine.errors import ConfigError

FILENAME = "canned-replies.yml"
PLACEHOLDERS = ("customer_name", "reference", "article_url", "article_title", "agent_name")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class CannedReply:
    id: str
    lang: str
    title: str
    text: str

    def render(self, values: dict[str, str | None]) -> str:
        """The text with its placeholders filled from `values` (missing ones are left as `{name}`)."""
        return fill(self.text, values)


def fill(text: str, values: dict[str, str | None]) -> str:
    def replace(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return value if value else match.group(0)

    return _PLACEHOLDER.sub(replace, text)


def load_canned(path: Path) -> dict[str, dict[str, CannedReply]]:
    """Every canned reply of the file, by id then language; {} when the file does not exist.

    Raises:
        ConfigError: the file is not valid YAML or not in the format above.
    """
    if not path.is_file():
        return {}
    data: Any = yaml_config(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected `id: {{lang: {{title, text}}}}` entries")
    replies: dict[str, dict[str, CannedReply]] = {}
    for reply_id, versions in data.items():
        if not isinstance(versions, dict):
            raise ConfigError(f"{path}: {reply_id}: expected one entry per language")
        for lang, body in versions.items():
            if not isinstance(body, dict) or not isinstance(body.get("text"), str):
                raise ConfigError(f"{path}: {reply_id}.{lang}: needs a `text`")
            title = str(body.get("title") or reply_id)
            replies.setdefault(str(reply_id), {})[str(lang)] = CannedReply(
                str(reply_id), str(lang), title, body["text"].strip()
            )
    return replies


def replies_for(
    replies: dict[str, dict[str, CannedReply]], lang: str | None, default_lang: str = "en"
) -> list[CannedReply]:
    """One version of each reply: in `lang` if it has one, else in `default_lang`, else any."""
    chosen = []
    for versions in replies.values():
        reply = (
            versions.get(lang or default_lang) or versions.get(default_lang) or next(iter(versions.values()))
        )
        chosen.append(reply)
    return chosen
