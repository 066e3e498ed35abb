"""The search impact of a change to the articles (`kb diff`): which queries gain or lose their answer.

The articles folder as it is at a git ref and as it is in the working tree are each indexed (by the
caller) and searched with the same queries: the evaluation set, whose expected article is known, and the
searches customers typed (the search log), whose answer is whatever article the engine answers with.

- An eval query *has its answer* when its expected article is first and the engine says it is answered;
  an out-of-scope query (no expected article) has its answer when the engine says it is not answered.
- A logged search *gains* an answer when it goes from a miss to answered, *loses* it the other way, and
  *changes* its answer when it stays answered with another first article.
"""

from __future__ import annotations

import subprocess
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb_engine.content.files import atomic_write_text
from kb_engine.errors import KBError
from kb_engine.search.evaluation import EvalQuery, Metrics, Outcome, metrics


def _git(cwd: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    except FileNotFoundError:
        raise KBError("git is not installed: `kb diff` compares with a git ref") from None
    except subprocess.CalledProcessError as exc:
        raise KBError(f"git {' '.join(args)}: {exc.stderr.strip() or exc}") from None
    return done.stdout.strip()


def export_articles(articles_dir: Path, ref: str, dest: Path) -> Path:
    """Write the articles folder as it is at git `ref` under dest (the working tree is not touched).

    Args:
        articles_dir: the articles folder, inside a git work tree.
        ref: any git revision (`HEAD`, `main`, `origin/main~3`, a commit id).
        dest: a folder to write into (created if needed).

    Returns:
        The exported articles folder (below dest).

    Raises:
        KBError: not a git work tree, unknown ref, or the folder does not exist at that ref.
    """
    articles_dir = Path(articles_dir).resolve()
    top = Path(_git(articles_dir, "rev-parse", "--show-toplevel"))
    prefix = articles_dir.relative_to(top.resolve()).as_posix()
    if not _exists(top, f"{ref}^{{commit}}"):
        raise KBError(f"unknown git ref {ref!r}")
    commit = _git(top, "rev-parse", "--verify", f"{ref}^{{commit}}")
    spec = f"{commit}:{prefix}" if prefix != "." else commit
    if not _exists(top, spec) or _git(top, "cat-file", "-t", spec) != "tree":
        raise KBError(f"{prefix} does not exist at {ref}")
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "articles.tar"
    with open(archive, "wb") as fh:
        try:
            subprocess.run(["git", "archive", "--format=tar", spec], cwd=top, stdout=fh, check=True)
        except subprocess.CalledProcessError as exc:
            raise KBError(f"git archive {ref}: failed ({exc.returncode})") from None
    out = dest / "articles"
    with tarfile.open(archive) as tar:
        tar.extractall(out, filter="data")
    archive.unlink()
    return out


def changed_files(articles_dir: Path, ref: str = "HEAD") -> set[str]:
    """The files of the articles folder that differ from git `ref` (modified, added, renamed, untracked;
    not deleted), as paths in the folder (`en/x.md`).

    Raises:
        KBError: not a git work tree, or an unknown ref.
    """
    articles_dir = Path(articles_dir).resolve()
    top = Path(_git(articles_dir, "rev-parse", "--show-toplevel")).resolve()
    if not _exists(top, f"{ref}^{{commit}}"):
        raise KBError(f"unknown git ref {ref!r}")
    prefix = articles_dir.relative_to(top).as_posix()
    spec = ["--", prefix]
    listed = _git(top, "diff", "--name-only", "--diff-filter=d", "-z", ref, *spec).split("\0")
    listed += _git(top, "ls-files", "--others", "--exclude-standard", "-z", *spec).split("\0")
    return {
        (top / name).relative_to(articles_dir).as_posix()
        for name in listed
        if name and (top / name).is_relative_to(articles_dir)
    }


def _exists(top: Path, spec: str) -> bool:
    return subprocess.run(["git", "cat-file", "-e", spec], cwd=top, capture_output=True).returncode == 0


@dataclass
class QueryChange:
    """One query whose answer changed between the ref and the working tree."""

    query: str
    lang: str
    expected: str  # expected slug, "" for a logged search or an out-of-scope query
    before: list[str]  # first slugs, best first
    after: list[str]
    answered_before: bool
    answered_after: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _change(before: Outcome, after: Outcome) -> QueryChange:
    return QueryChange(
        query=before.query.query,
        lang=before.query.lang,
        expected=before.query.expected,
        before=before.ranked[:3],
        after=after.ranked[:3],
        answered_before=before.answered,
        answered_after=after.answered,
    )


def has_answer(outcome: Outcome) -> bool:
    """An eval query's verdict: expected article first and answered (out of scope: not answered)."""
    if outcome.in_scope:
        return outcome.rank == 1 and outcome.answered
    return not outcome.answered


@dataclass
class EvalImpact:
    name: str
    before: Metrics
    after: Metrics
    gained: list[QueryChange] = field(default_factory=list)
    lost: list[QueryChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "gained": [c.to_dict() for c in self.gained],
            "lost": [c.to_dict() for c in self.lost],
        }


def eval_impact(name: str, before: Sequence[Outcome], after: Sequence[Outcome]) -> EvalImpact:
    """Compare the outcomes of the same eval queries before and after a change."""
    impact = EvalImpact(name, metrics(before), metrics(after))
    for old, new in zip(before, after, strict=True):
        if has_answer(old) != has_answer(new):
            (impact.gained if has_answer(new) else impact.lost).append(_change(old, new))
    return impact


@dataclass
class LoggedImpact:
    searches: int
    gained: list[QueryChange] = field(default_factory=list)
    lost: list[QueryChange] = field(default_factory=list)
    changed: list[QueryChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "searches": self.searches,
            "gained": [c.to_dict() for c in self.gained],
            "lost": [c.to_dict() for c in self.lost],
            "changed": [c.to_dict() for c in self.changed],
        }


def logged_impact(before: Sequence[Outcome], after: Sequence[Outcome]) -> LoggedImpact:
    """Compare the outcomes of customers' logged searches before and after a change."""
    impact = LoggedImpact(len(before))
    for old, new in zip(before, after, strict=True):
        if old.answered != new.answered:
            (impact.gained if new.answered else impact.lost).append(_change(old, new))
        elif new.answered and old.ranked[:1] != new.ranked[:1]:
            impact.changed.append(_change(old, new))
    return impact


@dataclass
class ArticleChanges:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[str]]:
        return dict(self.__dict__)


