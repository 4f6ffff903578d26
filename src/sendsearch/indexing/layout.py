"""Where things are in an index folder: a generation's files and the caches beside them, named once.

An index folder holds ``manifest.json`` (naming the published generation), generation
folders (``gen-<time>-<id>``) and ``cache/``. The folder store (``search/folder``) keeps a
generation as ``store.sqlite`` (documents, citations, chunk offsets), ``vectors.faiss``
(with ``vectors.deleted.npy`` after removals from an HNSW index) and ``keyword/`` (the
bm25s arrays and token ids); the builder and the store both take the names from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["CACHE_PATH", "GENERATION_PREFIX", "LOCK_NAME", "MANIFEST_NAME", "Generation"]

MANIFEST_NAME = "manifest.json"
GENERATION_PREFIX = "gen-"
# The lock one build or update holds (``durable.exclusive``).
LOCK_NAME = ".lock"
# Vectors by (model, text) hash, shared by all generations (relative to the index folder).
CACHE_PATH = Path("cache") / "embeddings.sqlite"


@dataclass(frozen=True)
class Generation:
    """The files of one generation folder of the folder store."""

    folder: Path

    STORE = "store.sqlite"
    VECTORS = "vectors.faiss"
    KEYWORD = "keyword"
    # What a generation of the folder store must hold before anything else is read.
    PARTS = (STORE, VECTORS, KEYWORD)

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def store(self) -> Path:
        return self.folder / self.STORE

    @property
    def vectors(self) -> Path:
        return self.folder / self.VECTORS

    @property
    def keyword(self) -> Path:
        return self.folder / self.KEYWORD
