"""The answer card (issue 26): the article's own words for the section that answers, on the results page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kb_engine.search.answer import _cut, answer_card, highlight, response_card
from kb_engine.search.searcher import Searcher
from tests.conftest import MODEL, csrf_token, login_staff


@pytest.fixture(scope="module")
def searcher(index_dir: Path, embedder) -> Searcher:
    return Searcher(index_dir, model=MODEL, embedder=embedder)


def test_card_is_the_sections_own_markdown_sanitised_and_marked(searcher: Searcher) -> None:
    hit = searcher.search("my account is locked on my iphone").hits[0]
    article = searcher.article(hit.id)
    card = answer_card(
        article, hit.section["heading"], "my account is locked on my iphone", searcher.glossary
    )
    assert card is not None
    assert card.url == "/articles/en/account-locked#phone"
    assert card.markdown in article.body  # never text the article does not contain
    assert "<ol>" in card.html and "<mark>iPhone</mark>" in card.html
    assert ' id="' not in card.html  # no second copy of the article's anchors


def test_long_sections_are_cut_between_blocks() -> None:
    text = "First paragraph.\n\n1. one\n2. two\n\n" + "Long paragraph. " * 100
    cut, truncated = _cut(text, 100)
    assert truncated and cut == "First paragraph.\n\n1. one\n2. two"
    assert _cut("Short.", 100) == ("Short.", False)


def test_highlight_skips_links_and_code_and_matches_stems() -> None:
    html = '<p>Restart the printers. <a href="/x">printer page</a> <code>printer</code></p>'
    marked = highlight(html, frozenset({"printer", "restart"}), "en")
    assert marked.count("<mark>") == 2 and "<mark>printers</mark>" in marked
    assert '<a href="/x">printer page</a>' in marked


@pytest.mark.parametrize(
    ("query", "lang", "heading"),
    [
        ("my account is locked on my iphone", "en", "Steps › Phone"),
        ("compte bloqué sur mon mac", "fr", "Procédure › macOS"),
    ],
)
def test_confident_results_show_the_card(client, query: str, lang: str, heading: str) -> None:
    page = client.get("/search", query_string={"q": query, "lang": lang}).get_data(as_text=True)
    assert 'class="answer-card"' in page
    assert heading in page
    more = r'class="answer-more"[^>]*><a href="/articles/' + lang + r'/account-locked\?[^"]*#'
    assert re.search(more, page)


def test_no_card_when_the_engine_is_not_sure(client) -> None:
    page = client.get("/search", query_string={"q": "the coffee machine upstairs"}).get_data(as_text=True)
    assert "answer-card" not in page


def test_yes_on_the_card_keeps_the_customer_on_the_results(client) -> None:
    query = "my account is locked on my iphone"
    response = client.post("/search", data={"q": query, "csrf_token": csrf_token(client)})
    location = response.headers["Location"]
    search_id = int(re.search(r"s=(\d+)", location).group(1))
    token = csrf_token(client, location)
    answer = client.post(
        "/articles/en/account-locked/feedback",
        data={"helped": "yes", "s": search_id, "from": "card", "csrf_token": token},
    )
    assert answer.status_code == 303
    assert "/search?" in answer.headers["Location"] and "solved=1" in answer.headers["Location"]
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert 'id="answer-thanks"' in page


def test_clarifying_question_only_when_asked_and_a_click_reranks(searcher: Searcher) -> None:
    query = "how do i clear my browser cache"
    plain = searcher.search(query)
    assert plain.clarify is None and "clarify" not in plain.to_dict()  # scripts are unaffected
    phone = searcher.search(query, facet="phone")
    assert phone.facet == "phone" and phone.to_dict()["facet"] == "phone"
    for hit in phone.hits:
        if hit.section and hit.id.endswith(("/account-locked", "/password-reset")):
            assert "Phone" in hit.section["heading"] or "Téléphone" in hit.section["heading"]
    assert searcher.search(query, facet="not-a-platform").facet is None


def test_a_named_platform_asks_nothing(searcher: Searcher) -> None:
    assert searcher.search("account locked on my iphone", clarify=True).clarify is None


def results(client, **args: str) -> str:
    return client.get("/search", query_string=args).get_data(as_text=True)


def test_results_page_keeps_the_chosen_platform_for_the_session(client) -> None:
    page = results(client, q="account locked", facet="macos")
    assert "Showing the steps for" in page
    assert re.search(r'href="/articles/en/account-locked\?[^"]*#macos"', page)
    again = results(client, q="forgot my password")
    assert "Showing the steps for" in again  # kept for the next search
    forgot = results(client, q="forgot my password", facet="")
    assert "Showing the steps for" not in forgot


def test_mail_reply_card_is_plain_text_with_the_link_to_the_section(searcher: Searcher) -> None:
    response = searcher.search("my account is locked on my iphone")
    text = response_card(searcher, response, base_url="https://help.example.com", query="ch=email")
    assert text is not None
    assert text.startswith("Account locked after too many attempts › Steps › Phone")
    assert "1. iPhone: Settings > Mail > Accounts" in text and "**" not in text
    assert text.endswith("https://help.example.com/articles/en/account-locked?ch=email#phone")
    assert response_card(searcher, searcher.search("the coffee machine upstairs")) is None


def test_the_question_is_asked_logged_and_a_click_reranks_and_is_logged(app, client) -> None:
    from kb_engine.helpdesk.models import SearchLog
    from web.resources import get_db

    query = "the vpn wont connect"
    posted = client.post("/search", data={"q": query, "csrf_token": csrf_token(client)})
    location = posted.headers["Location"]
    search_id = int(re.search(r"s=(\d+)", location).group(1))
    page = client.get(location).get_data(as_text=True)
    assert "Which one are you using?" in page
    options = re.findall(r'name="facet" value="([a-z]+)"', page)
    assert len(options) >= 2 and "phone" in options
    clicked = client.post(
        "/search/facet",
        data={"q": query, "s": search_id, "facet": "phone", "csrf_token": csrf_token(client, location)},
    )
    assert clicked.status_code == 303 and "facet=phone" in clicked.headers["Location"]
    after = client.get(clicked.headers["Location"]).get_data(as_text=True)
    assert "Showing the steps for" in after and "Which one are you using?" not in after
    assert re.search(r'href="/articles/en/vpn-cannot-connect\?[^"]*#phone"', after)
    with app.app_context():
        entry = get_db().get(SearchLog, search_id)
        assert (entry.clarify, entry.facet) == ("platform", "phone")
    # The next search is logged with the kept choice, and asks nothing.
    again = client.post(
        "/search", data={"q": "connected to wifi but no internet", "csrf_token": csrf_token(client)}
    )
    next_id = int(re.search(r"s=(\d+)", again.headers["Location"]).group(1))
    with app.app_context():
        entry = get_db().get(SearchLog, next_id)
        assert (entry.clarify, entry.facet) == (None, "phone")


def test_a_value_not_offered_is_refused_and_changes_nothing(client) -> None:
    results(client, q="account locked", facet="macos")
    refused = client.post(
        "/search/facet", data={"q": "account locked", "facet": "amiga", "csrf_token": csrf_token(client)}
    )
    assert refused.status_code == 400 and "choose one of the platforms" in refused.get_data(as_text=True)
    assert "Showing the steps for" in results(client, q="account locked")  # the kept choice is intact


def test_the_api_answers_the_card_only_when_asked(client) -> None:
    query = {"q": "my account is locked on my iphone", "k": 3}
    plain = client.get("/api/v1/search", query_string=query).get_json()
    assert "answer" not in plain  # scripts see no change
    card = client.get("/api/v1/search", query_string={**query, "answer": 1}).get_json()["answer"]
    assert card["url"] == "/articles/en/account-locked#phone" and card["heading"] == "Steps > Phone"
    assert "<ol>" in card["html"] and "<mark>" in card["html"] and "<script" not in card["html"]
    assert card["text"].startswith("Account locked after too many attempts › Steps › Phone")
    unsure = client.get("/api/v1/search", query_string={"q": "the coffee machine upstairs", "answer": 1})
    assert unsure.get_json()["answer"] is None


def test_agents_see_the_card_in_the_ticket_suggestions_and_can_insert_its_steps(app, client) -> None:
    from tests.console.conftest import open_ticket

    reference = open_ticket(app, query="my account is locked on my iphone", contact_email="ana@example.com")
    login_staff(app, client, "lena", "agent-L1")
    page = client.get(f"/console/tickets/{reference}").get_data(as_text=True)
    card = page[page.index('id="agent-answer"') :]
    assert "Steps › Phone" in card[:2000] and "<ol>" in card[:4000]
    assert re.search(r'href="/console/articles/en/account-locked#phone"', card)
    insert = re.search(r'name="insert" value="([^"]*)" class="link insert-link"', card)
    assert insert and insert.group(1).startswith("Account locked after too many attempts › Steps › Phone")
    assert "/articles/en/account-locked#phone" in insert.group(1)
