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
from .glossary import concept_terms
from .keyword import Analyzer, KeywordIndex
from .schema import Passage
from .store import Store, StoredChunk
from .text import sentence_spans
from .vectors import VectorIndex

__all__ = ["SearchConfig", "Mode", "run_search", "MAX_QUERY_CHARS", "clean_query"]

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")
# Longer queries are cut, not refused: the model reads 256 word pieces at most anyway.
MAX_QUERY_CHARS = 1000


@dataclass(frozen=True)
class SearchConfig:
    """How candidates are gathered and fused.

    ``fusion="convex"`` adds the two sides' normalised scores (BM25 divided by the best
    BM25 score among the candidates, cosine min-max scaled over them) with these weights;
    ``"rrf"`` adds ``weight / (rrf_k + rank)``. Every candidate is scored on both sides, so
    a passage found by one side alone is judged by the other too.
    """

    candidates: int = 100  # chunks taken from each side
    fusion: Literal["convex", "rrf"] = "convex"
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    rrf_k: float = 60.0
    one_per_document: bool = True
    # Glossary use at query time: concept markers for BM25 (weight), long forms for dense.
    concept_weight: float = 1.0
    # Weight of the literal terms of words a concept matched ("EHCP" -> ehcp), so that
    # a rare spelling does not outweigh the concept shared by all its spellings.
    literal_weight: float = 1.0
    expand_dense: bool = False
    # Weight of the question's adjacent term pairs ("special school", "mental health") on
    # an index built with KeywordConfig.phrases: a passage with the phrase scores above one
    # with both words apart. Below 1 so that the words themselves still lead.
    phrase_weight: float = 0.2
    # Show one passage for an answer given word for word to several questions; the
    # others are listed in Passage.same_answer_as.
    collapse_duplicates: bool = True
    # Pseudo-relevance feedback (hybrid only): the best chunks of the first
    # ``feedback_docs`` documents move the query vector towards them (Rocchio, weight
    # ``feedback_vector``) and lend their ``feedback_terms`` most telling terms to BM25 at
    # ``feedback_term_weight``; then the search runs again. 0 documents turns it off.
    feedback_docs: int = 3
    feedback_vector: float = 0.5
    feedback_terms: int = 10
    feedback_term_weight: float = 0.3

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


def _highlights(chunk: StoredChunk, plan: QueryPlan, analyzer: Analyzer, keyword: KeywordIndex) -> tuple[tuple[int, int], ...]:
    """The sentence(s) of a passage that share the most (IDF-weighted) terms with the query."""
    query_terms = {term for term, weight in plan.terms.items() if weight >= 1.0}
    if not query_terms:
        return ()
    concepts = {term for term in query_terms if term.startswith("~")}
    scored = []
    for start, end in sentence_spans(chunk.text):
        sentence = chunk.text[start:end]
        terms = set(analyzer.terms(sentence)) & query_terms
        if concepts:
            terms.update(concept_terms(sentence, among=concepts))
        score = sum(keyword.idf(term) for term in terms)
        if score > 0:
            scored.append((score, start, end))
    if not scored:
        return ()
    best = max(score for score, _, _ in scored)
    # The best sentence, and any other nearly as good (an answer can span two sentences).
    chosen = sorted((s, e) for score, s, e in scored if score >= 0.8 * best)[:2]
    return tuple((chunk.start + s, chunk.start + e) for s, e in chosen)


def _borrow_citation(doc: dict, same_answer: tuple[str, ...], fields: dict[str, dict]) -> tuple[dict, str | None]:
    """Fill who answered and when from a same-answer document of the same department when
    this document's record lacks both (records often do; the scraped pages say)."""
    if doc["answered_by"] or doc["date_answered"]:
        return doc, None
    for other in same_answer:
        found = fields.get(other, {})
        same_department = not doc["department"] or not found.get("department") or found["department"] == doc["department"]
        if same_department and (found.get("answered_by") or found.get("date_answered")):
            borrowed = {name: found.get(name) for name in ("answered_by", "answered_by_role", "date_answered")}
            return {**doc, **borrowed, "date_asked": doc["date_asked"] or found.get("date_asked")}, other
    return doc, None


