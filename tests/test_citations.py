"""Citations a person can trust: names for member ids, titles from questions, links, flags, referrals."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from sendsearch import Citation, Index
from sendsearch.members import lookup_member
from sendsearch.sources.parliament import record_to_document, referred_questions, title_from_question
from sendsearch.sources.readers import read_paths

from .conftest import SEND_ANSWERS, needs_shared

# Record 1725947 as the API gives it (the list item of the recorded August 2024 responses,
# with the answer text shortened here).
MCKINNELL: dict[str, Any] = {
    "id": 1725947,
    "askingMemberId": 5031,
    "askingMember": None,
    "house": "Commons",
    "dateTabled": "2024-08-30T00:00:00",
    "uin": "3283",
    "questionText": "To ask the Secretary of State for Education, what the average funding per pupil was in "
    "mainstream schools in (a) Gateshead Central and Whickham constituency, (b) the North East Combined Authority "
    "Area and (c) England in each of the last five years.",
    "answeringBodyName": "Department for Education",
    "isWithdrawn": False,
    "groupedQuestions": [],
    "answerIsHolding": False,
    "answerIsCorrection": True,
    "answeringMemberId": 4125,
    "answeringMember": None,
    "dateAnswered": "2024-09-09T00:00:00",
    "answerText": "<p>The table below sets out funding statistics for the North East and England.</p>",
    "dateAnswerCorrected": "2024-11-26T00:00:00",
    "dateHoldingAnswer": None,
    "heading": "Schools: Finance",
    "groupedQuestionsDates": [],
}


@pytest.mark.slow  # reads whole corpus files
def test_member_ids_become_names_with_party_for_the_date():
    member, other = lookup_member(4125, date(2024, 9, 9)), lookup_member(5202)
    assert member is not None
    assert other is not None
    assert member.name == "Catherine McKinnell"
    assert member.party == "Labour"
    assert other.label == "Jessica Toale (Labour, Bournemouth West)"
    assert lookup_member(99999999) is None
    assert lookup_member(None) is None


def test_a_full_record_is_cited_with_who_when_and_its_public_page():
    citation = record_to_document(MCKINNELL).citation
    assert citation.answered_by == "Catherine McKinnell"
    assert citation.answerer == "Catherine McKinnell (Labour)"
    assert citation.asked_by == "Mark Ferguson (Labour, Gateshead Central and Whickham)"
    assert citation.house == "Commons"
    assert citation.uin == "3283"
    assert citation.source == "https://questions-statements.parliament.uk/written-questions/detail/2024-08-30/3283"
    assert citation.source_label == "Parliament page"
    assert citation.date_corrected == date(2024, 11, 26)
    assert citation.dates == "answered 9 September 2024 (corrected 26 November 2024), asked 30 August 2024"
    assert str(citation) == (
        "Schools: Finance, answered by Catherine McKinnell (Labour), Department for Education, "
        "answered 9 September 2024, corrected 26 November 2024, "
        "https://questions-statements.parliament.uk/written-questions/detail/2024-08-30/3283"
    )


def test_expanded_member_objects_name_members_the_table_does_not_know():
    record = {**MCKINNELL, "answeringMemberId": 1, "answeringMember": {"name": "Lord Example", "party": "Crossbench"}}
    citation = record_to_document(record).citation
    assert citation.answerer == "Lord Example (Crossbench)"


def test_a_record_without_details_says_what_is_not_recorded_and_labels_the_data_link():
    bare = {"id": 1698603, "questionText": MCKINNELL["questionText"], "answerText": "<p>The figures are below.</p>"}
    citation = record_to_document(bare).citation
    assert citation.title == (
        "What the average funding per pupil was in mainstream schools in Gateshead Central and Whickham …"
    )
    assert citation.source_label == "Parliament data record"
    line = str(citation)
    assert "answerer not recorded" in line
    assert "date not recorded" in line
    assert line.endswith(
        "Parliament data record: https://questions-statements-api.parliament.uk/api/writtenquestions/questions/1698603"
    )


@pytest.mark.parametrize(
    ("question", "department", "title"),
    [
        (
            "To ask the Secretary of State for Education, what steps her Department is taking to recruit more "
            "educational psychologists.",
            "Department for Education",
            "What steps the Department for Education is taking to recruit more educational psychologists",
        ),
        (
            "To ask the Secretary of State for Education, pursuant to the Answer of 19 February 2024 to Question "
            "13342 on Special Educational Needs: Stockport, who pays for the team.",
            "Department for Education",
            "Who pays for the team",
        ),
        (
            "To ask the Secretary of State for Education, whether she has made an assessment of the adequacy of "
            "SEND provision in Derbyshire; and if she will make a statement.",
            "Department for Education",
            "Whether the Government has made an assessment of the adequacy of SEND provision in Derbyshire",
        ),
        (
            "To ask His Majesty's Government what steps they are taking to reduce waiting times for autism "
            "assessments for children.",
            None,
            "What steps the Government are taking to reduce waiting times for autism assessments for children",
        ),
    ],
)
def test_titles_are_made_from_questions(question, department, title):
    assert title_from_question(question, department) == title


def test_a_long_title_is_cut_at_a_word():
    title = title_from_question("To ask the Secretary of State for Education, what " + "very " * 40 + "long.")
    assert len(title) <= 102
    assert title.endswith(" …")
    assert "  " not in title


@pytest.mark.slow  # reads whole corpus files
@needs_shared
def test_no_evaluation_record_is_titled_by_a_number():
    titles = [d.citation.title for d in read_paths([SEND_ANSWERS])]
    assert len(titles) == 721
    assert all(t and not t.strip().isdigit() and len(t) >= 8 for t in titles)


def test_holding_and_withdrawn_flags():
    holding = record_to_document({**MCKINNELL, "dateHoldingAnswer": "2024-09-04T00:00:00"}).citation
    assert "holding answer 4 September 2024" in holding.dates
    assert record_to_document({**MCKINNELL, "isWithdrawn": True}).citation.withdrawn


def test_a_lords_question_is_read_and_cited_like_a_commons_one():
    lords = {
        "id": 9001,
        "house": "Lords",
        "uin": "HL1234",
        "dateTabled": "2024-10-01T00:00:00",
        "dateAnswered": "2024-10-14T00:00:00",
        "questionText": "To ask His Majesty's Government what plans they have to increase the number of special "
        "school places.",
        "answerText": "<p>We are investing in new places.</p>",
        "answeringBodyName": "Department for Education",
    }
    citation = record_to_document(lords).citation
    assert citation.kind_label == "Written answer (House of Lords)"
    assert citation.title == "What plans the Government have to increase the number of special school places"
    assert (citation.source or "").endswith("/detail/2024-10-01/HL1234")
    assert "House of Lords" in str(citation)


@pytest.mark.parametrize(
    ("answer", "numbers"),
    [
        ("I refer the hon. Member to the answer I gave on 22 November 2022 to Question 89028.", ("89028",)),
        (
            "I refer the Hon. Member to my answer to Questions UIN 201488 and 201489 on 23 October 2023.",
            ("201488", "201489"),
        ),
        (
            "I refer the honourable Member to the answer I gave on 26 September 2023 to Question 199292: "
            "https://questions-statements.parliament.uk/written-questions/detail/2023-09-13/199292 .",
            ("199292",),
        ),
        ("I refer the hon. Member to my comments earlier today in the Chamber.", ("",)),
        ("The department has spent £2 billion. I refer the hon. Member to the answer to Question 1234. " * 10, ()),
        ("We are investing £2.6 billion in special school places.", ()),
    ],
)
def test_referrals_are_recognised_with_the_questions_they_name(answer, numbers):
    assert referred_questions(answer) == numbers


def test_a_referral_is_flagged_and_linked_to_the_answer_it_points_to(tmp_path, fake_embedder):
    target = {**MCKINNELL, "id": 1, "uin": "17890", "answerText": "<p>High needs funding rises to £10.5 billion.</p>"}
    referral = {
        **MCKINNELL,
        "id": 2,
        "uin": "17999",
        "answerText": "<p>I refer the hon. Member to the answer I gave on 12 March 2024 to Question 17890.</p>",
    }
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (target, referral)), encoding="utf-8")
    index, _ = Index.build([path], tmp_path / "index", embedder=fake_embedder)
    [passage] = index.search("I refer the hon. Member to the answer I gave", k=1, mode="bm25")
    assert passage.doc_id == "2"
    assert passage.citation.referral
    assert passage.citation.refers_to == ("17890",)
    assert passage.refers_to_docs == ("1",)
    assert passage.to_dict()["refers_to_docs"] == ["1"]


def test_grouped_questions_are_linked_by_their_public_pages():
    record = {
        **MCKINNELL,
        "groupedQuestions": ["3284"],
        "groupedQuestionsDates": [{"questionUin": "3284", "dateTabled": "2024-08-30T00:00:00"}],
    }
    assert record_to_document(record).citation.grouped_with == ("2024-08-30/3284",)


def test_withdrawn_questions_are_left_out_unless_asked_for(tmp_path, fake_embedder):
    from sendsearch import IndexConfig

    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps(MCKINNELL) + "\n" + json.dumps({**MCKINNELL, "id": 5, "isWithdrawn": True}))
    _, report = Index.build([path], tmp_path / "a", embedder=fake_embedder)
    assert (report.documents, report.withdrawn) == (1, 1)
    _, report = Index.build(
        [path], tmp_path / "b", embedder=fake_embedder, index_config=IndexConfig(include_withdrawn=True)
    )
    assert (report.documents, report.withdrawn) == (2, 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [("heading", 12345), ("heading", ["a"]), ("dateTabled", 20240101), ("answeringBodyName", ["DfE"]), ("uin", True)],
)
def test_a_record_with_a_field_of_the_wrong_type_is_refused_with_the_reason(field, value):
    with pytest.raises(ValueError, match=field):
        record_to_document({**MCKINNELL, field: value})


def test_pages_cite_their_own_address_or_their_name_never_a_server_path(tmp_path):
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "canonical.html").write_text(
        '<html><head><link rel="canonical" href="https://www.stockport.gov.uk/news/send"></head>'
        "<body><h1>SEND news</h1><p>Stockport SEND news.</p></body></html>",
        encoding="utf-8",
    )
    (folder / "stated.txt").write_text("Local offer\nSource: https://example.org/local-offer\n\nThe local offer.")
    (folder / "plain.txt").write_text("Short breaks\n\nShort breaks for disabled children.")
    sources = {d.doc_id: d.citation.source for d in read_paths([folder])}
    assert sources == {
        "canonical.html": "https://www.stockport.gov.uk/news/send",
        "stated.txt": "https://example.org/local-offer",
        "plain.txt": "plain.txt",
    }
    assert Citation(kind="web_page", source="plain.txt").source_label == "File"


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ("", "unanswered"),
        (
            "It has not proved possible to respond to the hon. Member in the time available before Prorogation.",
            "holding",
        ),
        ("The information requested is not held centrally.", "not held"),
        (
            "The information requested isn't readily available and could only be provided at disproportionate cost.",
            "not held",
        ),
        (
            "The information is not held centrally. However, the latest published figures show that 434,354 "
            "children and young people had an EHC plan in January 2024, up 11.6% on the year before; the "
            "statistics are published each June and break the figures down by local authority, age and type "
            "of need, and the department's guidance sets out what councils must report.",
            None,
        ),
        ("We are investing £2.6 billion in special school places.", None),
    ],
)
def test_answers_that_say_nothing_of_their_own_are_recognised(answer, kind):
    from sendsearch.sources.parliament import non_answer_kind

    assert non_answer_kind(answer) == kind


def test_non_answers_rank_below_answers_with_substance(tmp_path, fake_embedder):
    from sendsearch import SearchConfig

    question = "To ask the Secretary of State for Education, how many educational psychologists are in training."
    answer = "<p>There are 600 educational psychologists in training this year.</p>"
    answered = {**MCKINNELL, "id": 1, "questionText": question, "answerText": answer}
    # The unanswered question matches the query a little better: it names the county too.
    unanswered = {**MCKINNELL, "id": 2, "questionText": question.rstrip(".") + " in Surrey.", "answerText": ""}
    other = {**MCKINNELL, "id": 3, "questionText": "To ask about frigates.", "answerText": "<p>Eight frigates.</p>"}
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (unanswered, answered, other)), encoding="utf-8")
    index, _ = Index.build([path], tmp_path / "index", embedder=fake_embedder)
    query = "how many educational psychologists are in training in Surrey"
    assert [p.doc_id for p in index.search(query, k=2)] == ["1", "2"]
    # Without the penalty the unanswered record, whose text is its question, comes first.
    plain = SearchConfig().with_(non_answer_weight=1.0)
    assert [p.doc_id for p in index.search(query, k=2, settings=plain)] == ["2", "1"]
