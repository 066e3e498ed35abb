"""Building, publishing and re-using the index."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexer.build import build_index, index_lock
from kb_engine.errors import IndexBusy, IndexMismatch, IndexMissing
from kb_engine.search.index_files import FORMAT_VERSION, current_build, read_manifest
from kb_engine.search.searcher import Searcher
from tests.conftest import MODEL, copy_sample


def no_model():
    raise AssertionError("the model must not be loaded when every chunk is cached")


def test_manifest_names_model_dimension_and_hashes(index_dir: Path, articles_dir: Path) -> None:
    manifest = read_manifest(current_build(index_dir))
    assert manifest["model"] == MODEL
    assert manifest["dimension"] == 384
    assert manifest["format_version"] == FORMAT_VERSION
    assert set(manifest["articles"]) == {
        f"{lang}/{p.stem}" for lang in ("en", "fr") for p in (articles_dir / lang).glob("*.md")
    }
    assert all(len(h) == 64 for h in manifest["articles"].values())
    build = current_build(index_dir)
    for name in ("vectors.faiss", "articles.json", "chunks.json", "lexical/lexical.json", "glossary.json"):
        assert (build / name).exists(), name


def test_unchanged_kb_is_not_rebuilt_nor_reembedded(tmp_path: Path, embedder) -> None:
    articles = copy_sample(tmp_path / "a")
    first = build_index(
        articles, tmp_path / "i", model=MODEL, embedder_factory=lambda: embedder, progress=False
    )
    assert first.embedded == first.chunks > 0
    again = build_index(articles, tmp_path / "i", model=MODEL, embedder_factory=no_model, progress=False)
    assert again.up_to_date and again.build_id == first.build_id
    forced = build_index(
        articles, tmp_path / "i", model=MODEL, embedder_factory=no_model, progress=False, force=True
    )
    assert forced.embedded == 0 and forced.cached == forced.chunks
    assert forced.build_id != first.build_id


def test_editing_one_article_embeds_only_its_changed_chunks(tmp_path: Path, embedder) -> None:
    articles = copy_sample(tmp_path / "a")
    build_index(articles, tmp_path / "i", model=MODEL, embedder_factory=lambda: embedder, progress=False)
    path = articles / "en" / "printer-offline.md"
    path.write_text(
        path.read_text(encoding="utf-8") + "\n## Extra\nRestart the print spooler service.\n", "utf-8"
    )
    report = build_index(
        articles, tmp_path / "i", model=MODEL, embedder_factory=lambda: embedder, progress=False
    )
    assert 1 <= report.embedded <= 3
    searcher = Searcher(tmp_path / "i", model=MODEL, embedder=embedder)
    assert searcher.search("print spooler service restart", k=1).hits[0].id == "en/printer-offline"


def test_under_watch_a_small_edit_reuses_the_last_fit_and_a_forced_build_fits_again(
    tmp_path: Path, embedder
) -> None:
    articles = copy_sample(tmp_path / "a")
    options = {"model": MODEL, "embedder_factory": lambda: embedder, "progress": False, "reuse_fit": True}
    first = build_index(articles, tmp_path / "i", **options)
    fitted = read_manifest(current_build(tmp_path / "i"))["fit"]
    assert fitted["pseudo_queries"] > 0 and "reused_from" not in fitted
    path = articles / "en" / "printer-offline.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n## Extra\nRestart the spooler.\n", "utf-8")
    build_index(articles, tmp_path / "i", **options)
    reused = read_manifest(current_build(tmp_path / "i"))["fit"]
    assert reused["reused_from"] == first.build_id and reused["changed_since_fit"] == 1
    assert reused["params"] == fitted["params"]
    build_index(articles, tmp_path / "i", **options, force=True)
    assert "reused_from" not in read_manifest(current_build(tmp_path / "i"))["fit"]


def test_an_edit_keeps_the_hnsw_graph_and_answers_like_a_full_rebuild(tmp_path: Path, embedder) -> None:
    """A large KB's graph is not rebuilt for one edit: the previous graph is re-mapped, the changed chunk
    added, the old one a tombstone; searches answer as from a graph built anew."""
    from kb_engine.search import vector_index

    articles = copy_sample(tmp_path / "a")

    def build(index: Path, **options):
        return build_index(
            articles, index, model=MODEL, embedder_factory=lambda: embedder, progress=False,
            vector_kind="hnsw", **options,
        )  # fmt: skip

    first = build(tmp_path / "i")
    assert first.graph_update is None
    path = articles / "en" / "printer-offline.md"
    text = path.read_text(encoding="utf-8").replace("\ntitle: ", "\ntitle: Office ", 1)
    path.write_text(text + "\n## Extra\nRestart the print spooler service.\n", "utf-8")
    report = build(tmp_path / "i")
    update = report.graph_update
    assert update is not None and update["added"] >= 1 and update["tombstones"] >= 1
    assert update["kept"] + update["added"] == report.chunks
    assert 1 <= report.embedded <= update["added"]  # the kept chunks' vectors are not even looked up
    assert report.embedded + report.cached == report.chunks
    index = vector_index.load(current_build(tmp_path / "i") / "vectors.faiss")
    labels = vector_index.id_map(index)
    assert sorted(labels[labels >= 0].tolist()) == list(range(report.chunks))  # every chunk, once
    fresh = build(tmp_path / "fresh")
    assert fresh.graph_update is None
    updated = Searcher(tmp_path / "i", model=MODEL, embedder=embedder)
    rebuilt = Searcher(tmp_path / "fresh", model=MODEL, embedder=embedder)
    assert updated.search("print spooler service restart", k=1).hits[0].id == "en/printer-offline"
    for query in ["I forgot my password", "imprimante hors ligne", "vpn keeps dropping", "écran bleu"]:
        a, b = updated.search(query, k=5), rebuilt.search(query, k=5)
        assert [h.id for h in a.hits] == [h.id for h in b.hits], query
        assert a.confidence == pytest.approx(b.confidence, abs=1e-5)
    # One article deleted: nothing to add, so the model is not needed at all.
    (articles / "fr" / "printer-offline.md").unlink()
    deleted = build_index(
        articles, tmp_path / "i", model=MODEL, embedder_factory=no_model, progress=False, vector_kind="hnsw"
    )
    assert deleted.graph_update is not None and deleted.graph_update["added"] == 0
    assert deleted.embedded == 0 and deleted.cached == deleted.chunks
    gone = Searcher(tmp_path / "i", model=MODEL, embedder=embedder).search("imprimante hors ligne", k=5)
    assert "fr/printer-offline" not in [h.id for h in gone.hits]
    # Most articles deleted: too many tombstones, the graph is built anew.
    for lang in ("en", "fr"):
        for page in sorted((articles / lang).glob("*.md"))[1:]:
            page.unlink()
    shrunk = build(tmp_path / "i")
    assert shrunk.graph_update is None
    assert vector_index.tombstones(vector_index.load(current_build(tmp_path / "i") / "vectors.faiss")) == 0


def test_bad_files_are_skipped_and_the_rest_indexed(tmp_path: Path, fake_embedder) -> None:
    articles = copy_sample(tmp_path / "a", ("password-reset", "printer-offline"))
    (articles / "en" / "broken.md").write_text("---\ntitle: [\n---\nbody\n", encoding="utf-8")
    (articles / "en" / "latin1.md").write_bytes(b"---\ntitle: caf\xe9\n---\nbody\n")
    report = build_index(
        articles, tmp_path / "i", model="hashing", embedder_factory=lambda: fake_embedder, progress=False
    )
    assert report.articles == 4
    assert {p.path for p in report.problems} == {"en/broken.md", "en/latin1.md"}


def test_searcher_refuses_index_of_another_model(index_dir: Path) -> None:
    with pytest.raises(IndexMismatch, match="re-index"):
        Searcher(index_dir, model="some-other-model")


def test_searcher_says_when_there_is_no_index(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match="kb index"):
        Searcher(tmp_path, model=MODEL)


def test_only_one_indexer_at_a_time(tmp_path: Path) -> None:
    with index_lock(tmp_path), pytest.raises(IndexBusy), index_lock(tmp_path):
        pass


def _kb(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "kb_engine", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_kill_during_index_leaves_the_old_index_serving(tmp_path: Path, fake_embedder) -> None:
    """SIGKILL `kb index` at several moments of a rebuild: the published index stays complete and usable."""
    articles = copy_sample(tmp_path / "a")
    index = tmp_path / "i"
    build_index(articles, index, model="hashing", embedder_factory=lambda: fake_embedder, progress=False)
    old_build = current_build(index).name
    # Make the rebuild long enough to be killed mid-way: many new articles to embed.
    for i in range(300):
        shutil.copy(articles / "en" / "printer-offline.md", articles / "en" / f"copy-{i}.md")
    env = {**os.environ, "KB_MODEL": "hashing"}
    killed_mid_build = 0
    for delay in (0.3, 0.8, 1.5):
        proc = _kb(
            "index", "--articles", str(articles), "--index-dir", str(index), "--quiet", "--force", env=env
        )
        time.sleep(delay)
        if proc.poll() is None:
            killed_mid_build += 1
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        searcher = Searcher(index, model="hashing")
        assert searcher.search("printer offline", k=3).hits
        assert current_build(index).name in {old_build} | {p.name for p in (index / "builds").iterdir()}
        json.loads((current_build(index) / "manifest.json").read_text())
    assert killed_mid_build >= 1
    # A later complete build cleans up what the killed ones left behind.
    done = subprocess.run(
        [sys.executable, "-m", "kb_engine", "index", "--articles", str(articles), "--index-dir", str(index),
         "--quiet"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "built" in done.stdout or "up to date" in done.stdout
    assert not [p for p in (index / "builds").iterdir() if p.name.startswith(".tmp-")]
    assert Searcher(index, model="hashing").search("copy printer", k=1).hits
