"""Export: a result's passages as CSV (safe from spreadsheet formulas) and as a citation list,
from the library, the CLI and REST."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import httpx
import pytest
from click.testing import CliRunner

from sendsearch import Index
from sendsearch.cli import main
from sendsearch.search.export import HEADER, citation_list, safe_cell, to_csv

from ..serving import serving

HOSTILE = '=HYPERLINK("http://evil.example/","click")'


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20", "'+44 20"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("plain", "plain"),
        (None, ""),
        (True, "true"),
        (("a", "b"), "a; b"),
    ],
)
def test_cells_a_spreadsheet_would_run_get_an_apostrophe(value, cell):
    assert safe_cell(value) == cell


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_has_a_row_per_passage_with_every_citation_field(seed_index):
    found = seed_index.search("How much does Stockport spend on SEND?", k=3)
    hostile = dataclasses.replace(found[0], text=HOSTILE + " and more")
    result = dataclasses.replace(found, passages=(hostile, *found.passages[1:]))
    rows = _rows(to_csv(result))
    assert len(rows) == 3
    assert list(rows[0]) == HEADER
    assert {"title", "date_answered", "answered_by", "department", "places", "source"} <= set(HEADER)
    assert rows[0]["text"].startswith("'=HYPERLINK")
    assert rows[0]["doc_id"] == found[0].doc_id
    assert rows[0]["citation"] == found[0].citation_line
    assert rows[0]["link"] == (found[0].citation.source or "")
    assert rows[1]["rank"] == "2"
    listed = citation_list(found).splitlines()
    assert listed[0] == f"[1] {found[0].citation_line}"


def test_the_cli_writes_csv_and_citations(seed_index, tmp_path, monkeypatch, use_fake_embedder):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    args = ["search", "How much does Stockport spend on SEND?", "--index", str(seed_index.directory), "-k", "3"]
    printed = runner.invoke(main, [*args, "--format", "csv"])
    assert printed.exit_code == 0, printed.output
    rows = _rows(printed.output)
    assert [row["doc_id"] for row in rows] == [p.doc_id for p in seed_index.search(args[1], 3)]
    listed = runner.invoke(main, [*args, "--format", "citations"]).output.splitlines()
    assert listed[0].startswith("[1] ")
    as_json = json.loads(runner.invoke(main, [*args, "--format", "json"]).output)
    assert len(as_json["passages"]) == 3


def test_rest_serves_csv_as_a_download_and_citations_as_text(seed_index):
    from sendsearch.serve.api import rest_app

    query = {"q": "How much does Stockport spend on SEND?", "k": "3"}
    with serving(rest_app(seed_index)) as url:
        as_csv = httpx.get(url + "search", params={**query, "format": "csv", "council": "stockport"})
        listed = httpx.get(url + "search", params={**query, "format": "citations"})
        bad = httpx.get(url + "search", params={**query, "format": "xlsx"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["content-disposition"] == 'attachment; filename="sendsearch-passages.csv"'
    rows = _rows(as_csv.text)
    assert rows
    assert all("SKP" in row["places"] for row in rows)
    assert listed.headers["content-type"].startswith("text/plain")
    assert listed.text.startswith("[1] ")
    assert bad.status_code == 400
    assert bad.json() == {"error": "format must be json, csv or citations, not 'xlsx'"}


def test_the_page_links_each_reply_to_its_csv(seed_index):
    from sendsearch.chat.render import render_turn
    from sendsearch.serve.ui import ChatFilters, answer, export_link

    filters = ChatFilters("2021-01-01", "", "Any department", "Any", 3, council="Stockport MBC", sort="Newest first")
    reply, _ = answer(seed_index, "How much does Stockport spend on SEND?", None, filters)
    link = export_link(reply, filters)
    assert link is not None
    assert link.startswith("api/search?q=How+much+does+Stockport+spend+on+SEND%3F&k=10&format=csv")
    assert "from=2021-01-01" in link
    assert "council=SKP" in link
    assert link.endswith("sort=newest")
    plain = ChatFilters("", "", "Any department", "Any", 3, council="Stockport MBC")
    reply, _ = answer(seed_index, "How much does Stockport spend on SEND?", None, plain)
    assert reply.passages
    html = render_turn(reply, download=export_link(reply, plain))
    assert 'class="download"' in html
    assert "Download these passages (CSV)" in html
    assert "&amp;format=csv" in html  # escaped in the attribute


def test_an_index_search_result_round_trips_through_csv(seed_index: Index):
    rows = _rows(to_csv(seed_index.search("EHC plans", k=5)))
    assert all(row["weak_match"] in ("true", "false") for row in rows)
