"""Synthetic knowledge bases of 1k-100k chunks drawn from the shipped articles' words, and the embedders
that stand in for the model on them (see the package docstring)."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb_engine.bench.measure import CATEGORIES, CHUNKS_PER_ARTICLE, ROOT, SYNTHETIC_MODEL
from kb_engine.search.embedding import Embedder

# -- synthetic knowledge bases ----------------------------------------------------------------------------
_WORDS = re.compile(r"[^\W\d_]{4,14}", re.UNICODE)


def vocabulary(articles_dir: Path) -> dict[str, list[str]]:
    """Distinct words of the shipped articles per language (sorted: the generator is deterministic)."""
    words: dict[str, set[str]] = {"en": set(), "fr": set()}
    for lang in words:
        for path in sorted((articles_dir / lang).glob("*.md")):
            words[lang].update(w.lower() for w in _WORDS.findall(path.read_text("utf-8")))
    if not all(words.values()):  # no shipped articles at hand: made-up words, still deterministic
        rng = np.random.default_rng(7)
        letters = list("abcdefghijklmnopqrstuvwxyz")
        for lang in words:
            words[lang] = {"".join(rng.choice(letters, int(rng.integers(4, 10)))) for _ in range(3000)}
    return {lang: sorted(found) for lang, found in words.items()}


@dataclass
class SyntheticKB:
    articles_dir: Path
    chunks: int
    articles: int
    queries: list[str]


def write_synthetic_kb(
    dest: Path, n_chunks: int, *, seed: int = 42, source: Path | None = None
) -> SyntheticKB:
    """Write a deterministic knowledge base of about `n_chunks` chunks under dest (Markdown articles).

    Args:
        dest: folder to create (`en/`, `fr/`).
        n_chunks: chunks wanted; articles have CHUNKS_PER_ARTICLE chunks each.
        seed: random seed (same seed, same files).
        source: articles folder whose words are used (default: the shipped one).

    Returns:
        The folder, its size, and search queries drawn from its articles' words (some with a typo).
    """
    rng = np.random.default_rng(seed)
    vocab = vocabulary(source or ROOT / "articles")
    n_articles = max(2, -(-n_chunks // CHUNKS_PER_ARTICLE))
    n_articles += n_articles % 2  # English and French pairs
    queries: list[str] = []
    for lang in ("en", "fr"):
        (dest / lang).mkdir(parents=True, exist_ok=True)
    for pair in range(n_articles // 2):
        slug = f"topic-{pair:05d}"
        category = CATEGORIES[pair % len(CATEGORIES)]
        for lang in ("en", "fr"):
            words = vocab[lang]
            topic = [words[i] for i in rng.integers(0, len(words), 12)]

            def sentence(n: int, topic: list[str] = topic, words: list[str] = words) -> str:
                own = rng.random(n) < 0.4
                picks = [
                    topic[int(rng.integers(0, len(topic)))] if o else words[int(rng.integers(0, len(words)))]
                    for o in own
                ]
                return " ".join(picks)

            title = sentence(5).capitalize()
            questions = [sentence(int(rng.integers(5, 10))) for _ in range(4)]
            sections = [
                f"## {sentence(3).capitalize()}\n\n{sentence(int(rng.integers(40, 90)))}." for _ in range(14)
            ]
            front = "\n".join(
                [
                    "---",
                    f"title: {json.dumps(title, ensure_ascii=False)}",
                    f"lang: {lang}",
                    f"category: {category}",
                    f"tags: [{', '.join(topic[:3])}]",
                    "questions:",
                    *(f"  - {json.dumps(q, ensure_ascii=False)}" for q in questions),
                    "updated: 2026-01-01",
                    "---",
                ]
            )
            intro = sentence(20).capitalize() + "."
            (dest / lang / f"{slug}.md").write_text(
                f"{front}\n\n{intro}\n\n" + "\n\n".join(sections) + "\n", "utf-8"
            )
            if len(queries) < 2000:
                query = " ".join(topic[int(i)] for i in rng.integers(0, len(topic), int(rng.integers(3, 7))))
                if rng.random() < 0.2:  # a typo: the lexical side corrects it
                    cut = int(rng.integers(1, max(2, len(query) - 1)))
                    query = query[:cut] + query[cut + 1 :]
                queries.append(query)
    return SyntheticKB(dest, n_articles * CHUNKS_PER_ARTICLE, n_articles, queries)


class SyntheticEmbedder:
    """Deterministic model-free vectors shaped like the real model's: a fixed random vector per word,
    summed, normalised, and pulled towards one common direction.

    Word vectors have a decaying variance spectrum (dimension i scaled by i^-0.4) and the common
    direction gives an average similarity of about 0.12: on the shipped articles, the real model's chunk
    vectors need 33/113/172 principal components for 50/80/90% of their variance and average 0.12
    similarity; these need about 25/100/165 and average 0.12. Approximate search is as hard on them as
    on real embeddings (uniformly random vectors would make it much harder, clustered ones much easier).
    """

    SPECTRUM = 0.4
    COMMON = 0.35

    def __init__(self, dimension: int = 384) -> None:
        self.name = SYNTHETIC_MODEL
        self.dimension = dimension
        self._words: dict[str, np.ndarray] = {}
        scales = np.arange(1, dimension + 1, dtype=np.float64) ** -self.SPECTRUM
        self._scales = (scales / np.linalg.norm(scales) * np.sqrt(dimension)).astype(np.float32)
        common = np.random.default_rng(1).standard_normal(dimension).astype(np.float32)
        self._common = common / np.linalg.norm(common)

    def _word(self, word: str) -> np.ndarray:
        vec = self._words.get(word)
        if vec is None:
            rng = np.random.default_rng(zlib.crc32(word.encode("utf-8")))
            vec = rng.standard_normal(self.dimension).astype(np.float32) * self._scales
            self._words[word] = vec
        return vec

    def _one(self, text: str) -> np.ndarray:
        words = re.findall(r"\w+", text.lower())
        if not words:
            return np.zeros(self.dimension, dtype=np.float32)
        vec = np.sum([self._word(w) for w in words], axis=0, dtype=np.float32)
        pulled = vec / max(float(np.linalg.norm(vec)), 1e-12) + self.COMMON * self._common
        return np.asarray(pulled / np.linalg.norm(pulled), dtype=np.float32)

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._one(t) for t in texts]).astype(np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)


class TimedQueryEmbedder:
    """For a synthetic KB: runs the real model on each query (so its time counts), searches with the
    synthetic vector (so the search means something in the synthetic index's space)."""

    def __init__(self, real: Embedder, synthetic: SyntheticEmbedder) -> None:
        self.name = synthetic.name
        self.dimension = synthetic.dimension
        self.real = real
        self.synthetic = synthetic

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        return self.synthetic.encode_documents(texts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.real.encode_queries(texts)
        return self.synthetic.encode_queries(texts)
