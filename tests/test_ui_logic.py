"""The chat page's logic without a browser: rendering, follow-ups, replies, uploads."""

from __future__ import annotations

import re
from datetime import date

import pytest

from sendsearch.conversation import read_question
from sendsearch.render import escape, format_passage_text, render_passage, safe_link
from sendsearch.schema import Citation, Passage
from sendsearch.ui import ChatFilters, add_uploads, answer, sources_text

HOSTILE = (
    '<script>alert(1)</script><img src=x onerror="alert(2)"> [click](javascript:alert(3)) '
    "![i](x) **bold** `code` | a | b |"
)


def test_escape_leaves_no_markup_or_markdown_syntax():
    out = escape(HOSTILE)
    assert "<" not in out
    assert ">" not in out
    assert '"' not in out
    for syntax in ("[", "]", "(", ")", "*", "`", "|", "!", ":"):
        assert syntax not in out
    assert re.fullmatch(r"[^<>]*", out)


def test_only_plain_http_links_are_made():
    assert (
        safe_link("https://questions-statements.parliament.uk/x/1") == "https://questions-statements.parliament.uk/x/1"
    )
    for bad in (
        "javascript:alert(1)",
        "data:text/html,hi",
        "corpus/001.txt",
        "https://",
        'https://a.b/"onmouseover=x',
        None,
    ):
        assert safe_link(bad) is None
    text = format_passage_text("See https://www.gov.uk/guidance_x and javascript:alert(1).")
    assert '<a href="https://www.gov.uk/guidance_x"' in text
    assert "javascript:" not in text


def test_figures_are_emphasised_and_highlights_marked():
    text = "Stockport gets £42.8 million in 2022-23. EHC plans take 20 weeks. It rose 12.7% by 4th December 2020."
    out = format_passage_text(text, [(0, 40)])
    assert out.startswith("<mark>")
    assert "</mark>" in out
    for figure in ("£42&#46;8 million", "2022&#45;23", "20 weeks", "12&#46;7%", "4th December 2020"):
        assert f"<strong>{figure}</strong>" in out, figure


def passage(
    text: str = "The cost is met from the general fund.", *, highlights=(), same_answer_as=(), **citation
) -> Passage:
    return Passage(
        "1698603",
        text,
        1.0,
        1,
        0,
        len(text),
        Citation(kind="written_answer", **citation),
        highlights=highlights,
        same_answer_as=same_answer_as,
    )


def test_a_rendered_passage_cites_and_numbers_itself():
    p = passage(
        title="SEN: Stockport",
        answered_by="David Johnston",
        answered_by_role="Minister",
        department="Department for Education",
        date_answered=date(2024, 4, 18),
        question="To ask ...",
        source="https://questions-statements.parliament.uk/q/1698603",
        same_answer_as=("002_30c036443f88d855.txt",),
        highlights=((0, 11),),
    )
    out = render_passage(p, 3, full_text="The cost is met from the general fund.\n\nMore text.")
    assert "**[3] SEN&#58; Stockport**" in out
    assert "answered by David Johnston, Minister" in out
    assert "answered 18 April 2024" in out
    assert "<details><summary>Show the full answer</summary>" in out
    assert "Same answer given to 1 other question(s): 002&#95;30c036443f88d855&#46;txt" in out
    assert '<a href="https://questions-statements.parliament.uk/q/1698603"' in out
    assert (
        "```text\n[3] SEN: Stockport, answered by David Johnston, Minister, Department for Education, "
        "answered 18 April 2024, https://questions-statements.parliament.uk/q/1698603\n```"
    ) in out


def test_hostile_corpus_text_renders_inert():
    p = passage(HOSTILE, title=HOSTILE, question=HOSTILE, source="javascript:alert(4)")
    out = render_passage(p, 1, full_text=HOSTILE + "```\n<script>x</script>\n\nmore")
    # The citation is the one place raw text goes: a fenced code block, which Markdown
    # shows as literal text. Nothing in it can close the fence early.
    markup, fence = out.split("```text\n", 1)
    assert fence.count("```") == 1
    assert fence.endswith("\n```")
    assert "\n" not in fence[:-4]
    tags = set(re.findall(r"</?([a-zA-Z]+)", markup))
    assert tags <= {"mark", "strong", "details", "summary", "em", "small", "a", "br"}
    assert "javascript:" not in markup


