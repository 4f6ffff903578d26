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
