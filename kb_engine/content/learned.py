"""Learning from use: customers' phrasings approved by authors, merged into articles' `questions`.

When a customer marks an article "solved" after a search, their query becomes a candidate (see
`analytics.propose_question`). An author approves it; the line lands in `articles/learned-questions.yml`,
a plain file reviewed like the articles themselves:

    en/password-reset:
      - "cant get in my account forgot the code"

At index time each approved line is indexed as one more `questions` entry of its article, so the next
customer who words it that way finds the article directly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import yaml

from kb_engine.content.articles import Article, Problem, read_kb_file
from kb_engine.content.files import atomic_write_text, exclusive
from kb_engine.content.yaml_files import yaml_mapping
from kb_engine.errors import ArticleError

LEARNED_FILE = "learned-questions.yml"


def parse_learned(text: str) -> dict[str, list[str]]:
    data = yaml_mapping(text, LEARNED_FILE, "must map an article id (lang/slug) to a list of questions")
    learned: dict[str, list[str]] = {}
    for article_id, lines in data.items():
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            raise ArticleError(LEARNED_FILE, f"{article_id}: must be a list of strings")
        learned[str(article_id)] = [x.strip() for x in lines if x.strip()]
    return learned


def load_learned(articles_dir: Path) -> tuple[dict[str, list[str]], str]:
    """Approved questions per article id, and the file's hash (empty when there is no file)."""
    found = read_kb_file(articles_dir, LEARNED_FILE)
    if found is None:
        return {}, ""
    return parse_learned(found[0]), found[1]


def apply_learned(
    articles: Sequence[Article], learned: dict[str, list[str]]
) -> tuple[list[Article], list[Problem]]:
    """Articles with their approved questions appended; ids that match no article become problems."""
    by_id = {a.id: a for a in articles}
    problems = [
        Problem(LEARNED_FILE, f"approved questions for {aid!r}, which is not an article")
        for aid in learned
        if aid not in by_id
    ]
    out = []
    for article in articles:
        extra = [q for q in learned.get(article.id, []) if q not in article.questions]
        out.append(
            dataclasses.replace(article, questions=article.questions + tuple(extra)) if extra else article
        )
    return out, problems


def approve(articles_dir: Path, article_id: str, question: str) -> bool:
    """Append an approved question to the learned file; False if it was already there.

    The read-modify-write holds the file's lock, so approvals made at the same time (two authors, two
    server workers) all land; the rewrite is atomic, so the indexer never reads half a file.
    """
    path = Path(articles_dir) / LEARNED_FILE
    question = " ".join(question.split())
    with exclusive(path.with_name(f".{path.name}.lock")):
        learned, _ = load_learned(articles_dir)
        lines = learned.setdefault(article_id, [])
        if question in lines:
            return False
        lines.append(question)
        header = "# Customers' phrasings approved by authors; each line is indexed as a `questions` entry.\n"
        atomic_write_text(path, header + yaml.safe_dump(learned, allow_unicode=True, sort_keys=True))
    return True
