"""The help centre to browse (issue 25): topic tiles with counts, popular articles decaying over time,
recently updated, category pages without internal articles, the 404 page, "Lost your link?"."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from kb_engine.content.articles import Article
from kb_engine.content.browse import category_tiles, in_category, one_per_topic, recently_updated
from kb_engine.content.categories import Category
from kb_engine.helpdesk.models import Feedback, OutboxMessage
from kb_engine.insights.popular import popular_articles, popularity
from tests.conftest import csrf_token


def art(
    lang: str, slug: str, category: str = "accounts", audience: str = "public", updated: str | None = None
):
    return Article(
        id=f"{lang}/{slug}",
        slug=slug,
        lang=lang,
        title=f"{slug} {lang}",
        body="",
        path="",
        sha256="",
        category=category,
        audience=audience,
        updated=updated,
    )


ARTICLES = [
    art("en", "a"),
    art("fr", "a"),
    art("fr", "b"),
    art("en", "c", category="network", updated="2026-01-02"),
    art("en", "secret", audience="internal", updated="2026-12-01"),
    art("en", "d", category="zzz", updated="2025-05-05"),
]
CATS = {
    "network": Category("network", {"en": "Network"}, {}),
    "accounts": Category("accounts", {"en": "Acc"}, {}),
}


def test_one_topic_per_slug_in_the_visitors_language_and_never_internal() -> None:
    shown = {a.id for a in one_per_topic(ARTICLES, "en")}
    assert shown == {"en/a", "fr/b", "en/c", "en/d"}
    assert [a.id for a in in_category(ARTICLES, "accounts", "en")] == ["en/a", "fr/b"]
    assert in_category(ARTICLES, "accounts", "fr")[0].id == "fr/a"


def test_tiles_follow_the_categories_file_order_with_counts() -> None:
    tiles = category_tiles(ARTICLES, CATS, "en")
    assert [(t.category.id, t.count) for t in tiles] == [("network", 1), ("accounts", 2), ("zzz", 1)]
    assert tiles[2].category.name("en") == "Zzz"  # unlisted category: shown under its id, never hidden


def test_recently_updated_leaves_out_internal_and_undated() -> None:
    assert [a.id for a in recently_updated(ARTICLES, "en")] == ["en/c", "en/d"]


def test_popularity_decays_with_age(app) -> None:
    from web.resources import get_db

    now = dt.datetime(2026, 6, 30, 12, 0)
    with app.app_context():
        db = get_db()
        for _ in range(4):  # four views two months ago
            db.add(Feedback(article_id="en/old", kind="view", at=now - dt.timedelta(days=60), channel="web"))
        db.add(Feedback(article_id="en/new", kind="view", at=now - dt.timedelta(days=1), channel="web"))
        db.add(Feedback(article_id="en/gone", kind="view", at=now - dt.timedelta(days=200), channel="web"))
        db.add(Feedback(article_id="en/solved", kind="solved", at=now, channel="web"))
        db.commit()
        scores = popularity(db, half_life_days=14, now=now)
    assert "en/gone" not in scores  # past the horizon
    assert scores["en/new"] > scores["en/old"]  # 1 recent view beats 4 views two months old
    assert scores["en/solved"] == pytest.approx(3.0)


def test_popular_articles_are_per_language_and_public_only() -> None:
    scores = {"en/a": 5.0, "fr/b": 1.0, "en/secret": 100.0, "en/c": 1.0}
    assert [a.id for a in popular_articles(scores, ARTICLES, "en")] == ["en/a", "en/c"]
    # The French visitor sees French articles; the English views of the same topic count at half weight.
    assert [a.id for a in popular_articles(scores, ARTICLES, "fr")] == ["fr/a", "fr/b"]


def view(client, article: str) -> None:
    token = csrf_token(client)
    answer = client.post("/events/view", json={"article": article}, headers={"X-CSRFToken": token})
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("lang", "name", "count", "popular_title"),
    [
        ("en", "Accounts and passwords", "2 articles", "Reset a forgotten password"),
        ("fr", "Comptes et mots de passe", "2 articles", "Réinitialiser un mot de passe oublié"),
    ],
)
def test_home_shows_topics_with_counts_popular_and_recent(client, lang, name, count, popular_title) -> None:
    view(client, f"{lang}/password-reset")
    html = client.get(f"/?lang={lang}").get_data(as_text=True)
    tile = re.search(r'<li class="tile">(.*?)</li>', html, re.S)
    assert tile and name in tile.group(1) and count in tile.group(1)
    popular = html.split('id="popular-title"')[1].split("</section>")[0]
    assert popular_title in popular
    assert 'id="recent-title"' in html
    assert "escalation-procedure" not in html  # internal


def test_category_page_lists_public_articles_only(client) -> None:
    # The sample's only "support" article is internal: the category does not exist for customers.
    assert client.get("/categories/support?lang=en").status_code == 404
    assert "/categories/support" not in client.get("/?lang=en").get_data(as_text=True)
    page = client.get("/categories/accounts?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/articles/en/password-reset" in html and "/articles/en/account-locked" in html
    assert "Accounts and passwords" in html
    assert "escalation-procedure" not in html


@pytest.mark.parametrize("path", ["/categories/nope", "/categories/..%2Fetc", "/categories/" + "x" * 70])
def test_unknown_category_is_a_404(client, path: str) -> None:
    assert client.get(path).status_code == 404


def test_404_page_has_a_search_box_and_popular_articles(client) -> None:
    view(client, "en/printer-offline")
    page = client.get("/no/such/page?lang=en")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert 'role="search"' in html and 'name="q"' in html
    assert "/articles/en/printer-offline" in html
    assert "/requests/lost-link" in html


def ask_links(client, email: str):
    token = csrf_token(client, "/requests/lost-link")
    return client.post("/requests/lost-link", data={"csrf_token": token, "email": email})


def test_lost_link_answers_the_same_whether_the_address_is_known(app, client) -> None:
    from tests.apps import app_ticket
    from web.resources import get_db

    app_ticket(app, contact_email="Known@Example.com", query="my vpn drops", lang="en")
    known, unknown = ask_links(client, "known@example.com"), ask_links(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"]
    page = client.get(known.headers["Location"]).get_data(as_text=True)
    assert "If this address has open requests" in page
    with app.app_context():
        rows = get_db().query(OutboxMessage).filter_by(kind="links").all()
    assert [r.recipient for r in rows] == ["known@example.com"]
    assert "/tickets/KB-" in rows[0].body and "?t=" in rows[0].body and "my vpn drops" in rows[0].body


def test_lost_link_refuses_a_bad_address_in_the_visitors_language(client) -> None:
    page = ask_links(client, "not an address")
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert 'aria-invalid="true"' in html and "name@example.com" in html and 'value="not an address"' in html
    client.get("/?lang=fr")
    assert "nom@exemple.com" in ask_links(client, "abc").get_data(as_text=True)


def test_lost_link_is_rate_limited_per_visitor_and_per_address(app, client) -> None:
    from tests.apps import app_ticket
    from web.resources import get_db

    app_ticket(app, contact_email="a@example.com", lang="en")
    answers = [ask_links(client, "a@example.com").status_code for _ in range(6)]
    assert answers == [303] * 5 + [429]
    with app.app_context():
        assert get_db().query(OutboxMessage).filter_by(kind="links").count() == 3  # per-address cap


def test_lost_link_email_reaches_a_real_smtp_server(app_config) -> None:
    from tests.apps import app_ticket
    from tests.smtp_server import smtp_server
    from web import close_app, create_app

    with smtp_server() as (url, mailbox):
        app = create_app({**app_config, "SMTP_URL": url, "OUTBOX_POLL_SECONDS": 3600})
        try:
            reference, token = app_ticket(app, contact_email="fr@example.com", lang="fr", query="imprimante")
            client = app.test_client()
            client.get("/?lang=fr")
            assert ask_links(client, "fr@example.com").status_code == 303
            assert mailbox.wait_for(2)  # the "we received your request" of the ticket, then the links
            links = [m for m in mailbox.messages if str(m["Subject"]) == "Vos demandes au support"]
            assert len(links) == 1 and str(links[0]["To"]) == "fr@example.com"
            assert f"/tickets/{reference}?t={token}" in links[0].get_content()
        finally:
            app.extensions["kb_periodic"].stop(timeout=60)
            close_app(app)


@pytest.mark.parametrize(
    ("lang", "query", "count", "topic"),
    [
        ("en", "printer offline", "articles for “printer offline”", "Printing and scanning"),
        (
            "fr",
            "imprimante hors ligne",
            "articles pour « imprimante hors ligne »",
            "Impression et numérisation",
        ),
    ],
)
def test_results_say_how_many_and_each_articles_topic(client, lang, query, count, topic) -> None:
    client.get(f"/?lang={lang}")
    page = client.get(f"/search?q={query}").get_data(as_text=True)
    assert re.search(r'<p class="count">\d+ ' + re.escape(count), page)
    assert f'<a href="/categories/printing">{topic}</a>' in page


def test_out_of_scope_message_has_clickable_addresses_and_a_way_to_support(client, app, monkeypatch) -> None:
    from kb_engine.search.searcher import SearchResponse
    from tests.test_web import db_rows

    message = "Use the HR portal (https://hr.example.com/leave?x=1) or write to hr@example.com. <b>no</b>"
    redirect = {"family": "hr-leave", "title": "Leave and absences", "message": message}
    monkeypatch.setattr(
        "web.customer.customer_search",
        lambda q, **_: SearchResponse(query=q, answered=False, confidence=0.1, redirect=redirect),
    )
    page = client.post(
        "/search", data={"q": "book holiday", "csrf_token": csrf_token(client)}, follow_redirects=True
    ).get_data(as_text=True)
    assert '(<a href="https://hr.example.com/leave?x=1">https://hr.example.com/leave?x=1</a>)' in page
    assert '<a href="mailto:hr@example.com">hr@example.com</a>.' in page and "&lt;b&gt;no&lt;/b&gt;" in page
    assert 'Is it about IT after all? <a href="/contact?q=book+holiday">Contact support</a>' in page
    assert db_rows(app, "SELECT count(*) FROM ticket") == [(0,)]


@pytest.mark.parametrize(
    ("lang", "query", "marked"),
    [
        ("en", "printer offline", ["Printer", "offline"]),
        ("fr", "imprimante hors ligne", ["imprimante", "ligne"]),
    ],
)
def test_results_highlight_the_query_words_in_titles_and_snippets(client, lang, query, marked) -> None:
    client.get(f"/?lang={lang}")
    page = client.get(f"/search?q={query}").get_data(as_text=True)
    first = page.split('<li class="hit">', 2)[1]
    title = re.search(r"<a href=[^>]*>(.*?)</a>", first).group(1)
    snippet = re.search(r'<p class="snippet"[^>]*>(.*?)</p>', first, re.S).group(1)
    found = " ".join(re.findall(r"<mark>(.*?)</mark>", title + snippet)).lower().split()
    assert {w.lower() for w in marked} <= set(found), first
    assert "<mark>" in snippet


def test_highlighting_escapes_the_text_and_the_query(app) -> None:
    from web.helpcentre import highlight

    with app.test_request_context("/"):
        shown = str(highlight('Open <b>Settings</b> & "Print"', "<script>print settings</script>", "en"))
    assert shown == "Open &lt;b&gt;<mark>Settings</mark>&lt;/b&gt; &amp; &#34;<mark>Print</mark>&#34;"
    with app.test_request_context("/"):
        assert str(highlight("a <i>b</i>", "", "en")) == "a &lt;i&gt;b&lt;/i&gt;"


def test_highlight_spans_follow_stems_accents_and_the_glossary() -> None:
    from kb_engine.content.glossary import Glossary
    from kb_engine.search.highlight import highlight_spans, query_terms

    def marked(text: str, query: str, lang: str, glossary: Glossary | None = None) -> list[str]:
        return [text[a:b] for a, b in highlight_spans(text, query_terms(query, lang, glossary), lang)]

    assert marked("Printing fails: the printer is offline.", "printer wont print", "en") == [
        "Printing",
        "printer",
    ]
    assert marked("Réinitialiser un mot de passe oublié", "reinitialiser mot passe oublie", "fr") == [
        "Réinitialiser un mot de passe oublié"
    ]
    assert marked("Imprimante « Hors ligne », rien ne sort", "imprimante hors ligne", "fr") == [
        "Imprimante",
        "Hors ligne",
    ]
    glossary = Glossary({"fr": {"mdp": ["mot de passe"]}})
    assert marked("Changer son mot de passe", "mdp", "fr", glossary) == ["mot de passe"]
    assert marked("The printer and the desk", "the and", "en") == []  # stop words never light up
