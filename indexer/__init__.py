"""The indexer: articles folder -> parsed articles -> chunks -> embeddings -> a published index build."""

from __future__ import annotations

from indexer.build import BuildReport, build_index

__all__ = ["BuildReport", "build_index"]
