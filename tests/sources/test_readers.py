"""Readers on the real seed pages and written-answer records, and on bad input."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sendsearch.sources import readers
from sendsearch.sources.readers import ReadReport, read_paths

from ..conftest import CORPUS, SEED_PAGES, SEND_ANSWERS, needs_shared
from ..pdfs import text_pdf

SEED_FIELDS: dict[str, dict[str, Any]] = {
    "000_7c82a29ce6e4872e.txt": {
        "kind": "written_answer",
        "title": "Special Educational Needs: Stockport",
        "date_asked": date(2022, 5, 16),
        "date_answered": date(2022, 5, 24),
        "answered_by": "Will Quince",
        "department": "Department for Education",
        "question_start": (
            "To ask the Secretary of State for Education, what resources his Department is providing Stockport"
        ),
    },
    "001_96ab44ec7aed3ea8.txt": {
        "kind": "web_page",
        "title": "Have your say on the aspects of SEND services in Stockport",
        "date_asked": None,
        "date_answered": None,
        "answered_by": None,
        "department": None,
        "question_start": None,
    },
    "002_30c036443f88d855.txt": {
        "kind": "written_answer",
        "title": "Special Educational Needs: Stockport Metropolitan Borough Council",
        "date_asked": None,
        "date_answered": date(2024, 4, 18),
        "answered_by": "David Johnston",
        "department": "Department for Education",
        "question_start": "To ask the Secretary of State for Education, pursuant to the Answer of 19 February 2024",
    },
    "003_a5f8c01f0c4ae145.txt": {
        "kind": "written_answer",
        "title": "Special Educational Needs",
        "date_asked": date(2021, 12, 6),
        "date_answered": date(2021, 12, 9),
        "answered_by": "Will Quince",
        "department": "Department for Education",
        "question_start": (
            "To ask the Secretary of State for Education, what assessment the Government has made of the capacity"
        ),
    },
    "004_f5f6ddbb26941a27.txt": {
        "kind": "written_answer",
        "title": "Local Government: Children",
        "date_asked": date(2021, 10, 15),
        "date_answered": date(2021, 10, 20),
        "answered_by": "Will Quince",
        "department": "Department for Education",
        "question_start": "To ask the Secretary of State for Education, what steps his Department is taking",
    },
}


@pytest.fixture(scope="module")
def seeds():
    return {d.doc_id: d for d in read_paths(SEED_PAGES)}


@pytest.mark.slow  # reads whole corpus files
def test_the_bundled_corpus_holds_the_seeds_and_the_send_written_answers():
    report = ReadReport()
    documents = list(read_paths([CORPUS], report))
    assert len(documents) == 726
    assert not report.skipped
    assert {d.doc_id for d in documents} >= {p.name for p in SEED_PAGES} | {"1698603"}


@pytest.mark.parametrize("doc_id", sorted(SEED_FIELDS))
def test_every_seed_metadata_is_parsed(seeds, doc_id):
    document, expected = seeds[doc_id], SEED_FIELDS[doc_id]
    citation = document.citation
    for name in ("kind", "title", "date_asked", "date_answered", "answered_by", "department"):
        assert getattr(citation, name) == expected[name], name
    if expected["question_start"]:
        assert (citation.question or "").startswith(str(expected["question_start"]))
    else:
        assert citation.question is None
    assert citation.source == doc_id  # relative to the folder read, never a path on the server


def test_seed_002_keeps_who_asked_and_the_answerers_role(seeds):
    citation = seeds["002_30c036443f88d855.txt"].citation
    assert citation.asked_by == "Navendu Mishra (Labour - Stockport)"
    assert citation.answered_by_role == "Parliamentary Under-Secretary (Department for Education)"


@pytest.mark.parametrize(
    "furniture",
    [
        "View Source",
        "Reticulating Splines",
        "Skip to main content",
        "Read More News",
        "Portrait",
        "Scheduled Event",
        "Add to calendar",
        "LANDMARK CHILDCARE",
        "Asked by",
        "Answered by",
    ],
)
def test_seed_bodies_carry_no_page_furniture_or_metadata_lines(seeds, furniture):
    for document in seeds.values():
        assert furniture.lower() not in document.text.lower(), (document.doc_id, furniture)


def test_seed_text_is_unicode_normalised_and_keeps_its_facts(seeds):
    for document in seeds.values():
        assert "\u00a0" not in document.text
    assert "£32m that Stockport spends" in seeds["001_96ab44ec7aed3ea8.txt"].text
    assert "general fund" in seeds["002_30c036443f88d855.txt"].text
    assert seeds["002_30c036443f88d855.txt"].text.startswith(
        "The cost of local authorities’ Education, Health and Care"
    )


def test_seed_ids_are_paths_relative_to_the_folder(tmp_path):
    nested = tmp_path / "pages" / "stockport"
    nested.mkdir(parents=True)
    (nested / "a.txt").write_text("A title\n\nSome text about SEND.", encoding="utf-8")
    [document] = read_paths([tmp_path / "pages"])
    assert document.doc_id == "stockport/a.txt"
    [single] = read_paths([nested / "a.txt"])
    assert single.doc_id == "a.txt"


def test_html_reader(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Council news</title><script>var x=1</script></head><body><nav>Menu</nav>"
        "<h1>SEND consultation</h1><p>The council spends &pound;32m on SEND.</p></body></html>",
        encoding="utf-8",
    )
    [document] = read_paths([page])
    assert document.citation.title == "SEND consultation"
    assert document.citation.kind == "web_page"
    assert "£32m" in document.text
    assert "Menu" not in document.text
    assert "var x" not in document.text


def test_markdown_reader_keeps_raw_html_as_text(tmp_path):
    note = tmp_path / "note.md"
    note.write_text(
        "# Local offer\n\nThe **local offer** lists support.\n\n<script>alert(1)</script>\n", encoding="utf-8"
    )
    [document] = read_paths([note])
    assert document.citation.title == "Local offer"
    assert "The local offer lists support." in document.text
    assert "<script>" in document.text  # shown as text, never run


def test_pdf_reader(tmp_path):
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(text_pdf("High needs funding rose by 1 billion."))
    [document] = read_paths([pdf])
    assert "High needs funding rose by 1 billion." in document.text
    assert document.doc_id == "report.pdf"


def test_bad_files_are_skipped_with_their_name_and_reason(tmp_path, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_text("Good page\n\nA sentence about SEND.", encoding="utf-8")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    (folder / "latin1.txt").write_bytes("Caf\xe9 funding".encode("latin-1"))
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (folder / "slides.pptx").write_bytes(b"PK\x03\x04")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (folder / "huge.html").write_text("<p>" + "x" * 2000 + "</p>", encoding="utf-8")
    (folder / ".hidden.txt").write_text("ignored", encoding="utf-8")
    (folder / "furniture.txt").write_text("Skip to main content\nRead More News\n", encoding="utf-8")
    monkeypatch.setattr(readers, "MAX_DOCUMENT_BYTES", 1000)
    report = ReadReport()
    documents = list(read_paths([folder], report))
    assert [d.doc_id for d in documents] == ["good.txt"]
    reasons = {Path(s.source).name: s.reason for s in report.skipped}
    assert reasons.keys() == {
        "binary.txt",
        "broken.pdf",
        "empty.txt",
        "furniture.txt",
        "huge.html",
        "latin1.txt",
        "slides.pptx",
    }
    assert "UTF-8" in reasons["latin1.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "unsupported" in reasons["slides.pptx"]
    assert "empty" in reasons["empty.txt"]
    assert "limit" in reasons["huge.html"]
    assert "PDF" in reasons["broken.pdf"]
    assert report.files == 8  # the hidden file is not counted as an input


# -- written-question records -------------------------------------------------------------

# Three records shaped like the real ones in ../shared/data: one with full metadata, one
# with only its text (as two thirds of the collection are) and one not yet answered.
SAMPLE_RECORDS = [
    {
        "id": 1676018,
        "uin": "5467",
        "house": "Commons",
        "heading": "Autism: Children",
        "dateTabled": "2023-12-06T00:00:00",
        "dateAnswered": "2023-12-11T00:00:00",
        "answeringBodyName": "Department of Health and Social Care",
        "askingMemberId": 4753,
        "answeringMemberId": 4528,
        "questionText": "To ask the Secretary of State for Health and Social Care, what steps her Department is "
        "taking to reduce waiting times for autism assessments for children.",
        "answerText": "<p>We know that waiting times are too long.</p><p>In April 2023 we published guidance.</p>",
    },
    {
        "id": 1698603,
        "uin": None,
        "house": "Commons",
        "heading": None,
        "dateTabled": None,
        "dateAnswered": None,
        "answeringBodyName": None,
        "askingMemberId": None,
        "answeringMemberId": None,
        "questionText": "To ask the Secretary of State for Education, who pays for the team at Stockport Metropolitan "
        "Borough Council that carries out EHC needs assessments.",
        "answerText": "<p>The cost of local authorities' Education, Health and Care needs assessments is met from "
        "their general fund.</p>",
    },
    {
        "id": 1700001,
        "uin": "9001",
        "house": "Commons",
        "heading": "Special Educational Needs: Transport",
        "dateTabled": "2024-01-10T00:00:00",
        "dateAnswered": None,
        "answeringBodyName": "Department for Education",
        "questionText": "To ask the Secretary of State for Education, what support is available for home to school "
        "transport for pupils with SEND.",
        "answerText": "",
    },
]


@pytest.fixture
def sample_records() -> list[dict]:
    return json.loads(json.dumps(SAMPLE_RECORDS))


@pytest.mark.slow  # reads whole corpus files
@needs_shared
def test_records_reader_reads_the_real_file():
    report = ReadReport()
    documents = list(read_paths([SEND_ANSWERS], report))
    assert len(documents) == 721
    assert not report.skipped
    citation = next(d for d in documents if d.doc_id == "1676018").citation
    assert citation.title == "Autism: Children"
    assert citation.date_asked == date(2023, 12, 6)
    assert citation.date_answered == date(2023, 12, 11)
    assert citation.department == "Department of Health and Social Care"
    assert citation.source == "https://questions-statements.parliament.uk/written-questions/detail/2023-12-06/5467"
    assert (citation.question or "").startswith("To ask the Secretary of State for Health and Social Care")


def test_record_reader_turns_answer_html_into_paragraphs(sample_records):
    from sendsearch.sources.parliament import record_to_document

    document = record_to_document(sample_records[0])
    assert document.text == "We know that waiting times are too long.\n\nIn April 2023 we published guidance."
    citation = document.citation
    assert citation.kind == "written_answer"
    assert citation.title == "Autism: Children"
    assert citation.uin == "5467"
    assert citation.date_asked == date(2023, 12, 6)
    assert citation.date_answered == date(2023, 12, 11)
    assert citation.source == "https://questions-statements.parliament.uk/written-questions/detail/2023-12-06/5467"


def test_record_without_metadata_gets_department_from_question_and_api_url(sample_records):
    from sendsearch.sources.parliament import record_to_document

    document = record_to_document(sample_records[1])
    assert document.doc_id == "1698603"
    assert document.citation.department == "Department for Education"
    assert (
        document.citation.source
        == "https://questions-statements-api.parliament.uk/api/writtenquestions/questions/1698603"
    )
    assert document.citation.date_answered is None
    assert document.citation.heading is None  # the title is made from the question (test_citations.py)


def test_unanswered_record_is_indexed_by_its_question(sample_records):
    from sendsearch.sources.parliament import record_to_document

    document = record_to_document(sample_records[2])
    assert document.text == document.citation.question


@pytest.mark.parametrize("shape", ["jsonl", "jsonl.gz", "list", "values", "results", "pretty"])
def test_all_record_file_shapes(tmp_path, sample_records, shape):
    records = sample_records
    if shape == "jsonl":
        path, data = tmp_path / "r.jsonl", "\n".join(json.dumps(r) for r in records).encode()
    elif shape == "jsonl.gz":
        path, data = tmp_path / "r.jsonl.gz", gzip.compress("\n".join(json.dumps(r) for r in records).encode())
    elif shape == "list":
        path, data = tmp_path / "r.json", json.dumps(records).encode()
    elif shape == "values":
        path, data = tmp_path / "r.json", json.dumps([{"value": r, "links": []} for r in records]).encode()
    elif shape == "results":
        path, data = (
            tmp_path / "r.json",
            json.dumps({"results": [{"value": r} for r in records], "totalResults": 3}).encode(),
        )
    else:
        path, data = tmp_path / "r.json", json.dumps(records[0], indent=2).encode()
    path.write_bytes(data)
    report = ReadReport()
    documents = list(read_paths([path], report))
    expected = [str(r["id"]) for r in records][: 1 if shape == "pretty" else None]
    assert [d.doc_id for d in documents] == expected
    assert not report.skipped


def test_malformed_records_are_skipped_with_their_line(tmp_path, sample_records):
    good = json.dumps(sample_records[0])
    lines = [
        good,
        "{not json",
        json.dumps({"questionText": "no id"}),
        "",
        json.dumps([1, 2]),
        json.dumps(sample_records[1]),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    report = ReadReport()
    documents = list(read_paths([path], report))
    assert [d.doc_id for d in documents] == ["1676018", "1698603"]
    assert [(s.line, s.reason.split(":")[0]) for s in report.skipped] == [
        (2, "malformed JSON"),
        (3, "record ?"),
        (5, "record is not a JSON object"),
        (5, "record is not a JSON object"),
    ]


def test_truncated_gzip_keeps_what_was_read(tmp_path):
    record = {
        "id": 1,
        "questionText": "To ask the Secretary of State for Education, what support.",
        "answerText": "<p>Some.</p>",
    }
    data = gzip.compress(("\n".join(json.dumps({**record, "id": i}) for i in range(200))).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    report = ReadReport()
    documents = list(read_paths([path], report))
    assert 0 < len(documents) < 200
    assert "unreadable" in report.skipped[-1].reason
