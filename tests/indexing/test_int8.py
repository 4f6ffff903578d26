"""int8 vectors kept apart from fp32 ones: the embedding cache, the index's questions, the
settings (the fake embedder stands in for the model; tests/test_int8_model.py uses the real one)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from sendsearch import Index
from sendsearch.errors import ModelLoadError, ModelMismatchError
from sendsearch.indexing.builder import build_index
from sendsearch.indexing.embedding import (
    EmbeddingCache,
    SentenceTransformerEmbedder,
    _quantise,
    calibration_texts,
    embed_with_cache,
    text_key,
    vector_identity,
)
from sendsearch.search.index import query_precision

from ..conftest import FakeEmbedder


class Int8Fake(FakeEmbedder):
    """The fake model "quantised": the same name, other vectors (a fixed rotation of fp32's)."""

    def __init__(self) -> None:
        super().__init__()
        self.precision = "int8"

    def encode(self, texts, *, batch_size=32):
        vectors = super().encode(texts, batch_size=batch_size)
        return np.roll(vectors, 1, axis=1)


TEXTS = ["EHC plans take 20 weeks", "Stockport spends £32m on SEND", "EHC plans take 20 weeks"]


def test_the_cache_never_hands_int8_vectors_to_fp32_or_back(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache.sqlite", 64)
    fp32, int8 = FakeEmbedder(), Int8Fake()
    first, embedded = embed_with_cache(TEXTS, fp32, cache)
    assert embedded == 2
    quantised, embedded = embed_with_cache(TEXTS, int8, cache)
    assert embedded == 2  # nothing of fp32's reused
    assert np.allclose(quantised, int8.encode(TEXTS))
    assert not np.allclose(quantised, first)
    again, embedded = embed_with_cache(TEXTS, fp32, cache)
    assert embedded == 0
    assert np.allclose(again, first)
    again, embedded = embed_with_cache(TEXTS, int8, cache)
    assert embedded == 0
    assert np.allclose(again, quantised)
    cache.close()


def test_fp32_and_bf16_keys_are_unchanged_so_existing_caches_stay_valid():
    fake = FakeEmbedder()
    assert text_key(vector_identity(fake), "x") == text_key(fake.name, "x")
    fake.precision = "bf16"
    assert text_key(vector_identity(fake), "x") == text_key(fake.name, "x")
    assert text_key(vector_identity(Int8Fake()), "x") != text_key(fake.name, "x")


@pytest.mark.parametrize(
    ("built", "wanted", "asked"),
    [
        ("int8", "fp32", "int8"),
        ("int8", "auto", "int8"),
        ("int8", "bf16", "int8"),
        ("fp32", "int8", "fp32"),
        ("bf16", "int8", "bf16"),
        ("fp32", "auto", "auto"),
        ("fp32", "bf16", "bf16"),
    ],
)
def test_questions_are_encoded_in_the_index_s_own_kind_of_precision(built, wanted, asked):
    assert query_precision(built, wanted) == asked


def test_an_int8_index_refuses_an_fp32_embedder_and_the_other_way_round(tmp_path, corpus_copy):
    build_index([corpus_copy], tmp_path / "int8", Int8Fake())
    build_index([corpus_copy], tmp_path / "fp32", FakeEmbedder())
    with pytest.raises(ModelMismatchError, match=r"holds int8 vectors.*SENDSEARCH_PRECISION=int8"):
        Index.open(tmp_path / "int8", embedder=FakeEmbedder())
    with pytest.raises(ModelMismatchError, match="holds fp32 vectors"):
        Index.open(tmp_path / "fp32", embedder=Int8Fake())
    opened = Index.open(tmp_path / "int8", embedder=Int8Fake())
    assert opened.manifest.embedding["precision"] == "int8"
    assert opened.search("How long does an EHC needs assessment take?", k=3)


def test_an_int8_index_refuses_a_registered_model_that_is_not_int8(tmp_path, corpus_copy, use_fake_embedder):
    build_index([corpus_copy], tmp_path / "int8", Int8Fake())
    opened = Index.open(tmp_path / "int8")  # the registered fake computes fp32
    with pytest.raises(ModelMismatchError, match="holds int8 vectors"):
        opened.search("EHC plans", k=3)


def test_precision_names_int8_among_the_choices():
    with pytest.raises(ModelLoadError, match="auto, fp32, bf16 or int8, not 'int4'"):
        SentenceTransformerEmbedder(precision="int4")


def test_int8_with_the_torch_backend_is_a_one_line_error():
    with pytest.raises(ModelLoadError, match="int8 runs through OpenVINO"):
        SentenceTransformerEmbedder(precision="int8", backend="torch")


def test_without_nncf_quantising_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "nncf", None)
    with pytest.raises(ModelLoadError, match=r"pip install 'sendsearch\[int8\]'") as raised:
        _quantise(object(), lambda texts: {})
    assert "\n" not in str(raised.value)


def test_calibration_texts_come_from_the_bundled_corpus_only():
    texts = calibration_texts()
    assert len(texts) == 300
    assert len(set(texts)) == len(texts)
    assert all(t.strip() for t in texts)
