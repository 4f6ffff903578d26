"""The folder store, read side: one generation folder (FAISS + bm25s + SQLite) as a ``Backend``.

``FolderBackend.open`` loads a published generation's parts and checks that they agree
(the same chunks in the store, the vectors and the keyword arrays; the manifest's counts
and dimension). A published generation never changes, so its parts are read without
locks: SQLite opened immutable, keyword arrays memory-mapped.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import numpy as np

from ...errors import damaged_index, index_problem
from ...filters import Filters
from ...indexing.layout import Generation
from ...indexing.manifest import Manifest
from ...schema import Citation
from ..backend import AllowedChunks, ChunkDocument, KeywordResult, Pair, ScoredChunks, StoredChunk
from .documents import Store
from .keyword import KeywordIndex
from .vectors import HNSW_EF_SEARCH, VectorIndex

__all__ = ["FolderBackend"]

# Filters' allowed chunks kept per generation: a page's filters repeat from question to question.
_FILTER_CACHE = 64


class FolderBackend:
    """A generation folder's store, vectors and keyword index behind the ``Backend`` methods."""

    name = "folder"

    def __init__(self, store: Store, vectors: VectorIndex, keyword: KeywordIndex) -> None:
        self.store = store
        self.vectors = vectors
        self.keyword = keyword
        self._filter_cache: OrderedDict[Filters, np.ndarray] = OrderedDict()
        self._filter_lock = threading.Lock()

    @staticmethod
    def missing_part(folder: Path) -> str | None:
        """The first part a generation folder lacks (checked before anything is read), or None."""
        return next((name for name in Generation.PARTS if not (folder / name).exists()), None)

    @classmethod
    def open(cls, directory: Path, manifest: Manifest) -> FolderBackend:
        """Load the generation the manifest names; IndexFormatError (saying how to rebuild
        from the index's sources) if a part is damaged or the parts disagree."""
        generation = Generation(directory / manifest.generation)
        sources = manifest.sources
        try:
            store = Store(generation.store, sources=sources)
            missing = store.missing_columns()
            if missing:
                older = f"was built by an older sendsearch (its store lacks {', '.join(missing)})"
                raise index_problem(directory, older, sources)
            documents, chunks = store.counts()
            vectors = VectorIndex.load(
                generation.vectors,
                manifest.vectors.get("kind", "flat"),
                manifest.vectors.get("ef_search", HNSW_EF_SEARCH),
            )
            keyword = KeywordIndex.load(generation.keyword)
            chunk_ids = store.chunk_ids()
        except (OSError, RuntimeError, ValueError, KeyError, TypeError, sqlite3.Error) as error:
            # FAISS reports a bad file as RuntimeError, SQLite as DatabaseError, our own
            # checks of the keyword and vector files as ValueError.
            raise damaged_index(directory, error, sources) from None
        parts_agree = (
            np.array_equal(keyword.chunk_ids, chunk_ids)
            and len(vectors) == chunks
            and np.array_equal(np.sort(vectors.ids()), chunk_ids)
        )
        if (documents, chunks) != (manifest.documents, manifest.chunks) or not parts_agree:
            raise index_problem(directory, "is inconsistent (its parts disagree on the chunks they hold)", sources)
        if vectors.dimension != manifest.dimension:
            raise index_problem(directory, "holds vectors of another dimension than its manifest's", sources)
        return cls(store, vectors, keyword)

    # -- the dense side -------------------------------------------------------------------
    def dense_search(self, vector: np.ndarray, k: int, allowed: AllowedChunks | None) -> ScoredChunks:
        scores, ids = self.vectors.search(vector, k, allowed)
        found = ids[0] >= 0
        return ScoredChunks(ids[0][found].astype(np.int64), scores[0][found])

    def dense_scores(self, vector: np.ndarray, chunk_ids: np.ndarray) -> np.ndarray:
        return self.vectors.similarity(vector, chunk_ids)

    def stored_vectors(self, chunk_ids: np.ndarray) -> np.ndarray:
        return self.vectors.vectors(chunk_ids)

    # -- the keyword side -----------------------------------------------------------------
    def keyword_search(
        self, words: Mapping[str, float], pairs: Mapping[Pair, float], k: int, allowed: AllowedChunks | None
    ) -> KeywordResult:
        return self.keyword.search(words, pairs, k, allowed)

    def terms_present(self, words: Sequence[str] | Mapping[str, float], chunk_ids: np.ndarray) -> set[str]:
        return self.keyword.present(words, chunk_ids)

    def idf(self, term: str) -> float:
        return self.keyword.idf(term)

    def feedback_terms(self, chunk_ids: np.ndarray, count: int) -> list[str]:
        return self.keyword.feedback_terms(chunk_ids, count)

    # -- documents ------------------------------------------------------------------------
    def allowed(self, filters: Filters) -> AllowedChunks | None:
        if not filters:
            return None
        with self._filter_lock:
            cached = self._filter_cache.get(filters)
        if cached is None:
            cached = self.store.filtered_chunk_ids(filters)
            with self._filter_lock:
                self._filter_cache[filters] = cached
                while len(self._filter_cache) > _FILTER_CACHE:
                    self._filter_cache.popitem(last=False)
        return cached

    def chunk_documents(self, chunk_ids: Sequence[int] | np.ndarray) -> dict[int, ChunkDocument]:
        return self.store.chunk_documents(chunk_ids)

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, StoredChunk]:
        return self.store.chunks(chunk_ids)

    def citations(self, doc_ids: Sequence[str]) -> dict[str, Citation]:
        return self.store.citations(doc_ids)

    def documents_with_answer(self, keys: Sequence[str]) -> dict[str, list[str]]:
        return self.store.documents_with_answer(keys)

    def documents_with_uin(self, uins: Sequence[str]) -> dict[str, list[str]]:
        return self.store.documents_with_uin(uins)

    def document_text(self, doc_id: str) -> str | None:
        return self.store.document_text(doc_id)

    def date_range(self) -> tuple[date | None, date | None]:
        return self.store.date_range()

    def departments(self) -> list[tuple[str, int]]:
        return self.store.departments()

    def kinds(self) -> list[tuple[str, int]]:
        return self.store.kinds()
