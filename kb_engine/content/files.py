"""Files the engine rewrites while others read them: one atomic write, one inter-process lock.

Readers (a server, an indexer, an author's editor) see either the old file or the new one, never half of
each; two writers of the same file take turns (`filelock`, portable: no `fcntl`, so the library imports
on Windows too).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from filelock import FileLock, Timeout

__all__ = ["Timeout", "atomic_file", "atomic_write_text", "exclusive", "fsync_dir"]


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "w", *, perms: int = 0o644) -> Iterator[IO[Any]]:
    """A file object whose content replaces `path` in one rename, after an fsync, when the block ends.

    The temporary file has a unique name in the same folder (two writers never share one), and is removed
    if the block or the write fails, so the old file stays whole.

    Args:
        path: the file to write.
        mode: "w" (text, UTF-8) or "wb".
        perms: its permissions (mkstemp's 0600 would hide it from a server running as another user).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, perms)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Replace `path` with `text` (UTF-8) atomically (`atomic_file`)."""
    with atomic_file(path, "w", perms=mode) as fh:
        fh.write(text)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable (a no-op where folders cannot be opened: Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (PermissionError, IsADirectoryError):
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive(lock_path: Path, *, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on `lock_path` across processes (and threads: each call is its own holder).

    Raises:
        Timeout: `wait` is False and another holder has the lock.
    """
    # thread_local and not reentrant: a second holder in this process waits like another process would.
    lock = FileLock(lock_path, timeout=-1 if wait else 0, mode=0o644, thread_local=False, is_singleton=False)
    with lock:
        yield
