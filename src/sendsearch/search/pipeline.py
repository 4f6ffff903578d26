"""Hybrid retrieval in named steps: dense and BM25 candidates scored on both sides, fused, best passage per document.

Every candidate chunk found by either side is scored by the other as well, the two
normalised scores are added (or their ranks, with ``fusion="rrf"``), the best documents
feed the question back once (pseudo-relevance feedback), and each document's passage is
its best chunk, so a long answer is cited where it answers, not at its start.

The steps, each a small function with its own tests: ``encode_question``,
``gather_dense``, ``weigh_long_question``, ``gather`` (both sides, each candidate scored on
both), ``fuse``, ``select``, ``feedback``, then ``shape_passages`` (citations, highlights,
weak matches, same answers, referrals). ``run_search`` runs them in order. Everything is
read through a ``Backend`` (``backend.py``): nothing here knows where the data lives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ..schema import Citation, Passage
from ..text.analysis import Analyzer, QueryPlan
from ..text.glossary import CONCEPT_PREFIX
from .backend import AllowedChunks, Backend, ChunkDocument, StoredChunk
from .config import Feedback, Fusion, LongQuestions, NonAnswers, SearchConfig, WeakMatch
from .request import Mode
from .scope import Elsewhere, elsewhere_named, mentions

__all__ = [
    "Candidates",
    "Chosen",
    "Pick",
    "Ranking",
    "Relevance",
    "choose",
    "count_close",
    "encode_question",
    "feedback",
    "fuse",
    "gather",
    "gather_dense",
    "rank",
    "run_search",
    "select",
    "shape_passages",
    "weigh_long_question",
]


@dataclass(frozen=True)
class Relevance:
    """The cosines under which a passage is a weak match, for the index's model (None: no such check)."""

    floor: float | None = None
    term_check_below: float | None = None

    def under(self, settings: WeakMatch) -> Relevance:
        """These cosines, with the ones the settings give in their place."""
        return Relevance(
            settings.floor if settings.floor is not None else self.floor,
            settings.term_check_below if settings.term_check_below is not None else self.term_check_below,
        )


@dataclass(frozen=True)
class Candidates:
    """Chunks found by either side, each with both sides' scores."""

    chunk_ids: np.ndarray
    dense: np.ndarray
    bm25: np.ndarray


@dataclass(frozen=True)
class Ranking:
    """Candidates with their fused scores, and the documents of every chunk seen so far."""

    candidates: Candidates
    scores: np.ndarray
    documents: Mapping[int, ChunkDocument]


@dataclass(frozen=True)
class Pick:
    """A chosen chunk: its document, fused score and both sides' scores."""

    doc: str
    chunk_id: int
    score: float
    dense: float
    bm25: float


# -- steps ----------------------------------------------------------------------------------
def encode_question(
    plan: QueryPlan, mode: Mode, encode: Callable[[str], np.ndarray], asking_weight: float = 0.0
) -> np.ndarray | None:
    """The question's vector, when the dense side takes part: for a question written as
    several sentences, blended with its asking sentences' own (``LongQuestions``), since the
    sentences about the asker's life pull the whole question's vector towards passages about
    them rather than the answer."""
    if mode not in ("hybrid", "dense"):
        return None
    vector = encode(plan.dense_text)
    if asking_weight > 0 and plan.asking_text:
        blended = (1.0 - asking_weight) * vector + asking_weight * encode(plan.asking_text)
        vector = (blended / np.linalg.norm(blended, axis=-1, keepdims=True)).astype(np.float32)
    return vector


def gather_dense(
    backend: Backend, vector: np.ndarray | None, pool: int, allowed: AllowedChunks | None
) -> dict[int, float]:
    """The ``pool`` chunks nearest the vector, best first, with their cosines (none without a vector)."""
    return backend.dense_search(vector, pool, allowed).as_dict() if vector is not None else {}


def weigh_long_question(
    plan: QueryPlan, dense_top: Mapping[int, float], backend: Backend, mode: Mode, settings: LongQuestions
) -> QueryPlan:
    """A question written as a paragraph carries words about the asker's life as well as its
    topic. The topic's words are those the passages nearest in meaning also use: the others
    keep a fraction of their weight (hybrid only)."""
    if mode != "hybrid" or len(plan.words) < settings.terms:
        return plan
    nearest = np.fromiter(dense_top, dtype=np.int64)[: settings.agreement_chunks]
    return plan.weighted(backend.terms_present(plan.words, nearest), settings.off_topic_weight)


