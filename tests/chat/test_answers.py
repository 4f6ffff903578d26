"""The learned answer scorer: its file, its features, and what a reply does with it (issue 20)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from sendsearch.chat.answers import (
    FEATURES,
    AnswerScorer,
    AnswerScorerError,
    Candidate,
    candidates,
    features,
    load_answer_scorer,
)
from sendsearch.chat.render import ADVICE, MAY_ANSWER, NO_DIRECT_ANSWER, render_reply, reply_text
from sendsearch.chat.replies import PASSAGES_FETCHED, build_reply, learned_key_points
from sendsearch.chat.reranker import SentenceRerankerSpec
from sendsearch.indexing.embedding import DEFAULT_MODEL
from sendsearch.schema import Citation, Passage
from sendsearch.search.config import SearchConfig
from sendsearch.search.request import SearchRequest


def passage(text: str, doc_id: str = "1", *, score: float = 1.0, start: int = 0, **explained: float) -> Passage:
    return Passage(
        doc_id, text, score, 1, start, start + len(text), Citation(kind="written_answer"), explanation=explained
    )


class LinearTrees:
    """Stands in for LightGBM's booster: probability = sigmoid(bias + sum(weight * feature))."""

    def __init__(self, bias: float, weights: dict[str, float]) -> None:
        self.bias = bias
        self.weights = np.array([weights.get(name, 0.0) for name in FEATURES])

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(rows @ self.weights + self.bias)))


def scorer_with(model: str = "fake-hash-64", threshold: float = 0.5, bias: float = 0.0, **weights: float):
    return AnswerScorer(model, LinearTrees(bias, weights), threshold, {})


# -- the shipped files ------------------------------------------------------------------------
def test_the_shipped_scorer_loads_and_is_for_the_default_model():
    scorer = load_answer_scorer()
    assert scorer.model == DEFAULT_MODEL
    assert scorer.booster.feature_name() == list(FEATURES)
    assert 0 < scorer.threshold < 1
    assert scorer.trained_on["rows"] > 1000
    # The trees alone (a sentence reranker was measured and not shipped): a reply speaks at their threshold.
    assert scorer.reranker is None
    assert scorer.speaks_at == scorer.threshold
    # Silent replies from here up to the threshold say their passages may answer.
    assert scorer.unsure_at is not None
    assert 0.5 <= scorer.unsure_at < scorer.threshold


def shipped_copy(tmp_path: Path) -> Path:
    data = resources.files("sendsearch.data")
    for name in ("answer-scorer.json", "answer-scorer.lgb.txt"):
        (tmp_path / name).write_bytes(data.joinpath(name).read_bytes())
    return tmp_path / "answer-scorer.json"


@pytest.fixture(scope="module")
def reranker_weights() -> bytes:
    """Weights of a sentence reranker: MiniLM's own top four layers and a small head, not
    trained (what a trained one says is measured in docs/quality.md); float16, as trained
    ones are saved."""
    import torch
    from safetensors.torch import save
    from transformers import AutoModel

    from sendsearch.indexing.embedding import resolve_model

    model = AutoModel.from_pretrained(resolve_model(DEFAULT_MODEL))
    tensors = {
        f"encoder.layer.{n}.{name}": value.half().contiguous()
        for n in range(2, 6)
        for name, value in model.encoder.layer[n].state_dict().items()
    }
    tensors["head.weight"] = torch.full((1, model.config.hidden_size), 0.05, dtype=torch.float16)
    tensors["head.bias"] = torch.zeros(1, dtype=torch.float16)
    return save(tensors)


def reranked_copy(tmp_path: Path, weights: bytes) -> Path:
    """A copy of the shipped scorer with a sentence reranker beside it."""
    described = shipped_copy(tmp_path)
    (tmp_path / "answer-scorer.reranker.safetensors").write_bytes(weights)
    digest = hashlib.sha256(weights).hexdigest()
    spec = SentenceRerankerSpec("answer-scorer.reranker.safetensors", digest, 4, 5, 128, 0.7, 0.6, -2.0, 0.35, {})
    described.write_text(json.dumps(json.loads(described.read_text()) | {"reranker": spec.to_json()}))
    return described


