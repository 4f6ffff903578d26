"""The storage seam: what the ranking needs from one published generation, wherever it lives.

The ranking (``pipeline.py``) talks only to a ``Backend``: gather dense and keyword
candidates, score given chunks on either side, read the terms and IDF the keyword side
holds, rebuild stored vectors for feedback, and fetch chunks, documents and citations.
``folder/`` is the first implementation (FAISS + bm25s + SQLite in a generation folder),
``postgres/`` the second (PostgreSQL with pgvector, a generation per set of rows);
``Index`` opens a generation through the implementation its manifest names
(``Manifest.store``), so another (a database, a search service) plugs in without the
ranking changing. Every method is read-only and safe to call from many threads at once.

Chunk ids are int64 and stable within a generation; "best first" means by descending score,
ties kept in the store's own order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple, Protocol

import numpy as np

from ..filters import Filters
from ..schema import Citation

__all__ = [
    "AllowedChunks",
    "Backend",
    "ChunkDocument",
    "KeywordResult",
    "Pair",
    "ScoredChunks",
    "StoredChunk",
]

# The chunk ids a search may return (sorted), or None for all: filters pushed down to the store.
AllowedChunks = np.ndarray
Pair = tuple[str, str]


@dataclass(frozen=True)
class ScoredChunks:
    """Chunk ids with their scores, best first."""

    chunk_ids: np.ndarray
    scores: np.ndarray

    def as_dict(self) -> dict[int, float]:
        """Chunk id -> score, in order (best first)."""
        return {int(c): float(s) for c, s in zip(self.chunk_ids, self.scores, strict=True)}


class KeywordResult(Protocol):
    """The keyword side's answer to one question: its best chunks, and any chunk's score."""

    @property
    def top(self) -> np.ndarray:
        """Chunk ids of the best-scoring chunks (score > 0), best first."""
        ...

    def of(self, chunk_ids: np.ndarray) -> np.ndarray:
        """The keyword scores of some chunk ids (0 for a chunk that matches nothing)."""
        ...


class ChunkDocument(NamedTuple):
    """What ranking needs to know of a candidate chunk's document."""

    doc_id: str
    answer_key: str
    non_answer: bool


@dataclass(frozen=True)
class StoredChunk:
    """A chunk with its text and its document's citation."""

    chunk_id: int
    doc_id: str
    start: int
    end: int
    text: str
    answer_key: str
    citation: Citation


class Backend(Protocol):
    """One published generation, read-only, as the ranking sees it."""

    # -- the dense side -------------------------------------------------------------------
    def dense_search(self, vector: np.ndarray, k: int, allowed: AllowedChunks | None) -> ScoredChunks:
        """The ``k`` chunks nearest ``vector`` (a unit vector), best first, with their cosines."""
        ...

    def dense_scores(self, vector: np.ndarray, chunk_ids: np.ndarray) -> np.ndarray:
        """The cosine of ``vector`` with each of some chunks' stored vectors."""
        ...

    def stored_vectors(self, chunk_ids: np.ndarray) -> np.ndarray:
        """The stored vectors of some chunks, one row each (for feedback)."""
        ...

    # -- the keyword side -----------------------------------------------------------------
    def keyword_search(
        self, words: Mapping[str, float], pairs: Mapping[Pair, float], k: int, allowed: AllowedChunks | None
    ) -> KeywordResult:
        """BM25 for weighted words and adjacent pairs: the ``k`` best chunks and any chunk's score."""
        ...

    def terms_present(self, words: Sequence[str] | Mapping[str, float], chunk_ids: np.ndarray) -> set[str]:
        """Those of ``words`` that occur in any of some chunks (text, heading or question)."""
        ...

    def idf(self, term: str) -> float:
        """The inverse document frequency of a term (0 for one the index does not hold)."""
        ...

    def feedback_terms(self, chunk_ids: np.ndarray, count: int) -> list[str]:
        """The ``count`` terms that best characterise some chunks (pseudo-relevance feedback)."""
        ...

    # -- documents ------------------------------------------------------------------------
    def allowed(self, filters: Filters) -> AllowedChunks | None:
        """The chunks that pass the filters (None when there are none to apply)."""
        ...

    def chunk_documents(self, chunk_ids: Sequence[int] | np.ndarray) -> dict[int, ChunkDocument]:
        """The document of each chunk id."""
        ...

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, StoredChunk]:
        """Chunks with their text and citations, for the ids a search returns."""
        ...

    def citations(self, doc_ids: Sequence[str]) -> dict[str, Citation]:
        """The citation of each document."""
        ...

    def documents_with_answer(self, keys: Sequence[str]) -> dict[str, list[str]]:
        """All doc ids sharing each answer key (grouped questions get one answer)."""
        ...

    def documents_with_uin(self, uins: Sequence[str]) -> dict[str, list[str]]:
        """Doc ids of the written questions with each question number."""
        ...

    def document_text(self, doc_id: str) -> str | None:
        """A document's cleaned full text."""
        ...

    # -- what the generation holds (``Index.info``) ---------------------------------------
    def date_range(self) -> tuple[date | None, date | None]: ...

    def departments(self) -> list[tuple[str, int]]: ...

    def kinds(self) -> list[tuple[str, int]]: ...
