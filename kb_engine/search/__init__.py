"""Finding answers: embedding (sentence-transformers, ONNX Runtime), the vector and lexical indexes, language
detection, fusion and ranking, confidence calibration, the searcher, the index files and evaluation.
Imports `content` only (and the top-level config and errors)."""