def test_a_scorer_with_a_reranker_loads_it_and_speaks_at_its_threshold(tmp_path: Path, reranker_weights: bytes):
    described = reranked_copy(tmp_path, reranker_weights)
    scorer = load_answer_scorer(str(described))
    assert scorer.reranker is not None
    assert scorer.speaks_at == 0.35
    scores = scorer.reranker.scores("How long does a plan take?", ["The plan is issued within 20 weeks.", "No."])
    assert scores.shape == (2,)
    assert np.isfinite(scores).all()
    # Its trees alone (the reranker is not loaded).
    trees = load_answer_scorer(str(described), reranker=False)
    assert trees.reranker is None
    assert trees.speaks_at == trees.threshold


def test_a_missing_scorer_file_is_a_clear_error(tmp_path: Path, reranker_weights: bytes):
    with pytest.raises(AnswerScorerError, match="cannot read the answer scorer file"):
        load_answer_scorer(str(tmp_path / "absent.json"))
    described = shipped_copy(tmp_path)
    (tmp_path / "answer-scorer.lgb.txt").unlink()
    with pytest.raises(AnswerScorerError, match=r"cannot read the answer scorer file .*answer-scorer\.lgb\.txt"):
        load_answer_scorer(str(described))
    described = reranked_copy(tmp_path, reranker_weights)
    (tmp_path / "answer-scorer.reranker.safetensors").unlink()
    with pytest.raises(AnswerScorerError, match=r"cannot read the answer scorer file .*reranker\.safetensors"):
        load_answer_scorer(str(described))
    # Its trees alone do not need the reranker's weights.
    assert load_answer_scorer(str(described), reranker=False).reranker is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: "{not json", "not JSON"),
        (lambda d: json.dumps({**d, "kind": "pickle"}), "not a version 2 answer scorer"),
        (lambda d: json.dumps({**d, "features": d["features"][:-1]}), "features are not this version's"),
        (lambda d: json.dumps({**d, "threshold": 3}), "threshold missing or out of range"),
        (lambda d: json.dumps({**d, "unsure_from": d["threshold"]}), "unsure_from out of range"),
        (lambda d: json.dumps({**d, "unsure_from": "low"}), "unsure_from out of range"),
        (lambda d: json.dumps({**d, "trees": "../../etc/passwd"}), "must sit beside it"),
        (lambda d: json.dumps({**d, "trees_sha256": "0" * 64}), "checksum differs"),
    ],
    ids=[
        "not-json",
        "other-kind",
        "other-features",
        "threshold",
        "unsure",
        "unsure-text",
        "trees-elsewhere",
        "checksum",
    ],
)
def test_a_damaged_scorer_description_is_a_clear_error(tmp_path: Path, change, message: str):
    described = shipped_copy(tmp_path)
    described.write_text(change(json.loads(described.read_text())))
    with pytest.raises(AnswerScorerError, match=message):
        load_answer_scorer(str(described))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: "yes", "reranker is not described"),
        (lambda r: {**r, "threshold": 1.5}, "threshold is out of range"),
        (lambda r: {**r, "tree_weight": None}, "weights or threshold are missing"),
        (lambda r: {**r, "rescored": 0}, "sizes are missing"),
        (lambda r: {**r, "weights": "../x"}, "file beside it"),
        (lambda r: {**r, "weights_sha256": "0" * 64}, "checksum differs"),
    ],
    ids=["not-an-object", "threshold", "weights", "sizes", "weights-elsewhere", "checksum"],
)
def test_a_damaged_reranker_description_is_a_clear_error(tmp_path: Path, reranker_weights: bytes, change, message):
    described = reranked_copy(tmp_path, reranker_weights)
    data = json.loads(described.read_text())
    described.write_text(json.dumps(data | {"reranker": change(data["reranker"])}))
    with pytest.raises(AnswerScorerError, match=message):
        load_answer_scorer(str(described))


def test_damaged_trees_are_a_clear_error(tmp_path: Path):
    described = shipped_copy(tmp_path)
    trees = tmp_path / "answer-scorer.lgb.txt"
    trees.write_text(trees.read_text().replace("Tree=0", "Tree=zero", 1))
    with pytest.raises(AnswerScorerError, match="damaged"):
        load_answer_scorer(str(described))
    # Even with a matching checksum, trees LightGBM cannot read are refused in one line.
    broken = "tree\nversion=v4\nnum_class=1\nmax_feature_idx=not-a-number\n"
    trees.write_text(broken)
    data = json.loads(described.read_text()) | {"trees_sha256": hashlib.sha256(broken.encode()).hexdigest()}
    described.write_text(json.dumps(data))
    with pytest.raises(AnswerScorerError, match="damaged"):
        load_answer_scorer(str(described))


