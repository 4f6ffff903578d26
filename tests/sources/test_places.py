"""Local authorities: the shipped table, names found in text, tags on documents, the council
filter on every surface and the facet counts."""

from __future__ import annotations

import json

import httpx
import pytest
from click.testing import CliRunner

from sendsearch import Index, QueryError
from sendsearch.authorities import authorities, find_authorities, resolve
from sendsearch.cli import main
from sendsearch.filters import FIELD_LABELS, Filters
from sendsearch.schema import Citation, Document
from sendsearch.sources.places import constituency_authority, tag_places

from ..conftest import CORPUS
from ..serving import serving

STOCKPORT_SEEDS = {"000_7c82a29ce6e4872e.txt", "001_96ab44ec7aed3ea8.txt", "002_30c036443f88d855.txt"}
COUNCIL_PAGE = "001_96ab44ec7aed3ea8.txt"
SPELLINGS = [
    "stockport",
    "Stockport",
    "STOCKPORT",
    "Stockport Metropolitan Borough Council",
    "stockport metropolitan borough council",
    "Stockport MBC",
    "Stockport Council",
    "Stockport Borough Council",
    "  Stockport  ",
    "SKP",
]


def test_the_table_holds_the_english_send_authorities_current_and_past():
    table = authorities()
    current = [a for a in table.values() if not a.end]
    assert len(current) == 153  # counties, unitaries, metropolitan districts, London boroughs, City of London
    assert table["SKP"].name == "Stockport Metropolitan Borough Council"
    assert table["CMA"].end == "2023-04-01"  # Cumbria, abolished
    assert table["CMA"].replaced_by == ("CBD", "WAF")
    assert not {"ABE", "CRF"} & table.keys()  # Aberdeen, Cardiff: not England


@pytest.mark.parametrize("typed", SPELLINGS)
def test_any_spelling_of_a_council_resolves_to_its_code(typed):
    assert resolve(typed) == "SKP"


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("Durham", "DUR"),
        ("County Durham", "DUR"),
        ("Bath", "BAS"),
        ("Bath and North East Somerset", "BAS"),
        ("North Yorkshire", "NYE"),  # the county's successor of the same name: one council to a reader
        ("Kingston upon Hull", "KHL"),
        ("Hull City Council", "KHL"),
        ("London Borough of Richmond upon Thames", "RIC"),
        ("Lancaster", "LAN"),  # a district resolves to the county responsible for SEND there
        ("Cumbria", "CMA"),
    ],
)
def test_other_councils_resolve(typed, code):
    assert resolve(typed) == code


def test_an_unknown_council_is_one_line_naming_the_closest():
    with pytest.raises(QueryError) as caught:
        resolve("Stokport")
    assert caught.value.worded(FIELD_LABELS["cli"]) == (
        "--council: no local authority called 'Stokport'; did you mean Stockport or Stoke-on-Trent?"
    )
    with pytest.raises(QueryError) as caught:
        Filters.parse(council="Narnia")
    assert str(caught.value).startswith("council: no local authority called 'Narnia'")
    assert "\n" not in str(caught.value)


def _found(text: str) -> list[tuple[str, bool]]:
    return [(f.code, f.sure) for f in find_authorities(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What support is North Yorkshire giving?", [("NYE", True)]),  # not York
        ("Reading age targets in primary schools", [("RDG", False)]),  # the word, or the town: ambiguous
        ("children's reading in Stockport", [("SKP", True)]),
        ("across Greater Manchester", []),  # the combined authority is not a SEND authority
        ("tuition in New York", []),
        ("schools in Durham", [("DUR", False)]),  # the city or the county
        ("Durham County Council's plans", [("DUR", True)]),
        ("a school in Bath", [("BAS", False)]),
        ("a debate in Westminster Hall", [("WSM", False)]),
        ("Kent and Medway", [("KEN", True), ("MDW", True)]),
        ("Stoke-on-Trent City Council", [("STE", True)]),
    ],
)
def test_names_are_found_with_how_sure_each_is(text, expected):
    assert _found(text) == expected


def test_a_document_is_tagged_from_heading_question_text_and_constituency():
    citation = Citation(
        kind="written_answer",
        heading="Special Educational Needs: Kent",
        question="To ask the Secretary of State for Education, what support she gives to schools in Durham.",
        house="Commons",
    )
    tagged = tag_places(Document("q1", "Funding for Kent County Council rose.", citation)).citation
    assert tagged.places == ("KEN",)
    assert tagged.places_uncertain == ("DUR",)
    assert tagged.places_found == ("DUR question ambiguous", "KEN heading", "KEN text")
    assert tag_places(Document("q2", "Nothing local here.", Citation())).citation.places == ()


def test_a_constituency_names_an_authority_only_when_it_bears_its_name():
    assert constituency_authority("Stockport") == "SKP"
    assert constituency_authority("Bury North") == "BUR"
    assert constituency_authority("Cheadle") is None
    assert constituency_authority("Hazel Grove") is None
    assert constituency_authority(None) is None


def test_the_seeds_that_name_stockport_are_tagged_stockport():
    from sendsearch.sources.readers import read_paths

    tagged = {d.doc_id: d.citation for d in read_paths(sorted(CORPUS.glob("*.txt")))}
    assert {doc_id for doc_id, c in tagged.items() if "SKP" in c.places} == STOCKPORT_SEEDS


