"""CPU thread budgets for serving.

A search does single-vector work (one query embedding, one matrix-vector product, one BM25 pass): extra
threads per query only add hand-offs and, on a small machine serving several requests at once, make the
workers fight for the same cores (a multi-threaded BLAS product of a 2,500-chunk index took 17 ms on a
busy 2-core machine, 0.14 ms on one thread). So the searcher runs its numpy products on one BLAS thread,
and a server process gives torch, BLAS and FAISS one thread each and scales with processes instead
(`web/gunicorn.conf.py`).
"""

from __future__ import annotations

import os
import sys

_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def thread_env(threads: int = 1) -> None:
    """Set the thread variables that native libraries read when they load (before numpy/torch import)."""
    for name in _ENV:
        os.environ.setdefault(name, str(threads))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def limit_blas(threads: int = 1) -> None:
    """Cap the BLAS libraries already loaded in this process (numpy's, FAISS's) at `threads`."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")


def limit_all(threads: int = 1) -> None:
    """One budget for every native pool of this process: BLAS, FAISS's OpenMP, and torch if it is loaded
    (importing torch only for this would cost seconds; the model sets its own threads when it loads)."""
    import faiss

    limit_blas(threads)
    faiss.omp_set_num_threads(threads)
    if "torch" in sys.modules:
        from kb_engine.search.embedding import configure_threads

        configure_threads(threads)
