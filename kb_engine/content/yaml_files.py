"""The knowledge base's YAML side files (glossary, categories, platforms, scope, learned questions; routing,
automations, canned replies): one way to read each kind, and to say what is wrong with one that does not
parse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kb_engine.errors import ArticleError, ConfigError

# yaml.safe_load's rules (SafeConstructor) on libyaml's parser when PyYAML was built with it: 10-15x
# quicker on the glossary and the out-of-scope file (read at every index build) and on the categories
# (read by the article and help-centre pages).
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def yaml_mapping(text: str, shown: str, shape: str) -> dict[Any, Any]:
    """`text` parsed as a YAML mapping ({} for an empty file).

    Args:
        text: the file's text.
        shown: the file's name in messages.
        shape: what the file must be, said when it is not a mapping ("must map a family id to …").

    Raises:
        ArticleError: not valid YAML (with the parser's reason), or not a mapping (with `shape`).
    """
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER) or {}
    except yaml.YAMLError as exc:
        raise ArticleError(shown, f"invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ArticleError(shown, shape)
    return data


def yaml_config(path: Path) -> Any:
    """The parsed YAML of a desk configuration file (routing, automations, canned replies).

    Raises:
        ConfigError: the file is not valid YAML, or not UTF-8 text.
    """
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