def gather(
    backend: Backend,
    plan: QueryPlan,
    vector: np.ndarray | None,
    mode: Mode,
    pool: int,
    allowed: AllowedChunks | None,
    dense_top: Mapping[int, float] | None = None,
) -> Candidates:
    """The candidates of both sides, each scored on both (0 on a side that takes no part)."""
    if dense_top is None:
        dense_top = gather_dense(backend, vector, pool, allowed)
    keyword = backend.keyword_search(plan.words, plan.pairs, pool, allowed) if mode in ("hybrid", "bm25") else None
    bm25_top = keyword.top.tolist() if keyword is not None else []
    chunk_ids = np.asarray(sorted(set(dense_top) | set(bm25_top)), dtype=np.int64)
    dense = np.zeros(len(chunk_ids), dtype=np.float32)
    if vector is not None:
        dense[:] = [dense_top.get(int(c), 0.0) for c in chunk_ids]
        missing = [i for i, c in enumerate(chunk_ids) if int(c) not in dense_top]
        if missing:
            dense[missing] = backend.dense_scores(vector, chunk_ids[missing])
    bm25 = np.zeros(len(chunk_ids), dtype=np.float32)
    if keyword is not None and len(chunk_ids):
        bm25 = keyword.of(chunk_ids)
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


def fuse(
    candidates: Candidates,
    mode: Mode,
    fusion: Fusion,
    non_answers: NonAnswers,
    documents: Mapping[int, ChunkDocument],
) -> np.ndarray:
    """One score per candidate chunk: one side's own in a single-side mode, else both added."""
    if mode == "dense":
        return candidates.dense.astype(np.float64)
    if mode == "bm25":
        return candidates.bm25.astype(np.float64)
    dw, kw = fusion.dense_weight, fusion.keyword_weight
    if fusion.method == "rrf":
        # A chunk with no keyword match at all gets no keyword rank.
        keyword = np.where(candidates.bm25 > 0, kw / (fusion.rrf_k + _ranks(candidates.bm25)), 0.0)
        fused = dw / (fusion.rrf_k + _ranks(candidates.dense)) + keyword
    else:
        fused = (dw * _scale(candidates.dense) + kw * _scale(candidates.bm25, floor=0.0)) / (dw + kw)
    if non_answers.weight != 1.0:
        flagged = [documents[int(c)].non_answer for c in candidates.chunk_ids]
        fused = np.where(np.asarray(flagged, dtype=bool), fused * non_answers.weight, fused)
    return np.asarray(fused, dtype=np.float64)


def rank(
    backend: Backend,
    plan: QueryPlan,
    vector: np.ndarray | None,
    settings: SearchConfig,
    search: tuple[Mode, int, AllowedChunks | None],
    *,
    dense_top: Mapping[int, float] | None = None,
    known: Mapping[int, ChunkDocument] | None = None,
) -> Ranking:
    """Gather and fuse for one reading of the question (``search`` is mode, pool, allowed);
    ``known`` documents are kept beside the new candidates'."""
    mode, pool, allowed = search
    candidates = gather(backend, plan, vector, mode, pool, allowed, dense_top)
    documents = {**(known or {}), **backend.chunk_documents(candidates.chunk_ids)}
    scores = fuse(candidates, mode, settings.fusion, settings.non_answers, documents)
    return Ranking(candidates, scores, documents)


def select(ranking: Ranking, k: int, settings: SearchConfig, picked: list[Pick] | None = None) -> list[Pick]:
    """The best chunk of each of the first ``k`` documents (and distinct answers), after
    any already ``picked``."""
    candidates, documents = ranking.candidates, ranking.documents
    one_per_document, collapse = settings.gathering.one_per_document, settings.shaping.collapse_duplicates
    chosen = list(picked or [])
    seen = {p.doc for p in chosen} | {documents[p.chunk_id].answer_key for p in chosen}
    for i in np.argsort(-ranking.scores, kind="stable"):
        if len(chosen) >= k:
            break
        chunk_id = int(candidates.chunk_ids[i])
        doc, answer, _ = documents[chunk_id]
        if (one_per_document and doc in seen) or (collapse and answer in seen):
            continue
        seen.update((doc, answer))
        score, dense, bm25 = float(ranking.scores[i]), float(candidates.dense[i]), float(candidates.bm25[i])
        chosen.append(Pick(doc, chunk_id, score, dense, bm25))
    return chosen


