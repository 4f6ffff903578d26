"""The keyword side: terms, adjacent pairs, BM25 scores through build, update, save and load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sendsearch.keyword import Analyzer, KeywordConfig, KeywordIndex

TEXTS = {
    10: "Capital funding for new special school places in every council.",
    11: "The school council felt special, and funding followed.",
    12: "Educational psychologists: training places funded by the Department.",
    13: "Mental health support teams in schools for pupils with SEND.",
}


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


def _terms(analyzer: Analyzer, text: str) -> list[str]:
    words = analyzer.terms(text)
    return words + analyzer.pairs(words)


def _build(analyzer: Analyzer, texts: dict[int, str]) -> KeywordIndex:
    return KeywordIndex.build(list(texts), [_terms(analyzer, t) for t in texts.values()], KeywordConfig())


def test_pairs_are_adjacent_terms_after_stop_words(analyzer):
    words = analyzer.terms("support for pupils with dyspraxia")
    assert words == ["support", "pupil", "dyspraxia"]
    assert analyzer.pairs(words) == ["support pupil", "pupil dyspraxia"]
    assert analyzer.pairs(["one"]) == []


def test_a_pair_scores_only_where_its_words_are_adjacent(analyzer):
    index = _build(analyzer, TEXTS)
    scores = index.scores({"special school": 1.0})
    assert scores[0] > 0  # "special school places"
    assert scores[1] == 0  # both words, apart
    assert not scores[2:].any()
    # Unknown pairs and pairs of unknown words score nothing and raise nothing.
    assert not index.scores({"school special": 1.0, "unknown word": 1.0}).any()
    # A pair is rarer than either word, so it weighs more.
    assert index.idf("special school") > index.idf("school")


def test_pairs_survive_save_and_load(analyzer, tmp_path):
    index = _build(analyzer, TEXTS)
    index.save(tmp_path / "keyword")
    loaded = KeywordIndex.load(tmp_path / "keyword")
    query = {"special school": 1.0, "health support": 0.5, "fund": 1.0}
    assert np.array_equal(index.scores(query), loaded.scores(query))
    assert loaded.config.phrases is True


def test_an_update_scores_as_a_fresh_build_of_the_same_chunks(analyzer):
    index = _build(analyzer, {c: t for c, t in TEXTS.items() if c != 13})
    added = {20: "New special school places and mental health support for SEND pupils."}
    updated = index.updated([11], list(added) + [13], [_terms(analyzer, added[20]), _terms(analyzer, TEXTS[13])])
    fresh_texts = {10: TEXTS[10], 12: TEXTS[12], 20: added[20], 13: TEXTS[13]}
    fresh = _build(analyzer, fresh_texts)
    assert updated.chunk_ids.tolist() == [10, 12, 20, 13]
    for query in ({"special school": 1.0}, {"mental health": 1.0, "support": 1.0}, {"school": 1.0, "place": 0.3}):
        assert np.allclose(updated.scores(query), fresh.scores(query)), query
    assert updated.scores({"mental health": 1.0})[2:].all()


def test_feedback_terms_are_single_words(analyzer):
    index = _build(analyzer, TEXTS)
    terms = index.feedback_terms(np.asarray([10, 11, 13]), 50)
    assert terms and all(" " not in term and not term.startswith("~") for term in terms)


def test_an_index_saved_before_pairs_loads_and_searches(analyzer, tmp_path):
    words_only = KeywordIndex.build(list(TEXTS), [analyzer.terms(t) for t in TEXTS.values()], KeywordConfig(phrases=False))
    folder = tmp_path / "keyword"
    words_only.save(folder)
    # What an index from before pairs looks like: no pair file, no setting for them.
    (folder / "pair_codes.npy").unlink()
    config = json.loads((folder / "config.json").read_text())
    del config["phrases"]
    (folder / "config.json").write_text(json.dumps(config))
    old = KeywordIndex.load(folder)
    assert old.config.phrases is False
    assert not old.scores({"special school": 1.0}).any()
    assert old.scores({"special": 1.0, "school": 1.0})[0] > 0