def test_reranker_weights_that_do_not_fit_the_model_are_a_clear_error(tmp_path: Path, reranker_weights: bytes):
    from safetensors.numpy import save

    described = reranked_copy(tmp_path, reranker_weights)
    wrong = save({"encoder.layer.5.output.dense.weight": np.zeros((3, 3), dtype=np.float32)})
    (tmp_path / "answer-scorer.reranker.safetensors").write_bytes(wrong)
    data = json.loads(described.read_text())
    data["reranker"]["weights_sha256"] = hashlib.sha256(wrong).hexdigest()
    described.write_text(json.dumps(data))
    with pytest.raises(AnswerScorerError, match="do not fit the model"):
        load_answer_scorer(str(described))
    (tmp_path / "answer-scorer.reranker.safetensors").write_bytes(b"not safetensors")
    data["reranker"]["weights_sha256"] = hashlib.sha256(b"not safetensors").hexdigest()
    described.write_text(json.dumps(data))
    with pytest.raises(AnswerScorerError, match="damaged"):
        load_answer_scorer(str(described))


def test_a_scorer_saved_and_loaded_scores_the_same(tmp_path: Path, reranker_weights: bytes):
    shipped = load_answer_scorer()
    shipped.save(tmp_path / "copy.json")
    again = load_answer_scorer(str(tmp_path / "copy.json"))
    rows = np.random.default_rng(0).normal(size=(5, len(FEATURES)))
    assert np.allclose(shipped.probabilities(rows), again.probabilities(rows))
    # With a reranker: its weights are saved beside the copy, named after it.
    (tmp_path / "with").mkdir()
    shipped = load_answer_scorer(str(reranked_copy(tmp_path / "with", reranker_weights)))
    shipped.save(tmp_path / "copy-with.json")  # another name: loaded scorers are kept by path
    again = load_answer_scorer(str(tmp_path / "copy-with.json"))
    assert again.reranker is not None
    assert shipped.reranker is not None
    assert shipped.reranker_spec is not None
    assert again.reranker_spec == dataclasses.replace(shipped.reranker_spec, weights="copy-with.reranker.safetensors")
    sentences = ["The plan must be issued within 20 weeks.", "Funding is not held centrally."]
    question = "How long does the council have to issue a plan?"
    assert np.allclose(shipped.reranker.scores(question, sentences), again.reranker.scores(question, sentences))


