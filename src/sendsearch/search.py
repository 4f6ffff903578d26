"""Hybrid retrieval: dense and BM25 candidates fused per document, best passage per document.

A document's rank on each side is the rank of its best chunk there. Reciprocal rank
fusion combines those ranks; within a document the passage returned is the chunk that
fuses best on its own, so a long answer is cited where it answers, not at its start.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

import numpy as np

from .errors import QueryError
from .keyword import Analyzer, KeywordIndex
from .schema import Passage
from .store import Filters, Store, StoredChunk
from .text import sentence_spans
from .vectors import VectorIndex

__all__ = ["SearchConfig", "Mode", "run_search", "MAX_QUERY_CHARS", "clean_query"]

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")
# Longer queries are cut, not refused: the model reads 256 word pieces at most anyway.
MAX_QUERY_CHARS = 1000


@dataclass(frozen=True)
class SearchConfig:
    """How candidates are gathered and fused."""

    candidates: int = 100  # chunks taken from each side
    rrf_k: float = 60.0
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    one_per_document: bool = True

    def with_overrides(self, **overrides: object) -> SearchConfig:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class QueryPlan:
    """A query as each side reads it."""

    text: str  # what the user asked, cleaned
    dense_text: str
    terms: dict[str, float]  # BM25 terms with weights


def clean_query(query: object) -> str:
    """The query stripped and cut to ``MAX_QUERY_CHARS``; empty or non-text is an error."""
    if not isinstance(query, str):
        raise QueryError("the query must be text")
    query = " ".join(query.split())
    if not query:
        raise QueryError("the query is empty: type a question, e.g. 'How long does an EHC needs assessment take?'")
    return query[:MAX_QUERY_CHARS]


def _ranked_docs(chunk_ids: np.ndarray, doc_of: dict[int, str]) -> dict[str, int]:
    """Rank (1-based) of each document by its best chunk in a ranked chunk list."""
    ranks: dict[str, int] = {}
    for chunk_id in chunk_ids:
        doc = doc_of.get(int(chunk_id))
        if doc is not None and doc not in ranks:
            ranks[doc] = len(ranks) + 1
    return ranks


def _fuse(
    sides: Sequence[tuple[np.ndarray, float]], doc_of: dict[int, str], config: SearchConfig
) -> tuple[list[tuple[str, float]], dict[str, int]]:
    """Documents by fused score, and the best chunk of each (chunk-level fusion within it)."""
    doc_scores: dict[str, float] = {}
    chunk_scores: dict[int, float] = {}
    for chunk_ids, weight in sides:
        if weight == 0 or not len(chunk_ids):
            continue
        for doc, rank in _ranked_docs(chunk_ids, doc_of).items():
            doc_scores[doc] = doc_scores.get(doc, 0.0) + weight / (config.rrf_k + rank)
        for rank, chunk_id in enumerate(chunk_ids, start=1):
            chunk_scores[int(chunk_id)] = chunk_scores.get(int(chunk_id), 0.0) + weight / (config.rrf_k + rank)
    best_chunk: dict[str, int] = {}
    for chunk_id, score in sorted(chunk_scores.items(), key=lambda item: -item[1]):
        best_chunk.setdefault(doc_of[chunk_id], chunk_id)
    ranked = sorted(doc_scores.items(), key=lambda item: (-item[1], item[0]))
    return ranked, best_chunk


def _highlights(chunk: StoredChunk, plan: QueryPlan, analyzer: Analyzer, keyword: KeywordIndex) -> tuple[tuple[int, int], ...]:
    """The sentence(s) of a passage that share the most (IDF-weighted) terms with the query."""
    query_terms = {term for term, weight in plan.terms.items() if weight >= 1.0}
    if not query_terms:
        return ()
    scored = []
    for start, end in sentence_spans(chunk.text):
        terms = set(analyzer.terms(chunk.text[start:end])) & query_terms
        score = sum(keyword.idf(term) for term in terms)
        if score > 0:
            scored.append((score, start, end))
    if not scored:
        return ()
    best = max(score for score, _, _ in scored)
    # The best sentence, and any other nearly as good (an answer can span two sentences).
    chosen = sorted((s, e) for score, s, e in scored if score >= 0.8 * best)[:2]
    return tuple((chunk.start + s, chunk.start + e) for s, e in chosen)


def _passage(chunk: StoredChunk, score: float, rank: int, highlights: tuple[tuple[int, int], ...], same_answer: tuple[str, ...], explanation: dict) -> Passage:
    doc = chunk.document
    return Passage(
        doc_id=chunk.doc_id,
        text=chunk.text,
        score=round(float(score), 6),
        rank=rank,
        kind=doc["kind"],
        start=chunk.start,
        end=chunk.end,
        title=doc["title"],
        question=doc["question"],
        source=doc["source"],
        date_asked=date.fromisoformat(doc["date_asked"]) if doc["date_asked"] else None,
        date_answered=date.fromisoformat(doc["date_answered"]) if doc["date_answered"] else None,
        asked_by=doc["asked_by"],
        answered_by=doc["answered_by"],
        answered_by_role=doc["answered_by_role"],
        department=doc["department"],
        highlights=highlights,
        same_answer_as=same_answer,
        explanation=explanation,
    )


def run_search(
    plan: QueryPlan,
    k: int,
    *,
    store: Store,
    vectors: VectorIndex,
    keyword: KeywordIndex,
    analyzer: Analyzer,
    encode: Callable[[str], np.ndarray],
    filters: Filters,
    allowed: np.ndarray | None,
    mode: Mode,
    config: SearchConfig,
) -> list[Passage]:
    """The top ``k`` passages for a planned query over one index snapshot."""
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if allowed is not None and not len(allowed):
        return []
    pool = max(config.candidates, k)
    dense_ids = keyword_ids = np.zeros(0, dtype=np.int64)
    if mode in ("hybrid", "dense"):
        _, ids = vectors.search(encode(plan.dense_text), pool, allowed)
        dense_ids = ids[0][ids[0] >= 0]
    if mode in ("hybrid", "bm25"):
        rows = keyword.rows_for(allowed) if allowed is not None else None
        keyword_ids, _ = keyword.search(plan.terms, pool, rows)
    candidates = np.unique(np.concatenate([dense_ids, keyword_ids]))
    doc_of = store.chunk_documents(candidates)
    dense_weight = config.dense_weight if mode != "bm25" else 0.0
    keyword_weight = config.keyword_weight if mode != "dense" else 0.0
    ranked, best_chunk = _fuse([(dense_ids, dense_weight), (keyword_ids, keyword_weight)], doc_of, config)
    if config.one_per_document:
        chosen = [(doc, score, best_chunk[doc]) for doc, score in ranked[:k]]
    else:
        chosen = _all_chunks(dense_ids, keyword_ids, doc_of, config, dense_weight, keyword_weight)[:k]
    rows = store.chunks([chunk_id for _, _, chunk_id in chosen])
    groups = store.documents_with_answer(list({rows[c].answer_key for _, _, c in chosen}))
    dense_rank = {int(c): r for r, c in enumerate(dense_ids, start=1)}
    keyword_rank = {int(c): r for r, c in enumerate(keyword_ids, start=1)}
    passages = []
    for rank, (doc, score, chunk_id) in enumerate(chosen, start=1):
        row = rows[chunk_id]
        same = tuple(d for d in groups.get(row.answer_key, []) if d != doc)
        explanation = {"dense_rank": dense_rank.get(chunk_id), "bm25_rank": keyword_rank.get(chunk_id), "chunk_id": chunk_id}
        passages.append(_passage(row, score, rank, _highlights(row, plan, analyzer, keyword), same, explanation))
    return passages


def _all_chunks(dense_ids, keyword_ids, doc_of, config, dense_weight, keyword_weight) -> list[tuple[str, float, int]]:
    """Chunk-level fusion, for callers who want several passages from one document."""
    scores: dict[int, float] = {}
    for ids, weight in ((dense_ids, dense_weight), (keyword_ids, keyword_weight)):
        for rank, chunk_id in enumerate(ids, start=1):
            scores[int(chunk_id)] = scores.get(int(chunk_id), 0.0) + weight / (config.rrf_k + rank)
    ordered = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return [(doc_of[c], s, c) for c, s in ordered if s > 0]
