"""`kb new`: slugs and the new-article template."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kb_engine.authoring.lint import lint_articles
from kb_engine.authoring.new import MAX_SLUG_CHARS, new_article, slugify
from kb_engine.cli.main import cli
from kb_engine.content.articles import parse_article
from kb_engine.errors import KBError


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Reset a forgotten password", "reset-a-forgotten-password"),
        ("Réinitialiser l'imprimante réseau", "reinitialiser-l-imprimante-reseau"),
        ("L’écran reste noir : que faire ?", "l-ecran-reste-noir-que-faire"),
        ("Œuvre & cœur, Straße", "oeuvre-coeur-strasse"),
        ("Wi-Fi 5 GHz / 802.11ac", "wi-fi-5-ghz-802-11ac"),
        ("???", "article"),
    ],
)
def test_slugify_folds_accents_and_punctuation(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_slugify_cuts_long_titles_on_a_word_boundary() -> None:
    slug = slugify("Configure " + "the very long printer name " * 10)
    assert len(slug) <= MAX_SLUG_CHARS
    assert not slug.endswith("-") and slug.startswith("configure-the-very-long")


def test_kb_new_writes_a_parsable_article_in_its_language_folder(tmp_path: Path, runner) -> None:
    result = runner.invoke(
        cli,
        ["new", "Réinitialiser l'imprimante", "--lang", "fr", "--category", "printing", "--tag", "printer",
         "--articles", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    path = tmp_path / "fr" / "reinitialiser-l-imprimante.md"
    assert result.stdout.strip() == str(path)
    article = parse_article(path, tmp_path)
    assert article.id == "fr/reinitialiser-l-imprimante"
    assert article.title == "Réinitialiser l'imprimante"
    assert (article.lang, article.category, article.tags) == ("fr", "printing", ("printer",))
    assert article.audience == "public"
    assert article.updated == dt.date.today().isoformat()
    text = path.read_text(encoding="utf-8")
    for heading in ("## Symptômes", "## Vérifications rapides", "## Procédure", "### Téléphone",
                    "## Si le problème persiste", "## Avant de contacter le support"):  # fmt: skip
        assert f"\n{heading}\n" in text


def test_new_article_is_a_draft_and_unfinished_until_its_todos_are_replaced(tmp_path: Path, runner) -> None:
    runner.invoke(cli, ["new", "Printer offline", "--lang", "en", "--articles", str(tmp_path)])
    lint = ["lint", "--no-semantic", "--articles", str(tmp_path)]
    result = runner.invoke(cli, lint)
    assert result.exit_code == 0, result.output  # a draft with TODOs is work in progress, not an error
    assert f"{tmp_path}/en/printer-offline.md:8: warning: draft: not published until `status: draft` is " in (
        result.output
    )
    assert "TODO left on line 4, 11, 15, 19," in result.output
    assert runner.invoke(cli, [*lint, "--strict"]).exit_code == 1
    path = tmp_path / "en" / "printer-offline.md"
    path.write_text(path.read_text(encoding="utf-8").replace("status: draft\n", ""), encoding="utf-8")
    result = runner.invoke(cli, lint)
    assert result.exit_code == 1
    assert f"{tmp_path}/en/printer-offline.md:4: error: unfinished: TODO left from the template" in (
        result.output
    )


def test_automatic_slug_is_unique_across_languages(tmp_path: Path) -> None:
    first = new_article(tmp_path, "Printer offline", lang="en")
    again = new_article(tmp_path, "Printer offline", lang="en")
    other_language = new_article(tmp_path, "Printer offline", lang="fr")
    assert first.path == tmp_path / "en" / "printer-offline.md"
    assert again.path == tmp_path / "en" / "printer-offline-2.md"
    # Not silently the "translation" of an unrelated English article with the same title.
    assert other_language.path == tmp_path / "fr" / "printer-offline-3.md"
    assert not other_language.translation_of


def test_explicit_slug_writes_a_translation_with_the_same_category_and_audience(
    tmp_path: Path, runner
) -> None:
    new_article(tmp_path, "Escalation", lang="en", category="support", audience="internal", tags=("agents",))
    args = ["new", "Procédure d'escalade", "--lang", "fr", "--slug", "escalation"]
    result = runner.invoke(cli, [*args, "--articles", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "translation of en/escalation" in result.stderr
    article = parse_article(tmp_path / "fr" / "escalation.md", tmp_path)
    # Tags are search words of one language: the translation gets its own.
    assert (article.category, article.audience, article.tags) == ("support", "internal", ())


def test_kb_new_never_overwrites_an_article(tmp_path: Path, runner) -> None:
    new_article(tmp_path, "Printer offline", lang="en")
    before = (tmp_path / "en" / "printer-offline.md").read_bytes()
    result = runner.invoke(
        cli, ["new", "Other", "--lang", "en", "--slug", "printer-offline", "--articles", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert (tmp_path / "en" / "printer-offline.md").read_bytes() == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lang": "de"}, "not one of"),
        ({"lang": "en", "slug": "Bad Slug"}, "not valid"),
        ({"lang": "en", "audience": "everyone"}, "audience"),
    ],
)
def test_new_article_refuses_bad_input(tmp_path: Path, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(KBError, match=message):
        new_article(tmp_path, "Title", **kwargs)  # type: ignore[arg-type]
    assert not list(tmp_path.rglob("*.md"))


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("kind", ["howto", "policy", "troubleshooting"])
def test_each_kind_of_template_is_a_lint_clean_draft_in_its_language(
    tmp_path: Path, kind: str, lang: str
) -> None:
    created = new_article(tmp_path, "Book a room", lang=lang, kind=kind, category="meetings")
    assert created.article.is_draft
    text = created.path.read_text(encoding="utf-8")
    expected = {
        ("howto", "en"): "## Before you start", ("howto", "fr"): "## Avant de commencer",
        ("policy", "en"): "## Who it applies to", ("policy", "fr"): "## Qui est concerné",
        ("troubleshooting", "en"): "### Phone", ("troubleshooting", "fr"): "### Téléphone",
    }[(kind, lang)]  # fmt: skip
    assert f"\n{expected}\n" in text
    if lang == "fr":  # in the article's language throughout, comments and hints too
        assert "Un brouillon n'est jamais publié" in text and "une ou deux lignes" in text
    result = lint_articles(tmp_path)
    assert result.problems == []  # a draft's TODOs are warnings, not errors
    assert any("draft: not published" in w.reason for w in result.warnings)


def test_a_translation_starts_from_the_source_sections_and_is_lint_clean(tmp_path: Path) -> None:
    source = tmp_path / "en" / "vpn-slow.md"
    source.parent.mkdir(parents=True)
    source.write_text(
        "---\ntitle: VPN is slow\ncategory: network\ntags: [vpn, slow]\nquestions: [a, b, c]\n---\n"
        "Intro.\n\n## Symptoms\n\n- Pages crawl.\n\n## Steps\n\n### Windows\n\n1. Reconnect.\n\n"
        "## Bandwidth tips\n\nClose video calls.\n\n## Before escalating\n\nHave your device name.\n",
        encoding="utf-8",
    )
    created = new_article(tmp_path, "Le VPN est lent", lang="fr", slug="vpn-slow")
    assert created.translation_of == ("en/vpn-slow",)
    text = created.path.read_text(encoding="utf-8")
    for line in (
        "## Symptômes",
        "## Procédure",
        "### Windows",
        "## Bandwidth tips",
        "TODO: traduire cette section (en: - Pages crawl.)",
        "TODO: traduire cette section (en: Close video calls.)",
        "## Avant de contacter le support",
    ):  # fmt: skip  (an older heading gets the new one)
        assert f"\n{line}\n" in text, text
    assert created.article.tags == () and created.article.category == "network"
    assert lint_articles(tmp_path).problems == []


def test_kb_new_warns_on_a_close_title_and_proposes_the_translation_slug(tmp_path: Path, runner) -> None:
    new_article(tmp_path, "Printer shows offline", lang="en")
    args = ["--articles", str(tmp_path)]
    close = runner.invoke(cli, ["new", "Printer show offline", "--lang", "en", *args])
    assert "warning: en/printer-shows-offline has a close title ('Printer shows offline'): edit it" in (
        close.stderr
    )
    other = runner.invoke(cli, ["new", "Printer shows offline", "--lang", "fr", *args])
    assert "to translate it, use --slug printer-shows-offline" in other.stderr