def article_changes(before: dict[str, str], after: dict[str, str]) -> ArticleChanges:
    """Article ids added, removed and modified, from two `{id: sha256}` maps (index manifests)."""
    return ArticleChanges(
        added=sorted(set(after) - set(before)),
        removed=sorted(set(before) - set(after)),
        modified=sorted(i for i in set(before) & set(after) if before[i] != after[i]),
    )


def logged_queries(database_url: str, *, limit: int = 500) -> list[EvalQuery]:
    """The distinct searches of the search log, most frequent first (none if there is no database).

    Args:
        database_url: the ticket store's SQLAlchemy URL; a missing SQLite file is not created.
        limit: at most this many distinct queries.
    """
    from sqlalchemy import func, inspect, select
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from kb_engine.helpdesk.db import make_engine
    from kb_engine.helpdesk.models import SearchLog

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        return []
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(SearchLog.__tablename__):
                return []
            rows = conn.execute(
                select(SearchLog.query, func.max(SearchLog.lang), func.count())
                .where(SearchLog.query != "")
                .group_by(SearchLog.query)
                .order_by(func.count().desc(), SearchLog.query)
                .limit(limit)
            ).all()
    except SQLAlchemyError:
        return []
    finally:
        engine.dispose()
    return [EvalQuery(lang or "", "", query) for query, lang, _count in rows]


def uncovered(added: Sequence[str], queries: Sequence[EvalQuery]) -> list[str]:
    """The added article ids that no eval query expects (their effect on search goes unmeasured)."""
    covered = {(q.lang, q.expected) for q in queries}
    return [aid for aid in added if tuple(aid.split("/", 1)) not in covered]


def accept_answers(path: Path, changes: Sequence[QueryChange]) -> list[QueryChange]:
    """Record the new first answer of each change as the expected article of its eval query (the TSV row
    with the same lang, expected and query), for changes answered after with another article; the file
    is rewritten atomically, every other line as it was.

    Returns:
        The changes recorded.
    """
    wanted = {
        (c.lang, c.expected, c.query): c
        for c in changes
        if c.expected and c.after and c.answered_after and c.after[0] != c.expected
    }
    if not wanted:
        return []
    lines = path.read_text(encoding="utf-8").split("\n")
    done: list[QueryChange] = []
    for i, line in enumerate(lines[1:], start=1):
        cells = line.split("\t")
        if len(cells) < 3:
            continue
        key = (cells[0].strip(), cells[1].strip().split("/")[-1], cells[2])
        change = wanted.pop(key, None)
        if change is not None:
            cells[1] = change.after[0]
            lines[i] = "\t".join(cells)
            done.append(change)
    if done:
        atomic_write_text(path, "\n".join(lines))
    return done
