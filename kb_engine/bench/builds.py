"""Index builds for `kb bench`, each in a child process so that its peak memory is the build's own."""

from __future__ import annotations

import contextlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kb_engine.bench.measure import ROOT, SYNTHETIC_MODEL
from kb_engine.bench.synthetic import SyntheticEmbedder
from kb_engine.search.embedding import Embedder


# -- index builds (in a child process: its peak memory is the build's) -----------------------------------
def _build_worker(args: dict[str, Any]) -> None:
    """Child process: build cold, re-build unchanged, re-build after one article changed; print JSON."""
    from indexer.build import build_index

    articles, index_dir = Path(args["articles"]), Path(args["index_dir"])
    model = args["model"]
    synthetic = model == SYNTHETIC_MODEL
    loaded: dict[str, Embedder] = {}

    def factory() -> Embedder:
        if "e" not in loaded:
            loaded["e"] = SyntheticEmbedder() if synthetic else real_embedder(args)
        return loaded["e"]

    def build() -> tuple[float, Any]:
        started = time.perf_counter()
        report = build_index(articles, index_dir, model=model, embedder_factory=factory, progress=False)
        return time.perf_counter() - started, report

    cold_s, cold = build()
    unchanged_s, unchanged = build()
    edit_article(articles)
    edited_s, edited = build()
    print(
        json.dumps(
            {
                "cold_s": cold_s,
                "embedded": cold.embedded,
                "chunks": cold.chunks,
                "articles": cold.articles,
                "problems": len(cold.problems),
                "unchanged_s": unchanged_s,
                "unchanged_up_to_date": unchanged.up_to_date,
                "edited_s": edited_s,
                "edited_embedded": edited.embedded,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: on Linux a child's ru_maxrss starts at its parent's
    RSS at the fork and survives exec, so a build child of a bench that holds the model would report the
    bench's own size (a synthetic 10k build "peaked" at 741 MB: the parent's torch)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def edit_article(articles: Path, marker: str = "Edited") -> Path:
    """Change one sentence of one article (the first in name order), as an author would."""
    path = sorted(articles.glob("*/*.md"))[0]
    text = path.read_text("utf-8")
    path.write_text(text.rstrip("\n") + f"\n\n{marker} {time.time_ns()}: restart the computer.\n", "utf-8")
    return path


def in_child(function: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run `function(args)` (a dotted module.function name) in a fresh Python process; its last output line
    is JSON."""
    module, _, name = function.rpartition(".")
    code = f"import json, sys; from {module} import {name}; {name}(json.loads(sys.argv[1]))"
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if out.returncode != 0:
        raise RuntimeError(f"{function} failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def real_embedder(args: dict[str, Any]) -> Embedder:
    """The model of a child's arguments (model, threads, runtime, model_cache), as the server loads it."""
    from kb_engine.search.embedding import load_embedder

    cache = args.get("model_cache")
    return load_embedder(
        args["model"],
        threads=args["threads"],
        runtime=args.get("runtime", "auto"),
        cache_dir=Path(cache) if cache else None,
    )


def run_build(articles: Path, index_dir: Path, model: str, model_args: dict[str, Any]) -> dict[str, Any]:
    args = {"articles": str(articles), "index_dir": str(index_dir), "model": model, **model_args}
    return in_child(f"{__name__}._build_worker", args)