@pytest.mark.parametrize(
    ("question", "anchor", "query", "follow_up"),
    [
        (
            "and what about EHC plan assessments?",
            "How much high needs funding does Stockport get?",
            "EHC plan assessments Stockport",
            True,
        ),
        ("What about tribunals?", "Is Derbyshire meeting the 20-week limit?", "tribunals Derbyshire", True),
        ("and appeals?", "How long does an EHC needs assessment take?", "appeals EHC", True),
        (
            "How long does an EHC needs assessment take?",
            "How much does Stockport spend?",
            "How long does an EHC needs assessment take?",
            False,
        ),
        ("and appeals?", None, "and appeals?", False),
    ],
)
def test_follow_ups_borrow_what_the_last_question_was_about(question, anchor, query, follow_up):
    reading = read_question(question, anchor)
    assert reading.query == query
    assert (reading.note is not None) == follow_up
    if follow_up:
        assert anchor in reading.note
        assert query in reading.note


FILTERS = ChatFilters("", "", "Any department", "Any", 5)


def test_answer_cites_numbered_passages_and_lists_sources(seed_index):
    reply, shown, anchor = answer(seed_index, "How much does Stockport spend on SEND?", None, FILTERS, floor=-1.0)
    assert reply.startswith("Found 5 passages")
    assert "**[1] " in reply
    assert "**[5] " in reply
    assert anchor == "How much does Stockport spend on SEND?"
    assert sources_text(shown).splitlines()[0].startswith("[1] ")
    assert len(sources_text(shown).splitlines()) == 5


def test_answer_reads_follow_ups_and_keeps_the_anchor(seed_index):
    _, _, anchor = answer(seed_index, "How much high needs funding does Stockport get?", None, FILTERS, floor=-1.0)
    reply, _, new_anchor = answer(seed_index, "and what about EHC plan assessments?", anchor, FILTERS, floor=-1.0)
    assert "Read as a follow" in reply
    assert "EHC plan assessments Stockport" in reply
    assert new_anchor == anchor


def test_answer_says_plainly_when_nothing_is_relevant(seed_index):
    reply, shown, _ = answer(seed_index, "How much does Stockport spend on SEND?", None, FILTERS, floor=2.0)
    assert shown == []
    assert reply.startswith("I found nothing in this index that answers")


def test_answer_shows_the_filters_and_explains_bad_ones(seed_index):
    reply, shown, _ = answer(
        seed_index, "Stockport SEND", None, ChatFilters("", "", "Any department", "Web pages", 5), floor=-1.0
    )
    assert "Filters: web pages." in reply
    assert [p.doc_id for p in shown] == ["001_96ab44ec7aed3ea8.txt"]
    reply, shown, _ = answer(
        seed_index, "Stockport SEND", None, ChatFilters("2024-13-01", "", "Any department", "Any", 5)
    )
    assert shown == []
    assert "must be a date" in reply


def test_uploads_need_the_password_and_keep_names_inside_the_folder(seed_index, tmp_path):
    upload = tmp_path / "..%2F..%2Fevil name!.txt"
    upload.write_text(
        "Portage in Trafford\n\nPortage home visiting for pre-school children with SEND in Trafford.", encoding="utf-8"
    )
    other = tmp_path / "slides.exe"
    other.write_bytes(b"MZ")
    assert "turned off" in add_uploads(seed_index, [str(upload)], "x", None)
    assert "not right" in add_uploads(seed_index, [str(upload)], "wrong", "secret")
    assert seed_index.manifest.documents == 5
    message = add_uploads(seed_index, [str(upload), str(other)], "secret", "secret")
    assert "1 added" in message
    assert "slides&#46;exe" in message
    assert "not a supported file type" in message
    [hit] = seed_index.search("Portage home visiting Trafford", k=1)
    assert "/" not in hit.doc_id
    assert not hit.doc_id.startswith(".")
    assert hit.doc_id.endswith("evil_name_.txt")
    assert hit.citation.source == f"uploaded/{hit.doc_id}"
