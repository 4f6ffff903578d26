"""End to end with the real all-MiniLM-L6-v2 model (marked slow: about two minutes)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sendsearch import Index
from sendsearch.cli import main

from .conftest import SEND_ANSWERS

pytestmark = pytest.mark.slow


def test_cli_build_and_search_on_the_bundled_corpus(tmp_path, monkeypatch, corpus_copy):
    monkeypatch.chdir(tmp_path)  # `sendsearch build` defaults to ./corpus and ./index
    runner = CliRunner()
    result = runner.invoke(main, ["build", "-q"])
    assert result.exit_code == 0, result.output
    assert "Indexed 5 documents" in result.output
    result = runner.invoke(main, ["search", "How much does Stockport spend on SEND?", "--json"])
    assert result.exit_code == 0, result.output
    first = json.loads(result.output)[0]
    assert first["doc_id"] == "001_96ab44ec7aed3ea8.txt"
    assert "£32m" in first["text"]


def test_real_model_is_the_offline_default(real_embedder):
    assert real_embedder.name == "sentence-transformers/all-MiniLM-L6-v2"
    assert real_embedder.dimension == 384 and real_embedder.max_tokens == 254
    vectors = real_embedder.encode(["EHC plan", "education, health and care plan", "cricket scores"])
    assert vectors.shape == (3, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-4
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_evaluation_corpus_indexes_726_documents(eval_index):
    assert eval_index.manifest.documents == 726


def test_one_answer_cited_from_the_record_and_the_seed_page(eval_index):
    passages = eval_index.search("Stockport EHC plan assessment capacity", k=5)
    by_id = {p.doc_id: p for p in passages}
    assert "1698603" in by_id and "002_30c036443f88d855.txt" in by_id
    page = by_id["002_30c036443f88d855.txt"]
    assert page.answered_by == "David Johnston" and page.date_answered.isoformat() == "2024-04-18"
    assert "1698603" in page.same_answer_as
    record = by_id["1698603"]
    assert record.source.endswith("/1698603") and record.department == "Department for Education"


def test_filters_on_the_real_corpus(eval_index):
    passages = eval_index.search("autism diagnosis waiting times", k=10, department="Department of Health and Social Care")
    assert passages and all(p.department == "Department of Health and Social Care" for p in passages)
    dated = eval_index.search("EHC plans", k=10, date_from="2024-01-01", date_to="2024-12-31")
    assert dated and all("2024-01-01" <= (p.date_answered or p.date_asked).isoformat() <= "2024-12-31" for p in dated)
