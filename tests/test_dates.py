"""Dates: tabling dates estimated from question numbers, date filters, and how each surface
names the date fields in its errors."""

from __future__ import annotations

import gzip
import itertools
import json
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from sendsearch import Index
from sendsearch.cli import main
from sendsearch.sources.parliament import iter_records, record_to_document
from sendsearch.sources.question_dates import MAX_GAP_DAYS, Knot, estimate_tabled, read_table

from .conftest import ALL_ANSWERS, CORPUS

ROOT = Path(__file__).resolve().parents[1]

# Ids and days from the shipped table: the first run (1 December 2023) and an id between
# two runs of 13 and 14 May 2025.
FIRST_ID = 1674553


def test_the_shipped_table_places_ids_between_their_dated_neighbours():
    knots = read_table()
    assert knots[0] == Knot(FIRST_ID, date(2023, 12, 1).toordinal())
    assert estimate_tabled(FIRST_ID) == date(2023, 12, 1)
    assert estimate_tabled(1800000) == date(2025, 5, 13)
    assert estimate_tabled(FIRST_ID - 1) is None  # before the table: no guess
    assert estimate_tabled(knots[-1].question_id + 1) is None  # after it
    # Between runs more than MAX_GAP_DAYS apart (the 2024 election's dissolution): no guess.
    gaps = [(a, b) for a, b in itertools.pairwise(knots) if b.day - a.day > MAX_GAP_DAYS]
    assert gaps
    before, after = gaps[0]
    assert estimate_tabled((before.question_id + after.question_id) // 2) is None


def test_interpolation_rounds_to_the_nearest_day():
    knots = [Knot(100, date(2024, 3, 1).toordinal()), Knot(200, date(2024, 3, 11).toordinal())]
    assert estimate_tabled(100, knots) == date(2024, 3, 1)
    assert estimate_tabled(150, knots) == date(2024, 3, 6)
    assert estimate_tabled(194, knots) == date(2024, 3, 10)
    assert estimate_tabled(99, knots) is None
    assert estimate_tabled(201, knots) is None


def _record(question_id: int, **fields) -> dict:
    return {
        "id": question_id,
        "house": "Commons",
        "questionText": "To ask the Secretary of State for Education, what steps she is taking on EHC plans.",
        "answerText": "<p>EHC plans must be issued within 20 weeks.</p>",
        **fields,
    }


def test_an_undated_record_gets_an_estimate_shown_as_one_and_dated_records_are_untouched():
    undated = record_to_document(_record(1800000)).citation
    assert (undated.date_asked, undated.date_answered) == (None, None)
    assert undated.date_asked_estimated == date(2025, 5, 13)
    shown = "tabled about 13 May 2025, estimated from the question number"
    assert shown in undated.line()
    assert "date not recorded" not in undated.line()
    assert shown in " · ".join(undated.summary)
    assert undated.to_dict()["date_asked_estimated"] == "2025-05-13"

    dated = record_to_document(_record(1800000, dateTabled="2025-05-01T00:00:00")).citation
    assert dated.date_asked == date(2025, 5, 1)
    assert dated.date_asked_estimated is None
    assert "estimated" not in dated.line()
    # Outside the table, and a Lords question (the table is made from Commons ones): nothing.
    assert record_to_document(_record(1655928)).citation.date_asked_estimated is None
    assert record_to_document(_record(1800000, house="Lords")).citation.date_asked_estimated is None
    assert "date not recorded" in record_to_document(_record(1655928)).citation.line()


@pytest.mark.slow  # reads the bundled corpus
def test_the_bundled_corpus_gets_estimates_for_most_of_its_undated_answers():
    path = CORPUS / "parliament" / "send-written-answers.jsonl.gz"
    documents = [d for d in iter_records(path, path.name) if hasattr(d, "citation")]
    undated = [d for d in documents if not (d.citation.date_asked or d.citation.date_answered)]
    assert (len(documents), len(undated)) == (721, 484)
    assert sum(1 for d in undated if d.citation.date_asked_estimated) == 352


@pytest.fixture
def dated_index(tmp_path, corpus_copy, use_fake_embedder):
    """Four answers about EHC plans (dated, estimated, and two undated ones the table cannot
    place) beside the five seed pages (web pages and answers with dates of 2021-2023)."""
    records = [
        _record(1700000, dateTabled="2025-05-01T00:00:00", dateAnswered="2025-05-09T00:00:00"),
        _record(1800001),  # estimated: 13 May 2025
        _record(1655928),  # before the table
        _record(1928750),  # after it
    ]
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    index, _ = Index.build([corpus_copy, path], tmp_path / "ix", embedder=use_fake_embedder)
    return index


def _ids(passages) -> set[str]:
    return {p.doc_id for p in passages}


def test_date_filters_use_estimates_and_leave_out_undated_documents_unless_asked(dated_index):
    everything = _ids(dated_index.search("EHC plans", k=20))
    assert {"1700000", "1800001", "1655928", "1928750"} <= everything
    assert _ids(dated_index.search("EHC plans", k=20, date_from="2025-05-10")) == {"1800001"}
    assert _ids(dated_index.search("EHC plans", k=20, date_from="2025-01-01", date_to="2025-05-12")) == {"1700000"}
    with_undated = _ids(dated_index.search("EHC plans", k=20, date_from="2025-05-10", include_undated=True))
    undated_pages = {p.doc_id for p in dated_index.search("EHC plans", k=20) if not _dated(p)}
    assert undated_pages >= {"1655928", "1928750"}
    assert with_undated == {"1800001"} | undated_pages
    # Without a date filter the flag changes nothing.
    assert _ids(dated_index.search("EHC plans", k=20, include_undated=True)) == everything


def _dated(passage) -> bool:
    c = passage.citation
    return bool(c.date_answered or c.date_asked or c.date_asked_estimated)


def test_the_cli_flag_includes_undated_documents(dated_index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    base = ["search", "EHC plans", "--index", "ix", "-k", "20", "--json", "--from", "2025-05-10"]
    without = {p["doc_id"] for p in json.loads(runner.invoke(main, base).output)["passages"]}
    with_flag = json.loads(runner.invoke(main, [*base, "--include-undated"]).output)["passages"]
    assert without == {"1800001"}
    assert {"1655928", "1928750"} <= {p["doc_id"] for p in with_flag}
    [estimated] = [p for p in with_flag if p["doc_id"] == "1800001"]
    assert estimated["date_asked_estimated"] == "2025-05-13"
    assert estimated["date_asked"] is None
    assert "tabled about 13 May 2025, estimated from the question number" in estimated["citation"]
    shown = runner.invoke(main, ["search", "EHC plans", "--index", "ix", "--from", "2025-05-10", "--show-weak"])
    assert "tabled about 13 May 2025, estimated from the question number" in shown.output


# -- the date fields named as each surface shows them -------------------------------------------------
def test_the_rest_api_names_from_and_to(seed_index):
    from sendsearch.serve.api import rest_app

    from .serving import serving

    with serving(rest_app(seed_index)) as url:
        bad = httpx.get(url + "search", params={"q": "EHC", "from": "last week"})
        backwards = httpx.get(url + "search", params={"q": "EHC", "from": "2024-02-01", "to": "2024-01-01"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "'from' must be a date like 2024-09-30 or 30/09/2024, not 'last week'"
    assert backwards.json()["error"] == "'from' (2024-02-01) is after 'to' (2024-01-01)"


def test_the_page_names_the_boxes_the_user_filled_in(seed_index):
    from sendsearch.serve.ui import ChatFilters, answer

    reply, _ = answer(seed_index, "EHC", None, ChatFilters("2024-13-01", "", "Any department", "Any", 3))
    assert reply.error == "Dated from must be a date like 2024-09-30 or 30/09/2024, not '2024-13-01'"
    reply, _ = answer(seed_index, "EHC", None, ChatFilters("2024-02-01", "2024-01-01", "Any department", "Any", 3))
    assert reply.error == "Dated from (2024-02-01) is after Dated to (2024-01-01)"


def test_the_library_names_its_own_parameters(seed_index):
    from sendsearch import QueryError

    with pytest.raises(QueryError) as caught:
        seed_index.search("EHC", date_from="2024-13-01")
    assert caught.value.field == "date_from"
    assert str(caught.value).startswith("date_from must be a date")


# -- the table and its measured error, remade from the records they come from ------------------------
@pytest.mark.slow  # reads all 49,450 Commons answers
@pytest.mark.skipif(not ALL_ANSWERS.exists(), reason="../shared/data is not present on this machine")
def test_the_shipped_table_is_what_the_tool_makes_and_its_error_is_as_documented():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_question_dates", ROOT / "tools" / "make_question_dates.py")
    assert spec is not None
    assert spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    pairs = tool.tabled(ALL_ANSWERS)
    assert len(pairs) == 15_697
    rows = gzip.decompress((ROOT / "src" / "sendsearch" / "data" / "question-dates.csv.gz").read_bytes())
    assert len(rows.decode().splitlines()) == len(tool.runs(pairs)) + 1
    errors, missing = tool.leave_one_out(pairs)
    assert missing == 4
    assert sum(1 for e in errors if e == 0) / len(errors) > 0.9995
    assert max(errors) == 8


# -- what a date filter leaves out ---------------------------------------------------------------------
def test_a_date_filter_counts_the_matching_undated_documents_it_left_out(dated_index):
    kept = dated_index.search("EHC plans", k=20, date_from="2025-05-10")
    wider = dated_index.search("EHC plans", k=20, date_from="2025-05-10", include_undated=True)
    matching_undated = [p for p in wider if not _dated(p) and not p.weak_match]
    assert matching_undated
    assert kept.undated_left_out == len(matching_undated)
    assert kept.to_dict()["undated_left_out"] == len(matching_undated)
    assert kept.undated_note.endswith("without a date were left out")
    assert wider.undated_left_out == 0
    assert dated_index.search("EHC plans", k=20).undated_left_out == 0  # no date filter, nothing left out
    # At most k: the count says how many would have had a place in the reply.
    assert dated_index.search("EHC plans", k=1, date_from="2025-05-10").undated_left_out == 1


def test_the_left_out_count_is_what_a_search_of_the_undated_documents_finds_and_embeds_once(
    dated_index, use_fake_embedder
):
    import dataclasses

    from sendsearch.filters import Filters
    from sendsearch.search.pipeline import count_close, run_search

    snapshot = dated_index.snapshot()
    backend = snapshot.backend
    dated = Filters.parse(date_from="2025-05-10")
    undated = np.setdiff1d(backend.allowed(dataclasses.replace(dated, include_undated=True)), backend.allowed(dated))
    assert len(undated)
    settings = dated_index.settings.with_(feedback_docs=0)
    found = []
    # Questions near and far (weak matches among them), and each k: the count is the search's, made cheaply.
    for question, k in itertools.product(
        ["EHC plans", "Stockport SEND spending", "pizza in Rome", "tribunal"], [1, 3, 20]
    ):
        plan = dated_index.plan(question)
        parts = {"backend": backend, "allowed": undated, "mode": "hybrid", "settings": settings}
        encode = dated_index._encode_query
        searched = run_search(
            plan, k, analyzer=dated_index._analyzer, encode=encode, relevance=snapshot.relevance, **parts
        )
        counted = count_close(plan, k, encode=encode, relevance=snapshot.relevance, **parts)
        assert counted == sum(not p.weak_match for p in searched), (question, k)
        found.append(counted)
        use_fake_embedder.encoded.clear()
        assert dated_index.search(question, k, date_from="2025-05-10").undated_left_out == counted
        assert use_fake_embedder.encoded.count(plan.dense_text) == 1  # embedded once for both searches
    assert 0 in found
    assert max(found) >= 2


def test_the_cli_says_how_many_undated_passages_it_left_out(dated_index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    shown = runner.invoke(main, ["search", "EHC plans", "--index", "ix", "-k", "20", "--from", "2025-05-10"])
    count = dated_index.search("EHC plans", k=20, date_from="2025-05-10").undated_left_out
    assert f"{count} passages without a date were left out; --include-undated keeps them." in shown.output
    flagged = ["search", "EHC plans", "--index", "ix", "-k", "20", "--from", "2025-05-10", "--include-undated"]
    assert "without a date" not in runner.invoke(main, flagged).output
    printed = json.loads(
        runner.invoke(main, ["search", "EHC plans", "--index", "ix", "--from", "2025-05-10", "--json"]).output
    )
    assert printed["undated_left_out"] >= 1


def test_rest_offers_include_undated_and_reports_what_was_left_out(dated_index):
    from sendsearch.serve.api import rest_app

    from .serving import serving

    query: dict[str, str | int] = {"q": "EHC plans", "k": 20, "from": "2025-05-10"}
    with serving(rest_app(dated_index)) as url:
        narrow = httpx.get(url + "search", params=query).json()
        wide = httpx.get(url + "search", params={**query, "include_undated": "true"}).json()
        off = httpx.get(url + "search", params={**query, "include_undated": "false"}).json()
        bad = httpx.get(url + "search", params={**query, "include_undated": "maybe"})
    assert {p["doc_id"] for p in narrow["passages"]} == {"1800001"}
    assert narrow["undated_left_out"] >= 2
    assert {"1655928", "1928750"} <= {p["doc_id"] for p in wide["passages"]}
    assert wide["undated_left_out"] == 0
    assert off == narrow
    assert bad.status_code == 400
    assert list(bad.json()) == ["error"]
    assert "include_undated" in bad.json()["error"]


def test_the_page_offers_undated_documents_and_says_how_many_it_left_out(dated_index):
    from sendsearch.chat.render import render_turn
    from sendsearch.serve.ui import PAGE_FILTERS, ChatFilters, answer

    assert "include_undated" in PAGE_FILTERS
    narrow, _ = answer(dated_index, "EHC plans", None, ChatFilters("2025-05-10", "", "Any department", "Any", 3))
    assert narrow.undated_left_out >= 2
    html = render_turn(narrow)
    assert f"{narrow.undated_left_out} passages without a date were left out by the dates" in html
    assert "Include undated documents" in html
    wide, _ = answer(
        dated_index, "EHC plans", None, ChatFilters("2025-05-10", "", "Any department", "Any", 3, include_undated=True)
    )
    assert wide.undated_left_out == 0
    assert "left out by the dates" not in render_turn(wide)
    # The undated answers say what the dated one says: they are shown folded into it.
    assert {"1655928", "1928750"} <= _shown(wide)
    assert not {"1655928", "1928750"} & _shown(narrow)


def _shown(reply) -> set[str]:
    return {p.doc_id for s in reply.passages for p in (s.passage, *s.near_identical)}