class FixedReranker:
    """Stands in for the cross-encoder: each sentence's score is given."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.given = scores
        self.asked: list[list[str]] = []

    def scores(self, question: str, sentences: list[str]) -> np.ndarray:
        self.asked.append(sentences)
        return np.asarray([self.given[s] for s in sentences])


def test_the_reranker_reads_only_the_trees_likeliest_sentences_and_combines_both(fake_embedder):
    spec = SentenceRerankerSpec("w", "0" * 64, 4, 2, 128, 1.0, 2.0, -1.0, 0.6, {})
    # Trees that believe shared words: the first two sentences are their likeliest.
    texts = [
        "The council must issue the plan within weeks of the request.",
        "The council plan covers weeks of spending.",
        "Nothing about the question here at all.",
    ]
    reranker = FixedReranker({texts[0]: -3.0, texts[1]: 3.0})
    scorer = dataclasses.replace(
        scorer_with(bias=-1.0, shared_words=4.0), reranker_spec=spec, reranker=cast(Any, reranker)
    )
    found = candidates([(1, passage(" ".join(texts)))])
    question = "How many weeks does the council have to issue the plan?"
    trees = scorer.probabilities(features(question, found, *vectors(fake_embedder, question, found)))
    assert trees[0] > trees[1] > trees[2]
    combined = scorer.score(question, found, fake_embedder)
    assert reranker.asked == [[texts[0], texts[1]]]
    expected = 1 / (1 + np.exp(-(np.log(trees[:2] / (1 - trees[:2])) + 2.0 * np.array([-3.0, 3.0]) - 1.0)))
    assert np.allclose(combined[:2], expected)
    assert combined[2] == 0.0, "a sentence the reranker did not read cannot be a key point"
    assert combined[1] > combined[0], "the reranker's score moved the second sentence first"
    assert scorer.speaks_at == 0.6


def vectors(embedder, question: str, found) -> tuple[np.ndarray, np.ndarray]:
    return embedder.encode_query([question])[0], embedder.encode_document([c.text for c in found])


def test_a_scorer_from_another_model_refuses_to_score(fake_embedder):
    scorer = load_answer_scorer()
    found = candidates([(1, passage("The local authority must issue the plan within 20 weeks."))])
    with pytest.raises(AnswerScorerError, match=f"trained with '{DEFAULT_MODEL}', not 'fake-hash-64'"):
        scorer.score("How long does an EHC plan take?", found, fake_embedder)


# -- features -------------------------------------------------------------------------------------
def test_features_are_computed_as_documented():
    first = passage(
        "The plan must be issued within 20 weeks. Councils report to the department.",
        "a",
        score=2.0,
        bm25=4.0,
        cosine=0.6,
    )
    second = passage("Funding is not held centrally by the department.", "b", score=1.0, bm25=1.0, cosine=0.2)
    found = candidates([(1, first), (2, second)])
    assert [(c.text, c.number, c.position) for c in found] == [
        ("The plan must be issued within 20 weeks.", 1, 0.0),
        ("Councils report to the department.", 1, 1.0),
        ("Funding is not held centrally by the department.", 2, 0.0),
    ]
    question = np.array([1.0, 0.0])
    sentences = np.array([[0.8, 0.6], [0.0, 1.0], [0.6, 0.8]])
    rows = features("How many weeks to issue the plan?", found, question, sentences)
    named = [dict(zip(FEATURES, row, strict=True)) for row in rows]
    assert [round(r["sentence_cosine"], 2) for r in named] == [0.8, 0.0, 0.6]
    assert [round(r["sentence_cosine_below_best"], 2) for r in named] == [0.0, 0.8, 0.2]
    assert [r["passage_reciprocal_rank"] for r in named] == [1.0, 1.0, 0.5]
    assert [r["passage_score_share"] for r in named] == [1.0, 1.0, 0.5]
    assert [r["passage_bm25_share"] for r in named] == [1.0, 1.0, 0.25]
    assert [r["passage_cosine"] for r in named] == [0.6, 0.6, 0.2]
    # The question's words (stop words and "many" left out): week, issu, plan.
    assert [round(r["shared_words"], 2) for r in named] == [1.0, 0.0, 0.0]
    assert [r["wants_figure"] for r in named] == [1.0, 1.0, 1.0]
    assert [r["wants_and_has_figure"] for r in named] == [1.0, 0.0, 0.0]
    assert [r["non_answer_wording"] for r in named] == [0.0, 0.0, 1.0]
    assert [r["first_of_document"] for r in named] == [1.0, 0.0, 1.0]


def test_candidates_leave_out_fragments_and_passages_beyond_the_fifth():
    numbered = [(n, passage(f"Answer number {n} says something useful here. Yes.", str(n))) for n in range(1, 8)]
    found = candidates(numbered)
    assert {c.number for c in found} == {1, 2, 3, 4, 5}
    assert all(c.text != "Yes." for c in found)


# -- key points and replies -------------------------------------------------------------------
def candidate(text: str, number: int) -> Candidate:
    return Candidate(text, number, passage(text, str(number)), 0.0, False)


def test_learned_key_points_are_best_first_one_per_passage_and_not_repeated():
    answering = [
        (0.9, candidate("The council must issue the final plan within 20 weeks of the request.", 2)),
        (0.8, candidate("The council must issue the final plan within 20 weeks of any request.", 3)),
        (0.7, candidate("A second sentence from the same passage as the best one.", 2)),
        (0.6, candidate("Tribunal appeals must be made within two months of the decision.", 1)),
        (0.55, candidate("Parents can ask for a personal budget once the plan is drafted.", 4)),
        (0.52, candidate("Mediation advice must be sought first except about placement.", 5)),
    ]
    points = learned_key_points(answering)
    assert [(p.number, p.text[:10]) for p in points] == [(2, "The counci"), (1, "Tribunal a"), (4, "Parents ca")]


@pytest.fixture
def page_index(seed_index):
    seed_index.settings = SearchConfig().with_(relevance_floor=0.0)
    return seed_index


def reply(index, question: str, scorer):
    return build_reply(index, question, None, SearchRequest.parse(question, PASSAGES_FETCHED), 3, scorer=scorer)


def test_a_reply_leads_with_the_passage_holding_the_likeliest_answer(page_index):
    question = "How much does Stockport spend on SEND?"
    plain = reply(page_index, question, None)
    # A scorer that believes sentences with a figure, the more the later their passage
    # (logit 1 + 3 * figure - 10 / rank): the lead must move away from the first passage.
    scorer = scorer_with(bias=1.0, has_figure=3.0, passage_reciprocal_rank=-10.0, threshold=0.5)
    learned = reply(page_index, question, scorer)
    assert learned.answered
    assert learned.key_points
    lead = learned.key_points[0]
    assert lead.number == 1, "the passage holding the first key point is shown first, as [1]"
    assert lead.text in " ".join(learned.shown[0].passage.text.split())
    assert learned.shown[0].passage.doc_id != plain.shown[0].passage.doc_id
    # The same passages, in a new order, renumbered from 1 with every key point on screen.
    assert sorted(s.passage.doc_id for s in learned.passages) == sorted(s.passage.doc_id for s in plain.passages)
    assert [s.number for s in learned.passages] == list(range(1, len(learned.passages) + 1))
    shown = {s.number: s.passage for s in learned.shown}
    for point in learned.key_points:
        assert point.text in " ".join(shown[point.number].text.split())


def test_when_no_sentence_clears_the_threshold_the_reply_says_nothing_here_answers(page_index):
    question = "How much does Stockport spend on SEND?"
    learned = reply(page_index, question, scorer_with(bias=-10.0))
    assert learned.passages
    assert not learned.key_points
    assert not learned.answered
    html, text = render_reply(learned, "t1"), reply_text(learned)
    assert "Key points" not in html
    assert NO_DIRECT_ANSWER in html
    assert "SENDIASS" in html
    assert "ipsea.org.uk" in html
    assert text.startswith(NO_DIRECT_ANSWER)
    assert ADVICE in text
    # The closest passages are still shown, in the search's order.
    assert [s.passage.doc_id for s in learned.passages] == [
        s.passage.doc_id for s in reply(page_index, question, None).passages
    ]


@pytest.mark.parametrize(("unsure_from", "may_answer"), [(0.45, True), (0.55, False), (None, False)])
def test_a_silent_reply_near_the_bar_says_its_passages_may_answer(page_index, unsure_from, may_answer):
    """Every sentence scores sigmoid(0) = 0.5 here, below the threshold (0.9): silent. From
    ``unsure_from`` up, "nothing here answers" would be wrong about half the time, so the
    reply says the passages may help instead; below it, or without one, it says nothing does."""
    question = "How much does Stockport spend on SEND?"
    scorer = dataclasses.replace(scorer_with(threshold=0.9), unsure_from=unsure_from)
    learned = reply(page_index, question, scorer)
    assert learned.passages
    assert not learned.key_points
    assert not learned.answered
    assert learned.may_answer is may_answer
    html, text = render_reply(learned, "t1"), reply_text(learned)
    heading = MAY_ANSWER if may_answer else NO_DIRECT_ANSWER
    assert f"<h2>{heading}</h2>" in html
    assert (NO_DIRECT_ANSWER in html) is not may_answer
    assert text.startswith(heading)
    assert "SENDIASS" in html
    assert ADVICE in text
    assert "Key points" not in html


def test_with_a_reranker_the_unsure_band_is_not_used(tmp_path: Path, reranker_weights: bytes):
    """The band is on the trees' scale; a reranker's combined probability is another."""
    described = reranked_copy(tmp_path, reranker_weights)
    data = json.loads(described.read_text())
    described.write_text(json.dumps(data | {"unsure_from": 0.6, "threshold": 0.9}))
    assert load_answer_scorer(str(described), reranker=False).unsure_at == 0.6
    assert load_answer_scorer(str(described)).unsure_at is None


def test_an_index_of_another_model_keeps_the_hand_tuned_key_points(page_index):
    question = "How much does Stockport spend on SEND?"
    shipped = build_reply(page_index, question, None, SearchRequest.parse(question, PASSAGES_FETCHED), 3)
    assert shipped.key_points == reply(page_index, question, None).key_points


def test_the_setting_chooses_the_scorer(page_index, monkeypatch, tmp_path: Path):
    question = "How much does Stockport spend on SEND?"

    def default_reply():
        return build_reply(page_index, question, None, SearchRequest.parse(question, PASSAGES_FETCHED), 3)

    monkeypatch.setenv("SENDSEARCH_ANSWER_SCORER", "rules")
    assert default_reply().key_points == reply(page_index, question, None).key_points
    monkeypatch.setenv("SENDSEARCH_ANSWER_SCORER", str(tmp_path / "absent.json"))
    failed = default_reply()
    assert failed.error is not None
    assert "cannot read the answer scorer file" in failed.error
    assert not failed.passages
