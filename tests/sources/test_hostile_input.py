"""Hostile and broken input: every way in is bounded, and one bad record or file costs only itself.

Each test here reproduces a defect found by the hostile battery (issue #14); the bombs are
small versions of the battery's, made on the fly. Memory is measured, not asserted (see the
issue's closing note for /usr/bin/time -v figures); these tests check the outcome and that
what is kept in memory (reasons, items) stays bounded.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from sendsearch.cli import main
from sendsearch.indexing.builder import build_index
from sendsearch.limits import MAX_BAD_RUN, MAX_JSON_DEPTH, MAX_SKIP_REASONS
from sendsearch.sources import jsonstream
from sendsearch.sources.readers import ReadReport, read_paths

from ..conftest import CORPUS
from ..pdfs import pdf_bytes

RECORD = {"id": 1, "questionText": "To ask about SEND transport.", "answerText": "<p>Transport is provided.</p>"}


def _record(number: int, **fields) -> str:
    return json.dumps({**RECORD, "id": number, **fields})


def _read(*paths, follow_links: bool = False):
    report = ReadReport()
    documents = list(read_paths(paths, report, follow_links=follow_links))
    return documents, report


# -- sizes and shapes --------------------------------------------------------------------------------
@pytest.mark.slow  # seconds of CPU: make test runs it, make check does not
def test_a_gzip_bomb_stops_at_the_expansion_limit(tmp_path):
    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(gzip.compress((_record(7) + "\n").encode() * 400_000, 9))  # 34 MB from 70 kB
    documents, report = _read(bomb)
    assert 0 < len(documents) < 400_000
    [reason] = report.skipped
    assert "compression bomb" in reason.reason
    assert reason.reason.startswith("stopped reading at line")


def test_a_million_bad_lines_stop_early_and_keep_a_few_reasons(tmp_path):
    junk = tmp_path / "junk.jsonl"
    junk.write_text("x\n" * 200_000 + _record(2) + "\n")
    documents, report = _read(junk)
    assert documents == []
    assert report.skipped.total == MAX_BAD_RUN + 1
    assert len(report.skipped) == MAX_SKIP_REASONS
    assert "stopped reading at line 1,000: 1,000 unusable records in a row" in str(report.skipped[-1])


@pytest.mark.slow  # seconds of CPU: make test runs it, make check does not
def test_many_bad_records_among_good_ones_are_counted_not_all_kept(tmp_path):
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(f"{_record(i)}\n{{broken\n" for i in range(1, 3001)))
    documents, report = _read(mixed)
    assert len(documents) == 3000
    assert report.skipped.total == 3000
    assert len(report.skipped) == MAX_SKIP_REASONS
    assert report.skipped.more == 3000 - MAX_SKIP_REASONS


def test_a_list_file_is_read_item_by_item(tmp_path):
    items = [
        _record(1),
        '"not a record"',
        "[" * 1000 + "]" * 1000,
        json.dumps({"value": json.loads(_record(2))}),
        _record(3, heading=12345),
        _record(4),
    ]
    listing = tmp_path / "list.json"
    listing.write_text("[\n" + ",\n".join(items) + "\n]")
    documents, report = _read(listing)
    assert [d.doc_id for d in documents] == ["1", "2", "4"]
    reasons = [(s.line, s.reason) for s in report.skipped]
    assert reasons[0] == (3, "record is not a JSON object")
    assert reasons[1] == (4, f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
    assert reasons[2][0] == 6
    assert "'heading' should be text" in reasons[2][1]


def test_a_malformed_or_undecodable_list_item_costs_only_itself(tmp_path):
    """Why the list scanner is not ijson (issue 21): a streaming parser stops at the first
    bad item and loses every record after it; here the bad item is skipped, named by its line."""
    listing = tmp_path / "list.json"
    listing.write_bytes(
        b"[\n"
        + _record(1).encode()
        + b',\n{"id": tru},\n'
        + _record(2).encode()[:-2]
        + b'\xff"},\n'
        + _record(3).encode()
        + b"\n]"
    )
    documents, report = _read(listing)
    assert [d.doc_id for d in documents] == ["1", "3"]
    assert [(s.line, s.reason) for s in report.skipped] == [
        (3, "malformed JSON: Expecting value"),
        (4, "not valid UTF-8 text"),
    ]


def test_a_list_on_one_line_larger_than_a_line_may_be_is_still_read(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonstream, "MAX_LINE_CHARS", 2000)
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps([json.loads(_record(i)) for i in range(1, 101)]))  # one 12 kB line
    documents, report = _read(listing)
    assert len(documents) == 100
    assert not report.skipped


def test_a_list_cut_off_keeps_the_items_before_the_cut(tmp_path):
    listing = tmp_path / "cut.json"
    listing.write_text("[" + ",".join(_record(i) for i in range(1, 11))[:-30])
    documents, report = _read(listing)
    assert [d.doc_id for d in documents] == [str(i) for i in range(1, 10)]
    assert "cut off" in report.skipped[-1].reason


def test_json_nested_100000_deep_is_refused_without_recursion(tmp_path):
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "]" * 100_000 + "\n" + _record(5) + "\n" + '{"a":' * 100_000 + "1" + "}" * 100_000)
    documents, report = _read(deep)
    assert [d.doc_id for d in documents] == ["5"]
    assert [(s.line, s.reason) for s in report.skipped] == [
        (1, f"JSON nested more than {MAX_JSON_DEPTH} levels deep"),
        (3, f"JSON nested more than {MAX_JSON_DEPTH} levels deep"),
    ]


def test_an_overlong_line_is_skipped_and_reading_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonstream, "MAX_LINE_CHARS", 1000)
    records = tmp_path / "long.jsonl"
    records.write_text(_record(1) + "\n" + _record(2, answerText="x" * 5000) + "\n" + _record(3) + "\n")
    documents, report = _read(records)
    assert [d.doc_id for d in documents] == ["1", "3"]
    assert [(s.line, s.reason) for s in report.skipped] == [(2, "line is over 1,000 characters")]


def test_a_broken_first_line_does_not_make_the_file_one_object(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonstream, "MAX_WHOLE_JSON_CHARS", 5000)
    records = tmp_path / "broken.jsonl"
    records.write_text('{"id": 1,\n' + "".join(_record(i) + "\n" for i in range(2, 202)))
    documents, report = _read(records)
    assert len(documents) == 200
    assert [s.line for s in report.skipped] == [1]
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(json.loads(_record(9)), indent=2))
    assert [d.doc_id for d in _read(pretty)[0]] == ["9"]


def test_leading_blank_space_is_counted_not_held(tmp_path):
    records = tmp_path / "spaced.jsonl"
    records.write_text(" \n" * 50_000 + "{broken\n" + _record(1) + "\n")
    documents, report = _read(records)
    assert [d.doc_id for d in documents] == ["1"]
    assert [s.line for s in report.skipped] == [50_001]


def test_bytes_that_are_not_utf8_cost_only_their_line(tmp_path):
    records = tmp_path / "bytes.jsonl"
    records.write_bytes(_record(1).encode() + b"\n" + _record(2).encode()[:-2] + b'\xff"}\n' + _record(3).encode())
    documents, report = _read(records)
    assert [d.doc_id for d in documents] == ["1", "3"]
    assert [(s.line, s.reason) for s in report.skipped] == [(2, "not valid UTF-8 text")]


def test_lone_surrogates_and_deep_answers_are_kept_or_explained(tmp_path):
    records = tmp_path / "odd.jsonl"
    lines = [
        _record(1, answerText="<p>before \\ud800 after</p>", heading="Heading \\udfff").replace("\\\\", "\\"),
        _record(2, answerText="<div>" * 300 + "deep answer" + "</div>" * 300),
        _record(3, answerText="<div>" * 3000 + "too deep" + "</div>" * 3000),
    ]
    records.write_text("\n".join(lines))
    documents, report = _read(records)
    by_id = {d.doc_id: d for d in documents}
    assert by_id["1"].text == "before \ufffd after"
    assert by_id["1"].citation.title == "Heading \ufffd"
    assert by_id["2"].text == "deep answer"
    assert [(s.line, s.reason) for s in report.skipped] == [
        (3, "record 3: the HTML is nested more than 2,048 tags deep")
    ]


# -- one bad record never costs the others ----------------------------------------------------------
@pytest.fixture
def answers_with_one_bad(tmp_path) -> Path:
    """The 721 bundled SEND written answers and the battery's bad record after them."""
    path = tmp_path / "answers.jsonl"
    with gzip.open(CORPUS / "parliament" / "send-written-answers.jsonl.gz", "rb") as handle:
        path.write_bytes(handle.read().rstrip(b"\n") + b"\n")
    with open(path, "a") as handle:
        handle.write('{"id":15,"heading":12345,"questionText":"q","answerText":"<p>a</p>"}\n')
    return path


