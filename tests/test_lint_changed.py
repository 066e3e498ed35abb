"""`kb lint` aimed at the change at hand (issue 30): PATHS and `--changed [REF]`, `path:line:` output,
"did you mean", the documented writing rules, and the overlap check fitted on the knowledge base."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from kb_engine.authoring.lint import lint_articles
from kb_engine.authoring.lint_semantic import FITTED_FLOOR, fitted_threshold
from kb_engine.cli.main import cli
from tests.conftest import SHIPPED, copy_sample

TODAY_ENV = {"KB_MODEL": "hashing"}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd, check=True,
        capture_output=True,
    )  # fmt: skip


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A git work tree holding a copy of the sample articles, committed."""
    copy_sample(tmp_path / "articles")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "articles")
    return tmp_path / "articles"


def test_lint_changed_reports_only_the_changed_files_with_line_and_did_you_mean(repo: Path, runner) -> None:
    # An untouched file with a known warning (it stays out of the report).
    untouched = repo / "en" / "blue-screen.md"
    untouched.write_text(
        untouched.read_text(encoding="utf-8").replace("updated:", "updated: 2001-01-01\nx:"), "utf-8"
    )
    git(repo.parent, "commit", "-q", "-am", "old warning")
    edited = repo / "en" / "printer-offline.md"
    edited.write_text(
        edited.read_text(encoding="utf-8")
        + "\nSee [resetting it](pasword-reset.md) and [vpn](vpn-cannot-connect).\n",
        "utf-8",
    )
    (repo / "en" / "toner.md").write_text(
        "---\ntitle: Toner empty\ncategory: printng\nquestions: [a, b, c]\nupdated: 2026-12-01\n---\n"
        "Intro.\n\n# Toner\n\n#### Order\n\n![](img/toner.png)\n",
        "utf-8",
    )
    line = edited.read_text(encoding="utf-8").count("\n")
    result = runner.invoke(
        cli, ["lint", "--no-semantic", "--changed", "--articles", str(repo)], env=TODAY_ENV
    )
    out = result.output
    assert result.exit_code == 1, out
    assert (
        f"{repo}/en/printer-offline.md:{line}: error: broken link to pasword-reset.md: no article "
        "en/pasword-reset; did you mean password-reset.md?"
    ) in out
    assert (
        f"{repo}/en/printer-offline.md:{line}: error: link to vpn-cannot-connect: the article exists, "
        "but links to articles end in .md: write `vpn-cannot-connect.md`"
    ) in out
    assert f"{repo}/en/toner.md:9: warning: `# Toner` is a second H1" in out
    assert f"{repo}/en/toner.md:11: warning: heading level skips from H1 to H4" in out
    assert f"{repo}/en/toner.md:13: warning: image without alt text" in out
    assert f"{repo}/en/toner.md:13: error: image img/toner.png does not exist" in out
    assert "blue-screen" not in out  # untouched: its stale date is not this change's business
    assert "only these files: --all for every file" in out

    data = json.loads(
        runner.invoke(
            cli, ["lint", "--no-semantic", "--json", "--changed", "HEAD", "--articles", str(repo)]
        ).output
    )
    assert {e["path"] for e in data["errors"] + data["warnings"]} <= {"en/printer-offline.md", "en/toner.md"}
    assert {"path": "en/printer-offline.md", "line": line} in [
        {"path": e["path"], "line": e["line"]} for e in data["errors"]
    ]
    everything = runner.invoke(cli, ["lint", "--no-semantic", "--all", "--changed", "--articles", str(repo)])
    assert "en/blue-screen.md" in everything.output

    # Committed: nothing changed since HEAD any more, but since main~1 both files are.
    git(repo.parent, "add", "-A")
    git(repo.parent, "commit", "-q", "-m", "edit")
    clean = runner.invoke(cli, ["lint", "--no-semantic", "--changed", "--articles", str(repo)])
    assert clean.exit_code == 0 and "0 files checked" in clean.output
    again = runner.invoke(cli, ["lint", "--no-semantic", "--changed", "main~1", "--articles", str(repo)])
    assert "toner.md" in again.output and "blue-screen" not in again.output


def test_lint_paths_and_bad_ref(repo: Path, runner) -> None:
    (repo / "en" / "password-reset.md").write_text(
        (repo / "en" / "password-reset.md").read_text(encoding="utf-8")
        + "\n[Steps](printer-offline.md#step)\n",
        "utf-8",
    )
    result = runner.invoke(
        cli, ["lint", "--no-semantic", str(repo / "en" / "password-reset.md"), "--articles", str(repo)]
    )
    assert "warning: link to #step: en/printer-offline has no such section" in result.output
    assert "did you mean" in result.output
    assert "en/printer-offline.md" not in result.output.replace("printer-offline.md#step", "")
    bad = runner.invoke(cli, ["lint", "--no-semantic", "--changed", "nope", "--articles", str(repo)])
    assert bad.exit_code != 0 and "unknown git ref 'nope'" in bad.output
    missing = runner.invoke(cli, ["lint", "--no-semantic", "en/nothing.md", "--articles", str(repo)])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_fitted_threshold_sits_above_the_closest_untouched_pair() -> None:
    similarity = np.array(
        [[1.0, 0.88, 0.5, 0.91], [0.88, 1.0, 0.4, 0.3], [0.5, 0.4, 1.0, 0.2], [0.91, 0.3, 0.2, 1.0]]
    )
    same = ~np.eye(4, dtype=bool)
    changed = np.array([False, False, False, True])
    threshold = fitted_threshold(similarity, same, changed)
    assert threshold == pytest.approx(0.885)  # the 0.91 overlap of the changed article is above it
    low = np.where(similarity > 0.99, 1.0, similarity * 0.5)
    assert fitted_threshold(low, same, changed) == FITTED_FLOOR


@pytest.mark.model
def test_overlap_check_flags_the_new_near_duplicate_only_and_is_quiet_on_the_shipped_kb(
    tmp_path: Path, cached_embed, shipped_index_dir: Path
) -> None:
    shipped = lint_articles(SHIPPED, embed=cached_embed)
    assert shipped.semantic and not [w for w in shipped.warnings if "near-duplicate" in w.reason]
    root = copy_sample(tmp_path / "articles")
    original = (root / "en" / "printer-offline.md").read_text(encoding="utf-8")
    intro = original.split("---\n", 2)[2].strip().split("\n", 1)[0]
    (root / "en" / "printer-not-printing.md").write_text(
        original.replace(intro, "When the printer will not print, follow these checks."), encoding="utf-8"
    )
    result = lint_articles(root, embed=cached_embed, only={"en/printer-not-printing.md"})
    overlaps = [str(w) for w in result.warnings if "near-duplicate" in w.reason]
    assert len(overlaps) == 1, overlaps
    assert overlaps[0].startswith("en/printer-not-printing.md: near-duplicate of en/printer-offline")
    assert "closer than any two untouched ones" in overlaps[0]
    assert {w.path for w in result.warnings} == {"en/printer-not-printing.md"}
    # The files of the shipped KB, each linted as if it were the change: no overlap among the sample.
    for path in ("en/printer-offline.md", "fr/password-reset.md"):
        quiet = lint_articles(SHIPPED, embed=cached_embed, only={path})
        assert not [w for w in quiet.warnings if "near-duplicate" in w.reason], quiet.warnings
