"""Hybrid retrieval: dense and BM25 candidates scored on both sides, fused, best passage per document.

Every candidate chunk found by either side is scored by the other as well, the two
normalised scores are added (or their ranks, with ``fusion="rrf"``), the best documents
feed the question back once (pseudo-relevance feedback), and each document's passage is
its best chunk, so a long answer is cited where it answers, not at its start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..errors import QueryError
from ..schema import Citation, Passage
from ..text.analysis import Analyzer, QueryPlan
from ..text.glossary import CONCEPT_PREFIX
from .folder.documents import ChunkDocument, Store
from .folder.keyword import KeywordIndex
from .folder.vectors import VectorIndex
from .scope import elsewhere_named, mentions

__all__ = ["MODES", "Mode", "SearchConfig", "run_search"]

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class SearchConfig:
    """How candidates are gathered and fused. Checked when made: a bad value is a ``QueryError``.

    ``fusion="convex"`` adds the two sides' normalised scores (BM25 divided by the best
    BM25 score among the candidates, cosine min-max scaled over them) with these weights;
    ``"rrf"`` adds ``weight / (rrf_k + rank)``.
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
    # A passage is marked ``weak_match`` (probably not an answer; docs/quality.md, "Not
    # covered") when its cosine with the question as asked is below ``relevance_floor``, or
    # below ``term_check_below`` while it holds under ``min_term_coverage`` of the question's
    # terms (IDF-weighted), or when the question names a system outside England (scope.py)
    # that the passage never mentions.
    relevance_floor: float = 0.30
    term_check_below: float = 0.45
    min_term_coverage: float = 0.10
    # Questions of at least this many terms (after stop words) are read as paragraphs: their
    # terms that none of the ``agreement_chunks`` nearest passages (dense) contain are about
    # the asker's life rather than the topic, and weigh ``off_topic_term_weight`` in BM25.
    long_question_terms: int = 12
    agreement_chunks: int = 20
    off_topic_term_weight: float = 0.3
    # Answers that say nothing of their own (unanswered, "not held centrally", holding
    # answers, bare referrals) have their fused score multiplied by this, so that answers
    # with substance come first (hybrid only; the single sides stay plain for comparison).
    non_answer_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.fusion not in ("convex", "rrf"):
            raise QueryError(f"fusion must be 'convex' or 'rrf', not {self.fusion!r}")
        for name in ("candidates", "feedback_docs", "feedback_terms", "long_question_terms", "agreement_chunks"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < (1 if name == "candidates" else 0):
                raise QueryError(
                    f"{name} must be a whole number of at least {1 if name == 'candidates' else 0}, not {value!r}"
                )
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "float" and (not isinstance(value, int | float) or isinstance(value, bool) or value < 0):
                raise QueryError(f"{f.name} must be a number of at least 0, not {value!r}")
        if self.dense_weight + self.keyword_weight <= 0:
            raise QueryError("dense_weight and keyword_weight cannot both be 0")

    def plan(self, analyzer: Analyzer, query: str) -> QueryPlan:
        """How each side reads ``query`` under these settings."""
        return analyzer.plan(
            query,
            phrase_weight=self.phrase_weight,
            concept_weight=self.concept_weight,
            literal_weight=self.literal_weight,
            expand_dense=self.expand_dense,
        )


@dataclass(frozen=True)
class _Candidates:
    """Chunks found by either side, each with both sides' scores."""

    chunk_ids: np.ndarray
    dense: np.ndarray
    bm25: np.ndarray


def _dense_top(
    vectors: VectorIndex, query_vector: np.ndarray, pool: int, allowed: np.ndarray | None
) -> dict[int, float]:
    """The ``pool`` chunks nearest the query vector, best first, with their cosines."""
    scores, ids = vectors.search(query_vector, pool, allowed)
    return {int(c): float(v) for c, v in zip(ids[0], scores[0], strict=True) if c >= 0}


def _gather(
    plan: QueryPlan,
    mode: Mode,
    pool: int,
    *,
    vectors: VectorIndex,
    keyword: KeywordIndex,
    query_vector: np.ndarray | None,
    allowed: np.ndarray | None,
    dense_top: dict[int, float] | None = None,
) -> _Candidates:
    if dense_top is None:
        dense_top = _dense_top(vectors, query_vector, pool, allowed) if query_vector is not None else {}
    keyword_scores = keyword.search(plan.words, plan.pairs, pool, allowed) if mode in ("hybrid", "bm25") else None
    bm25_top = keyword_scores.top.tolist() if keyword_scores is not None else []
    chunk_ids = np.asarray(sorted(set(dense_top) | set(bm25_top)), dtype=np.int64)
    dense = np.zeros(len(chunk_ids), dtype=np.float32)
    if query_vector is not None:
        dense[:] = [dense_top.get(int(c), 0.0) for c in chunk_ids]
        missing = [i for i, c in enumerate(chunk_ids) if int(c) not in dense_top]
        if missing:
            dense[missing] = vectors.similarity(query_vector, chunk_ids[missing])
    bm25 = np.zeros(len(chunk_ids), dtype=np.float32)
    if keyword_scores is not None and len(chunk_ids):
        bm25 = keyword_scores.of(chunk_ids)
    return _Candidates(chunk_ids, dense, bm25)


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


def _fused(candidates: _Candidates, mode: Mode, config: SearchConfig, doc_of: dict[int, ChunkDocument]) -> np.ndarray:
    """One score per candidate chunk."""
    if mode == "dense":
        return candidates.dense.astype(np.float64)
    if mode == "bm25":
        return candidates.bm25.astype(np.float64)
    dw, kw = config.dense_weight, config.keyword_weight
    if config.fusion == "rrf":
        # A chunk with no keyword match at all gets no keyword rank.
        keyword = np.where(candidates.bm25 > 0, kw / (config.rrf_k + _ranks(candidates.bm25)), 0.0)
        fused = dw / (config.rrf_k + _ranks(candidates.dense)) + keyword
    else:
        fused = (dw * _scale(candidates.dense) + kw * _scale(candidates.bm25, floor=0.0)) / (dw + kw)
    if config.non_answer_weight != 1.0:
        flagged = [doc_of[int(c)].non_answer for c in candidates.chunk_ids]
        fused = np.where(np.asarray(flagged, dtype=bool), fused * config.non_answer_weight, fused)
    return np.asarray(fused, dtype=np.float64)


@dataclass(frozen=True)
class _Pick:
    doc: str
    chunk_id: int
    score: float
    dense: float
    bm25: float


def _select(
    candidates: _Candidates,
    scores: np.ndarray,
    doc_of: dict[int, ChunkDocument],
    k: int,
    config: SearchConfig,
    picked: list[_Pick] | None = None,
) -> list[_Pick]:
    """The best chunk of each of the first ``k`` documents (and distinct answers), after
    any already ``picked``."""
    picked = list(picked or [])
    seen = {p.doc for p in picked} | {doc_of[p.chunk_id].answer_key for p in picked}
    for i in np.argsort(-scores, kind="stable"):
        if len(picked) >= k:
            break
        chunk_id = int(candidates.chunk_ids[i])
        doc, answer, _ = doc_of[chunk_id]
        if (config.one_per_document and doc in seen) or (config.collapse_duplicates and answer in seen):
            continue
        seen.update((doc, answer))
        picked.append(_Pick(doc, chunk_id, float(scores[i]), float(candidates.dense[i]), float(candidates.bm25[i])))
    return picked


def _feedback(
    plan: QueryPlan,
    query_vector: np.ndarray,
    top: list[_Pick],
    vectors: VectorIndex,
    keyword: KeywordIndex,
    config: SearchConfig,
) -> tuple[QueryPlan, np.ndarray]:
    """Move the query towards the best chunks of the first documents found."""
    ids = np.asarray([p.chunk_id for p in top], dtype=np.int64)
    moved = query_vector.reshape(-1) + config.feedback_vector * vectors.vectors(ids).mean(axis=0)
    moved = (moved / np.linalg.norm(moved)).reshape(1, -1).astype(np.float32)
    return plan.with_words(keyword.feedback_terms(ids, config.feedback_terms), config.feedback_term_weight), moved


def _term_coverage(plan: QueryPlan, keyword: KeywordIndex, chunk_id: int) -> float:
    """The share of the question's words (by weight and IDF; SEND concept markers aside) that a chunk holds."""
    weights = {w: weight * keyword.idf(w) for w, weight in plan.words.items() if not w.startswith(CONCEPT_PREFIX)}
    total = sum(weights.values())
    if total <= 0:
        return 1.0
    present = keyword.present(weights, np.asarray([chunk_id], dtype=np.int64))
    return sum(weights[w] for w in present) / total


def _borrow_details(citation: Citation, same_answer: tuple[str, ...], others: dict[str, Citation]) -> Citation:
    """Who answered and when, from a same-answer document of the same department, when this
    document's record lacks both (records often do; the scraped pages say)."""
    if citation.answered_by or citation.date_answered:
        return citation
    for doc_id in same_answer:
        other = others.get(doc_id)
        if other is None or not (other.answered_by or other.date_answered):
            continue
        if citation.department and other.department and other.department != citation.department:
            continue
        return dataclasses.replace(
            citation,
            answered_by=other.answered_by,
            answered_by_role=other.answered_by_role,
            date_answered=other.date_answered,
            date_asked=citation.date_asked or other.date_asked,
            details_from=doc_id,
        )
    return citation


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
    if allowed is not None and not len(allowed):
        return []
    pool = max(config.candidates, k)
    query_vector = encode(plan.dense_text) if mode in ("hybrid", "dense") else None
    asked_vector = query_vector
    dense_top = _dense_top(vectors, query_vector, pool, allowed) if query_vector is not None else {}
    long_question = mode == "hybrid" and len(plan.words) >= config.long_question_terms
    if long_question:
        # A question written as a paragraph carries words about the asker's life as well as
        # its topic. The topic's words are those the passages nearest in meaning also use:
        # the others keep a fraction of their weight.
        nearest = np.fromiter(dense_top, dtype=np.int64)[: config.agreement_chunks]
        plan = plan.weighted(keyword.present(plan.words, nearest), config.off_topic_term_weight)
    asked_plan = plan  # before feedback adds terms
    candidates = _gather(
        plan,
        mode,
        pool,
        vectors=vectors,
        keyword=keyword,
        query_vector=query_vector,
        allowed=allowed,
        dense_top=dense_top,
    )
    if not len(candidates.chunk_ids):
        return []
    doc_of = store.chunk_documents(candidates.chunk_ids)
    scores = _fused(candidates, mode, config, doc_of)
    if config.feedback_docs and mode == "hybrid" and query_vector is not None:
        # The documents the feedback comes from keep their places; the expanded query
        # orders the rest.
        top = _select(candidates, scores, doc_of, min(config.feedback_docs, k), config)
        plan, query_vector = _feedback(plan, query_vector, top, vectors, keyword, config)
        candidates = _gather(
            plan, mode, pool, vectors=vectors, keyword=keyword, query_vector=query_vector, allowed=allowed
        )
        doc_of = {**doc_of, **store.chunk_documents(candidates.chunk_ids)}
        scores = _fused(candidates, mode, config, doc_of)
        chosen = _select(candidates, scores, doc_of, k, config, top)
    else:
        chosen = _select(candidates, scores, doc_of, k, config)
    rows = store.chunks([p.chunk_id for p in chosen])
    groups = store.documents_with_answer(list({rows[p.chunk_id].answer_key for p in chosen}))
    # Cosine with the question as asked (before feedback) and the share of its terms a
    # passage holds: absolute measures that say whether a passage can be an answer at all.
    chosen_ids = np.asarray([p.chunk_id for p in chosen])
    cosines = vectors.similarity(asked_vector, chosen_ids) if asked_vector is not None else None
    elsewhere = elsewhere_named(asked_plan.text)
    sharing = {d for members in groups.values() if len(members) > 1 for d in members}
    others = store.citations(sorted(sharing))
    referred = store.documents_with_uin(sorted({uin for p in chosen for uin in rows[p.chunk_id].citation.refers_to}))
    passages = []
    for rank, pick in enumerate(chosen, start=1):
        row = rows[pick.chunk_id]
        same = tuple(d for d in groups.get(row.answer_key, []) if d != pick.doc)
        explanation: dict[str, float | int | str] = {
            "chunk_id": pick.chunk_id,
            "dense": round(pick.dense, 4),
            "bm25": round(pick.bm25, 4),
        }
        weak = None
        if cosines is not None:
            cosine = float(cosines[rank - 1])
            explanation["cosine"] = round(cosine, 4)
            if cosine < config.relevance_floor:
                weak = "far from the question in meaning"
            elif cosine < config.term_check_below:
                coverage = _term_coverage(asked_plan, keyword, pick.chunk_id)
                explanation["term_coverage"] = round(coverage, 4)
                if coverage < config.min_term_coverage:
                    weak = "shares few of the question's words"
        if elsewhere is not None and not mentions(
            f"{row.citation.title}\n{row.citation.question}\n{row.text}", elsewhere
        ):
            weak = f"about England, not {elsewhere.name}"
        if weak:
            explanation["weak"] = weak
        passages.append(
            Passage(
                doc_id=row.doc_id,
                text=row.text,
                score=round(pick.score, 6),
                rank=rank,
                start=row.start,
                end=row.end,
                citation=_borrow_details(row.citation, same, others),
                highlights=analyzer.highlights(row.text, row.start, plan, keyword.idf),
                same_answer_as=same,
                refers_to_docs=tuple(d for uin in row.citation.refers_to for d in referred.get(uin, [])),
                weak_match=weak is not None,
                explanation=explanation,
            )
        )
    return passages
