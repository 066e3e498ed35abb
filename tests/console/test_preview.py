"""The authors' preview of an article file before it is published."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import login_staff


def test_author_previews_a_file_with_question_ranks_and_neighbours(app, client) -> None:
    login_staff(app, client, "ana", "author")
    page = client.get("/authors/preview/en/password-reset")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<h2>Reset a forgotten password</h2>" in html
    assert "How its questions find it" in html and "Nearest articles" in html
    assert "en/account-locked" in html  # the article it is most easily confused with
    assert html.count('<td class="num">1</td>') >= 3  # most of its questions rank it first


def test_preview_shows_why_a_broken_file_cannot_be_published(app, client) -> None:
    articles = Path(app.config["ARTICLES_DIR"])
    (articles / "en" / "draft-x.md").write_text("---\ntitle: [broken\n---\nbody\n", encoding="utf-8")
    try:
        login_staff(app, client, "ana", "author")
        html = client.get("/authors/preview/en/draft-x").get_data(as_text=True)
        assert "cannot be published" in html and "invalid YAML" in html
    finally:
        (articles / "en" / "draft-x.md").unlink()


def test_preview_is_for_authors_only(app, client) -> None:
    assert client.get("/authors/preview/en/password-reset").status_code in {302, 303, 401}
    login_staff(app, client, "bob", "agent-L1")
    assert client.get("/authors/preview/en/password-reset").status_code == 403


def test_authors_landing_page_lists_drafts_broken_files_and_lint_problems(app, client) -> None:
    articles = Path(app.config["ARTICLES_DIR"])
    draft = articles / "en" / "wombat-draft.md"
    broken = articles / "en" / "wombat-broken.md"
    draft.write_text("---\ntitle: Wombat burrows\nstatus: draft\n---\nTODO: the wombat answer.\n", "utf-8")
    broken.write_text('---\ntitle: "Wombat\n---\nbody\n', encoding="utf-8")
    try:
        login_staff(app, client, "ana", "author")
        page = client.get("/authors/")
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert 'href="/authors/preview/en/wombat-draft">Wombat burrows</a>' in html
        assert "<code>en/wombat-broken.md:2</code> invalid YAML front matter: unclosed quote" in html
        assert '<tr data-file="en/wombat-broken.md">' in html and "<td>broken</td>" in html
        preview = client.get("/authors/preview/en/wombat-draft").get_data(as_text=True)
        assert "<strong>draft</strong>: never published" in preview
        assert "draft: not published until `status: draft` is removed; TODO left on line 5" in preview
        assert "Wombat burrows" in preview
    finally:
        draft.unlink()
        broken.unlink()


def test_preview_warns_the_author_of_desk_jargon_in_a_public_article(app, client) -> None:
    articles = Path(app.config["ARTICLES_DIR"])
    page = articles / "en" / "wombat-jargon.md"
    page.write_text(
        "---\ntitle: Wombat printer\ncategory: printing\nquestions: [a, b, c]\n---\n"
        "Intro.\n\n## Before escalating\n\nL2 checks the wombat.\n",
        encoding="utf-8",
    )
    try:
        login_staff(app, client, "ana", "author")
        html = client.get("/authors/preview/en/wombat-jargon").get_data(as_text=True)
        assert "desk jargon of a public article: &#34;escalating&#34;" in html, html
        assert "desk jargon of a public article: &#34;L2&#34;" in html
    finally:
        page.unlink()
