"""Measuring helpers of `kb bench`: percentiles, the machine, sizes, ports, memory.

Standard library only, besides kb_engine.stats (tests/test_perf.py keeps it so): scripts/loadtest.py, which
must run without the project's dependencies, takes its percentiles from here too, so every figure the
project prints uses one definition (kb_engine.stats.percentile, the dashboard's too).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kb_engine.stats import percentile  # the one definition (re-exported: scripts/loadtest.py takes it here)

CHUNKS_PER_ARTICLE = 20  # title, 4 questions, an intro and 14 sections of under 120 words (one window each)
SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}
SYNTHETIC_MODEL = "bench-synthetic"
CATEGORIES = ("accounts", "network", "email", "printing", "computer", "software", "files", "security")
HTTP_LEVELS = (1, 8, 32, 64)
ROOT = Path(__file__).resolve().parents[2]


# -- measuring helpers ----------------------------------------------------------------------------------
def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 and mean of a list of milliseconds (`percentile`; empty -> zeros)."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "mean": 0.0, "n": 0}
    return {
        "p50": round(percentile(values, 50), 3),
        "p95": round(percentile(values, 95), 3),
        "p99": round(percentile(values, 99), 3),
        "mean": round(sum(values) / len(values), 3),
        "n": len(values),
    }


def machine() -> dict[str, Any]:
    """What the numbers were measured on (CPU, cores, memory, load, library versions)."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gib = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    versions = {}
    for name, package in (
        ("torch", "torch"),
        ("faiss", "faiss-cpu"),
        ("bm25s", "bm25s"),
        ("sentence_transformers", "sentence-transformers"),
        ("onnxruntime", "onnxruntime"),
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(package)  # without importing torch here
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        **versions,
    }


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
