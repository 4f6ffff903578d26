"""`sendsearch search` is honest about weak matches, as the page is (issue 12)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from sendsearch.cli import main
from sendsearch.search.index import Index


@pytest.fixture
def run(use_fake_embedder, corpus_copy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    assert invoke("build", str(corpus_copy), "--index", "ix", "--quiet").exit_code == 0
    return invoke


def weak_from(monkeypatch, rank: int) -> None:
    """Mark every passage from ``rank`` on as a weak match (the fake embedder's cosines mean nothing)."""
    real = Index.search

    def search(self, *args, **kwargs):
        found = real(self, *args, **kwargs)
        marked = tuple(dataclasses.replace(p, weak_match=p.rank >= rank) for p in found)
        return dataclasses.replace(found, passages=marked)

    monkeypatch.setattr(Index, "search", search)


def test_weak_matches_are_left_out_with_a_count(run, monkeypatch):
    weak_from(monkeypatch, 3)
    result = run("search", "How much does Stockport spend on SEND?", "--index", "ix")
    assert result.exit_code == 0
    assert result.output.count("\n1. ") + result.output.startswith("1. ") == 1
    assert "\n2. " in result.output
    assert "\n3. " not in result.output
    assert "3 weak matches left out" in result.output
    shown = run("search", "How much does Stockport spend on SEND?", "--index", "ix", "--show-weak")
    assert "Weak matches (probably not an answer to the question): 3" in shown.output
    assert shown.output.index("2. ") < shown.output.index("Weak matches") < shown.output.index("3. ")


def test_nothing_close_is_said_plainly(run, monkeypatch):
    weak_from(monkeypatch, 1)
    result = run("search", "What is the capital of France?", "--index", "ix")
    assert result.exit_code == 0
    assert result.output.startswith("Nothing in this index is close to that question")
    assert "1. " not in result.output
    assert "5 weak matches left out" in result.output
    passages = json.loads(run("search", "What is the capital of France?", "--index", "ix", "--json").output)["passages"]
    assert [p["weak_match"] for p in passages] == [True] * 5
