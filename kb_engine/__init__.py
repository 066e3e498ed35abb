"""kb-engine: knowledge-base search and level-1 self-service for support desks."""

from __future__ import annotations

__version__ = "0.1.0"
