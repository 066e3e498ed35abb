"""`kb import`: each source's documented export format becomes clean, lint-clean articles; a re-import is
idempotent and updates the one file an edit touched; what was left out is reported; search finds them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from indexer.build import build_index
from kb_engine.cli.main import cli
from kb_engine.content.articles import parse_article, scan_articles
from kb_engine.integrations.importing import SourceError, import_articles
from tests.conftest import MODEL

DATA = Path(__file__).resolve().parents[1] / "data" / "imports"
KINDS = ("zendesk", "freshdesk", "confluence", "html")


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def run(runner, *args: str) -> dict:
    result = runner.invoke(cli, ["import", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("kind", KINDS)
def test_import_twice_gives_the_same_files_and_lint_is_clean(runner, tmp_path: Path, kind: str) -> None:
    out = tmp_path / "articles"
    first = run(runner, str(DATA / kind), "--from", kind, "--articles", str(out))
    assert first["written"] and first["ok"] and first["lint"]["errors"] == []
    before = tree(out)
    second = run(runner, str(DATA / kind), "--from", kind, "--articles", str(out))
    assert second["written"] == second["updated"] == [] and second["images"] == []
    assert sorted(second["unchanged"]) == sorted(first["written"])
    assert tree(out) == before
    scan = scan_articles(out)
    assert not scan.problems
    for article in [*scan.articles, *scan.drafts]:
        assert "<script" not in article.body and "javascript:" not in article.body


def test_zendesk_translations_share_one_slug_and_front_matter_keeps_the_source(tmp_path: Path) -> None:
    out = tmp_path / "articles"
    report = import_articles(DATA / "zendesk", "zendesk", out)
    en = parse_article(out / "en" / "reset-your-password.md", out)
    fr = parse_article(out / "fr" / "reset-your-password.md", out)
    assert fr.title == "Réinitialiser votre mot de passe" and en.category == fr.category == "accounts"
    assert en.tags == ("password", "login") and en.updated == "2026-10-02" and en.audience == "public"
    text = (out / "en" / "reset-your-password.md").read_text(encoding="utf-8")
    assert (
        "system: zendesk" in text
        and "id: '360001'" in text
        and "acme.zendesk.com/hc/en-us/articles/360001" in text
    )
    # links between imported articles point at the new files, sections kept; images copied and relative
    assert "(printer-shows-offline.md#after-a-password-change)" in en.body
    assert "(/articles/en/printer-shows-offline)" in fr.body  # no French version: the English one
    picture = (DATA / "zendesk/attachments/9001/reset-screen.png").read_bytes()
    name = f"{hashlib.sha256(picture).hexdigest()[:12]}-reset-screen.png"
    assert f"](../images/zendesk/{name})" in en.body and f"](../images/zendesk/{name})" in fr.body
    assert (out / "images/zendesk" / name).read_bytes() == picture
    # headings, lists, tables and code survive broken HTML; the repeated H1 is gone
    printer = parse_article(out / "en" / "printer-shows-offline.md", out).body
    assert "## Quick checks" in printer and "| Orange blinking | Paper jam or no toner |" in printer
    assert "```powershell\ncmdkey /delete:printsrv01" in printer and "\n##\n" not in printer
    assert not en.body.startswith("#") and "# Reset your password" not in en.body
    # duplicate title: a second slug; restricted segment and drafts are internal; other languages skipped
    assert any("reset-your-password-2" in r for r in report.renamed)
    assert parse_article(out / "en" / "reset-your-password-2.md", out).audience == "internal"
    assert parse_article(out / "fr" / "configurer-le-vpn.md", out).audience == "internal"
    assert [s.reason for s in report.skipped if "360005" in s.source][0].startswith("language 'de'")
    # what was left out is listed per file, and a public article never links to an internal one
    dropped = report.dropped["en/reset-your-password.md"]
    assert "<script> element" in dropped and any("youtube.com" in d for d in dropped)
    assert any("internal article" in d for d in dropped) and "reset-your-password-2.md" not in en.body
    assert "link with a javascript: address" in report.dropped["en/printer-shows-offline.md"]
    assert "accounts" in report.categories_added and "printing:" in (out / "categories.yml").read_text()


def test_reimport_after_a_source_edit_updates_that_one_file(tmp_path: Path) -> None:
    source = tmp_path / "zendesk"
    shutil.copytree(DATA / "zendesk", source)
    out = tmp_path / "articles"
    import_articles(source, "zendesk", out)
    before = tree(out)
    page = json.loads((source / "articles-1.json").read_text(encoding="utf-8"))
    printer = page["articles"][1]
    printer["title"] = "Printer says offline"  # a new title keeps the file: the source id decides
    printer["translations"][0]["title"] = "Printer says offline"
    printer["translations"][0]["body"] += "<p>New: restart the print spooler.</p>"
    (source / "articles-1.json").write_text(json.dumps(page), encoding="utf-8")
    report = import_articles(source, "zendesk", out)
    assert report.updated == ["en/printer-shows-offline.md"] and report.written == []
    after = tree(out)
    assert {k for k in after if after[k] != before.get(k)} == {"en/printer-shows-offline.md"}
    assert "restart the print spooler" in after["en/printer-shows-offline.md"].decode()


def test_dry_run_writes_nothing_but_reports_and_lints(runner, tmp_path: Path) -> None:
    out = tmp_path / "articles"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    report = run(runner, str(DATA / "freshdesk"), "--from", "freshdesk", "--articles", str(out), "--dry-run")
    assert report["dry_run"] and len(report["written"]) == 5 and report["lint"]["checked"] == 5
    assert tree(out) == {"keep.txt": b"x"}


def test_freshdesk_folder_visibility_and_drafts_become_internal(tmp_path: Path) -> None:
    out = tmp_path / "articles"
    report = import_articles(DATA / "freshdesk", "freshdesk", out)
    assert parse_article(out / "en" / "radius-secret-rotation.md", out).audience == "internal"
    assert parse_article(out / "fr" / "connect-to-the-vpn.md", out).audience == "internal"  # status 1: draft
    wifi_fr = parse_article(out / "fr" / "use-the-guest-wi-fi.md", out)
    assert wifi_fr.title == "Utiliser le Wi-Fi invité" and wifi_fr.category == "network"
    wifi_en = parse_article(out / "en" / "use-the-guest-wi-fi.md", out)
    assert "(connect-to-the-vpn.md)" in wifi_en.body and "## Steps" in wifi_en.body
    assert any("vimeo" in d for d in report.dropped["en/connect-to-the-vpn.md"])


def test_confluence_export_pages_links_macros_and_attachments(tmp_path: Path) -> None:
    out = tmp_path / "articles"
    report = import_articles(DATA / "confluence", "confluence", out)
    scan = parse_article(out / "en" / "scan-to-email.md", out)
    assert scan.category == "printing" and scan.tags == ("scan", "email") and scan.updated == "2026-11-03"
    assert "[Printing](printing.md)" in scan.body and "> Scans larger than 20 MB" in scan.body
    assert "```bash\nscan-profile --reset\n```" in scan.body and "../images/confluence/" in scan.body
    assert "Confluence macro 'jira'" in report.dropped["en/scan-to-email.md"]
    assert any("Old-scanner_99999.html" in d for d in report.dropped["en/scan-to-email.md"])
    assert (out / "fr" / "acces-wi-fi-pour-les-invites.md").is_file()  # language detected
    assert not (out / "en" / "it-help-home.md").exists()  # the space overview is not an article


def test_html_folder_translations_by_suffix_and_legacy_encoding(tmp_path: Path) -> None:
    out = tmp_path / "articles"
    import_articles(DATA / "html", "html", out)
    assert {p.name for p in (out / "fr").iterdir()} == {"browser-says-proxy-error.md"}
    en = parse_article(out / "en" / "browser-says-proxy-error.md", out)
    assert en.tags == ("proxy", "browser") and "(replace-the-toner.md)" in en.body
    toner = parse_article(out / "en" / "replace-the-toner.md", out)
    assert "“toner low”" in toner.body and "| HP M404 | CF259A |" in toner.body


def test_docx_folder_with_headings_tables_images_and_a_translation(tmp_path: Path) -> None:
    docx = pytest.importorskip("docx")
    folder = tmp_path / "word" / "accounts"
    folder.mkdir(parents=True)
    picture = DATA / "zendesk/attachments/9001/reset-screen.png"
    for lang, title, steps in (
        ("en", "Set up two-factor sign-in", ["Install the authenticator app.", "Scan the QR code."]),
        ("fr", "Activer la double authentification", ["Installez l'application.", "Scannez le code QR."]),
    ):
        document = docx.Document()
        document.core_properties.title = title
        document.core_properties.keywords = "mfa, 2fa"
        intro = "Protect your account with a second step when you sign in."
        if lang == "fr":
            intro = "Protégez votre compte avec une deuxième étape à la connexion."
        document.add_paragraph(intro)
        document.add_heading("Steps" if lang == "en" else "Procédure", level=1)
        for step in steps:
            document.add_paragraph(step, style="List Number")
        table = document.add_table(rows=2, cols=2)
        table.cell(0, 0).text, table.cell(0, 1).text = "App", "Platform"
        table.cell(1, 0).text, table.cell(1, 1).text = "Authenticator", "iOS, Android"
        document.add_picture(str(picture))
        document.save(folder / f"two-factor.{lang}.docx")
    (folder / "broken.docx").write_bytes(b"not a zip")
    out = tmp_path / "articles"
    report = import_articles(tmp_path / "word", "docx", out)
    assert sorted(report.written) == ["en/set-up-two-factor-sign-in.md", "fr/set-up-two-factor-sign-in.md"]
    assert [s.source for s in report.skipped] == ["accounts/broken.docx"]
    en = parse_article(out / "en" / "set-up-two-factor-sign-in.md", out)
    assert en.category == "accounts" and en.tags == ("mfa", "2fa") and "## Steps" in en.body
    assert "1. Install the authenticator app." in en.body and "| Authenticator | iOS, Android |" in en.body
    assert "](../images/docx/" in en.body and report.lint["errors"] == []
    again = import_articles(tmp_path / "word", "docx", out)
    assert again.written == again.updated == []


def test_huge_body_is_skipped_with_its_reason_and_large_one_imported(tmp_path: Path) -> None:
    source = tmp_path / "zendesk"
    shutil.copytree(DATA / "zendesk", source)
    page = json.loads((source / "articles-1.json").read_text(encoding="utf-8"))
    paragraph = "<p>" + "Le pilote de l'imprimante doit être réinstallé après la mise à jour. " * 20 + "</p>"
    page["articles"][0]["translations"][1]["body"] += paragraph * 2000  # ~2.8 MB: over the limit
    page["articles"][1]["translations"][0]["body"] += paragraph * 200  # ~280 kB: fine
    (source / "articles-1.json").write_text(json.dumps(page), encoding="utf-8")
    out = tmp_path / "articles"
    report = import_articles(source, "zendesk", out)
    assert [s.source for s in report.skipped if "byte" in s.reason] == ["fr/reset-your-password.md"]
    assert "split it in the source" in next(s.reason for s in report.skipped if "byte" in s.reason)
    assert (out / "en" / "printer-shows-offline.md").stat().st_size > 200_000
    assert not (out / "fr" / "reset-your-password.md").exists() and report.lint["errors"] == []


def test_bad_sources_are_clear_errors(runner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"articles": [', encoding="utf-8")
    result = runner.invoke(cli, ["import", str(bad), "--from", "zendesk", "--articles", str(tmp_path / "a")])
    assert result.exit_code == 2 and "not valid JSON" in result.output and "Traceback" not in result.output
    with pytest.raises(SourceError, match="no such file"):
        import_articles(tmp_path / "missing", "zendesk", tmp_path / "a")
    with pytest.raises(SourceError, match="no Freshdesk solution articles"):
        import_articles(DATA / "zendesk" / "sections.json", "freshdesk", tmp_path / "a")
    evil = tmp_path / "evil.zip"
    import zipfile

    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escape.html", "<p>x</p>")
    with pytest.raises(SourceError, match="outside the archive"):
        import_articles(evil, "html", tmp_path / "a")
    assert not (tmp_path / "a").exists()


def test_hand_written_article_with_the_same_slug_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "articles"
    (out / "en").mkdir(parents=True)
    mine = "---\ntitle: Replace the toner\nlang: en\n---\n\nOur own text.\n"
    (out / "en" / "replace-the-toner.md").write_text(mine, encoding="utf-8")
    report = import_articles(DATA / "html", "html", out)
    assert (out / "en" / "replace-the-toner.md").read_text(encoding="utf-8") == mine
    assert "en/replace-the-toner-2.md" in report.written


def test_imported_articles_are_found_by_kb_eval(runner, tmp_path: Path, embedder, embedding_cache) -> None:
    out = tmp_path / "articles"
    for kind in ("zendesk", "freshdesk"):
        import_articles(DATA / kind, kind, out)
    index = tmp_path / "index"
    build = build_index(
        out, index, model=MODEL, embedder_factory=lambda: embedder, progress=False, cache_path=embedding_cache
    )
    assert not build.problems
    queries = (
        DATA / "queries.tsv"
    )  # what customers would type, written for the Zendesk and Freshdesk fixtures
    result = runner.invoke(cli, ["eval", str(queries), "--index-dir", str(index), "--json", "--no-baselines"])
    assert result.exit_code == 0, result.output
    engine = json.loads(result.output)["systems"]["engine"]
    assert engine["all"]["hit3"] == 1.0, result.output


def test_confluence_zip_export_imports_like_the_folder(tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "IT-space.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((DATA / "confluence").rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(DATA / "confluence").as_posix())
    from_zip = tmp_path / "from-zip"
    from_folder = tmp_path / "from-folder"
    import_articles(archive, "confluence", from_zip)
    import_articles(DATA / "confluence", "confluence", from_folder)
    assert tree(from_zip) == tree(from_folder) and "en/scan-to-email.md" in tree(from_zip)