def _passage(chunk: StoredChunk, score: float, rank: int, highlights: tuple[tuple[int, int], ...], same_answer: tuple[str, ...], explanation: dict, doc: dict, cited_from: str | None) -> Passage:
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
        cited_from=cited_from,
        explanation=explanation,
    )


@dataclass(frozen=True)
class Candidates:
    """Chunks found by either side, each with both sides' scores."""

    chunk_ids: np.ndarray
    dense: np.ndarray
    bm25: np.ndarray


def _gather(plan: QueryPlan, mode: Mode, pool: int, *, vectors: VectorIndex, keyword: KeywordIndex, query_vector: np.ndarray | None, allowed: np.ndarray | None) -> Candidates:
    use_dense, use_bm25 = query_vector is not None, mode in ("hybrid", "bm25")
    dense_top: dict[int, float] = {}
    if use_dense:
        scores, ids = vectors.search(query_vector, pool, allowed)
        dense_top = {int(c): float(v) for c, v in zip(ids[0], scores[0]) if c >= 0}
    bm25_all = None
    bm25_top: list[int] = []
    if use_bm25:
        bm25_all = keyword.scores(plan.terms)
        if allowed is not None:
            mask = np.zeros(len(bm25_all), dtype=bool)
            mask[keyword.rows_for(allowed)] = True
            bm25_all[~mask] = 0.0
        rows = np.flatnonzero(bm25_all > 0)
        if len(rows) > pool:
            rows = rows[np.argpartition(-bm25_all[rows], pool - 1)[:pool]]
        bm25_top = keyword.chunk_ids[rows].tolist()
    chunk_ids = np.asarray(sorted(set(dense_top) | set(bm25_top)), dtype=np.int64)
    dense = np.zeros(len(chunk_ids), dtype=np.float32)
    if query_vector is not None:
        missing = [i for i, c in enumerate(chunk_ids) if int(c) not in dense_top]
        dense[:] = [dense_top.get(int(c), 0.0) for c in chunk_ids]
        if missing:
            dense[missing] = vectors.similarity(query_vector, chunk_ids[missing])
    bm25 = np.zeros(len(chunk_ids), dtype=np.float32)
    if bm25_all is not None and len(chunk_ids):
        bm25 = bm25_all[np.searchsorted(keyword.chunk_ids, chunk_ids)]
    return Candidates(chunk_ids, dense, bm25)


