"""Files rewritten while others read them: atomic writes, and writers that take turns across processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from kb_engine.content.files import Timeout, atomic_file, atomic_write_text, exclusive
from kb_engine.content.learned import LEARNED_FILE, approve, load_learned

WRITERS = 6
EACH = 4


def _approve_many(articles: str, writer: int, ready: multiprocessing.synchronize.Barrier) -> None:
    ready.wait()  # every writer starts at once: the read-modify-writes overlap
    for n in range(EACH):
        approve(Path(articles), f"en/article-{n % 2}", f"question {n} from writer {writer}")


def test_concurrent_approvals_all_land(tmp_path: Path) -> None:
    (tmp_path / LEARNED_FILE).write_text("en/article-0:\n  - already approved\n", encoding="utf-8")
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Barrier(WRITERS)
    workers = [ctx.Process(target=_approve_many, args=(str(tmp_path), w, ready)) for w in range(WRITERS)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert [w.exitcode for w in workers] == [0] * WRITERS
    learned, _ = load_learned(tmp_path)
    landed = set(learned["en/article-0"]) | set(learned["en/article-1"])
    expected = {f"question {n} from writer {w}" for n in range(EACH) for w in range(WRITERS)}
    assert landed == expected | {"already approved"}
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary file left


def test_two_approvals_of_the_same_question_keep_one(tmp_path: Path) -> None:
    assert approve(tmp_path, "en/a", "my  screen\tis black")
    assert not approve(tmp_path, "en/a", "my screen is black")
    assert load_learned(tmp_path)[0] == {"en/a": ["my screen is black"]}


def test_failed_atomic_write_keeps_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(target, "half \udcff written")  # a lone surrogate cannot be encoded
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]
    atomic_write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert target.stat().st_mode & 0o777 == 0o644


def test_failed_binary_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_file(target, "wb") as fh:
        fh.write(b"half")
        raise RuntimeError("the writer died")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["model.bin"]
    with atomic_file(target, "wb") as fh:
        fh.write(b"new")
    assert target.read_bytes() == b"new"


def test_exclusive_refuses_a_second_holder_when_asked_not_to_wait(tmp_path: Path) -> None:
    with exclusive(tmp_path / ".lock"), pytest.raises(Timeout), exclusive(tmp_path / ".lock", wait=False):
        pass
    with exclusive(tmp_path / ".lock", wait=False):  # released: free again
        pass
