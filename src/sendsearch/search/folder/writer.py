"""The folder store, write side: a new generation folder of SQLite, FAISS and bm25s files.

A build starts from nothing; an update copies the published generation's store and loads
its vectors and keyword index, removes and adds, and writes the new parts beside. Chunk ids
of added chunks come after every id the generation ever used (an HNSW index still holds
deleted ones). ``finish`` saves the vectors (switching between exact and HNSW when the
count crosses the threshold), then the keyword index, then compacts the store.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...indexing import manifest as manifest_module
from ...indexing.config import IndexConfig, KeywordConfig
from ...indexing.layout import Generation
from ...indexing.writer import Written, register_store
from ...schema import Chunk, Document
from ...text.analysis import Terms
from .documents import Store
from .keyword import KeywordIndex
from .vectors import HNSW_EF_SEARCH, VectorIndex

__all__ = ["FolderWriter"]


class FolderWriter:
    """Writes one generation folder (see the module's docstring); a ``GenerationWriter``."""

    name = "folder"

    def __init__(
        self, folder: Path, base: Path | None, config: IndexConfig, dimension: int, saved: Mapping[str, Any]
    ) -> None:
        self._generation = Generation(folder)
        self._config = config
        self._removed: list[int] = []
        self._added: list[int] = []
        self._pending: Iterable[Terms] = iter(())
        if base is None:
            self._store = Store.create(self._generation.store)
            self._vectors = VectorIndex.create(dimension, 0, hnsw_threshold=config.hnsw_threshold)
            self._fresh = True
            return
        shutil.copyfile(Generation(base).store, self._generation.store)
        manifest_module.step("store copied")
        self._store = Store(self._generation.store, readonly=False)
        self._base = Generation(base)
        self._vectors = VectorIndex.load(self._base.vectors, saved["kind"], saved.get("ef_search", HNSW_EF_SEARCH))
        self._fresh = False

    def content_hashes(self) -> dict[str, str]:
        return self._store.content_hashes()

    def remove(self, doc_ids: Sequence[str]) -> None:
        self._removed += self._store.delete(doc_ids)

    def add(
        self,
        documents: Sequence[Document],
        chunks: Sequence[Sequence[Chunk]],
        vectors: np.ndarray,
        terms: Iterable[Terms],
    ) -> None:
        if self._fresh and not self._added:
            first = 0
            sized = VectorIndex.create(
                self._vectors.dimension, sum(map(len, chunks)), hnsw_threshold=self._config.hnsw_threshold
            )
            self._vectors = sized
        else:
            # New ids come after every id ever used: an HNSW index still holds deleted ones.
            first = max(self._store.max_chunk_id(), self._vectors.max_id()) + 1
        new_ids = self._store.insert(documents, chunks, first_chunk_id=first)
        self._vectors.remove(np.asarray(self._removed, dtype=np.int64))
        self._vectors.add(np.asarray(new_ids, dtype=np.int64), vectors)
        self._added += new_ids
        self._pending = terms

    def finish(self) -> Written:
        if not self._added:  # removals only: apply them to the vectors too
            self._vectors.remove(np.asarray(self._removed, dtype=np.int64))
            self._pending = iter(())
        vectors = self._vectors if self._fresh else _right_sized(self._vectors, self._config)
        _save_vectors(vectors, self._generation.vectors)
        config: KeywordConfig = self._config.keyword
        if self._fresh:
            keyword = KeywordIndex.build(self._added, self._pending, config)
        else:
            keyword = KeywordIndex.load(self._base.keyword).updated(self._removed, self._added, self._pending)
        keyword.save(self._generation.keyword)
        manifest_module.step("keyword saved")
        self._store.finish()
        store = Store(self._generation.store)
        try:
            documents, chunks = store.counts()
            hashes = store.content_hashes()
        finally:
            store.close()
        settings = {"kind": vectors.kind, "hnsw_threshold": self._config.hnsw_threshold, "ef_search": vectors.ef_search}
        return Written(documents, chunks, hashes, settings)

    def close(self) -> None:
        self._store.close()


def _save_vectors(vectors: VectorIndex, path: Path) -> None:
    try:
        vectors.save(path)
    except RuntimeError as error:  # FAISS reports a failed write so
        raise OSError(str(error).strip().splitlines()[-1]) from None


def _right_sized(vectors: VectorIndex, config: IndexConfig) -> VectorIndex:
    """Switch between exact and HNSW when an update moves the index across the threshold."""
    wanted = "hnsw" if len(vectors) >= config.hnsw_threshold else "flat"
    if wanted == vectors.kind:
        return vectors
    ids = vectors.ids()
    resized = VectorIndex.create(vectors.dimension, len(ids), hnsw_threshold=config.hnsw_threshold)
    resized.add(ids, vectors.vectors(ids))
    return resized


register_store(FolderWriter.name, FolderWriter)
