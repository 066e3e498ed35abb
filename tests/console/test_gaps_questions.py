"""Content gaps (missed queries clustered with the real model) and learned-question candidates."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.cli.main import cli
from kb_engine.content.articles import parse_article
from kb_engine.errors import InvalidTransition
from kb_engine.helpdesk.db import make_engine, make_session_factory, upgrade
from kb_engine.helpdesk.models import SearchLog, Ticket
from kb_engine.insights import analytics
from kb_engine.insights.gaps import find_gaps, suggest_title, write_draft
from kb_engine.insights.questions import approve, list_candidates, reject
from kb_engine.search.searcher import Searcher
from tests.conftest import MODEL, copy_sample, csrf_token, login_staff

NOW = dt.datetime(2026, 3, 10, 12, 0)
MISSES = [
    ("how do I book a meeting room", "v1"),
    ("reserve a conference room for tomorrow", "v2"),
    ("book the boardroom for a meeting", "v3"),
    ("how do I book a meeting room", "v4"),
    ("my coffee machine is broken", "v5"),
]


def test_suggested_title_is_tidy() -> None:
    assert suggest_title("  how do i book a meeting room??  ") == "How do i book a meeting room"


@pytest.mark.model
def test_missed_queries_cluster_into_topics_sorted_by_customers(db: Session, embedder, index_dir) -> None:
    for i, (query, visitor) in enumerate(MISSES):
        row = SearchLog(
            query=query, answered=False, visitor=visitor, lang="en", at=NOW - dt.timedelta(hours=i + 1)
        )
        db.add(row)
        db.flush()
        if visitor == "v2":
            db.add(Ticket(reference="KB-000007", token="t", source="search_miss", search_id=row.id))
    db.add(SearchLog(query="forgot my password", answered=True, visitor="v9", at=NOW))
    db.add(
        SearchLog(query="book a meeting room", answered=False, visitor="v8", at=NOW - dt.timedelta(days=60))
    )
    db.commit()
    searcher = Searcher(index_dir, model=MODEL, embedder=embedder)
    gaps = find_gaps(db, embedder.encode_queries, searcher, days=30, now=NOW)
    top = gaps[0]
    assert top.customers == 4 and top.searches == 4
    assert top.examples[0] == "how do I book a meeting room"  # the most frequent wording first
    assert set(top.examples) == {q for q, _v in MISSES[:4]}
    assert top.tickets == ["KB-000007"]
    assert top.title and top.lang == "en"
    assert top.closest_article is not None and top.closest_article["score"] > 0
    assert [g.examples for g in gaps[1:]] == [["my coffee machine is broken"]]


def test_draft_article_from_a_gap_has_front_matter_and_questions(tmp_path) -> None:
    root = copy_sample(tmp_path / "articles", ("password-reset",))
    path = write_draft(
        root,
        title="Book a meeting room",
        lang="en",
        questions=["how do I book a meeting room", 'a "quoted" one', "room: 4 # full?", "- [x] é\n"],
    )
    assert path == root / "en" / "book-a-meeting-room.md"
    article = parse_article(path, root)
    assert article.title == "Book a meeting room" and article.lang == "en"
    assert article.questions[2:] == ("room: 4 # full?", "- [x] é")  # YAML-special text stays text
    assert article.questions[:2] == ("how do I book a meeting room", 'a "quoted" one')
    assert "# A draft is never published" in path.read_text(encoding="utf-8")  # the template's guide stays
    assert "TODO" in path.read_text(encoding="utf-8")  # kb lint flags the draft until it is written
    assert article.is_draft  # never published until an author removes `status: draft`


def test_candidates_most_frequent_first_approve_writes_learned_file(db: Session, tmp_path) -> None:
    search = SearchLog(query="cant get in, forgot the code", answered=True, visitor="v1")
    other = SearchLog(query="pwd gone", answered=True, visitor="v2")
    db.add_all([search, other])
    db.flush()
    analytics.record_feedback(db, "en/password-reset", "solved", search=other, visitor="v2")
    for visitor in ("v1", "v3"):
        analytics.record_feedback(db, "en/password-reset", "solved", search=search, visitor=visitor)
    db.commit()
    pending = list_candidates(db)
    assert [(c.query, c.count) for c in pending] == [("cant get in, forgot the code", 2), ("pwd gone", 1)]
    approve(db, pending[0].id, "bea", tmp_path)
    reject(db, pending[1].id, "bea")
    db.commit()
    learned = yaml.safe_load((tmp_path / "learned-questions.yml").read_text(encoding="utf-8"))
    assert learned == {"en/password-reset": ["cant get in, forgot the code"]}
    assert list_candidates(db) == [] and pending[0].decided_by == "bea"
    with pytest.raises(InvalidTransition):
        approve(db, pending[1].id, "bea", tmp_path)


def test_kb_questions_and_kb_gaps_commands(runner, tmp_path, index_dir) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as session:
        for query, visitor in MISSES:
            session.add(SearchLog(query=query, answered=False, visitor=visitor))
        search = SearchLog(query="printer says offline", answered=True, visitor="v1")
        session.add(search)
        session.flush()
        analytics.record_feedback(session, "en/printer-offline", "solved", search=search, visitor="v1")
        session.commit()
    engine.dispose()
    env = {
        "KB_DATABASE_URL": url,
        "KB_ARTICLES_DIR": str(tmp_path),
        "KB_INDEX_DIR": str(index_dir),
        "KB_INSTANCE_DIR": str(tmp_path),
    }
    listed = runner.invoke(cli, ["questions", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    (candidate,) = json.loads(listed.output)
    approved = runner.invoke(cli, ["questions", "approve", str(candidate["id"]), "--actor", "bea"], env=env)
    assert approved.exit_code == 0 and "approved" in approved.output
    assert "printer says offline" in (tmp_path / "learned-questions.yml").read_text(encoding="utf-8")
    twice = runner.invoke(cli, ["questions", "reject", str(candidate["id"])], env=env)
    assert twice.exit_code == 2 and "already approved" in twice.output
    gaps = runner.invoke(cli, ["gaps", "--json"], env=env)
    assert gaps.exit_code == 0, gaps.output
    topics = json.loads(gaps.output)
    assert topics[0]["customers"] == 4 and topics[0]["closest_article"]["id"]


def test_authors_pages_gaps_draft_feedback_and_questions(app, client) -> None:
    token = csrf_token(client, "/")
    for query in ("how do I book a meeting room", "reserve a conference room"):
        client.post("/search", data={"q": query, "csrf_token": token})
    client.post("/search", data={"q": "I forgot my password", "csrf_token": token})
    with app.extensions["kb_sessions"]() as session:
        search_id = session.scalar(select(SearchLog.id).where(SearchLog.answered.is_(True)))
    client.post(
        "/articles/en/password-reset/feedback", data={"helped": "yes", "s": search_id, "csrf_token": token}
    )
    login_staff(app, client, "bea", "author")
    gaps_page = client.get("/authors/gaps").get_data(as_text=True)
    assert "book a meeting room" in gaps_page.lower()
    token = csrf_token(client, "/authors/gaps")
    drafted = client.post(
        "/authors/gaps/draft",
        data={"csrf_token": token, "title": "Book a meeting room", "lang": "en", "question": ["book a room"]},
        follow_redirects=True,
    )
    assert "Draft written: en/book-a-meeting-room.md" in drafted.get_data(as_text=True)
    again = client.post(
        "/authors/gaps/draft",
        data={"csrf_token": token, "title": "Book a meeting room", "lang": "en", "question": ["book a room"]},
        follow_redirects=True,
    )
    assert "A draft with this title exists already: en/book-a-meeting-room.md" in again.get_data(as_text=True)
    assert not (Path(app.config["ARTICLES_DIR"]) / "en" / "book-a-meeting-room-2.md").exists()
    articles = Path(app.config["ARTICLES_DIR"])
    assert "book a room" in (articles / "en" / "book-a-meeting-room.md").read_text(encoding="utf-8")
    feedback = client.get("/authors/articles/en/password-reset").get_data(as_text=True)
    assert re.search(r'data-metric="solved">1<', feedback) and "I forgot my password" in feedback
    questions = client.get("/authors/questions").get_data(as_text=True)
    candidate = re.search(r'data-candidate="(\d+)"', questions).group(1)  # type: ignore[union-attr]
    done = client.post(
        f"/authors/questions/{candidate}/approve", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Approved for en/password-reset" in done.get_data(as_text=True)
    assert "I forgot my password" in (articles / "learned-questions.yml").read_text(encoding="utf-8")