# -- the filter on the bundled corpus -------------------------------------------------------------------
def _returned(passages) -> set[str]:
    """Documents a search returned, with those carrying the same answer word for word (a seed
    page of an answer that is also in the records is shown once, with the record)."""
    return (
        {d for p in passages for d in (p["doc_id"], *p["same_answer_as"])}
        if passages and isinstance(passages[0], dict)
        else {d for p in passages for d in (p.doc_id, *p.same_answer_as)}
    )


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """The bundled corpus (the five seeds and the 721 SEND answers) with the fake embedder."""
    from ..conftest import FakeEmbedder

    embedder = FakeEmbedder()
    index, _ = Index.build([CORPUS], tmp_path_factory.mktemp("bundled") / "ix", embedder=embedder)
    return index


@pytest.mark.slow  # indexes the whole bundled corpus
@pytest.mark.parametrize("typed", SPELLINGS)
def test_the_stockport_seeds_come_back_for_every_spelling_of_the_council(bundled, typed):
    found = bundled.search("SEND support and funding", k=50, council=typed)
    assert _returned(found) >= STOCKPORT_SEEDS
    assert all("SKP" in p.citation.places for p in found)
    assert dict(found.councils)["SKP"] == len([p for p in found if not p.weak_match])


@pytest.mark.slow
def test_the_cli_filters_by_council_and_counts_councils(bundled, use_fake_embedder):
    runner = CliRunner()
    args = ["search", "SEND support and funding", "--index", str(bundled.directory), "-k", "50"]
    printed = json.loads(runner.invoke(main, [*args, "--council", "Stockport MBC", "--json"]).output)
    assert _returned(printed["passages"]) >= STOCKPORT_SEEDS
    first = printed["councils"][0]
    assert (first["code"], first["name"]) == ("SKP", "Stockport")
    shown = runner.invoke(main, [*args, "--council", "stockport"]).output
    assert "Councils in these results: Stockport (" in shown
    wrong = runner.invoke(main, [*args, "--council", "Stokport"])
    assert wrong.exit_code == 1
    assert wrong.output.strip().splitlines() == [
        "Error: --council: no local authority called 'Stokport'; did you mean Stockport or Stoke-on-Trent?"
    ]


@pytest.mark.slow
def test_rest_filters_by_council_and_returns_the_facet(bundled):
    from sendsearch.serve.api import rest_app

    with serving(rest_app(bundled)) as url:
        reply = httpx.get(url + "search", params={"q": "SEND funding", "k": 50, "council": "Stockport Council"})
        wrong = httpx.get(url + "search", params={"q": "SEND funding", "council": "Narnia"})
        everything = httpx.get(url + "search", params={"q": "SEND funding", "k": 50}).json()
    assert reply.status_code == 200
    data = reply.json()
    assert _returned(data["passages"]) >= STOCKPORT_SEEDS
    assert data["councils"][0]["code"] == "SKP"
    assert all("SKP" in p["places"] for p in data["passages"])
    assert wrong.status_code == 400
    assert wrong.json() == {
        "error": "council: no local authority called 'Narnia' (an English council responsible for SEND)"
    }
    # The facet counts the councils of the passages that are not weak matches.
    counts: dict[str, int] = {}
    for passage in everything["passages"]:
        for code in [] if passage["weak_match"] else passage["places"]:
            counts[code] = counts.get(code, 0) + 1
    assert {c["code"]: c["count"] for c in everything["councils"]} == counts


@pytest.mark.slow
def test_the_page_filters_by_council_and_shows_the_counts(bundled):
    from html import unescape

    from sendsearch.chat.render import render_turn, reply_text
    from sendsearch.serve.ui import ChatFilters, answer, council_names

    assert "Stockport" in council_names()
    filters = ChatFilters("", "", "Any department", "Any", 3, council="Stockport Metropolitan Borough Council")
    reply, _ = answer(bundled, "How much does Stockport spend on SEND?", None, filters)
    assert reply.error is None
    about_stockport = {p.doc_id for p in bundled.search("Stockport", k=100, council="SKP")}
    assert {s.passage.doc_id for s in reply.passages} <= about_stockport
    shown = unescape(render_turn(reply))
    assert "Councils in these results: Stockport (" in shown
    # After the answer and the passages: the answer comes first on a phone.
    assert shown.index("Councils in these results") > shown.index('class="lead"')
    # The counts are for reading on the page, not part of the text copied into a letter.
    assert "Councils in these results" not in reply_text(reply)
    assert reply_text(reply).startswith("Filters: about Stockport.\n\n")
    bad, _ = answer(bundled, "EHC", None, ChatFilters("", "", "Any department", "Any", 3, council="Narnia"))
    assert bad.error == "Council: no local authority called 'Narnia' (an English council responsible for SEND)"


def test_a_council_name_is_bounded_like_every_filter():
    from sendsearch.limits import MAX_FILTER_CHARS

    with pytest.raises(QueryError) as caught:
        Filters.parse(council="Stockport " * MAX_FILTER_CHARS)
    assert str(caught.value) == f"council is over {MAX_FILTER_CHARS} characters"
