"""Ranking behaviour with the real model, and the CLI JSON contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb_engine.cli.main import cli
from kb_engine.errors import InvalidQuery
from kb_engine.search.searcher import Searcher
from tests.conftest import MODEL


@pytest.fixture(scope="module")
def searcher(index_dir: Path, embedder) -> Searcher:
    return Searcher(index_dir, model=MODEL, embedder=embedder)


def test_forgot_password_finds_password_article(searcher: Searcher) -> None:
    response = searcher.search("I forgot my password")
    assert response.answered
    assert response.hits[0].id == "en/password-reset"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("my laptop crashed into a sad face error and rebooted", "en/blue-screen"),
        ("cannot reach the office from home since this morning", "en/vpn-cannot-connect"),
        ("my inbox has no room left", "en/mailbox-full"),
    ],
)
def test_paraphrase_with_no_shared_words_finds_the_article(
    searcher: Searcher, query: str, expected: str
) -> None:
    title = searcher.article(expected).title.lower()
    assert not set(query.lower().split()) & set(title.split()) - {"a", "the", "my"}
    assert searcher.search(query).hits[0].id == expected


@pytest.mark.parametrize(
    "query",
    [
        "how many days of paid holiday do I have left",
        "recipe for a chocolate cake",
        "who won the football match",
    ],
)
def test_out_of_scope_query_is_not_answered(searcher: Searcher, query: str) -> None:
    assert not searcher.search(query).answered


def test_french_query_gets_the_french_article(searcher: Searcher) -> None:
    response = searcher.search("j'ai oublié mon mot de passe")
    assert response.lang == "fr"
    assert response.hits[0].id == "fr/password-reset"
    assert all(h.lang == "fr" for h in response.hits)


def test_translations_are_grouped_into_one_hit(searcher: Searcher) -> None:
    slugs = [h.id.split("/")[1] for h in searcher.search("printer offline", k=10).hits]
    assert len(slugs) == len(set(slugs))


def test_internal_articles_only_for_agents(searcher: Searcher) -> None:
    query = "how do I escalate a ticket to level 2"
    assert all(h.audience == "public" for h in searcher.search(query, k=10).hits)
    agent = searcher.search(query, k=3, include_internal=True)
    assert agent.hits[0].id == "en/escalation-procedure"


def test_query_too_long_is_refused_clearly(searcher: Searcher) -> None:
    with pytest.raises(InvalidQuery, match="limit"):
        searcher.search("x" * 1_000_000)


@pytest.mark.parametrize("query", ["", "   ", "\x00\x01\x02", "🙂🙂🙂", "!!!???", "ñ" * 500, "\u202e\u200b"])
def test_odd_queries_do_not_crash(searcher: Searcher, query: str) -> None:
    response = searcher.search(query)
    assert isinstance(response.answered, bool)


def _check_contract(data: dict, query: str) -> None:
    assert data["query"] == query
    assert isinstance(data["answered"], bool)
    assert isinstance(data["confidence"], float) and 0.0 <= data["confidence"] <= 1.0
    assert isinstance(data["hits"], list)
    for hit in data["hits"]:
        assert isinstance(hit["id"], str) and hit["id"].count("/") == 1
        assert isinstance(hit["title"], str) and hit["title"]
        assert hit["lang"] in {"en", "fr"} and hit["id"].startswith(hit["lang"] + "/")
        assert isinstance(hit["score"], float)
        assert hit["url"] == f"/articles/{hit['id']}"
    scores = [h["score"] for h in data["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_cli_search_json_contract(runner, index_dir: Path) -> None:
    result = runner.invoke(
        cli, ["search", "--index-dir", str(index_dir), "--json", "--k", "3", "printer", "offline"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    _check_contract(data, "printer offline")
    assert len(data["hits"]) == 3
    assert data["hits"][0]["id"] == "en/printer-offline"


def test_cli_search_stdin_one_json_line_per_query_in_order(runner, index_dir: Path) -> None:
    queries = ["I forgot my password", "", "le wifi est connecté mais pas d'internet", "x" * 5000, "vpn"]
    result = runner.invoke(
        cli,
        ["search", "--index-dir", str(index_dir), "--json", "--stdin", "--k", "2"],
        input="\n".join(queries) + "\n",
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [d["query"] for d in lines] == queries
    for data, query in zip(lines, queries, strict=True):
        _check_contract(data, query)
    assert lines[0]["hits"][0]["id"] == "en/password-reset"
    assert lines[1]["hits"] == [] and lines[1]["answered"] is False
    assert lines[2]["hits"][0]["id"] == "fr/wifi-no-internet"
    assert "error" in lines[3] and "limit" in lines[3]["error"]


def test_cli_search_human_output(runner, index_dir: Path) -> None:
    result = runner.invoke(
        cli, ["search", "--index-dir", str(index_dir), "my", "vpn", "will", "not", "connect"]
    )
    assert result.exit_code == 0
    assert "1. VPN will not connect (en/vpn-cannot-connect)" in result.output


def test_snippets_have_no_list_markers(searcher: Searcher) -> None:
    for query in ("printer offline", "paper jam", "vpn will not connect", "mot de passe oublié"):
        for hit in searcher.search(query, k=5).hits:
            assert hit.snippet and not hit.snippet.startswith(("- ", "* ", "1. ")), hit.snippet
            assert " - " not in hit.snippet and " 2. " not in hit.snippet, hit.snippet