@pytest.mark.slow  # seconds of CPU: make test runs it, make check does not
def test_add_with_a_bad_record_adds_the_721_good_ones(use_fake_embedder, corpus_copy, answers_with_one_bad, tmp_path):
    runner = CliRunner()
    index = str(tmp_path / "ix")
    assert runner.invoke(main, ["build", str(corpus_copy), "--index", index, "-q"]).exit_code == 0
    result = runner.invoke(main, ["add", str(answers_with_one_bad), "--index", index, "-q"])
    assert result.exit_code == 0, result.output
    assert "721 added" in result.output
    assert "Skipped 1 inputs" in result.output
    assert "answers.jsonl:722: record 15: 'heading' should be text, not 12345" in result.output


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"askingMemberId": 2**70}, "'askingMemberId' is out of range"),
        ({"answerText": "<p>" + "<b>" * 2100 + "x"}, "nested more than 2,048 tags"),
    ],
)
def test_records_that_would_break_the_store_are_skipped_before_it(tmp_path, fake_embedder, fields, reason):
    records = tmp_path / "in" / "r.jsonl"
    records.parent.mkdir()
    records.write_text(_record(1) + "\n" + _record(2, **fields) + "\n")
    report = build_index([records.parent], tmp_path / "ix", fake_embedder)
    assert report.documents == 1
    assert reason in report.skipped[0].reason


