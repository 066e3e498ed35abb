"""`kb bench`: how fast indexing, search and the web server are, on the shipped knowledge base and on
synthetic ones of 1k, 10k and 100k chunks, with a BM25-only baseline (bm25s) measured in the same run.

A benchmark, not a test: it measures and reports, it asserts nothing. Everything it builds lives in a
temporary work folder; the shipped articles are copied, never touched.

Synthetic knowledge bases are generated deterministically (seeded) from the shipped articles' words:
articles in English and French pairs, 20 chunks each (title, 4 questions, intro, 14 short sections), each
article drawing on its own topic words. Embedding 100k chunks with the real model would take hours on 2
cores, so their chunks are embedded by a synthetic embedder (a fixed random vector per word, summed and
normalised: similar texts get similar vectors, so approximate search and its recall are meaningful). The
query embedding is still timed with the real model: a synthetic-KB search runs the real model on the
query text, then searches with the synthetic vector. The table says which embedder each row used.
"""
