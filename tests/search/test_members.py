"""Members: who asked and who answered in any spelling, House, party on the day, and a member's view."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from click.testing import CliRunner

from sendsearch import Index, QueryError
from sendsearch.cli import main
from sendsearch.filters import FIELD_LABELS, Filters
from sendsearch.members import resolve_member, resolve_party

from ..serving import serving

FOY, JOHNSON, MCKINNELL, MAY, MISHRA = 4753, 4592, 4125, 8, 4811


@pytest.mark.parametrize(
    ("typed", "member_id"),
    [
        ("Mary Foy", FOY),
        ("mary foy", FOY),
        ("Foy, Mary", FOY),
        ("Foy Mary", FOY),
        ("Ms Mary Foy MP", FOY),
        ("Dr Caroline Johnson", JOHNSON),
        ("Caroline Johnson", JOHNSON),
        ("4125", MCKINNELL),
        ("Baroness Theresa May", MAY),
        ("theresa may", MAY),
    ],
)
def test_any_spelling_of_a_member_resolves_to_their_id(typed, member_id):
    assert resolve_member(typed) == member_id


def test_unknown_members_and_parties_are_one_line_errors():
    with pytest.raises(QueryError) as caught:
        Filters.parse(asked_by="Mary Fow")
    assert caught.value.worded(FIELD_LABELS["cli"]) == "--asked-by: no member called 'Mary Fow'; did you mean Mary Foy?"
    with pytest.raises(QueryError) as caught:
        Filters.parse(answered_by="99999999")
    assert caught.value.worded(FIELD_LABELS["page"]) == "Answered by: no member has the id 99999999"
    with pytest.raises(QueryError) as caught:
        Filters.parse(party="Whigs")
    assert str(caught.value).startswith("party: no party called 'Whigs'; parties include Conservative, Labour")
    with pytest.raises(QueryError) as caught:
        Filters.parse(house="Senate")
    assert str(caught.value) == "house must be Commons or Lords, not 'Senate'"
    assert resolve_party("lib dem") == "Liberal Democrat"
    assert Filters.parse(house="house of lords").house == "Lords"


def _record(question_id: int, asking: int, answering: int, tabled: str, house: str = "Commons") -> dict:
    return {
        "id": question_id,
        "uin": str(question_id),
        "house": house,
        "heading": "Special Educational Needs",
        "dateTabled": f"{tabled}T00:00:00",
        "dateAnswered": f"{tabled}T00:00:00",
        "askingMemberId": asking,
        "answeringMemberId": answering,
        "questionText": f"To ask the Secretary of State for Education, what she does on EHC plans ({question_id}).",
        "answerText": f"<p>EHC plans must be issued within 20 weeks; question {question_id}.</p>",
    }


@pytest.fixture
def members_index(tmp_path, corpus_copy, use_fake_embedder):
    records = [
        _record(1800101, FOY, MCKINNELL, "2025-01-10"),
        _record(1800102, FOY, MCKINNELL, "2025-03-10"),
        _record(1800103, JOHNSON, MCKINNELL, "2025-02-10"),
        _record(1800104, MAY, MCKINNELL, "2025-02-11", house="Lords"),
    ]
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    index, _ = Index.build([corpus_copy, path], tmp_path / "ix", embedder=use_fake_embedder)
    return index


def _ids(passages) -> set[str]:
    return {p.doc_id for p in passages}


def test_the_filters_keep_who_asked_who_answered_the_house_and_the_party(members_index):
    search = members_index.search
    assert _ids(search("EHC plans", k=20, asked_by="foy, mary")) == {"1800101", "1800102"}
    assert _ids(search("EHC plans", k=20, asked_by=str(JOHNSON))) == {"1800103"}
    assert _ids(search("EHC plans", k=20, answered_by="Catherine McKinnell")) == {
        "1800101",
        "1800102",
        "1800103",
        "1800104",
    }
    assert _ids(search("EHC plans", k=20, house="Lords")) == {"1800104"}
    assert _ids(search("EHC plans", k=20, party="labour")) == {"1800101", "1800102"}
    assert _ids(search("EHC plans", k=20, party="Conservative")) == {"1800103", "1800104"}
    # A seed page names its asker without an id: the name as written counts.
    assert "002_30c036443f88d855.txt" in _ids(search("Stockport", k=20, asked_by="Navendu Mishra"))
    passage = search("EHC plans", k=1, asked_by="Mary Foy")[0]
    assert passage.citation.asked_by_party == "Labour"
    assert passage.citation.asked_by == "Mary Foy (Labour, City of Durham)"


def test_the_member_command_lists_questions_and_answers_newest_first(members_index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    shown = runner.invoke(main, ["member", "Foy, Mary", "--index", "ix"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == f"Mary Foy (Labour, City of Durham), member {FOY}"
    assert lines[1] == "Questions asked: 2"
    assert lines[2].startswith("  2025-03-10  ")  # newest first
    assert lines[4].startswith("  2025-01-10  ")
    assert "Answers given: 0" in shown.output
    data = json.loads(runner.invoke(main, ["member", str(MCKINNELL), "--index", "ix", "--json", "-n", "2"]).output)
    assert (data["answered_count"], data["asked_count"]) == (4, 0)
    assert [entry["doc_id"] for entry in data["answered"]] == ["1800102", "1800104"]
    wrong = runner.invoke(main, ["member", "Mary Fow", "--index", "ix"])
    assert wrong.exit_code == 1
    assert wrong.output.strip() == "Error: NAME: no member called 'Mary Fow'; did you mean Mary Foy?"


def test_rest_serves_a_member_and_the_member_filters(members_index):
    from sendsearch.serve.api import rest_app

    with serving(rest_app(members_index)) as url:
        by_id = httpx.get(url + f"members/{FOY}").json()
        by_name = httpx.get(url + "members/Foy, Mary").json()
        unknown = httpx.get(url + "members/Nobody Atall")
        filtered = httpx.get(url + "search", params={"q": "EHC plans", "k": 20, "asked_by": "Mary Foy"}).json()
        lords = httpx.get(url + "search", params={"q": "EHC plans", "k": 20, "house": "Lords"}).json()
    assert by_id == by_name
    assert by_id["name"] == "Mary Foy"
    assert [entry["date"] for entry in by_id["asked"]] == ["2025-03-10", "2025-01-10"]
    assert unknown.status_code == 400
    assert unknown.json()["error"].startswith("member: no member called 'Nobody Atall'")
    assert {p["doc_id"] for p in filtered["passages"]} == {"1800101", "1800102"}
    assert {p["doc_id"] for p in lords["passages"]} == {"1800104"}


def test_the_page_filters_by_member(members_index):
    from sendsearch.serve.ui import ChatFilters, answer

    filters = ChatFilters("", "", "Any department", "Any", 10, asked_by="Mary Foy", house="Commons")
    reply, _ = answer(members_index, "EHC plans", None, filters)
    assert reply.error is None
    assert {s.passage.doc_id for s in reply.passages} | {
        p.doc_id for s in reply.passages for p in s.near_identical
    } <= {"1800101", "1800102"}
    assert "asked by Mary Foy (Labour, City of Durham)" in reply.filters
    bad, _ = answer(members_index, "EHC", None, ChatFilters("", "", "Any department", "Any", 3, answered_by="Mary Fow"))
    assert bad.error == "Answered by: no member called 'Mary Fow'; did you mean Mary Foy?"


def test_who_asks_about_this_most_is_counted_in_every_result(members_index):
    found = members_index.search("EHC plans", k=20, house="Commons")
    close = [p for p in found if not p.weak_match and p.citation.asking_member_id]
    expected: dict[int, int] = {}
    for passage in close:
        member = passage.citation.asking_member_id
        assert member is not None
        expected[member] = expected.get(member, 0) + 1
    assert dict(found.askers) == expected
    assert found.askers[0] == (FOY, 2)
    assert found.to_dict()["askers"][0] == {"member_id": FOY, "name": "Mary Foy (Labour, City of Durham)", "count": 2}
    assert found.askers_line.startswith("Who asked these: Mary Foy (Labour, City of Durham) (2), ")


def test_the_page_and_the_cli_say_who_asked(members_index, tmp_path, monkeypatch):
    from html import unescape

    from sendsearch.chat.render import render_turn
    from sendsearch.serve.ui import ChatFilters, answer

    reply, _ = answer(
        members_index, "EHC plans", None, ChatFilters("", "", "Any department", "Any", 10, house="Commons")
    )
    # The page links each name to the member's page (tests/serve/test_member_page.py): read as text.
    page = unescape(re.sub(r"</?a\b[^>]*>", "", render_turn(reply)))
    assert "Who asked these: Mary Foy (Labour, City of Durham) (2)" in page
    monkeypatch.chdir(tmp_path)
    shown = CliRunner().invoke(main, ["search", "EHC plans", "--index", "ix", "-k", "20", "--house", "commons"])
    assert "Who asked these: Mary Foy (Labour, City of Durham) (2)" in shown.output