# -- files and folders ---------------------------------------------------------------------------------
@pytest.mark.slow  # seconds of CPU: make test runs it, make check does not
def test_pdf_bombs_are_skipped_within_pypdfs_limits(tmp_path, fake_embedder):
    folder = tmp_path / "in"
    folder.mkdir()
    text = b"BT /F1 12 Tf 72 720 Td (High needs funding rose.) Tj ET"
    (folder / "good.pdf").write_bytes(pdf_bytes(text))
    bomb = zlib.compress(text + b" " * 100_000_000, 9)  # 100 MB from 100 kB
    (folder / "bomb.pdf").write_bytes(pdf_bytes(bomb, b"/Filter /FlateDecode "))
    (folder / "length.pdf").write_bytes(pdf_bytes(text, length=99_999_999_999))
    report = build_index([folder], tmp_path / "ix", fake_embedder)
    assert report.documents == 1
    reasons = {Path(s.source).name: s.reason for s in report.skipped}
    assert set(reasons) == {"bomb.pdf", "length.pdf"}
    assert all("pypdf's safety limits" in r for r in reasons.values())


def test_a_file_name_that_is_not_utf8_is_skipped_with_its_name(tmp_path, fake_embedder):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_text("Good page\n\nAbout SEND.", encoding="utf-8")
    (Path(os.fsdecode(bytes(folder)) + "/" + os.fsdecode(b"caf\xe9.txt"))).write_text("Caf\n\nText.")
    report = build_index([folder], tmp_path / "ix", fake_embedder)
    assert report.documents == 1
    [skipped] = report.skipped
    assert skipped.source.endswith("caf\\xe9.txt")
    assert "not valid UTF-8" in skipped.reason
    str(skipped).encode("utf-8")  # printable


def test_symlinks_in_a_folder_are_not_followed_unless_asked(tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "passwd.txt").write_text("root:x:0:0\n\nThe server's own file.")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_text("Good page\n\nAbout SEND.")
    (folder / "passwd.txt").symlink_to(secret / "passwd.txt")
    (folder / "elsewhere").symlink_to(secret, target_is_directory=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    documents, report = _read(folder)
    assert [d.doc_id for d in documents] == ["good.txt"]
    assert sorted(Path(s.source).name for s in report.skipped) == ["elsewhere", "loop", "passwd.txt"]
    assert all("symbolic link, not followed" in s.reason for s in report.skipped)
    followed, report = _read(folder, follow_links=True)
    assert sorted(d.doc_id for d in followed) == ["elsewhere/passwd.txt", "good.txt", "passwd.txt"]
    # A link given by name is what the person asked for, and is read.
    link = tmp_path / "named.txt"
    link.symlink_to(secret / "passwd.txt")
    assert [d.doc_id for d in _read(link)[0]] == ["named.txt"]


def test_follow_links_on_the_command_line(use_fake_embedder, corpus_copy, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "portage.txt").write_text("Portage\n\nPortage home visiting for SEND.")
    (corpus_copy / "linked.txt").symlink_to(extra / "portage.txt")
    runner = CliRunner()
    result = runner.invoke(main, ["build", str(corpus_copy), "--index", str(tmp_path / "a"), "-q"])
    assert "Indexed 5 documents" in result.output
    assert "symbolic link, not followed (use --follow-links" in result.output
    result = runner.invoke(main, ["build", str(corpus_copy), "--index", str(tmp_path / "b"), "-q", "--follow-links"])
    assert "Indexed 6 documents" in result.output
    shutil.rmtree(extra)
