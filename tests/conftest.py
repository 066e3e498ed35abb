"""Shared fixtures: a small real articles folder, a real index built once with the real model, the app."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from indexer.build import build_index, embed_texts
from kb_engine.search.embedding import Embedder, HashingEmbedder, load_embedder
from tests import log_privacy
from tests.databases import migrated_sqlite

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "articles"
MODEL = "all-MiniLM-L6-v2"
# A slice of the shipped knowledge base: real Markdown, both languages, one internal article.
SAMPLE_SLUGS = (
    "password-reset",
    "account-locked",
    "printer-offline",
    "vpn-cannot-connect",
    "wifi-no-internet",
    "mailbox-full",
    "blue-screen",
    "escalation-procedure",
)


def copy_sample(dest: Path, slugs: tuple[str, ...] = SAMPLE_SLUGS) -> Path:
    for lang in ("en", "fr"):
        (dest / lang).mkdir(parents=True, exist_ok=True)
        for slug in slugs:
            shutil.copy(SHIPPED / lang / f"{slug}.md", dest / lang / f"{slug}.md")
    shutil.copy(SHIPPED / "glossary.yml", dest / "glossary.yml")
    shutil.copy(SHIPPED / "categories.yml", dest / "categories.yml")
    return dest


@pytest.fixture(autouse=True)
def stop_background_runners(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Stop, after each test, the background runner (outbox, webhooks, automations) every app it created
    started: left running, it polls a database the test has dropped and allocates in threads other tests
    measure (tracemalloc counts every thread)."""
    from kb_engine.helpdesk.periodic import PeriodicRunner

    started: list[PeriodicRunner] = []
    original = PeriodicRunner.start

    def start(self: PeriodicRunner) -> PeriodicRunner:
        started.append(self)
        return original(self)

    monkeypatch.setattr(PeriodicRunner, "start", start)
    yield
    for runner in started:
        runner.stop(timeout=30)


@pytest.fixture(scope="session")
def production_hasher() -> Any:
    """The Argon2 hasher staff passwords get in production (kb_engine.helpdesk.users)."""
    from kb_engine.helpdesk import users

    return users._hasher


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes(production_hasher: Any) -> Iterator[None]:
    """Staff passwords hashed with the cheapest Argon2id parameters in this process: the production ones
    (64 MiB, 3 passes: deliberately slow) cost a hash and a check per staff login, hundreds of times a
    run. What the tests check of logins does not depend on the cost; tests/console/test_users.py checks the
    production parameters, and the servers tests start in subprocesses (kb serve, gunicorn) keep them."""
    from argon2 import PasswordHasher

    from kb_engine.helpdesk import users

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "_hasher", cheap)
        patch.setattr(users, "_DUMMY_HASH", cheap.hash("not a real password: constant-time refusals"))
        yield


