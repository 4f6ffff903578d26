"""The answer scorer's training script: what it measures to choose its threshold, hand-computed (issue 20)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from sendsearch.chat.answers import FEATURES

pytest.importorskip("lightgbm")
SCRIPT = Path(__file__).resolve().parents[2] / "training" / "train_answer_scorer.py"


@pytest.fixture(scope="module")
def trainer():
    spec = importlib.util.spec_from_file_location("train_answer_scorer", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_answer_scorer"] = module
    spec.loader.exec_module(module)
    return module


def table(rows: list[tuple[str, int]]) -> dict[str, np.ndarray]:
    """Candidate sentences as (question, answers?); their features do not matter here."""
    return {
        "x": np.zeros((len(rows), len(FEATURES))),
        "y": np.asarray([y for _, y in rows], dtype=float),
        "qid": np.asarray([q for q, _ in rows]),
    }


# Three questions. a: its likeliest sentence (0.6) answers; b: a sentence answers, but the
# likeliest one (0.3) does not; c: nothing answers, its likeliest sentence is at 0.95.
ROWS = [("a", 0), ("a", 1), ("b", 1), ("b", 0), ("c", 0), ("c", 0)]
CHANCES = np.asarray([0.2, 0.6, 0.1, 0.3, 0.95, 0.4])


def test_the_key_point_bar_counts_openings_precision_and_silence(trainer):
    data = table(ROWS)
    # At 0.5: a speaks rightly, b is silent though it has an answer, c speaks wrongly.
    rightly, precision, silent, spoke = trainer._openings(CHANCES, data, 0.5)
    assert (rightly, precision, silent, spoke) == (pytest.approx(1 / 3), 0.5, 0.0, 2)
    # At 0.96 nobody speaks: only c (nothing to say) opens rightly.
    assert trainer._openings(CHANCES, data, 0.96) == (pytest.approx(1 / 3), 0.0, 1.0, 0)


def test_the_unsure_band_starts_where_half_its_silent_replies_have_an_answer(trainer):
    """Each question's likeliest candidate and whether any of its candidates answers; the
    threshold is 0.9, so k (0.95) speaks and is never in the band of silent replies."""
    rows = [("d", 0.85, 1), ("e", 0.65, 1), ("f", 0.80, 0), ("g", 0.60, 0), ("h", 0.30, 0), ("k", 0.95, 1)]
    data = {"qid": np.asarray([q for q, _, _ in rows]), "y": np.asarray([y for _, _, y in rows], dtype=float)}
    p = np.asarray([p for _, p, _ in rows])
    # From 0.50: d, e, f, g (2 of 4 answer: a half) - the band starts there.
    assert trainer.unsure_from(p, data, 0.9) == {"from": 0.5, "replies": 4, "with_an_answer": 2}
    # With e not answering: from 0.50 1 of 4, from 0.61 1 of 3 (d, e, f), from 0.66 1 of 2
    # (d, f): a half.
    data["y"][1] = 0
    assert trainer.unsure_from(p, data, 0.9) == {"from": 0.66, "replies": 2, "with_an_answer": 1}
    # Nothing below the threshold answers: no band.
    data["y"][0] = 0
    assert trainer.unsure_from(p, data, 0.9) is None


def test_training_passages_take_out_excluded_documents_and_number_the_rest_from_one(trainer, seed_index):
    question = "education health and care plan"
    everything = trainer.training_passages(seed_index, question, set())
    assert [n for n, _ in everything] == list(range(1, len(everything) + 1))
    first_document = everything[0][1].doc_id
    without = trainer.training_passages(seed_index, question, {first_document})
    assert without, "the seed index holds other documents"
    assert first_document not in {p.doc_id for _, p in without}
    # What is left keeps its order and is renumbered from 1 (a passage's rank is a feature).
    assert [n for n, _ in without] == list(range(1, len(without) + 1))
    assert [(p.doc_id, p.start) for _, p in without] == [
        (p.doc_id, p.start) for _, p in everything if p.doc_id != first_document
    ][: len(without)]


# -- the sentence reranker's training (training/answer_reranker.py) ---------------------------------
@pytest.fixture(scope="module")
def reranker_trainer():
    spec = importlib.util.spec_from_file_location("answer_reranker", SCRIPT.with_name("answer_reranker.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reranker_trains_and_combines_on_parts_the_trees_held_out_part_never_sees(trainer, reranker_trainer):
    groups = np.asarray([f"doc{n % 10}" for n in range(40)])
    part = reranker_trainer.parts(groups, trainer.SEED)
    # H is exactly the trees' held-out fifth (train_answer_scorer.fit's split): 2 of 10 documents.
    order = sorted(set(groups.tolist()))
    import random

    random.Random(trainer.SEED).shuffle(order)
    assert set(groups[part == "H"].tolist()) == set(order[:2])
    assert set(groups[part == "B"].tolist()) == set(order[2:4])
    assert {g for g, p in zip(groups, part, strict=True) if p == "A"} == set(order[4:])
    # Every answering sentence, and up to three others for a question with one (two without).
    qids = np.asarray(["q1"] * 6 + ["q2"] * 4)
    labels = np.asarray([1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    pairs = reranker_trainer.training_pairs(qids, labels, np.arange(10), 1)
    assert sorted(i for i in pairs if i < 6)[0] == 0
    assert sum(1 for i in pairs if i < 6) == 4
    assert sum(1 for i in pairs if i >= 6) == 2
    # The k likeliest rows of each question.
    chances = np.asarray([0.1, 0.9, 0.5, 0.7, 0.2, 0.3, 0.8, 0.1, 0.6, 0.4])
    assert reranker_trainer.likeliest(chances, qids, np.ones(10, bool), 2).tolist() == [1, 3, 6, 8]
    assert reranker_trainer.likeliest(chances, qids, qids == "q2", 1).tolist() == [6]


ANSWERS = [
    ("How long does the council have to issue an EHC plan?", "The final plan must be issued within 20 weeks."),
    ("How much high needs funding will councils get?", "High needs funding will rise to £11.9 billion next year."),
    ("Can parents appeal a refusal to assess?", "Parents can appeal to the tribunal against a refusal to assess."),
    ("How many children have an EHC plan?", "There are 638,700 children and young people with an EHC plan."),
]
OTHERS = [
    "The Department keeps these matters under review.",
    "Information on this is not held centrally.",
    "My honourable friend will write to the member.",
]


@pytest.mark.slow
def test_the_reranker_trainer_writes_weights_the_scorer_loads(trainer, reranker_trainer, tmp_path: Path):
    """A tiny end-to-end run with the real MiniLM: train (one step), combine, choose a
    threshold, and the weights written load as the page loads them."""
    import lightgbm

    from sendsearch.chat.reranker import SentenceReranker
    from sendsearch.indexing.embedding import DEFAULT_MODEL, resolve_model

    rows = []
    for doc in range(10):
        for asked, answer in ANSWERS[doc % 2 :: 2]:
            rows += [(f"doc{doc}", f"{doc}:{asked}", asked, answer, 1)]
            rows += [(f"doc{doc}", f"{doc}:{asked}", asked, other, 0) for other in OTHERS]
    rng = np.random.default_rng(0)
    data = {
        "x": rng.normal(size=(len(rows), len(FEATURES))) + np.asarray([r[4] for r in rows])[:, None],
        "y": np.asarray([float(r[4]) for r in rows]),
        "group": np.asarray([r[0] for r in rows]),
        "qid": np.asarray([r[1] for r in rows]),
        "text": np.asarray([r[3] for r in rows]),
    }
    questions = {r[1]: r[2] for r in rows}
    parameters = {**trainer.PARAMETERS, "n_estimators": 5, "min_child_samples": 2}
    spec, weights = reranker_trainer.fit(
        data,
        questions,
        resolve_model(DEFAULT_MODEL),
        lambda x, y: lightgbm.LGBMClassifier(**parameters).fit(x, y),
        trainer._openings,
        trainer.SEED,
    )
    assert spec.rescored == reranker_trainer.RESCORED
    assert 0 < spec.threshold < 1
    assert spec.trained_on["held_out_with_reranker"]["replies_with_key_points"] >= 0
    loaded = SentenceReranker.load(resolve_model(DEFAULT_MODEL), weights, spec.weights_sha256, "test", 128)
    scores = loaded.scores(ANSWERS[0][0], [ANSWERS[0][1], OTHERS[0]])
    assert scores.shape == (2,)
    assert np.isfinite(scores).all()
