"""Internal articles never reach a customer: every query of the eval sets, replayed as a customer, finds none
of them in results, snippets, the API (which the suggestions use) or article pages. Agents do see them."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import pytest

from kb_engine.content.articles import scan_articles
from kb_engine.search.evaluation import EvalQuery, load_queries
from tests.apps import served_app
from tests.conftest import ROOT, SHIPPED, login_staff

INTERNAL = [a for a in scan_articles(SHIPPED).articles if a.audience == "internal"]


@pytest.fixture(scope="module")
def shipped_hashing_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole shipped knowledge base, indexed with the fast hashing model (visibility needs no model)."""
    from indexer.build import build_index
    from kb_engine.search.embedding import HashingEmbedder

    out = tmp_path_factory.mktemp("shipped-hashing-index")
    report = build_index(SHIPPED, out, model="hashing", embedder_factory=HashingEmbedder, progress=False)
    assert not report.problems, report.problems
    return out


@pytest.fixture()
def shipped_app(tmp_path: Path, shipped_hashing_index: Path):
    articles = tmp_path / "articles"
    shutil.copytree(SHIPPED, articles)
    with served_app(tmp_path, articles, shipped_hashing_index) as app:
        yield app


def leaks(text: str) -> list[str]:
    found = []
    for art in INTERNAL:
        for marker in (f"/articles/{art.lang}/{art.slug}", art.title, art.body.strip().splitlines()[0][:60]):
            if marker and marker in text:
                found.append(f"{art.id}: {marker!r}")
    return found


def test_the_knowledge_base_has_internal_articles() -> None:
    assert len(INTERNAL) >= 2


def test_every_eval_query_as_a_customer_finds_no_internal_article(shipped_app) -> None:
    queries = load_queries(ROOT / "eval" / "queries.tsv") + load_queries(ROOT / "eval" / "holdout.tsv")
    internal_ids = {a.id for a in INTERNAL}
    assert len(queries) > 900
    # The eval sets aim at public articles: add the internal articles' own titles, questions and tags.
    aimed = [EvalQuery(a.lang, a.slug, text) for a in INTERNAL for text in (a.title, *a.questions, *a.tags)]
    queries += aimed
    client = shipped_app.test_client()
    checked = 0
    for i, q in enumerate(queries):
        api = client.get("/api/v1/search", query_string={"q": q.query, "known_issues": "true", "k": 10})
        if api.status_code == 400:
            continue
        data = api.get_json()
        assert not {h["id"] for h in data["hits"]} & internal_ids, q.query
        shown = json.dumps([data["hits"], data.get("known_issue"), data.get("redirect")], ensure_ascii=False)
        assert not leaks(shown), q.query
        checked += 1
        # The HTML results page, for the queries aimed at internal articles and a sample of the others.
        if q in aimed or i % 10 == 0:
            page = client.get("/search", query_string={"q": q.query}).get_data(as_text=True)
            echoed = page.replace(html.escape(q.query), "").replace(q.query, "")  # the search box shows it
            assert not leaks(echoed), q.query
    assert checked > 900 and len(aimed) >= len(INTERNAL)


@pytest.mark.parametrize("art", INTERNAL, ids=lambda a: a.id)
def test_internal_article_pages_are_not_found_by_customers_but_shown_to_agents(shipped_app, art) -> None:
    client = shipped_app.test_client()
    assert client.get(f"/articles/{art.lang}/{art.slug}").status_code == 404
    assert client.get(f"/api/v1/articles/{art.lang}/{art.slug}").status_code == 404
    assert client.get("/contact", query_string={"solved": art.id}).status_code == 200
    assert not leaks(client.get("/contact", query_string={"solved": art.id}).get_data(as_text=True))
    login_staff(shipped_app, client, "agent")
    assert client.get(f"/console/articles/{art.lang}/{art.slug}").status_code == 200
