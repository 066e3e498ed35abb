"""Re-index an articles folder as its files change (`kb watch`, `kb serve --watch`).

Changes are collected until the folder has been quiet for a moment (`quiet` seconds, at most `max_wait`
after the first change), then one build runs: a storm of saves (an editor writing several files, a
`git checkout`, a search-and-replace) gives one rebuild, not one per file. The build is the ordinary
incremental one (unchanged chunks come from the embedding cache) and publishes atomically, so a running
server switches to it on its next index check without a restart. Saves made during a build are kept and
trigger the next one.

watchfiles does the watching and groups changes into batches; the quiet-then-build loop stays here on
purpose, since what it decides is the build's, not the watcher's: wait for `quiet` seconds, never past
`max_wait`, and keep the saves made during a build (or while the index is busy) for the next one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles import Change, watch

from indexer.build import BuildReport
from kb_engine.content.articles import problem_line
from kb_engine.errors import IndexBusy, KBError

log = logging.getLogger(__name__)

QUIET_SECONDS = 0.5
MAX_WAIT_SECONDS = 10.0
BUSY_RETRY_SECONDS = 2.0


@dataclass
class Rebuild:
    """One rebuild: the files that triggered it, and its report or the error it failed with."""

    changed: list[str] = field(default_factory=list)
    report: BuildReport | None = None
    error: str | None = None

    def summary(self, folder: str = "") -> str:
        """One line saying what happened (and why), then one `path:line: error: reason` line per file that
        could not be used (paths under `folder` when given, as editors and CI annotations want them)."""
        shown = ", ".join(self.changed[:3]) + ("…" if len(self.changed) > 3 else "")
        cause = f" ({len(self.changed)} changed: {shown})" if self.changed else ""
        if self.report is None:
            return f"rebuild failed{cause}: {self.error}"
        report = self.report
        if report.up_to_date:
            head = f"up to date: {report.articles} articles{cause}"
        else:
            head = (
                f"rebuilt {report.build_id}: {report.articles} articles, {report.embedded} chunks embedded, "
                f"{report.cached} cached, {report.seconds:.1f}s{cause}"
            )
        if report.kept:
            head += f"; {len(report.kept)} kept from the last good build"
        return "\n".join([head, *(f"  {problem_line(p, folder)}" for p in report.problems)])


def is_source(path: Path, root: Path) -> bool:
    """Whether a changed path can change the index: an article, or a top-level YAML file of the folder
    (glossary, out-of-scope requests; a change that does not feed the index is an "up to date" no-op)."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False
    if not parts or any(part.startswith(".") for part in parts):
        return False
    return path.suffix == ".md" or (len(parts) == 1 and path.suffix in (".yml", ".yaml"))


def watch_articles(
    articles_dir: Path,
    build: Callable[[], BuildReport],
    *,
    on_rebuild: Callable[[Rebuild], None] = lambda r: log.info("%s", r.summary()),
    quiet: float = QUIET_SECONDS,
    max_wait: float = MAX_WAIT_SECONDS,
    stop: threading.Event | None = None,
    initial: bool = True,
) -> None:
    """Rebuild the index whenever the articles change, until `stop` is set (or KeyboardInterrupt).

    Args:
        articles_dir: the folder to watch (recursively).
        build: runs one incremental build and publishes it (a `build_index` call with the settings bound).
        on_rebuild: told about every build, successful or not (the CLI prints a line).
        quiet: seconds without a change before a build starts.
        max_wait: a build starts at the latest this many seconds after the first unbuilt change.
        stop: set it to end the watch (checked at least every `quiet` seconds).
        initial: build once at start, so the index matches the folder before the first change.
    """
    root = Path(articles_dir).resolve()
    stop = stop or threading.Event()
    pending: set[str] = set()
    first_change = 0.0
    changes = watch(
        root,
        watch_filter=lambda _change, path: is_source(Path(path), root),
        step=50,
        debounce=int(max_wait * 1000),
        rust_timeout=max(1, int(quiet * 1000)),
        yield_on_timeout=True,  # an empty batch means "quiet for `quiet` seconds"
        stop_event=stop,
    )
    for batch in changes:
        # The initial build runs once the watcher is up (its first batch), so no save is ever missed.
        if initial:
            initial = False
            _run(build, [], on_rebuild, stop)
        if batch:
            first_change = first_change if pending else time.monotonic()
            pending.update(_shown(Path(path), root, change) for change, path in batch)
        if pending and (not batch or time.monotonic() - first_change >= max_wait):
            changed, pending = sorted(pending), set()
            if not _run(build, changed, on_rebuild, stop):
                pending.update(changed)  # the index was busy: try again on the next quiet moment
                first_change = time.monotonic()


def _shown(path: Path, root: Path, change: Change) -> str:
    rel = str(path.relative_to(root))
    return f"{rel} (deleted)" if change == Change.deleted else rel


def _run(
    build: Callable[[], BuildReport],
    changed: list[str],
    on_rebuild: Callable[[Rebuild], None],
    stop: threading.Event,
) -> bool:
    """One build; False when another indexer held the lock (the caller retries later)."""
    try:
        rebuild = Rebuild(changed, report=build())
    except IndexBusy as exc:
        log.info("%s; retrying", exc.message)
        stop.wait(BUSY_RETRY_SECONDS)
        return False
    except KBError as exc:
        rebuild = Rebuild(changed, error=exc.message)
    except Exception as exc:  # noqa: BLE001 - one failed build must not end the watch
        log.exception("rebuild failed")
        rebuild = Rebuild(changed, error=f"{type(exc).__name__}: {exc}")
    on_rebuild(rebuild)
    return True


def watch_in_background(
    articles_dir: Path, build: Callable[[], BuildReport], **options: object
) -> tuple[threading.Thread, threading.Event]:
    """Start `watch_articles` in a daemon thread (for `kb serve --watch`); set the event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=watch_articles,
        args=(articles_dir, build),
        kwargs={**options, "stop": stop},
        name="kb-watch",
        daemon=True,
    )
    thread.start()
    return thread, stop
