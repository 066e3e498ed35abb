"""The authors' tools: `kb new` (new), `kb lint` (lint), `kb diff` (impact) and the preview pages' data."""
