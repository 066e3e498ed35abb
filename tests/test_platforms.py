"""The platforms file (`articles/platforms.yml`, issue 26): declared words and labels for the clarifying
question, added to the built-in vocabulary; a malformed file is reported and leaves the built-in one."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kb_engine.authoring.lint import lint_articles
from kb_engine.content.platforms import PLATFORMS_FILE, load_platforms, parse_platforms
from kb_engine.errors import ArticleError
from kb_engine.search.sections import DEFAULT_PLATFORMS, platforms_for

GOOD = """
phone:
  words: [portable, tel]
chromebook:
  words: [chromebook, chromeos]
  en: Chromebook
  fr: Chromebook (école)
"""


def test_declared_words_add_to_the_built_in_ones_and_new_platforms_become_options(tmp_path: Path) -> None:
    (tmp_path / PLATFORMS_FILE).write_text(GOOD, encoding="utf-8")
    platforms = platforms_for(tmp_path)
    assert (
        set(DEFAULT_PLATFORMS["phone"]) < set(platforms.words["phone"]) and "tel" in platforms.words["phone"]
    )
    assert platforms.of_heading("Steps > ChromeOS") == {"chromebook"}
    assert platforms.of_text("mon tel ne synchronise plus") == {"phone"}
    assert platforms.labels["chromebook"] == {"en": "Chromebook", "fr": "Chromebook (école)"}


def test_no_file_is_the_built_in_vocabulary(tmp_path: Path) -> None:
    assert load_platforms(tmp_path).words == {}
    assert dict(platforms_for(tmp_path).words) == {k: tuple(v) for k, v in DEFAULT_PLATFORMS.items()}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("phone: [tel]", "give `words:"),
        ("Phone!:\n  words: [tel]", "use lowercase letters"),
        ("phone:\n  words: [two words]", "is not one word"),
        ("phone:\n  words: [tel]\n  english: Phone", "is not `words` or a language code"),
        ("phone: {words: [tel]\n", "invalid YAML"),
    ],
)
def test_a_malformed_file_says_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(ArticleError, match=reason):
        parse_platforms(text)


def test_a_malformed_file_is_left_out_logged_and_reported_by_lint(tmp_path: Path, caplog) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / PLATFORMS_FILE).write_text("phone: [tel]\n", encoding="utf-8")
    with caplog.at_level(logging.ERROR):
        platforms = platforms_for(tmp_path)
    assert "platforms file left out" in caplog.text
    assert dict(platforms.words) == {k: tuple(v) for k, v in DEFAULT_PLATFORMS.items()}
    result = lint_articles(tmp_path)
    assert any(PLATFORMS_FILE in p.path and "words" in p.reason for p in result.problems)
