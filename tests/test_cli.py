"""The command line, run in-process with the fake embedder."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sendsearch.cli import main
from sendsearch.indexing.manifest import FORMAT_VERSION


@pytest.fixture
def run(use_fake_embedder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_build_then_search_json(run, corpus_copy, tmp_path):
    result = run("build", str(corpus_copy), "--index", "ix", "--quiet")
    assert result.exit_code == 0, result.output
    assert "Indexed 5 documents" in result.output
    assert "Embedded" in result.output
    result = run("search", "How much does Stockport spend on SEND?", "--index", "ix", "--json", "-k", "3")
    assert result.exit_code == 0
    passages = json.loads(result.output)["passages"]
    assert len(passages) == 3
    assert passages[0]["doc_id"] == "001_96ab44ec7aed3ea8.txt"  # the real-model test checks "£32m"
    for field in (
        "doc_id",
        "text",
        "score",
        "title",
        "source",
        "date_answered",
        "answered_by",
        "department",
        "highlights",
        "citation",
        "start",
        "end",
    ):
        assert field in passages[0]


def test_build_defaults_to_corpus_and_index(run, corpus_copy, tmp_path):
    result = run("build", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "index" / "manifest.json").exists()
    # The fake embedder's cosines fall under the relevance floor: show the weak matches too.
    result = run("search", "Stockport consultation", "--show-weak")
    assert result.exit_code == 0
    assert "1. Have your say" in result.output


def test_build_reports_skipped_files(run, corpus_copy):
    (corpus_copy / "notes.docx").write_bytes(b"PK")
    (corpus_copy / "blank.md").write_text("")
    result = CliRunner().invoke(main, ["build", str(corpus_copy), "--index", "ix", "-q"])
    assert result.exit_code == 0
    assert "Skipped 2 inputs" in result.output
    assert "notes.docx: unsupported file type '.docx'" in result.output
    assert "blank.md: empty file" in result.output


def test_add_remove_and_info(run, corpus_copy, tmp_path):
    run("build", str(corpus_copy), "--index", "ix", "-q")
    page = tmp_path / "extra.html"
    page.write_text("<h1>Short breaks</h1><p>Short breaks for disabled children in Stockport.</p>", encoding="utf-8")
    result = run("add", str(page), "--index", "ix", "-q")
    assert result.exit_code == 0
    assert "1 added, 0 replaced, 0 unchanged" in result.output
    result = run("remove", "extra.html", "--index", "ix")
    assert "1 removed" in result.output
    result = run("info", "--index", "ix")
    assert "Documents:    5" in result.output
    assert "fake-hash-64" in result.output
    details = json.loads(run("info", "--index", "ix", "--json").output)
    assert details["documents"] == 5
    assert details["format_version"] == FORMAT_VERSION
    assert dict(details["kinds"]) == {"written_answer": 4, "web_page": 1}
    assert "Department for Education" in result.output  # departments are listed with their counts


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "SEND", "--index", "missing"], "no index at missing"),
        (["search", "   ", "--index", "ix"], "the query is empty"),
        (["search", "SEND", "--index", "ix", "--from", "yesterday"], "must be a date"),
        (
            ["build", "nothing-here", "--index", "ix2", "-q"],
            "no such file or folder: nothing-here; nothing was changed",
        ),
        (["add", "nothing-here", "--index", "ix", "-q"], "no such file or folder: nothing-here; nothing was changed"),
        (["add", "empty-folder", "--index", "ix", "-q"], "nothing to add"),
        (["build", "empty-folder", "--index", "ix2", "-q"], "nothing to index"),
    ],
)
def test_errors_are_one_clear_line_without_traceback(run, corpus_copy, tmp_path, args, message):
    run("build", str(corpus_copy), "--index", "ix", "-q")
    (tmp_path / "empty-folder").mkdir()
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("Error:") or "\nError:" in result.output


def test_every_command_has_an_example_in_its_help(run):
    for command in ("build", "add", "remove", "search", "info", "eval", "serve"):
        result = run(command, "--help")
        assert "Example" in result.output, command


def test_eval_prints_a_table_and_json(run, corpus_copy, tmp_path):
    run("build", str(corpus_copy), "--index", "ix", "-q")
    (tmp_path / "q.jsonl").write_text('{"qid": "q1", "query": "Stockport SEND consultation"}\n')
    (tmp_path / "qrels.txt").write_text("q1 0 001_96ab44ec7aed3ea8.txt 2\n")
    (tmp_path / "facts.jsonl").write_text(
        json.dumps(
            {
                "qid": "f1",
                "query": "How much does Stockport spend on SEND?",
                "answer": "Stockport",
                "doc_id": "001_96ab44ec7aed3ea8.txt",
            }
        )
        + "\n"
    )
    args = ["eval", "--index", "ix", "--queries", "q.jsonl", "--qrels", "qrels.txt", "--facts", "facts.jsonl"]
    result = run(*args)
    assert result.exit_code == 0
    assert "hybrid" in result.output
    assert "facts in top 3: 1/1" in result.output
    data = json.loads(run(*args, "--json").output)
    assert set(data["modes"]) == {"bm25", "dense", "hybrid"}
    assert data["modes"]["hybrid"]["ndcg@10"] == 1.0
    assert data["facts"]["top3"] == 1.0
    assert "q1" in data["unjudged_in_top10"]["hybrid"]


def test_an_address_the_machine_does_not_have_is_named_as_the_host_not_a_busy_port(run):
    result = CliRunner().invoke(main, ["serve", "--host", "192.0.2.1", "--port", "8080", "--index", "nowhere"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: cannot serve on 192.0.2.1:8080: --host 192.0.2.1 is not an address of this machine "
        "(Cannot assign requested address)"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2024-13-01"], "Error: --from must be a date like 2024-09-30 or 30/09/2024, not '2024-13-01'"),
        (["--to", "soon"], "Error: --to must be a date like 2024-09-30 or 30/09/2024, not 'soon'"),
        (["--from", "2024-02-01", "--to", "2024-01-01"], "Error: --from (2024-02-01) is after --to (2024-01-01)"),
        (["-k", "0"], "Invalid value for '-k'"),
    ],
)
def test_filter_errors_name_the_option_that_was_typed(run, corpus_copy, args, message):
    run("build", str(corpus_copy), "--index", "ix", "-q")
    result = CliRunner().invoke(main, ["search", "EHC plans", "--index", "ix", *args])
    assert result.exit_code in (1, 2)
    assert message in result.output
    assert "date_from" not in result.output
    assert "date_to" not in result.output


def test_search_prints_no_terminal_escape_sequences_from_the_corpus(run, tmp_path):
    record = {
        "id": 1800000,
        "house": "Commons",
        "heading": "Special Educational Needs\x1b]0;pwned\x07",
        "questionText": "To ask the Secretary of State for Education, what support there is for EHC plans.",
        "answerText": "<p>EHC plans \x1b[2J\x1b[8mare issued\x1b[0m within 20 weeks.\x9b31m</p>",
        "dateAnswered": "2024-03-01T00:00:00",
    }
    (tmp_path / "answers.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert run("build", "answers.jsonl", "--index", "ix", "-q").exit_code == 0
    shown = run("search", "EHC plans", "--index", "ix", "--show-weak").output
    assert "EHC plans are issued within 20 weeks.31m" in shown
    assert "\x1b" not in shown
    assert "\x9b" not in shown
    printed = run("search", "EHC plans", "--index", "ix", "--json").output
    assert "\x1b" not in printed
    assert "\x9b" not in printed
    assert json.loads(printed)["passages"][0]["text"].endswith("within 20 weeks.\x9b31m")  # the data itself, escaped