def _scale(values: np.ndarray, *, floor: float | None = None) -> np.ndarray:
    """Min-max scale to [0, 1]; ``floor`` fixes the minimum (0 for BM25)."""
    if not len(values):
        return values
    low = float(values.min()) if floor is None else floor
    high = float(values.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks


def _fused(candidates: Candidates, mode: Mode, config: SearchConfig) -> np.ndarray:
    """One score per candidate chunk."""
    if mode == "dense":
        return candidates.dense.astype(np.float64)
    if mode == "bm25":
        return candidates.bm25.astype(np.float64)
    dw, kw = config.dense_weight, config.keyword_weight
    if config.fusion == "rrf":
        # A chunk with no keyword match at all gets no keyword rank.
        keyword = np.where(candidates.bm25 > 0, kw / (config.rrf_k + _ranks(candidates.bm25)), 0.0)
        return dw / (config.rrf_k + _ranks(candidates.dense)) + keyword
    return (dw * _scale(candidates.dense) + kw * _scale(candidates.bm25, floor=0.0)) / (dw + kw)


@dataclass(frozen=True)
class _Pick:
    doc: str
    chunk_id: int
    score: float
    dense: float
    bm25: float


def _select(candidates: Candidates, scores: np.ndarray, doc_of: dict[int, tuple[str, str]], k: int, config: SearchConfig, picked: list[_Pick] | None = None) -> list[_Pick]:
    """The best chunk of each of the first ``k`` documents (and distinct answers), after
    any already ``picked``."""
    picked = list(picked or [])
    seen = {p.doc for p in picked} | {doc_of.get(p.chunk_id, (None, None))[1] for p in picked}
    for i in np.argsort(-scores, kind="stable"):
        if len(picked) >= k:
            break
        chunk_id = int(candidates.chunk_ids[i])
        doc, answer = doc_of[chunk_id]
        if (config.one_per_document and doc in seen) or (config.collapse_duplicates and answer in seen):
            continue
        seen.update((doc, answer))
        picked.append(_Pick(doc, chunk_id, float(scores[i]), float(candidates.dense[i]), float(candidates.bm25[i])))
    return picked


def _feedback(plan: QueryPlan, query_vector: np.ndarray, top: list[_Pick], vectors: VectorIndex, keyword: KeywordIndex, config: SearchConfig) -> tuple[QueryPlan, np.ndarray]:
    """Move the query towards the best chunks of the first documents found."""
    ids = np.asarray([p.chunk_id for p in top], dtype=np.int64)
    moved = query_vector.reshape(-1) + config.feedback_vector * vectors.vectors(ids).mean(axis=0)
    moved = (moved / np.linalg.norm(moved)).reshape(1, -1).astype(np.float32)
    terms = dict(plan.terms)
    for term in keyword.feedback_terms(ids, config.feedback_terms):
        terms.setdefault(term, config.feedback_term_weight)
    return replace(plan, terms=terms), moved


def run_search(
    plan: QueryPlan,
    k: int,
    *,
    store: Store,
    vectors: VectorIndex,
    keyword: KeywordIndex,
    analyzer: Analyzer,
    encode: Callable[[str], np.ndarray],
    allowed: np.ndarray | None,
    mode: Mode,
    config: SearchConfig,
) -> list[Passage]:
    """The top ``k`` passages for a planned query over one index snapshot."""
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if config.fusion not in ("convex", "rrf"):
        raise QueryError(f"fusion must be convex or rrf, not {config.fusion!r}")
    if allowed is not None and not len(allowed):
        return []
    pool = max(config.candidates, k)
    query_vector = encode(plan.dense_text) if mode in ("hybrid", "dense") else None
    asked_vector = query_vector
    candidates = _gather(plan, mode, pool, vectors=vectors, keyword=keyword, query_vector=query_vector, allowed=allowed)
    if not len(candidates.chunk_ids):
        return []
    scores = _fused(candidates, mode, config)
    doc_of = store.chunk_documents(candidates.chunk_ids)
    if config.feedback_docs and mode == "hybrid":
        # The documents the feedback comes from keep their places; the expanded query
        # orders the rest.
        top = _select(candidates, scores, doc_of, min(config.feedback_docs, k), config)
        plan, query_vector = _feedback(plan, query_vector, top, vectors, keyword, config)
        candidates = _gather(plan, mode, pool, vectors=vectors, keyword=keyword, query_vector=query_vector, allowed=allowed)
        scores = _fused(candidates, mode, config)
        doc_of = {**doc_of, **store.chunk_documents(candidates.chunk_ids)}
        chosen = _select(candidates, scores, doc_of, k, config, top)
    else:
        chosen = _select(candidates, scores, doc_of, k, config)
    rows = store.chunks([p.chunk_id for p in chosen])
    groups = store.documents_with_answer(list({rows[p.chunk_id].answer_key for p in chosen}))
    # Cosine with the question as asked (before feedback): an absolute measure of
    # relevance that callers can hold passages to (the chat's "nothing relevant" floor).
    cosines = vectors.similarity(asked_vector, np.asarray([p.chunk_id for p in chosen])) if asked_vector is not None else None
    sharing = {d for members in groups.values() if len(members) > 1 for d in members}
    fields = store.citation_fields(sorted(sharing))
    passages = []
    for rank, pick in enumerate(chosen, start=1):
        row = rows[pick.chunk_id]
        same = tuple(d for d in groups.get(row.answer_key, []) if d != pick.doc)
        doc, cited_from = _borrow_citation(row.document, same, fields)
        explanation = {"chunk_id": pick.chunk_id, "dense": round(pick.dense, 4), "bm25": round(pick.bm25, 4)}
        if cosines is not None:
            explanation["cosine"] = round(float(cosines[rank - 1]), 4)
        passages.append(_passage(row, pick.score, rank, _highlights(row, plan, analyzer, keyword), same, explanation, doc, cited_from))
    return passages
