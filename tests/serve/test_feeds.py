"""Atom feeds of a saved search and of any question, over real HTTP, read by a real feed parser."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import feedparser
import httpx
import pytest

from sendsearch import Index, SearchRequest
from sendsearch.search.saved import SavedSearches
from sendsearch.serve.feeds import feeds_app

from ..serving import serving

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


@pytest.fixture
def feeds(seed_index):
    SavedSearches(seed_index.directory).add(
        "stockport", SearchRequest.parse("How much does Stockport spend on SEND?", 10, council="stockport")
    )
    with serving(feeds_app(seed_index, clock=lambda: NOW)) as url:
        yield url


def _good(index: Index, request: SearchRequest) -> list[str]:
    found = index.search(dataclasses.replace(request, sort="newest"))
    return [p.doc_id for p in found if not p.weak_match]


def test_a_saved_search_has_a_valid_atom_feed(feeds, seed_index):
    reply = httpx.get(feeds + "saved/stockport.atom")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(reply.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.id == "tag:sendsearch,2026:saved:stockport"
    assert parsed.feed.title.startswith("sendsearch: stockport: “How much does Stockport spend on SEND?”")
    assert parsed.feed.updated
    saved = SavedSearches(seed_index.directory).get("stockport")
    assert saved is not None
    expected = _good(seed_index, saved.request)
    assert [entry.id for entry in parsed.entries] == [f"tag:sendsearch,2026:document:{d}" for d in expected]
    for entry in parsed.entries:
        assert entry.title
        assert entry.updated
        assert entry.summary
    # The seed pages are files: only a web address becomes a link.
    links = [link.href for entry in parsed.entries for link in entry.get("links", []) if link.rel == "alternate"]
    assert all(href.startswith(("https://", "http://")) for href in links)


def test_any_question_has_a_feed_with_the_filters_of_rest(feeds):
    reply = httpx.get(feeds + "search.atom", params={"q": "EHC plans", "kind": "written_answer", "k": 5})
    parsed = feedparser.parse(reply.content)
    assert not parsed.bozo
    assert parsed.feed.id == "tag:sendsearch,2026:search:EHC%20plans"
    bad = httpx.get(feeds + "search.atom", params={"q": "EHC", "k": 20000})
    assert bad.status_code == 400
    assert list(bad.json()) == ["error"]
    unknown = httpx.get(feeds + "saved/nothing.atom")
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "no saved search is called 'nothing'"}


def test_document_text_is_escaped_never_markup():
    from sendsearch.schema import Citation, Passage
    from sendsearch.search.request import SearchResult
    from sendsearch.serve.feeds import atom

    hostile = Passage(
        "<doc>", "<script>alert(1)</script> & more", 1.0, 1, 0, 10, Citation(title="A </title> title", source="x")
    )
    page = Passage("p1", "A page.", 0.5, 2, 0, 7, Citation(title="Page", source="https://example.org/a?b=1&c=2"))
    body = atom("tag:x", "t", SearchResult(SearchRequest("q"), (hostile, page)), NOW).decode()
    assert "<script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in body
    parsed = feedparser.parse(body)
    assert not parsed.bozo
    assert parsed.entries[0].title == "A </title> title"
    assert parsed.entries[0].id == "tag:sendsearch,2026:document:%3Cdoc%3E"
    assert parsed.entries[0].updated == "2026-12-07T06:00:00Z"  # undated: the feed's time
    assert parsed.entries[0].get("links", []) == []  # a file, not a page to link to
    assert parsed.entries[1].link == "https://example.org/a?b=1&c=2"


def test_a_saved_search_exports_its_matches_as_csv(feeds, seed_index, tmp_path, monkeypatch, use_fake_embedder):
    import csv
    import io

    from click.testing import CliRunner

    from sendsearch.cli import main

    reply = httpx.get(feeds + "saved/stockport.csv")
    assert reply.status_code == 200
    assert reply.headers["content-disposition"] == 'attachment; filename="sendsearch-stockport.csv"'
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    saved = SavedSearches(seed_index.directory).get("stockport")
    assert saved is not None
    found = seed_index.search(dataclasses.replace(saved.request, sort="newest"))
    assert [row["doc_id"] for row in rows] == [p.doc_id for p in found]
    assert httpx.get(feeds + "saved/nothing.csv").status_code == 404
    monkeypatch.chdir(tmp_path)
    printed = CliRunner().invoke(main, ["watch", "export", "stockport", "--index", str(seed_index.directory)])
    assert printed.exit_code == 0, printed.output
    assert [row["doc_id"] for row in csv.DictReader(io.StringIO(printed.output))] == [p.doc_id for p in found]
