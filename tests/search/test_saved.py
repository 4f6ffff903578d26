"""Saved searches: kept beside the index through restarts and rebuilds, each listing its new
matching answers once, after add, fetch or build and on `watch run`."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from sendsearch import Index, QueryError, SearchRequest
from sendsearch.cli import main
from sendsearch.search.saved import WATCH_FILE, SavedSearches


def _record(question_id: int, text: str) -> dict:
    return {
        "id": question_id,
        "house": "Commons",
        "dateTabled": "2025-06-02T00:00:00",
        "questionText": f"To ask the Secretary of State for Education, what support there is for {text}.",
        "answerText": f"<p>Local authorities must provide {text} ({question_id}).</p>",
    }


@pytest.fixture
def run(tmp_path, corpus_copy, use_fake_embedder, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str):
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        return result

    assert invoke("build", str(corpus_copy), "--index", "ix", "--quiet").exit_code == 0
    return invoke


def _write(path, *records) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def test_a_saved_search_lists_its_new_matches_once_after_add(run, tmp_path):
    saved = run("watch", "add", "short-breaks", "short breaks for disabled children", "--index", "ix")
    assert saved.exit_code == 0, saved.output
    assert saved.output.startswith("Saved short-breaks: ")
    listed = run("watch", "list", "--index", "ix").output
    assert listed.strip() == "short-breaks: “short breaks for disabled children”"
    new = _write(tmp_path / "new.jsonl", _record(1950001, "short breaks for disabled children"))
    added = run("add", new, "--index", "ix", "-q").output
    assert "Saved search short-breaks: 1 new matching answer\n" in added
    assert "short breaks for disabled children" in added
    again = run("watch", "run", "--index", "ix").output
    assert again.strip() == "Saved search short-breaks: 0 new matching answers"


def test_saved_searches_survive_a_rebuild_and_keep_what_they_have_seen(run, tmp_path, corpus_copy):
    new = _write(tmp_path / "new.jsonl", _record(1950002, "short breaks for disabled children"))
    run("add", new, "--index", "ix", "-q")
    run("watch", "add", "breaks", "short breaks for disabled children", "--index", "ix", "--from", "2025-01-01")
    rebuilt = run("build", str(corpus_copy), new, "--index", "ix", "--quiet")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "Saved search breaks: 0 new matching answers" in rebuilt.output
    assert (tmp_path / "ix" / WATCH_FILE).exists()
    assert (
        "breaks: “short breaks for disabled children” (dated 2025-01-01 to now)"
        in run("watch", "list", "--index", "ix").output
    )


def test_names_are_checked_taken_and_removed_with_one_line_errors(run):
    bad = run("watch", "add", "../etc", "EHC", "--index", "ix")
    assert bad.exit_code == 1
    assert bad.output.startswith("Error: a saved search's name is 1 to 60 letters")
    assert run("watch", "add", "ehc", "EHC plans", "--index", "ix").exit_code == 0
    taken = run("watch", "add", "ehc", "EHC plans", "--index", "ix")
    assert taken.output.strip() == "Error: a saved search is already called 'ehc'; remove it first"
    assert run("watch", "remove", "ehc", "--index", "ix").output.strip() == "Removed ehc."
    gone = run("watch", "remove", "ehc", "--index", "ix")
    assert gone.exit_code == 1
    assert gone.output.strip() == "Error: no saved search is called 'ehc'; `sendsearch watch list`"
    unknown_council = run("watch", "add", "x", "EHC", "--index", "ix", "--council", "Narnia")
    assert unknown_council.output.startswith("Error: --council: no local authority called 'Narnia'")


def test_weak_matches_are_never_new_matches(seed_index, monkeypatch):
    saved = SavedSearches(seed_index.directory, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    saved.add("stockport", SearchRequest.parse("How much does Stockport spend on SEND?", 5))
    real = Index.search

    def weak_after_first(self, *args, **kwargs):
        found = real(self, *args, **kwargs)
        marked = tuple(dataclasses.replace(p, weak_match=p.rank > 1) for p in found)
        return dataclasses.replace(found, passages=marked)

    monkeypatch.setattr(Index, "search", weak_after_first)
    new = saved.check(seed_index)["stockport"]
    assert [p.rank for p in new] == [1]
    assert saved.check(seed_index)["stockport"] == []
    with pytest.raises(QueryError):
        saved.add("stockport", SearchRequest.parse("EHC", 5))


def test_a_signed_in_administrator_saves_a_search_from_the_page(seed_index):
    from types import SimpleNamespace

    from sendsearch.serve.admin import SESSION_COOKIE, AdminGuard
    from sendsearch.serve.ui import ChatFilters, save_search

    guard = AdminGuard("a-long-enough-admin-password")
    signed = SimpleNamespace(cookies={SESSION_COOKIE: guard.open_session()}, client=SimpleNamespace(host="127.0.0.1"))
    stranger = SimpleNamespace(cookies={}, client=SimpleNamespace(host="127.0.0.1"))
    filters = ChatFilters("", "", "Any department", "Any", 3, council="Stockport MBC")
    question = "How much does Stockport spend on SEND?"
    refused = save_search(seed_index, guard, stranger, "stockport", question, filters)
    assert refused == "Sign in with the admin password first; nothing was saved."
    assert SavedSearches(seed_index.directory).all() == []
    said = save_search(seed_index, guard, signed, "stockport", question, filters)
    assert said.startswith("Saved stockport: “How much does Stockport spend on SEND?” (about Stockport): ")
    assert "/feeds/saved/stockport.atom" in said
    saved = SavedSearches(seed_index.directory).get("stockport")
    assert saved is not None
    assert saved.request.filters.council == "SKP"
    bad = save_search(seed_index, guard, signed, "../x", question, filters)
    assert bad.startswith("a saved search's name is 1 to 60 letters")
    wrong = save_search(
        seed_index, guard, signed, "x", question, ChatFilters("", "", "Any department", "Any", 3, council="Narnia")
    )
    assert wrong.startswith("Council: no local authority called 'Narnia'")
    assert save_search(seed_index, AdminGuard(None), signed, "y", question, filters) == (
        "Saving searches is turned off on this server."
    )


def test_saved_searches_need_an_index_folder_not_a_database():
    from sendsearch.errors import SendSearchError
    from sendsearch.search.saved import SavedSearches
    from sendsearch.serve.digests import Subscriptions

    for make in (SavedSearches, Subscriptions):
        with pytest.raises(SendSearchError, match="saved searches need an index folder"):
            make("postgresql://user@db.example/sendsearch")
