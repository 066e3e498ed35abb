"""Query language detection (kb_engine/search/language.py) and what the server's master does with it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from kb_engine.search.language import detect_language


@pytest.mark.parametrize(
    ("query", "lang"),
    [
        ("mon imprimante ne marche plus", "fr"),
        ("mdp oublie", "fr"),
        ("my printer stopped working", "en"),
        ("vpn keeps dropping", "en"),
    ],
)
def test_short_queries_get_their_language(query: str, lang: str) -> None:
    assert detect_language(query, ("en", "fr"))[0] == lang


def test_warm_up_starts_no_thread_and_detection_works_after_a_fork() -> None:
    """gunicorn's master warms the detector up before forking its workers (web/gunicorn.conf.py): a thread
    started there would be missing in every worker, so warming up must start none."""
    script = textwrap.dedent(
        """
        import os
        from kb_engine.search.language import detect_language, warm_up
        before = len(os.listdir("/proc/self/task"))
        warm_up()
        after = len(os.listdir("/proc/self/task"))
        pid = os.fork()
        if pid == 0:
            import signal
            signal.alarm(60)
            ok = detect_language("le wifi ne marche plus", ("en", "fr"))[0] == "fr"
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        print(before, after, os.waitstatus_to_exitcode(status))
        """
    )
    command = [sys.executable, "-c", script]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    before, after, child = out.stdout.split()
    assert after == before, f"warm_up started {int(after) - int(before)} thread(s)"
    assert child == "0"