@pytest.fixture(autouse=True)
def no_personal_data_in_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test whose servers logged a customer's email or query text (tests/log_privacy.py)."""
    folder = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    root = logging.getLogger()
    recorder = log_privacy.Recorder()
    level = root.level
    root.addHandler(recorder)
    root.setLevel(min(level or logging.WARNING, logging.INFO))
    try:
        yield
    finally:
        root.removeHandler(recorder)
        root.setLevel(level)
    if request.node.get_closest_marker("logs_personal_data"):
        return
    found = log_privacy.leaks(recorder.lines, "log record")
    if folder is not None:
        found += log_privacy.leaks_in_files(folder)
    if found:
        pytest.fail("personal data in server logs:\n" + "\n".join(found[:10]), pytrace=False)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real bundled model, loaded once for the whole run."""
    return load_embedder(MODEL)


@pytest.fixture(scope="session")
def fake_embedder() -> Embedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache for every index the session builds with the real model (they share chunks)."""
    return tmp_path_factory.mktemp("embedding-cache") / "cache.sqlite3"


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One ONNX export of the real model for the whole run (`KB_MODEL_CACHE_DIR`), instead of one in the
    `models/` folder of every index a test serves with the model."""
    folder = tmp_path_factory.mktemp("model-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KB_MODEL_CACHE_DIR", str(folder))
        # The plumbing tests index with MODEL (quick on CPU); commands they run read KB_MODEL. The search
        # quality of the default model is tested on its own indexes (tests/test_quality.py).
        patch.setenv("KB_MODEL", MODEL)
        yield folder


def real_index(articles: Path, out: Path, embedder: Embedder, cache: Path, model: str = MODEL) -> Path:
    """`articles` indexed into `out` with a real model (`embedder`, its embedding cache `cache`); no
    article may have a problem."""
    report = build_index(
        articles, out, model=model, embedder_factory=lambda: embedder, progress=False, cache_path=cache
    )
    assert not report.problems, report.problems
    return out


@pytest.fixture(scope="session")
def articles_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_sample(tmp_path_factory.mktemp("articles"))


@pytest.fixture(scope="session")
def index_dir(
    tmp_path_factory: pytest.TempPathFactory, articles_dir: Path, embedder: Embedder, embedding_cache: Path
) -> Path:
    """A real index of the sample articles built with the real model (once per session)."""
    return real_index(articles_dir, tmp_path_factory.mktemp("index"), embedder, embedding_cache)


@pytest.fixture(scope="session")
def hashing_index(tmp_path_factory: pytest.TempPathFactory, articles_dir: Path) -> Path:
    """The sample articles indexed with the fast hashing model (plumbing tests that need no ranking)."""
    out = tmp_path_factory.mktemp("hashing-index")
    report = build_index(articles_dir, out, model="hashing", embedder_factory=HashingEmbedder, progress=False)
    assert not report.problems, report.problems
    return out


@pytest.fixture(scope="session")
def shipped_index_dir(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, embedding_cache: Path
) -> Path:
    """A real index of the whole shipped knowledge base (once per session)."""
    return real_index(SHIPPED, tmp_path_factory.mktemp("shipped-index"), embedder, embedding_cache)


@pytest.fixture()
def app_config(tmp_path: Path, index_dir: Path) -> dict[str, object]:
    return {
        "INDEX_DIR": str(index_dir),
        "DATABASE_URL": migrated_sqlite(tmp_path / "tickets.sqlite3"),
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "MODEL": MODEL,
        "SESSION_COOKIE_SECURE": False,
        "AUTOMATIONS_EVERY_SECONDS": 0,  # tests run them themselves (tests/tickets/test_automations.py)
        "TESTING": True,
    }


@pytest.fixture()
def app(app_config: dict[str, object]) -> Iterator[object]:
    from web import close_app, create_app

    application = create_app(app_config)
    yield application
    close_app(application)


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def csrf_token(client, path: str = "/") -> str:
    """The CSRF token a page embeds (forms are tested with CSRF on, as in production)."""
    import re

    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


STAFF_PASSWORD = "correct horse battery staple"


def login_staff(app, client, username: str, role: str = "agent-L1", password: str = STAFF_PASSWORD):
    """Create a staff account (`kb_engine.helpdesk.users`) and log `client` in through the console's login
    form.

    Returns the response of the login POST (a 303 to the role's start page).
    """
    from kb_engine.helpdesk.db import make_session_factory
    from kb_engine.helpdesk.users import create_user

    with make_session_factory(app.extensions["kb_engine"])() as session:
        create_user(session, username, password, role)
        session.commit()
    token = csrf_token(client, "/console/login")
    response = client.post(
        "/console/login", data={"csrf_token": token, "username": username, "password": password}
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


# -- browser (shared by every test folder: one Playwright and one Chromium per session) -------------------
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium, once per test session (never a browser downloaded by playwright)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: scripts/services.sh installs the Debian chromium package"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def new_page(browser: Any) -> Iterator[Callable[[], Any]]:
    """Opens pages in fresh browser contexts (separate cookies: one per person in a journey)."""
    contexts: list[Any] = []

    def factory() -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        context.set_default_timeout(20000)
        contexts.append(context)
        return context.new_page()

    yield factory
    for context in contexts:
        context.close()


@pytest.fixture()
def page(new_page: Callable[[], Any]) -> Any:
    return new_page()


@pytest.fixture()
def kb_process(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `kb` subprocesses (output in a log file) and stop them at the end of the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"kb-{len(started)}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "kb_engine", *args],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        proc.log_path = Path(log.name)  # type: ignore[attr-defined]
        log.close()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture()
def cached_embed(embedding_cache: Path, index_dir: Path, embedder):
    """The real model behind the session's embedding cache (filled by `index_dir`): only new chunks are
    embedded."""
    return lambda texts: embed_texts(list(texts), embedding_cache, MODEL, lambda: embedder, 32, False)[0]
