"""Building, loading, updating and searching an index (with the fake embedder)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from sendsearch import (
    Index,
    IndexBusyError,
    IndexFormatError,
    IndexNotFoundError,
    ModelMismatchError,
    NothingToIndexError,
    QueryError,
    SearchConfig,
)
from sendsearch.indexing.builder import build_index, index_lock, update_index
from sendsearch.indexing.manifest import FORMAT_VERSION, read_manifest
from sendsearch.limits import MAX_QUERY_CHARS

from ..conftest import folder_of


def test_build_writes_a_manifest_and_one_file_per_component(seed_index):
    manifest = read_manifest(seed_index.directory)
    assert manifest.format_version == FORMAT_VERSION
    assert manifest.model == "fake-hash-64"
    assert manifest.dimension == 64
    assert manifest.documents == 5
    assert manifest.chunks >= 5
    assert manifest.chunking["max_tokens"] == 200
    assert manifest.keyword["k1"] > 0
    assert len(manifest.corpus_fingerprint) == 64
    assert manifest.built_at
    generation = seed_index.directory / manifest.generation
    assert (generation / "store.sqlite").exists()
    assert (generation / "vectors.faiss").exists()
    files = [p for p in generation.rglob("*") if p.is_file()]
    # No pickle anywhere: SQLite, FAISS, NumPy (saved without pickle) and JSON only.
    assert {p.suffix for p in files} <= {".sqlite", ".faiss", ".npy", ".json"}
    for npy in (p for p in files if p.suffix == ".npy"):
        np.load(npy, allow_pickle=False)


def test_questions_bring_their_phrases_to_the_keyword_side(seed_index):
    assert read_manifest(seed_index.directory).keyword["phrases"] is True
    plan = seed_index.plan("capital funding for special school places")
    assert plan.pairs[("special", "school")] == seed_index.settings.fusion.phrase_weight > 0
    assert plan.words["special"] == 1.0
    assert seed_index.plan("special school", SearchConfig().with_(phrase_weight=0.0)).pairs == {}
    # The seed pages speak of "needs assessment": the pair is indexed as a column of its own.
    keyword = seed_index.snapshot().backend.keyword
    assert keyword.search({}, {("need", "assess"): 1.0}, k=5).scores.max() > 0


def test_save_and_load_round_trip_gives_the_same_results(seed_index):
    reopened = Index.open(seed_index.directory, embedder=seed_index.embedder)
    assert reopened.manifest == seed_index.manifest
    query = "How much does Stockport spend on SEND?"
    assert reopened.search(query) == seed_index.search(query)


def test_search_returns_cited_passages_one_per_document(seed_index):
    passages = seed_index.search("How much does Stockport spend on SEND in the high needs block?", k=5)
    assert len(passages) == len({p.doc_id for p in passages}) == 5
    top = passages[0]
    assert top.doc_id == "001_96ab44ec7aed3ea8.txt"
    assert "£32m" in top.text
    assert top.citation.source == "001_96ab44ec7aed3ea8.txt"
    assert top.citation.kind == "web_page"
    assert [p.rank for p in passages] == [1, 2, 3, 4, 5]
    document_text = seed_index.snapshot().backend.store.document_text(top.doc_id)
    assert document_text[top.start : top.end] == top.text
    for start, end in top.highlights:
        assert top.start <= start < end <= top.end
    assert any("£32m" in h for h in top.highlight_texts)


def test_passages_carry_citation_fields(seed_index):
    [passage] = seed_index.search("Stockport Metropolitan Borough Council EHC assessment capacity general fund", k=1)
    assert passage.doc_id == "002_30c036443f88d855.txt"
    citation = passage.citation
    assert citation.answered_by == "David Johnston"
    assert citation.date_answered == date(2024, 4, 18)
    assert citation.department == "Department for Education"
    assert str(citation).startswith(
        "Special Educational Needs: Stockport Metropolitan Borough Council, answered by David"
    )
    data = passage.to_dict()
    assert data["date_answered"] == "2024-04-18"
    assert data["doc_id"] == passage.doc_id
    assert "David Johnston" in data["citation"]
    assert "18 April 2024" in data["citation"]
    json.dumps(data)


def test_filters_by_date_department_and_kind(seed_index):
    query = "SEND funding for local authorities"
    in_2021 = seed_index.search(query, k=10, date_from="2021-01-01", date_to="2021-12-31")
    assert {p.doc_id for p in in_2021} == {"003_a5f8c01f0c4ae145.txt", "004_f5f6ddbb26941a27.txt"}
    assert {p.doc_id for p in seed_index.search(query, k=10, date_from=date(2024, 1, 1))} == {
        "002_30c036443f88d855.txt"
    }
    pages = seed_index.search(query, k=10, kind="web_page")
    assert [p.doc_id for p in pages] == ["001_96ab44ec7aed3ea8.txt"]
    answers = seed_index.search(query, k=10, kind="written_answer", department="Department for Education")
    assert len(answers) == 4
    assert all(p.citation.kind == "written_answer" for p in answers)
    assert {p.doc_id for p in seed_index.search(query, k=10, department="department for EDUCATION ")} == {
        p.doc_id for p in answers
    }
    assert not seed_index.search(query, department="Ministry of Magic")


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_query_is_a_clear_value_error(seed_index, query):
    with pytest.raises(ValueError, match="empty"):
        seed_index.search(query)


def test_over_long_query_is_truncated_not_refused(seed_index, fake_embedder):
    query = "Stockport SEND funding " * 500
    fake_embedder.encoded.clear()
    assert seed_index.search(query, mode="dense")
    assert fake_embedder.encoded == [query[:MAX_QUERY_CHARS].strip()]
    assert seed_index.plan(query).text == query[:MAX_QUERY_CHARS].strip()


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"date_from": "last week"}, "date"),
        ({"date_from": "2024-02-01", "date_to": "2024-01-01"}, "after"),
        ({"kind": "podcast"}, "kind"),
    ],
)
def test_bad_filters_are_clear_errors(seed_index, filters, message):
    with pytest.raises(QueryError, match=message):
        seed_index.search("SEND", **filters)


def test_modes_run_each_side_alone(seed_index, fake_embedder):
    query = "Stockport consultation on SEND services"
    fake_embedder.encoded.clear()
    bm25 = seed_index.search(query, mode="bm25")
    assert bm25
    assert fake_embedder.encoded == []
    assert all(p.score == pytest.approx(p.explanation["bm25"], abs=1e-4) for p in bm25)
    assert all("cosine" not in p.explanation for p in bm25)
    dense = seed_index.search(query, mode="dense")
    assert all(p.score == pytest.approx(p.explanation["cosine"], abs=1e-4) for p in dense)
    hybrid = seed_index.search(query, mode="hybrid")
    # Convex fusion of normalised scores: never above 1, and not either side's raw score.
    assert all(0 <= p.score <= 1 for p in hybrid)
    assert hybrid[0].score != pytest.approx(hybrid[0].explanation["bm25"])
    # (Hybrid scores need not fall: feedback documents keep their places.)
    for scores in ([p.score for p in bm25], [p.score for p in dense]):
        assert scores == sorted(scores, reverse=True)
    with pytest.raises(QueryError):
        seed_index.search("Stockport", mode="magic")


def test_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(IndexNotFoundError, match="sendsearch build"):
        Index.open(tmp_path / "nowhere")


def test_unknown_format_version_says_how_to_rebuild(seed_index):
    path = seed_index.directory / "manifest.json"
    data = json.loads(path.read_text())
    data["format_version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(IndexFormatError, match="rebuild"):
        Index.open(seed_index.directory)


def test_garbled_manifest_is_a_format_error(seed_index):
    (seed_index.directory / "manifest.json").write_text("{ not json")
    with pytest.raises(IndexFormatError, match="not valid JSON"):
        Index.open(seed_index.directory)


def test_different_model_is_refused_with_a_rebuild_hint(seed_index, monkeypatch):
    with pytest.raises(ModelMismatchError, match="sendsearch build --model other-model"):
        Index.open(seed_index.directory, model="other-model")
    monkeypatch.setenv("SENDSEARCH_MODEL", "other-model")
    with pytest.raises(ModelMismatchError):
        Index.open(seed_index.directory)


def test_damaged_component_is_a_format_error(seed_index):
    generation = seed_index.directory / seed_index.manifest.generation
    (generation / "vectors.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexFormatError, match="damaged"):
        Index.open(seed_index.directory)
    (generation / "vectors.faiss").unlink()
    with pytest.raises(IndexFormatError, match="incomplete"):
        Index.open(seed_index.directory)


def test_nothing_indexable_fails_clearly(tmp_path, fake_embedder):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.txt").write_text("")
    with pytest.raises(NothingToIndexError, match="empty file"):
        build_index([tmp_path / "in"], tmp_path / "index", fake_embedder)
    assert not (tmp_path / "index" / "manifest.json").exists()


def test_add_embeds_only_new_text_and_replaces_by_id(seed_index, fake_embedder, tmp_path, corpus_copy):
    before = seed_index.manifest
    fake_embedder.encoded.clear()
    new = tmp_path / "new"
    new.mkdir()
    (new / "portage.txt").write_text(
        "Portage in Stockport\n\nPortage home visiting supports pre-school children with SEND.", encoding="utf-8"
    )
    report = seed_index.add([new, corpus_copy])  # the seeds again: unchanged, so not embedded
    assert (report.added, report.replaced, report.unchanged) == (1, 0, 5)
    assert all("Portage" in text for text in fake_embedder.encoded)
    assert seed_index.manifest.documents == before.documents + 1
    assert seed_index.manifest.generation != before.generation
    assert seed_index.search("Portage home visiting", k=1)[0].doc_id == "portage.txt"

    (new / "portage.txt").write_text(
        "Portage in Stockport\n\nPortage was replaced by a new early years service.", encoding="utf-8"
    )
    fake_embedder.encoded.clear()
    report = seed_index.add([new])
    assert (report.added, report.replaced, report.unchanged) == (0, 1, 0)
    assert seed_index.manifest.documents == before.documents + 1
    [top] = seed_index.search("Portage early years service", k=1)
    assert "replaced by a new early years service" in top.text


def test_add_of_unchanged_documents_publishes_nothing(seed_index, corpus_copy):
    generation = seed_index.manifest.generation
    report = seed_index.add([corpus_copy])
    assert report.unchanged == 5
    assert not report.published
    assert seed_index.manifest.generation == generation
    assert len(list(seed_index.directory.glob("gen-*"))) == 1


def test_remove_by_id(seed_index):
    report = seed_index.remove(["001_96ab44ec7aed3ea8.txt", "not-there"])
    assert report.removed == 1
    assert report.not_found == ["not-there"]
    assert all(p.doc_id != "001_96ab44ec7aed3ea8.txt" for p in seed_index.search("Stockport consultation", k=10))
    assert seed_index.manifest.documents == 4


def test_rebuilding_reuses_cached_vectors(tmp_path, corpus_copy, fake_embedder):
    build_index([corpus_copy], tmp_path / "index", fake_embedder)
    fake_embedder.encoded.clear()
    report = build_index([corpus_copy], tmp_path / "index", fake_embedder)
    assert fake_embedder.encoded == []
    assert report.embedded == 0
    assert report.reused > 0
    assert len(list((tmp_path / "index").glob("gen-*"))) == 2  # current and previous


def test_failed_build_leaves_the_previous_index_usable(seed_index, fake_embedder, corpus_copy, monkeypatch):
    generation = seed_index.manifest.generation

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fake_embedder, "encode", explode)
    (corpus_copy / "extra.txt").write_text("Extra page\n\nNew text needing an embedding.", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        build_index([corpus_copy], seed_index.directory, fake_embedder)
    assert read_manifest(seed_index.directory).generation == generation
    assert [p.name for p in seed_index.directory.glob("gen-*")] == [generation]
    assert Index.open(seed_index.directory).search("Stockport consultation", mode="bm25")


def test_disk_full_leaves_the_previous_index_and_says_so(seed_index, fake_embedder, corpus_copy, monkeypatch):
    from sendsearch import SendSearchError
    from sendsearch.search.folder.vectors import VectorIndex

    def full(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(VectorIndex, "save", full)
    with pytest.raises(SendSearchError, match="disk is full"):
        build_index([corpus_copy], seed_index.directory, fake_embedder)
    assert Index.open(seed_index.directory).manifest == seed_index.manifest


def test_a_second_writer_is_told_the_index_is_busy(seed_index, fake_embedder, corpus_copy):
    with index_lock(seed_index.directory), pytest.raises(IndexBusyError, match="another build"):
        update_index(seed_index.directory, fake_embedder, add=[corpus_copy])


def test_an_open_index_follows_a_rebuild(seed_index, fake_embedder, tmp_path, corpus_copy):
    reader = Index.open(seed_index.directory, embedder=fake_embedder)
    (corpus_copy / "new.txt").write_text("Tribunal appeals\n\nSENDIST tribunal appeals rose sharply.", encoding="utf-8")
    build_index([corpus_copy], seed_index.directory, fake_embedder)
    assert reader.search("SENDIST tribunal appeals", k=1)[0].doc_id == "new.txt"


@pytest.mark.slow  # a process of its own, killed
def test_killed_build_leaves_previous_index_and_resumes_from_the_cache(tmp_path, fake_embedder):
    """A rebuild killed with SIGKILL half-way: the old index still serves, and running
    the same build again embeds only what the killed run had not finished."""
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    corpus = tmp_path / "many"
    corpus.mkdir()
    for i in range(700):
        (corpus / f"page{i:03}.txt").write_text(
            f"Page {i}\n\nSchool number {i} reports on SEND provision and EHC plans, item {i}.", encoding="utf-8"
        )
    index_dir = tmp_path / "index"
    build_index([corpus / "page000.txt"], index_dir, fake_embedder)
    generation = read_manifest(index_dir).generation

    script = tmp_path / "slow_build.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "from tests.conftest import FakeEmbedder\n"
        "from sendsearch.indexing.builder import build_index\n"
        "class Slow(FakeEmbedder):\n"
        "    def encode(self, texts, batch_size=32):\n"
        "        time.sleep(1.0)\n"
        "        return super().encode(texts)\n"
        f"build_index([{str(corpus)!r}], __import__('pathlib').Path({str(index_dir)!r}), Slow())\n"
    )
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cache = index_dir / "cache" / "embeddings.sqlite"
    deadline = time.time() + 120
    cached = 0
    while time.time() < deadline and process.poll() is None:
        try:
            with sqlite3.connect(cache, timeout=5) as db:
                cached = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
        except sqlite3.Error:
            cached = 0
        if cached >= 256 + 2:  # the killed run has committed at least one group
            break
        time.sleep(0.2)
    assert process.stderr is not None
    assert process.poll() is None, process.stderr.read().decode()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    assert read_manifest(index_dir).generation == generation
    survivor = Index.open(index_dir, embedder=fake_embedder)
    assert survivor.search("School number 0 SEND provision", k=1)[0].doc_id == "page000.txt"

    fake_embedder.encoded.clear()
    report = build_index([corpus], index_dir, fake_embedder)
    assert report.documents == 700
    assert 0 < report.embedded <= 1400 - (cached - 2)
    assert report.reused >= cached - 2
    # The resumed index holds the same content as one built in one go.
    fresh = build_index([corpus], tmp_path / "fresh", fake_embedder)
    assert read_manifest(index_dir).corpus_fingerprint == read_manifest(tmp_path / "fresh").corpus_fingerprint
    assert (fresh.documents, fresh.chunks) == (report.documents, report.chunks)
    resumed = Index.open(index_dir, embedder=fake_embedder)
    uninterrupted = Index.open(tmp_path / "fresh", embedder=fake_embedder)
    ids = folder_of(resumed).vectors.ids()
    assert np.array_equal(ids, folder_of(uninterrupted).vectors.ids())
    assert np.allclose(
        folder_of(resumed).vectors.vectors(ids),
        folder_of(uninterrupted).vectors.vectors(ids),
        atol=1e-6,
    )
    assert [p.doc_id for p in resumed.search("School number 42", k=5)] == [
        p.doc_id for p in uninterrupted.search("School number 42", k=5)
    ]
    shutil.rmtree(tmp_path / "fresh")


def test_the_manifest_records_the_store_and_the_model_relevance(tmp_path, corpus_copy, fake_embedder):
    """Issue 21: the weak-match cosines are recorded with the index, tied to its model; a model
    with none known gets none until settings give one."""
    from sendsearch.indexing.embedding import relevance_for

    index, _ = Index.build([corpus_copy], tmp_path / "known", embedder=fake_embedder)
    assert index.manifest.store == "folder"
    assert index.manifest.relevance == {"floor": 0.30, "term_check_below": 0.45}
    assert relevance_for("sentence-transformers/all-MiniLM-L6-v2") == {"floor": 0.30, "term_check_below": 0.45}

    del fake_embedder.relevance  # a model nothing is known about
    unknown, _ = Index.build([corpus_copy], tmp_path / "unknown", embedder=fake_embedder)
    assert unknown.manifest.relevance == {}
    question = "zebra crossings on the moon"
    assert not any(p.weak_match for p in unknown.search(question, 10))
    floored = unknown.search(question, 10, settings=SearchConfig().with_(relevance_floor=1.0))
    assert all(p.weak_match for p in floored)
