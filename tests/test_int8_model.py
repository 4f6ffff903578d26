"""int8 with the real all-MiniLM-L6-v2 (marked slow: the first run on a machine quantises the
model, about a minute on two cores; later runs load it from the user cache)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from sendsearch import Index
from sendsearch.cli import main
from sendsearch.errors import ModelMismatchError
from sendsearch.indexing.embedding import SentenceTransformerEmbedder

pytestmark = pytest.mark.slow

TEXTS = [
    "How long does a council have to complete an EHC needs assessment?",
    "The high needs block of the dedicated schools grant rises to £11.9 billion in 2025-26.",
    "Stockport spends £32m a year on support for children with special educational needs.",
    "Specialist places: 60 new special free schools were approved in March.",
]


@pytest.fixture(scope="module")
def int8_embedder():
    return SentenceTransformerEmbedder(precision="int8")


@pytest.fixture(scope="module")
def fp32_embedder():
    return SentenceTransformerEmbedder(precision="fp32")


def test_int8_vectors_agree_with_fp32_ones(int8_embedder, fp32_embedder):
    assert int8_embedder.precision == "int8"
    quantised, exact = int8_embedder.encode(TEXTS), fp32_embedder.encode(TEXTS)
    cosines = np.sum(quantised * exact, axis=1)
    assert cosines.min() > 0.98, cosines
    assert cosines.max() < 0.99999, "the int8 model is not the fp32 one"
    assert np.allclose(np.linalg.norm(quantised, axis=1), 1.0, atol=1e-4)
    # One question alone (the latency path) as in a batch (the bulk path).
    alone = int8_embedder.encode([TEXTS[0]])[0]
    assert float(alone @ quantised[0]) > 0.999


def test_an_int8_index_asks_its_questions_in_int8(tmp_path, corpus_copy, int8_embedder, fp32_embedder, monkeypatch):
    Index.build([corpus_copy], tmp_path / "index", embedder=int8_embedder)
    monkeypatch.setenv("SENDSEARCH_PRECISION", "fp32")  # the index's precision wins over the setting
    opened = Index.open(tmp_path / "index")
    assert opened.manifest.embedding["precision"] == "int8"
    first = opened.search("How much does Stockport spend on SEND?", k=3)[0]
    assert opened.embedder.precision == "int8"  # type: ignore[attr-defined]
    assert first.doc_id == "001_96ab44ec7aed3ea8.txt"
    with pytest.raises(ModelMismatchError, match="holds int8 vectors"):
        Index.open(tmp_path / "index", embedder=fp32_embedder)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["search", "How much does Stockport spend on SEND?", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["passages"][0]["doc_id"] == "001_96ab44ec7aed3ea8.txt"
