"""The vector index: exact and HNSW, deletions, filters, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from sendsearch import Index
from sendsearch.indexing.config import IndexConfig
from sendsearch.search.folder.vectors import VectorIndex

from ..conftest import folder_of


def unit(rows: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize(("threshold", "kind"), [(10_000, "flat"), (0, "hnsw")])
def test_search_filters_and_deletes(tmp_path, threshold, kind):
    vectors = unit(300)
    index = VectorIndex.create(16, 300, hnsw_threshold=threshold)
    assert index.kind == kind
    ids = np.arange(1000, 1300, dtype=np.int64)
    index.add(ids, vectors)
    _, found = index.search(vectors[5], 1)
    assert found[0][0] == 1005
    _, found = index.search(vectors[5], 5, allowed=np.array([1100, 1200]))
    assert set(found[0][found[0] >= 0]) == {1100, 1200}
    index.remove(np.array([1005]))
    assert len(index) == 299
    assert 1005 not in index.ids()
    _, found = index.search(vectors[5], 10)
    assert 1005 not in found[0]
    index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss", kind)
    assert len(loaded) == 299
    assert loaded.max_id() == 1299
    _, again = loaded.search(vectors[5], 10)
    assert 1005 not in again[0]
    assert np.allclose(loaded.similarity(vectors[7], np.array([1007])), [1.0], atol=1e-5)


@pytest.mark.slow  # builds HNSW graphs: seconds
def test_hnsw_rebuilds_once_a_tenth_is_deleted():
    index = VectorIndex.create(16, 100, hnsw_threshold=0)
    index.add(np.arange(100), unit(100))
    index.remove(np.arange(5))
    assert index.max_id() == 99
    assert len(index) == 95
    index.remove(np.arange(5, 15))
    assert len(index) == 85
    assert index.max_id() == 99
    assert 0 not in index.ids()
    assert index.deleted_count == 0  # rebuilt without the dead vectors


@pytest.mark.slow  # builds HNSW graphs: seconds
def test_hnsw_recall_against_exact_on_clustered_vectors():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(40, 32))
    data = (centres[rng.integers(0, 40, 5000)] + 0.3 * rng.normal(size=(5000, 32))).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    exact, approx = VectorIndex.create(32, 5000), VectorIndex.create(32, 5000, hnsw_threshold=0)
    for index in (exact, approx):
        index.add(np.arange(5000), data)
    queries = data[rng.integers(0, 5000, 100)] + 0.05 * rng.normal(size=(100, 32)).astype(np.float32)
    _, truth = exact.search(queries, 10)
    _, found = approx.search(queries, 10)
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=False)])
    assert recall >= 0.99


@pytest.mark.slow  # builds HNSW graphs: seconds
def test_an_hnsw_index_updates_without_reusing_ids(tmp_path, corpus_copy, fake_embedder):
    index, _ = Index.build(
        [corpus_copy], tmp_path / "index", embedder=fake_embedder, index_config=IndexConfig(hnsw_threshold=0)
    )
    assert index.manifest.vectors["kind"] == "hnsw"
    top_before = index.search("Stockport consultation", k=1)[0].doc_id
    index.remove(["001_96ab44ec7aed3ea8.txt"])
    assert all(p.doc_id != "001_96ab44ec7aed3ea8.txt" for p in index.search("Stockport consultation", k=10))
    (corpus_copy / "001_96ab44ec7aed3ea8.txt").rename(tmp_path / "001_96ab44ec7aed3ea8.txt")
    report = index.add([tmp_path / "001_96ab44ec7aed3ea8.txt"])
    assert report.added == 1
    assert index.search("Stockport consultation", k=1)[0].doc_id == top_before
    vectors = folder_of(index).vectors
    assert len(vectors) == index.manifest.chunks


def test_a_filter_s_selector_is_made_once_and_follows_deletions():
    vectors = unit(200)
    index = VectorIndex.create(16, 200, hnsw_threshold=0)  # HNSW keeps deleted ids, excluded by the selector
    index.add(np.arange(200, dtype=np.int64), vectors)
    allowed = np.arange(0, 200, 2, dtype=np.int64)
    first = index._selector(allowed)
    assert index._selector(allowed) is first  # the same filter again: made once
    assert index._selector(allowed.copy()) is not first  # another array: its own
    _, found = index.search(vectors[4], 3, allowed)
    assert found[0][0] == 4
    index.remove(np.array([4], dtype=np.int64))
    assert index._selector(allowed) is not first  # deletions change what may be found
    _, found = index.search(vectors[4], 3, allowed)
    assert 4 not in found[0]
    assert all(int(i) % 2 == 0 for i in found[0] if i >= 0)
    assert index._selector(None) is not None  # the deleted ids alone
