"""The dense side: chunk vectors in FAISS, searched by inner product (cosine on unit vectors).

Below ``HNSW_THRESHOLD`` vectors the index is exact (``IndexFlatIP``); above it, HNSW.
Either way it sits in an ``IndexIDMap2`` so vectors carry the chunk ids of the store,
and is saved in FAISS's own file format (no pickle).
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

__all__ = ["VectorIndex", "HNSW_THRESHOLD"]

# Exact search over 384-dimensional vectors stays within a few milliseconds well past the
# 50k-document corpus; see docs/performance.md for the measurements behind this number.
HNSW_THRESHOLD = 250_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


class VectorIndex:
    """Chunk vectors keyed by chunk id, exact or HNSW."""

    def __init__(self, index: faiss.Index, kind: str, ef_search: int = HNSW_EF_SEARCH) -> None:
        self._index = index
        self.kind = kind
        self.ef_search = ef_search

    @classmethod
    def create(cls, dimension: int, expected_size: int, *, hnsw_threshold: int = HNSW_THRESHOLD) -> VectorIndex:
        """An empty index of the kind that suits ``expected_size`` vectors."""
        if expected_size >= hnsw_threshold:
            inner = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            return cls(faiss.IndexIDMap2(inner), "hnsw")
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)), "flat")

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )

    def remove(self, ids: np.ndarray) -> None:
        """Remove vectors by chunk id. HNSW cannot delete in place, so it is rebuilt."""
        if not len(ids):
            return
        if self.kind == "flat":
            self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))
            return
        keep_ids = np.setdiff1d(self.ids(), np.asarray(ids, dtype=np.int64))
        vectors = self.vectors(keep_ids)
        rebuilt = VectorIndex.create(self.dimension, 0, hnsw_threshold=0)
        rebuilt.add(keep_ids, vectors)
        self._index = rebuilt._index

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of chunk ids."""
        if not len(ids):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def similarity(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Inner product of one query vector with the stored vectors of ``ids``."""
        if not len(ids):
            return np.zeros(0, dtype=np.float32)
        return self.vectors(ids) @ np.asarray(query, dtype=np.float32).reshape(-1)

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, chunk ids) per query row; ids are -1 where fewer exist.

        ``allowed`` restricts the search to those chunk ids (filters), inside FAISS.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        k = max(1, min(k, len(self)))
        if len(self) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)) if allowed is not None else None
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(self.ef_search, k))
        else:
            params = faiss.SearchParameters(sel=selector)
        return self._index.search(queries, k, params=params)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, kind: str, ef_search: int = HNSW_EF_SEARCH) -> VectorIndex:
        return cls(faiss.read_index(str(path)), kind, ef_search)
