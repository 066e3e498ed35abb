"""The README documents every setting and every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb_engine.cli.main import cli
from kb_engine.config import SETTINGS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_readme_documents_setting(setting) -> None:
    assert f"`{setting.env}`" in README


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_readme_documents_command(name: str) -> None:
    assert f"`kb {name}" in README


def test_readme_opens_with_the_two_commands() -> None:
    block = README.split("```sh\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert [line.split()[:2] for line in block] == [["make", "run"], ["make", "test"]]
