"""Answers given word for word to grouped questions: one passage, citing all of them."""

from __future__ import annotations

import json
from datetime import date

import pytest

from sendsearch import Index, SearchConfig

LONG = (
    "The department is investing £2.6 billion between 2022 and 2025 to deliver new places and improve existing "
    "provision for children and young people with special educational needs and disabilities. This includes new "
    "special free schools and alternative provision places, and capital for local authorities to adapt mainstream "
    "schools so that pupils with complex needs can attend a local school with the right support in place. "
)


def record(number: int, answer: str, **extra) -> str:
    question = (
        "To ask the Secretary of State for Education, what capital funding is planned for special school places "
        f"in area {number}."
    )
    return json.dumps({"id": number, "questionText": question, "answerText": f"<p>{answer}</p>", **extra})


@pytest.fixture
def grouped_index(tmp_path, fake_embedder):
    lines = [
        record(1, LONG),
        record(
            2,
            LONG,
            uin="77",
            dateTabled="2024-03-01T00:00:00",
            dateAnswered="2024-03-08T00:00:00",
            answeringBodyName="Department for Education",
        ),
        record(3, LONG + "A different closing sentence about tribunals."),
        record(4, "It has not proved possible to respond in the time available before prorogation."),
        record(5, "It has not proved possible to respond in the time available before prorogation."),
    ]
    path = tmp_path / "answers.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    index, _ = Index.build([path], tmp_path / "index", embedder=fake_embedder)
    return index


def test_identical_answers_collapse_into_one_passage_that_cites_all(grouped_index):
    passages = grouped_index.search("capital funding for special school places", k=5)
    grouped = [p for p in passages if p.doc_id in ("1", "2")]
    assert len(grouped) == 1
    assert set(grouped[0].same_answer_as) == {"1", "2"} - {grouped[0].doc_id}
    assert any(p.doc_id == "3" for p in passages)  # a different answer stays its own passage


def test_a_record_without_answerer_or_date_borrows_them_from_its_twin(grouped_index):
    # The questions differ only in their area number, so "area 1" makes record 1 (which has
    # no dates) the one shown, and "area 2" its twin (which has them).
    [borrower] = grouped_index.search("special school places in area 1", k=1, mode="bm25")
    assert borrower.doc_id == "1"
    assert borrower.same_answer_as == ("2",)
    assert borrower.citation.date_answered == date(2024, 3, 8)
    assert borrower.citation.details_from == "2"
    assert "details from Question 77 (tabled 1 March 2024), which has the same answer" in borrower.citation_line
    assert borrower.to_dict()["cited_from"] == "2"
    assert borrower.to_dict()["cited_from_name"] == "Question 77 (tabled 1 March 2024)"
    [lender] = grouped_index.search("special school places in area 2", k=1, mode="bm25")
    assert lender.doc_id == "2"
    assert lender.citation.details_from is None
    assert lender.citation.date_answered == date(2024, 3, 8)


def test_short_boilerplate_answers_are_not_collapsed(grouped_index):
    passages = grouped_index.search("not proved possible to respond before prorogation", k=5)
    ids = [p.doc_id for p in passages]
    assert "4" in ids
    assert "5" in ids
    assert all(not p.same_answer_as for p in passages if p.doc_id in ("4", "5"))


def test_collapsing_can_be_turned_off(grouped_index):
    config = SearchConfig().with_(collapse_duplicates=False)
    ids = [p.doc_id for p in grouped_index.search("capital funding for special school places", k=5, settings=config)]
    assert "1" in ids
    assert "2" in ids
