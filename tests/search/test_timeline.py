"""Newest first and the timeline: the library, the CLI, REST and MCP."""

from __future__ import annotations

import json

import httpx
import pytest
from click.testing import CliRunner

from sendsearch import Index, QueryError, SearchRequest
from sendsearch.cli import main
from sendsearch.search.request import Timeline

from ..serving import serving


def _record(question_id: int, tabled: str | None) -> dict:
    dates = {"dateTabled": f"{tabled}T00:00:00", "dateAnswered": f"{tabled}T00:00:00"} if tabled else {}
    return {
        "id": question_id,
        "house": "Commons",
        "questionText": f"To ask the Secretary of State for Education, what EHC plans timescales are ({question_id}).",
        "answerText": f"<p>EHC plans must be issued within 20 weeks of the request (reply {question_id}).</p>",
        **dates,
    }


DATED = {"1900001": "2025-01-10", "1900002": "2025-01-20", "1900003": "2025-03-05"}


@pytest.fixture
def timeline_index(tmp_path, use_fake_embedder):
    records = [_record(int(doc_id), day) for doc_id, day in DATED.items()] + [_record(1655928, None)]  # undated
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    index, _ = Index.build([path], tmp_path / "ix", embedder=use_fake_embedder)
    return index


def test_newest_first_orders_the_good_matches_by_date_and_numbers_them(timeline_index):
    best = timeline_index.search("EHC plans timescales", k=4)
    assert not any(p.weak_match for p in best)
    newest = timeline_index.search(SearchRequest.parse("EHC plans timescales", 4, sort="newest"))
    assert [p.doc_id for p in newest] == ["1900003", "1900002", "1900001", "1655928"]  # undated last
    assert [p.rank for p in newest] == [1, 2, 3, 4]
    assert [p.doc_id for p in timeline_index.search(SearchRequest.parse("EHC plans", 1, sort="newest"))] == ["1900003"]
    with pytest.raises(QueryError) as caught:
        SearchRequest.parse("EHC", sort="oldest")
    assert str(caught.value) == "sort must be relevance or newest, not 'oldest'"


def test_the_timeline_counts_good_matches_by_month_with_the_gaps_and_the_undated(timeline_index):
    found = timeline_index.search(SearchRequest.parse("EHC plans timescales", 2, timeline=True))
    assert len(found) == 2  # the timeline looks further than k
    assert found.timeline == Timeline((("2025-01", 2), ("2025-02", 0), ("2025-03", 1)), undated=1, matches=4)
    assert found.to_dict()["timeline"] == {
        "months": [
            {"month": "2025-01", "count": 2},
            {"month": "2025-02", "count": 0},
            {"month": "2025-03", "count": 1},
        ],
        "undated": 1,
        "matches": 4,
    }
    assert "timeline" not in timeline_index.search("EHC plans", 2).to_dict()


def test_the_cli_sorts_newest_and_prints_the_timeline(timeline_index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    data = json.loads(
        runner.invoke(
            main, ["search", "EHC plans timescales", "--index", "ix", "--sort", "newest", "--timeline", "--json"]
        ).output
    )
    assert [p["doc_id"] for p in data["passages"]][:3] == ["1900003", "1900002", "1900001"]
    assert data["sort"] == "newest"
    assert data["timeline"]["months"][1] == {"month": "2025-02", "count": 0}
    shown = runner.invoke(main, ["search", "EHC plans timescales", "--index", "ix", "--timeline"]).output
    assert "Good matches by month (4 among the best 100):" in shown
    assert "  2025-01  " + "#" * 40 in shown
    assert "  undated  1" in shown


def test_rest_and_mcp_take_sort_and_timeline(timeline_index):
    from sendsearch.serve.api import rest_app
    from sendsearch.serve.mcp import search_tool

    params: dict[str, str | int] = {"q": "EHC plans timescales", "k": 3, "sort": "newest", "timeline": "true"}
    with serving(rest_app(timeline_index)) as url:
        reply = httpx.get(url + "search", params=params).json()
        bad = httpx.get(url + "search", params={**params, "sort": "oldest"})
    assert [p["doc_id"] for p in reply["passages"]] == ["1900003", "1900002", "1900001"]
    assert reply["timeline"]["undated"] == 1
    assert bad.status_code == 400
    assert bad.json() == {"error": "sort must be relevance or newest, not 'oldest'"}

    import asyncio

    tool = search_tool(timeline_index)

    async def call() -> str:
        return await tool("EHC plans timescales", 3, sort="newest", timeline=True)

    found = json.loads(asyncio.run(call()))
    assert [p["doc_id"] for p in found["passages"]] == ["1900003", "1900002", "1900001"]
    assert found["timeline"]["matches"] == 4
    assert "timeline:" in (tool.__doc__ or "")
    assert "sort:" in (tool.__doc__ or "")
