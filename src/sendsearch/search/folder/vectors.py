"""The dense side: chunk vectors in FAISS, searched by inner product (cosine on unit vectors).

Below ``HNSW_THRESHOLD`` vectors the index is exact (``IndexFlatIP``); above it, HNSW.
Either way it sits in an ``IndexIDMap2`` so vectors carry the chunk ids of the store,
and is saved in FAISS's own file format (no pickle). HNSW cannot delete in place, so a
removed vector is recorded as deleted and excluded inside every search; the graph is
rebuilt once a tenth of it is dead.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import faiss as _faiss
import numpy as np

from ...indexing.config import HNSW_THRESHOLD

# faiss ships type stubs that leave out much of its SWIG interface (IndexIDMap2.id_map,
# SearchParametersHNSW, selectors as search parameters), so it is used untyped here.
faiss: Any = _faiss

__all__ = ["HNSW_THRESHOLD", "VectorIndex"]

REBUILD_SHARE = 0.1
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 512  # recall@10 0.998, recall@100 0.996 on the 70k real vectors (benchmarks/hnsw_recall.py)


# Selectors kept for the filters searched most recently (one per filter and deletion state).
_SELECTORS_KEPT = 16


class VectorIndex:
    """Chunk vectors keyed by chunk id, exact or HNSW."""

    def __init__(
        self, index: Any, kind: str, ef_search: int = HNSW_EF_SEARCH, deleted: np.ndarray | None = None
    ) -> None:
        self._index = index
        self.kind = kind
        self.ef_search = ef_search
        self._deleted = np.zeros(0, dtype=np.int64) if deleted is None else np.asarray(deleted, dtype=np.int64)
        # FAISS id selectors by the arrays they were made from (``_selector``).
        self._selectors: OrderedDict[tuple[int, int], tuple[np.ndarray | None, np.ndarray, Any]] = OrderedDict()
        self._selectors_lock = threading.Lock()

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
        """Live vectors (deleted ones excluded)."""
        return int(self._index.ntotal) - len(self._deleted)

    @property
    def deleted_count(self) -> int:
        """Vectors removed but still in the HNSW graph, excluded from every search."""
        return len(self._deleted)

    def max_id(self) -> int:
        """The largest id ever stored, deleted ones included (ids are never reused)."""
        stored = faiss.vector_to_array(self._index.id_map)
        return int(stored.max()) if len(stored) else -1

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        """Remove vectors by chunk id."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return
        if self.kind == "flat":
            self._index.remove_ids(faiss.IDSelectorBatch(ids))
            return
        self._deleted = np.union1d(self._deleted, ids)
        if len(self._deleted) > REBUILD_SHARE * self._index.ntotal:
            live = self.ids()
            rebuilt = VectorIndex.create(self.dimension, 0, hnsw_threshold=0)
            rebuilt.add(live, self.vectors(live))
            self._index, self._deleted = rebuilt._index, np.zeros(0, dtype=np.int64)

    def ids(self) -> np.ndarray:
        """Live chunk ids."""
        stored = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        return np.setdiff1d(stored, self._deleted) if len(self._deleted) else stored

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

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, chunk ids) per query row; ids are -1 where fewer exist.

        ``allowed`` restricts the search to those chunk ids (filters), inside FAISS.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        k = max(1, min(k, len(self)))
        if len(self) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        selector = self._selector(allowed)
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(self.ef_search, k))
        else:
            params = faiss.SearchParameters(sel=selector)
        return self._index.search(queries, k, params=params)

    def _selector(self, allowed: np.ndarray | None) -> Any:
        """FAISS's selector of the ``allowed`` ids less the deleted ones (None: every id), made
        once per pair of arrays and kept for the searches after: building its hash of ids took
        about 2.5 ms for a date filter over all Commons answers, and one request searches up
        to three times with one filter, as later requests do (the backend keeps the allowed
        arrays of recent filters). Read-only once made, so threads share it."""
        deleted = self._deleted
        if allowed is None and not len(deleted):
            return None
        key = (id(allowed), id(deleted))
        with self._selectors_lock:
            kept = self._selectors.get(key)
            # The arrays themselves are kept with it, so an id is never another array's.
            if kept is not None and kept[0] is allowed and kept[1] is deleted:
                self._selectors.move_to_end(key)
                return kept[2]
        selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)) if allowed is not None else None
        if len(deleted):
            alive = faiss.IDSelectorNot(faiss.IDSelectorBatch(deleted))
            selector = alive if selector is None else faiss.IDSelectorAnd(selector, alive)
        with self._selectors_lock:
            self._selectors[key] = (allowed, deleted, selector)
            while len(self._selectors) > _SELECTORS_KEPT:
                self._selectors.popitem(last=False)
        return selector

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))
        np.save(_deleted_path(path), self._deleted, allow_pickle=False)

    @classmethod
    def load(cls, path: Path, kind: str, ef_search: int = HNSW_EF_SEARCH) -> VectorIndex:
        """Load a saved index; ValueError if it is not the kind the manifest says, or its ids
        and deletions do not agree (FAISS itself raises RuntimeError for a garbled file)."""
        deleted = np.load(_deleted_path(path), allow_pickle=False) if _deleted_path(path).exists() else None
        index = faiss.read_index(str(path))
        wanted = "IndexHNSWFlat" if kind == "hnsw" else "IndexFlatIP"
        if not isinstance(index, faiss.IndexIDMap2) or type(faiss.downcast_index(index.index)).__name__ != wanted:
            raise ValueError(f"{path.name} is not the {kind} index the manifest describes")
        if deleted is not None and (deleted.ndim != 1 or deleted.dtype.kind != "i"):
            raise ValueError(f"{_deleted_path(path).name} is not a list of chunk ids")
        loaded = cls(index, kind, ef_search, deleted)
        stored = faiss.vector_to_array(index.id_map)
        if len(stored) != index.ntotal or len(np.unique(stored)) != len(stored):
            raise ValueError(f"{path.name} holds {index.ntotal} vectors but {len(stored)} distinct ids")
        if len(loaded._deleted) and not np.isin(loaded._deleted, stored).all():
            raise ValueError(f"{_deleted_path(path).name} deletes ids the index does not hold")
        return loaded


def _deleted_path(path: Path) -> Path:
    return path.with_name(path.stem + ".deleted.npy")