def feedback(
    plan: QueryPlan, vector: np.ndarray, top: list[Pick], backend: Backend, settings: Feedback
) -> tuple[QueryPlan, np.ndarray]:
    """The question moved towards the best chunks of the first documents found."""
    ids = np.asarray([p.chunk_id for p in top], dtype=np.int64)
    moved = vector.reshape(-1) + settings.vector * backend.stored_vectors(ids).mean(axis=0)
    moved = (moved / np.linalg.norm(moved)).reshape(1, -1).astype(np.float32)
    return plan.with_words(backend.feedback_terms(ids, settings.terms), settings.term_weight), moved


# -- shaping the passages -------------------------------------------------------------------
def _term_coverage(plan: QueryPlan, backend: Backend, chunk_id: int) -> float:
    """The share of the question's words (by weight and IDF; SEND concept markers aside) that a chunk holds."""
    weights = {w: weight * backend.idf(w) for w, weight in plan.words.items() if not w.startswith(CONCEPT_PREFIX)}
    total = sum(weights.values())
    if total <= 0:
        return 1.0
    present = backend.terms_present(weights, np.asarray([chunk_id], dtype=np.int64))
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
            details_from_name=_name_for_reader(other),
        )
    return citation


def _name_for_reader(citation: Citation) -> str | None:
    """How a reply names the document it borrowed details from: its question, a saved
    page as such (its file name tells a reader nothing), else its title."""
    if citation.question_name:
        return citation.question_name
    if citation.source_label == "File":
        return "a saved copy of its page"
    return f"“{citation.title}”" if citation.title else None


@dataclass(frozen=True)
class _Judge:
    """What decides whether a passage is a weak match: the question as asked, its cosines'
    bounds, the share of its terms a passage must hold, and a place outside England it names."""

    asked: QueryPlan
    relevance: Relevance
    min_term_coverage: float
    elsewhere: Elsewhere | None
    backend: Backend

    def weakness(self, cosine: float | None, row: StoredChunk, explanation: dict[str, float | int | str]) -> str | None:
        """Why a passage is probably not an answer (None when it may be one); the measures
        taken go into ``explanation``."""
        weak = None
        if cosine is not None:
            explanation["cosine"] = round(cosine, 4)
            floor, check_below = self.relevance.floor, self.relevance.term_check_below
            if floor is not None and cosine < floor:
                weak = "far from the question in meaning"
            elif check_below is not None and cosine < check_below:
                coverage = _term_coverage(self.asked, self.backend, row.chunk_id)
                explanation["term_coverage"] = round(coverage, 4)
                if coverage < self.min_term_coverage:
                    weak = "shares few of the question's words"
        place = self.elsewhere
        if place is not None and not mentions(f"{row.citation.title}\n{row.citation.question}\n{row.text}", place):
            weak = f"about England, not {place.name}"
        return weak


def _judge(asked: QueryPlan, judged: tuple[WeakMatch, Relevance], backend: Backend) -> _Judge:
    settings, relevance = judged
    return _Judge(asked, relevance.under(settings), settings.min_term_coverage, elsewhere_named(asked.text), backend)


def shape_passages(
    chosen: list[Pick],
    backend: Backend,
    analyzer: Analyzer,
    questions: tuple[QueryPlan, QueryPlan],
    asked_vector: np.ndarray | None,
    judged: tuple[WeakMatch, Relevance],
) -> list[Passage]:
    """The chosen chunks as passages: citations (details borrowed from same-answer documents
    where missing), highlights, weak matches, same answers and referrals. ``questions`` is
    the question as asked (weak matches) and as searched (highlights)."""
    asked, searched = questions
    rows = backend.chunks([p.chunk_id for p in chosen])
    groups = backend.documents_with_answer(list({rows[p.chunk_id].answer_key for p in chosen}))
    # Cosine with the question as asked (before feedback) and the share of its terms a
    # passage holds: absolute measures that say whether a passage can be an answer at all.
    chosen_ids = np.asarray([p.chunk_id for p in chosen])
    cosines = backend.dense_scores(asked_vector, chosen_ids) if asked_vector is not None else None
    judge = _judge(asked, judged, backend)
    sharing = {d for members in groups.values() if len(members) > 1 for d in members}
    others = backend.citations(sorted(sharing))
    referred = backend.documents_with_uin(sorted({uin for p in chosen for uin in rows[p.chunk_id].citation.refers_to}))
    passages = []
    for number, pick in enumerate(chosen, start=1):
        row = rows[pick.chunk_id]
        same = tuple(d for d in groups.get(row.answer_key, []) if d != pick.doc)
        explanation: dict[str, float | int | str] = {
            "chunk_id": pick.chunk_id,
            "dense": round(pick.dense, 4),
            "bm25": round(pick.bm25, 4),
        }
        weak = judge.weakness(float(cosines[number - 1]) if cosines is not None else None, row, explanation)
        if weak:
            explanation["weak"] = weak
        passages.append(
            Passage(
                doc_id=row.doc_id,
                text=row.text,
                score=round(pick.score, 6),
                rank=number,
                start=row.start,
                end=row.end,
                citation=_borrow_details(row.citation, same, others),
                highlights=analyzer.highlights(row.text, row.start, searched, backend.idf),
                same_answer_as=same,
                refers_to_docs=tuple(d for uin in row.citation.refers_to for d in referred.get(uin, [])),
                weak_match=weak is not None,
                explanation=explanation,
            )
        )
    return passages


