"""The app each OpenAPI document is checked against: a fresh SQLite database and the hashing index."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.api.documents import DOCUMENTS, Document
from tests.apps import served_app

# The fixed run draws the same cases every time, so that a failure reproduces. The random run adds a fresh
# seed per session, printed with its failures: KB_API_FUZZ_SEED=<seed> replays it.
FIXED_SEED = 29
STATEFUL_STEPS = 6


@dataclass(frozen=True)
class Run:
    name: str
    seed: int
    share: float  # of the document's max_examples


def _runs() -> tuple[Run, ...]:
    replay = os.environ.get("KB_API_FUZZ_SEED")
    random_seed = int(replay) if replay else random.SystemRandom().getrandbits(32)
    return (Run("fixed", FIXED_SEED, 1.0), Run("random", random_seed, 0.4))


RUNS = _runs()


@dataclass(frozen=True)
class Target:
    """A document of an app, loaded by schemathesis with the settings of one run."""

    document: Document
    run: Run
    app: Any
    schema: Any = None

    @property
    def max_examples(self) -> int:
        return max(2, round(self.document.max_examples * self.run.share))

    def describe(self) -> str:
        return (
            f"{self.document.name} API, {self.run.name} run, seed {self.run.seed} "
            f"(KB_API_FUZZ_SEED={self.run.seed} replays the random run)"
        )

    def config(self) -> Any:
        from schemathesis.config import SchemathesisConfig

        return SchemathesisConfig.from_dict(
            {
                "seed": self.run.seed,
                "headers": self.document.headers(self.app),
                "generation": {"max-examples": self.max_examples, "database": "none"},
                "phases": {
                    "examples": {"enabled": True},
                    "coverage": {"enabled": True},
                    "fuzzing": {"enabled": True},
                    "stateful": {"enabled": True, "max-steps": STATEFUL_STEPS},
                },
                "operations": list(self.document.operations),
            }
        )


@pytest.fixture(
    params=[(d, r) for d in DOCUMENTS for r in RUNS],
    ids=[f"{d.name}-{r.name}" for d in DOCUMENTS for r in RUNS],
)
def api_target(
    request: pytest.FixtureRequest, tmp_path: Path, articles_dir: Path, hashing_index: Path
) -> Iterator[Target]:
    """One document of a fresh app (its own database, never the real instance), loaded by schemathesis."""
    import schemathesis

    document, run = request.param
    with served_app(tmp_path, articles_dir, hashing_index) as app:
        target = Target(document, run, app)
        print(target.describe())  # shown with a failure's captured output
        schema = schemathesis.openapi.from_wsgi(document.path, app, config=target.config())
        yield Target(document, run, app, schema)


@pytest.fixture()
def api_schema(api_target: Target) -> Any:
    return api_target.schema


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32 (lazy pytest schemas) reads and relabels `node._nodeid`, which pytest 9.2 no longer
    has (node ids are `NodeId` objects behind `nodeid`): give it the attribute it reads. Only the labels of
    the per-operation reports depend on it."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.fixture()
def api_app(tmp_path: Path, articles_dir: Path, hashing_index: Path) -> Iterator[Any]:
    """The app over the hashing index, with its own database."""
    with served_app(tmp_path, articles_dir, hashing_index) as app:
        yield app
