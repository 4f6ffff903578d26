"""The keyword side: terms, adjacent pairs, BM25 scores through build, update, save and load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sendsearch.indexing.config import KeywordConfig
from sendsearch.search.folder.keyword import KeywordIndex
from sendsearch.text.analysis import Analyzer, Terms

TEXTS = {
    10: "Capital funding for new special school places in every council.",
    11: "The school council felt special, and funding followed.",
    12: "Educational psychologists: training places funded by the Department.",
    13: "Mental health support teams in schools for pupils with SEND.",
}


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


def _terms(analyzer: Analyzer, text: str) -> Terms:
    return analyzer.field(text, pairs=True)


def _scores(index: KeywordIndex, words: dict[str, float] | None = None, pairs: dict | None = None) -> np.ndarray:
    return index.search(words or {}, pairs or {}, k=10).scores


def _build(analyzer: Analyzer, texts: dict[int, str]) -> KeywordIndex:
    return KeywordIndex.build(list(texts), [_terms(analyzer, t) for t in texts.values()], KeywordConfig())


def test_pairs_are_adjacent_terms_after_stop_words(analyzer):
    terms = analyzer.field("support for pupils with dyspraxia", pairs=True)
    assert terms.words == ["support", "pupil", "dyspraxia"]
    assert terms.pairs == [("support", "pupil"), ("pupil", "dyspraxia")]
    assert analyzer.field("one", pairs=True).pairs == []
    assert analyzer.field("support for pupils", pairs=False).pairs == []


def test_a_pair_scores_only_where_its_words_are_adjacent(analyzer):
    index = _build(analyzer, TEXTS)
    scores = _scores(index, pairs={("special", "school"): 1.0})
    assert scores[0] > 0  # "special school places"
    assert scores[1] == 0  # both words, apart
    assert not scores[2:].any()
    # Unknown pairs and pairs of unknown words score nothing and raise nothing.
    assert not _scores(index, pairs={("school", "special"): 1.0, ("unknown", "word"): 1.0}).any()
    # A pair is rarer than either of its words, so it weighs more.
    assert scores[0] > _scores(index, {"school": 1.0})[0]
    # The best chunks come back best first, only those that score.
    top = index.search({"school": 1.0}, {("special", "school"): 1.0}, k=10).top.tolist()
    assert top[0] == 10
    assert sorted(top) == [10, 11, 13]
    assert index.search({"school": 1.0}, {}, k=2).top.tolist() != index.search({"school": 1.0}, {}, k=3).top.tolist()


def test_pairs_survive_save_and_load(analyzer, tmp_path):
    index = _build(analyzer, TEXTS)
    index.save(tmp_path / "keyword")
    loaded = KeywordIndex.load(tmp_path / "keyword")
    words, pairs = {"fund": 1.0}, {("special", "school"): 1.0, ("health", "support"): 0.5}
    assert np.array_equal(_scores(index, words, pairs), _scores(loaded, words, pairs))
    assert loaded.config.phrases is True


def test_an_update_scores_as_a_fresh_build_of_the_same_chunks(analyzer):
    index = _build(analyzer, {c: t for c, t in TEXTS.items() if c != 13})
    added = {20: "New special school places and mental health support for SEND pupils."}
    updated = index.updated([11], [*list(added), 13], [_terms(analyzer, added[20]), _terms(analyzer, TEXTS[13])])
    fresh_texts = {10: TEXTS[10], 12: TEXTS[12], 20: added[20], 13: TEXTS[13]}
    fresh = _build(analyzer, fresh_texts)
    assert updated.chunk_ids.tolist() == [10, 12, 20, 13]
    queries = [
        ({}, {("special", "school"): 1.0}),
        ({"support": 1.0}, {("mental", "health"): 1.0}),
        ({"school": 1.0, "place": 0.3}, {}),
    ]
    for words, pairs in queries:
        assert np.allclose(_scores(updated, words, pairs), _scores(fresh, words, pairs)), (words, pairs)
    assert _scores(updated, pairs={("mental", "health"): 1.0})[2:].all()


def test_feedback_terms_are_single_words(analyzer):
    index = _build(analyzer, TEXTS)
    terms = index.feedback_terms(np.asarray([10, 11, 13]), 50)
    assert terms
    assert all(" " not in term and not term.startswith("~") for term in terms)


def test_an_index_saved_before_pairs_loads_and_searches(analyzer, tmp_path):
    words_only = KeywordIndex.build(
        list(TEXTS), [analyzer.field(t, pairs=False) for t in TEXTS.values()], KeywordConfig(phrases=False)
    )
    folder = tmp_path / "keyword"
    words_only.save(folder)
    # What an index from before pairs looks like: no pair file, no setting for them.
    (folder / "pair_codes.npy").unlink()
    config = json.loads((folder / "config.json").read_text())
    del config["phrases"]
    (folder / "config.json").write_text(json.dumps(config))
    old = KeywordIndex.load(folder)
    assert old.config.phrases is False
    assert not _scores(old, pairs={("special", "school"): 1.0}).any()
    assert _scores(old, {"special": 1.0, "school": 1.0})[0] > 0


def test_a_bm25_method_the_index_cannot_score_is_refused():
    """Issue 21: bm25+ and bm25l give chunks without a term a score the sparse matrix does not keep."""
    for method in ("bm25+", "bm25l"):
        with pytest.raises(ValueError, match="bm25l and bm25\\+ give every chunk a score"):
            KeywordConfig(method=method)
    assert KeywordConfig(method="robertson").method == "robertson"
