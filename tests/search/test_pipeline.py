"""The ranking's steps one at a time, over a small in-memory ``Backend`` of the tests' own.

The pipeline reads everything through the storage seam (``search/backend.py``), so a dict
of chunks with hand-made vectors and BM25 scores is all a step needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from sendsearch.filters import Filters
from sendsearch.schema import Citation
from sendsearch.search.backend import ChunkDocument, ScoredChunks, StoredChunk
from sendsearch.search.config import Feedback, Fusion, LongQuestions, NonAnswers, SearchConfig, WeakMatch
from sendsearch.search.pipeline import (
    Candidates,
    Pick,
    Ranking,
    Relevance,
    encode_question,
    feedback,
    fuse,
    gather,
    gather_dense,
    run_search,
    select,
    shape_passages,
    weigh_long_question,
)
from sendsearch.text.analysis import Analyzer, QueryPlan


@dataclass(frozen=True)
class _Keyword:
    scores: dict[int, float]

    @property
    def top(self) -> np.ndarray:
        ranked = sorted((c for c, s in self.scores.items() if s > 0), key=lambda c: -self.scores[c])
        return np.asarray(ranked, dtype=np.int64)

    def of(self, chunk_ids: np.ndarray) -> np.ndarray:
        return np.asarray([self.scores.get(int(c), 0.0) for c in chunk_ids], dtype=np.float32)


@dataclass
class MemoryBackend:
    """Chunks with unit vectors, BM25 scores per word, and documents."""

    vectors: dict[int, np.ndarray]
    bm25: dict[str, dict[int, float]]
    terms: dict[int, set[str]]
    documents: dict[int, ChunkDocument]
    texts: dict[int, str] = field(default_factory=dict)

    def dense_search(self, vector, k, allowed):
        ids = [c for c in self.vectors if allowed is None or c in set(allowed.tolist())]
        scores = [float(self.vectors[c] @ vector.reshape(-1)) for c in ids]
        order = np.argsort(-np.asarray(scores), kind="stable")[:k]
        return ScoredChunks(np.asarray(ids, dtype=np.int64)[order], np.asarray(scores, dtype=np.float32)[order])

    def dense_scores(self, vector, chunk_ids):
        return np.asarray([self.vectors[int(c)] @ vector.reshape(-1) for c in chunk_ids], dtype=np.float32)

    def stored_vectors(self, chunk_ids):
        return np.vstack([self.vectors[int(c)] for c in chunk_ids])

    def keyword_search(self, words, pairs, k, allowed):
        scores: dict[int, float] = {}
        for word, weight in words.items():
            for chunk, score in self.bm25.get(word, {}).items():
                scores[chunk] = scores.get(chunk, 0.0) + weight * score
        return _Keyword(scores)

    def terms_present(self, words, chunk_ids):
        held = set().union(*(self.terms[int(c)] for c in chunk_ids)) if len(chunk_ids) else set()
        return {w for w in words if w in held}

    def idf(self, term):
        return 1.0 if any(term in t for t in self.terms.values()) else 0.0

    def feedback_terms(self, chunk_ids, count):
        return sorted(set().union(*(self.terms[int(c)] for c in chunk_ids)))[:count]

    def allowed(self, filters):
        return None

    def chunk_documents(self, chunk_ids):
        return {int(c): self.documents[int(c)] for c in chunk_ids}

    def chunks(self, chunk_ids):
        return {
            c: StoredChunk(
                c,
                self.documents[c].doc_id,
                0,
                len(self.texts.get(c, "")),
                self.texts.get(c, ""),
                self.documents[c].answer_key,
                Citation(title=f"doc {c}"),
            )
            for c in chunk_ids
        }

    def citations(self, doc_ids):
        return {d: Citation(title=d) for d in doc_ids}

    def documents_with_answer(self, keys):
        found: dict[str, list[str]] = {}
        for document in self.documents.values():
            if document.answer_key in keys:
                found.setdefault(document.answer_key, []).append(document.doc_id)
        return found

    def documents_with_uin(self, uins):
        return {}

    def document_text(self, doc_id):
        return None

    def date_range(self):
        return None, None

    def departments(self):
        return []

    def kinds(self):
        return []


def _unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend(
        vectors={1: _unit(1, 0, 0), 2: _unit(1, 1, 0), 3: _unit(0, 1, 0), 4: _unit(0, 0, 1)},
        bm25={"tribunal": {3: 2.0, 4: 1.0}, "ehcp": {1: 1.0}},
        terms={1: {"ehcp"}, 2: {"plan"}, 3: {"tribunal"}, 4: {"tribunal", "appeal"}},
        documents={
            1: ChunkDocument("a", "key-a", False),
            2: ChunkDocument("a", "key-a", False),
            3: ChunkDocument("b", "key-b", True),
            4: ChunkDocument("c", "key-b", False),
        },
        texts={1: "EHCP text.", 2: "Plan text.", 3: "Tribunal text.", 4: "Tribunal appeal."},
    )


def _plan(**words: float) -> QueryPlan:
    return QueryPlan("q", "q", dict(words), {})


def test_encode_question_only_when_the_dense_side_takes_part():
    encode = lambda text: np.ones((1, 3), np.float32)  # noqa: E731
    assert encode_question(_plan(a=1.0), "bm25", encode) is None
    assert encode_question(_plan(a=1.0), "dense", encode) is not None


def test_a_question_of_several_sentences_blends_in_its_asking_sentences():
    vectors = {"whole": np.array([[1.0, 0.0, 0.0]], np.float32), "asks": np.array([[0.0, 1.0, 0.0]], np.float32)}
    encode = lambda text: vectors[text]  # noqa: E731
    plan = QueryPlan("whole", "whole", {"a": 1.0}, {}, asking_text="asks")
    single = QueryPlan("whole", "whole", {"a": 1.0}, {})  # one sentence: nothing to blend

    def vector(plan: QueryPlan, weight: float = 0.0) -> np.ndarray:
        found = encode_question(plan, "hybrid", encode, weight)
        assert found is not None
        return found

    assert np.allclose(vector(plan), vectors["whole"])  # weight 0: as before
    assert np.allclose(vector(plan, 0.5), [[2**-0.5, 2**-0.5, 0.0]])  # unit length, halfway
    assert np.allclose(vector(plan, 1.0), vectors["asks"])
    assert np.allclose(vector(single, 0.5), vectors["whole"])


def test_gather_dense_is_best_first_and_empty_without_a_vector(backend):
    assert list(gather_dense(backend, _unit(1, 0, 0), 2, None)) == [1, 2]
    assert gather_dense(backend, None, 2, None) == {}


def test_a_long_question_keeps_the_words_its_nearest_passages_use(backend):
    plan = _plan(ehcp=1.0, holiday=1.0)
    weighed = weigh_long_question(plan, {1: 0.9}, backend, "hybrid", LongQuestions(terms=2, off_topic_weight=0.3))
    assert weighed.words == {"ehcp": 1.0, "holiday": 0.3}
    assert weigh_long_question(plan, {1: 0.9}, backend, "bm25", LongQuestions(terms=2)) is plan


def test_gather_scores_every_candidate_on_both_sides(backend):
    found = gather(backend, _plan(tribunal=1.0), _unit(1, 0, 0), "hybrid", 1, None)
    assert found.chunk_ids.tolist() == [1, 3, 4]  # 1 from the dense side, 3 and 4 from BM25
    assert found.bm25.tolist() == [0.0, 2.0, 1.0]
    assert found.dense[1] == pytest.approx(0.0)  # chunk 3 scored on the dense side too


def test_fuse_adds_normalised_scores_and_halves_non_answers(backend):
    candidates = Candidates(np.asarray([1, 3]), np.asarray([1.0, 0.0], np.float32), np.asarray([0.0, 2.0], np.float32))
    documents = backend.chunk_documents([1, 3])
    assert fuse(candidates, "hybrid", Fusion(), NonAnswers(weight=1.0), documents).tolist() == [0.5, 0.5]
    assert fuse(candidates, "hybrid", Fusion(), NonAnswers(weight=0.5), documents).tolist() == [0.5, 0.25]
    assert fuse(candidates, "bm25", Fusion(), NonAnswers(), documents).tolist() == [0.0, 2.0]


def test_select_takes_one_chunk_per_document_and_one_per_answer(backend):
    candidates = Candidates(np.asarray([1, 2, 3, 4]), np.zeros(4, np.float32), np.zeros(4, np.float32))
    ranking = Ranking(candidates, np.asarray([0.9, 0.8, 0.7, 0.6]), backend.chunk_documents([1, 2, 3, 4]))
    assert [p.chunk_id for p in select(ranking, 5, SearchConfig())] == [1, 3]  # 2: same doc; 4: same answer
    settings = SearchConfig().with_(collapse_duplicates=False, one_per_document=False)
    assert [p.chunk_id for p in select(ranking, 5, settings)] == [1, 2, 3, 4]


def test_feedback_moves_the_vector_and_lends_terms(backend):
    top = [Pick("b", 3, 1.0, 0.0, 2.0)]
    plan, moved = feedback(_plan(ehcp=1.0), _unit(1, 0, 0), top, backend, Feedback(vector=1.0, term_weight=0.3))
    assert plan.words == {"ehcp": 1.0, "tribunal": 0.3}
    assert moved.reshape(-1).tolist() == pytest.approx(_unit(1, 1, 0).tolist())


def test_shape_passages_marks_weak_matches_by_the_index_relevance(backend):
    chosen = [Pick("a", 1, 0.9, 1.0, 0.0), Pick("c", 4, 0.5, 0.0, 1.0)]
    plan = Analyzer().plan("EHCP", phrase_weight=0.2, concept_weight=1.0, literal_weight=1.0, expand_dense=False)
    judged = (WeakMatch(), Relevance(floor=0.3, term_check_below=None))
    passages = shape_passages(chosen, backend, Analyzer(), (plan, plan), _unit(1, 0, 0), judged)
    assert [(p.doc_id, p.weak_match) for p in passages] == [("a", False), ("c", True)]
    assert passages[1].explanation["weak"] == "far from the question in meaning"
    # No floor known for the model, none set: nothing is weak for its cosine.
    unknown = shape_passages(chosen, backend, Analyzer(), (plan, plan), _unit(1, 0, 0), (WeakMatch(), Relevance()))
    assert not any(p.weak_match for p in unknown)


def test_run_search_returns_nothing_when_the_filters_allow_nothing(backend):
    found = run_search(
        _plan(tribunal=1.0),
        3,
        backend=backend,
        analyzer=Analyzer(),
        encode=lambda text: _unit(0, 1, 0).reshape(1, -1),
        allowed=np.zeros(0, np.int64),
        mode="hybrid",
        settings=SearchConfig(),
        relevance=Relevance(),
    )
    assert found == []
    assert backend.allowed(Filters()) is None


def test_search_settings_are_checked_by_concern():
    from sendsearch import QueryError

    with pytest.raises(QueryError, match="feedback_docs must be a whole number of at least 0"):
        SearchConfig().with_(feedback_docs=-1)
    with pytest.raises(QueryError, match="no search setting 'nonsense'"):
        SearchConfig().with_(nonsense=1)
    assert SearchConfig().with_(relevance_floor=0.2).weak_match.floor == 0.2