# -- the whole search -----------------------------------------------------------------------
@dataclass(frozen=True)
class Chosen:
    """The chunks a search chose, best first, and the question as asked and as searched."""

    picks: list[Pick]
    asked: QueryPlan
    searched: QueryPlan
    asked_vector: np.ndarray | None


def choose(
    plan: QueryPlan,
    k: int,
    *,
    backend: Backend,
    encode: Callable[[str], np.ndarray],
    allowed: AllowedChunks | None,
    mode: Mode,
    settings: SearchConfig,
) -> Chosen | None:
    """The best chunk of each of the top ``k`` documents for a planned question (None: none)."""
    if allowed is not None and not len(allowed):
        return None
    pool = max(settings.gathering.candidates, k)
    search = (mode, pool, allowed)
    asked_vector = encode_question(plan, mode, encode, settings.long_questions.asking_weight)
    dense_top = gather_dense(backend, asked_vector, pool, allowed)
    asked = weigh_long_question(plan, dense_top, backend, mode, settings.long_questions)
    first = rank(backend, asked, asked_vector, settings, search, dense_top=dense_top)
    if not len(first.candidates.chunk_ids):
        return None
    if settings.feedback.documents and mode == "hybrid" and asked_vector is not None:
        # The documents the feedback comes from keep their places; the expanded question
        # orders the rest.
        top = select(first, min(settings.feedback.documents, k), settings)
        searched, moved = feedback(asked, asked_vector, top, backend, settings.feedback)
        second = rank(backend, searched, moved, settings, search, known=first.documents)
        return Chosen(select(second, k, settings, top), asked, searched, asked_vector)
    return Chosen(select(first, k, settings), asked, asked, asked_vector)


def run_search(
    plan: QueryPlan,
    k: int,
    *,
    backend: Backend,
    analyzer: Analyzer,
    encode: Callable[[str], np.ndarray],
    allowed: AllowedChunks | None,
    mode: Mode,
    settings: SearchConfig,
    relevance: Relevance,
) -> list[Passage]:
    """The top ``k`` passages for a planned question over one generation."""
    chosen = choose(plan, k, backend=backend, encode=encode, allowed=allowed, mode=mode, settings=settings)
    if chosen is None:
        return []
    return shape_passages(
        chosen.picks,
        backend,
        analyzer,
        (chosen.asked, chosen.searched),
        chosen.asked_vector,
        (settings.weak_match, relevance),
    )


def count_close(
    plan: QueryPlan,
    k: int,
    *,
    backend: Backend,
    encode: Callable[[str], np.ndarray],
    allowed: AllowedChunks | None,
    mode: Mode,
    settings: SearchConfig,
    relevance: Relevance,
) -> int:
    """How many of the top ``k`` passages ``run_search`` would find are not weak matches,
    judged as it judges them, without making the passages (no highlights, citations, same
    answers or referrals): a count costs the ranking alone."""
    chosen = choose(plan, k, backend=backend, encode=encode, allowed=allowed, mode=mode, settings=settings)
    if chosen is None:
        return 0
    rows = backend.chunks([p.chunk_id for p in chosen.picks])
    ids = np.asarray([p.chunk_id for p in chosen.picks])
    vector = chosen.asked_vector
    cosines = backend.dense_scores(vector, ids) if vector is not None else None
    judge = _judge(chosen.asked, (settings.weak_match, relevance), backend)
    return sum(
        judge.weakness(float(cosines[n]) if cosines is not None else None, rows[pick.chunk_id], {}) is None
        for n, pick in enumerate(chosen.picks)
    )
