"""A member's page (``/members/{id}``) over real HTTP, and the reply's links to it: newest
first, party, house and seat, each entry's public page, a way back, and nothing from the
records or the members table as markup."""

from __future__ import annotations

import json
import re
from html import unescape

import httpx
import pytest

from sendsearch import Index
from sendsearch.serve.member_page import MEMBER_PAGE_CSP, members_app

from ..serving import serving

FOY, MCKINNELL = 4753, 4125
# An id the members table does not know: the page names them as the record does.
STRANGER = 99_999_001
HOSTILE_NAME = '<script>window.__xss="name"</script>Evil <img src=x onerror="window.__xss=1">'
HOSTILE_TEXT = '<script>window.__xss="text"</script> EHC plans <img src=x onerror="window.__xss=2"> [md](javascript:x)'


def record(question_id: int, asking: int, answering: int, day: str, **extra: object) -> dict:
    return {
        "id": question_id,
        "uin": str(question_id),
        "house": "Commons",
        "heading": "Special Educational Needs",
        "dateTabled": f"{day}T00:00:00",
        "dateAnswered": f"{day}T00:00:00",
        "askingMemberId": asking,
        "answeringMemberId": answering,
        "questionText": f"To ask the Secretary of State for Education, what she does on EHC plans ({question_id}).",
        "answerText": f"<p>EHC plans must be issued within 20 weeks; question {question_id}.</p>",
        **extra,
    }


RECORDS = [
    record(1800101, FOY, MCKINNELL, "2025-01-10"),
    record(1800102, FOY, MCKINNELL, "2025-03-10"),
    record(
        1800105,
        STRANGER,
        MCKINNELL,
        "2025-04-01",
        askingMember={"name": HOSTILE_NAME},
        heading=f"Hostile {HOSTILE_TEXT}",
        questionText=f"To ask about {HOSTILE_TEXT}",
        answerText=f"<p>{HOSTILE_TEXT}</p>",
    ),
]


def words(page: str) -> str:
    """A page's text as a person reads it: links inline, blocks apart, entities as characters."""
    inline = re.sub(r"</?(a|strong)\b[^>]*>", "", page)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", inline)).split())


@pytest.fixture
def index(tmp_path, corpus_copy, use_fake_embedder) -> Index:
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    built, _ = Index.build([corpus_copy, path], tmp_path / "ix", embedder=use_fake_embedder)
    return built


def test_a_members_page_lists_their_questions_newest_first_with_who_when_and_where(index):
    with serving(members_app(index)) as url:
        by_id = httpx.get(url + str(FOY))
        by_name = httpx.get(url + "Foy, Mary")
        answerer = httpx.get(url + str(MCKINNELL), params={"n": 1})
    assert by_id.status_code == 200
    assert by_id.headers["content-security-policy"] == MEMBER_PAGE_CSP
    assert by_id.text == by_name.text
    page = by_id.text
    text = words(page)
    assert "<h1>Mary Foy</h1>" in page
    assert "Labour MP for City of Durham · House of Commons" in text
    assert "2 questions asked and no answers given about SEND" in text
    # Newest first, each with its readable date, its answerer's page and its public page.
    assert text.index("10 March 2025") < text.index("10 January 2025")
    assert f'<a class="member" href="{MCKINNELL}">Catherine McKinnell</a>' in page
    assert "Answered by Catherine McKinnell (Labour)" in text
    assert page.count('href="https://questions-statements.parliament.uk/written-questions/detail/2025-') == 2
    assert '<a class="back" href="../">' in page  # the way back to the search page
    assert "<script" not in page.lower()  # no script of its own either
    listed = answerer.text
    assert "The newest 1 of 3." in listed
    assert 'href="4125?n=100">Show up to 100</a>' in listed
    assert f'href="{STRANGER}">' in listed  # who asked, linked: the stranger included


def test_names_and_text_from_the_records_stay_text(index):
    with serving(members_app(index)) as url:
        page = httpx.get(url + str(STRANGER)).text
    lowered = page.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert 'href="javascript' not in lowered
    assert "&lt;script&gt;" in page
    assert "&lt;img" in page
    shown = unescape(re.sub(r"<[^>]+>", "", page))
    assert 'Evil <img src=x onerror="window.__xss=1">' in shown  # the name as the record gives it, as text
    assert "Not in the members table" in shown


def test_a_wrong_address_is_one_line_not_a_traceback(index):
    with serving(members_app(index)) as url:
        unknown_name = httpx.get(url + "Mary Fow")
        unknown_id = httpx.get(url + "123456789")
        bad_n = httpx.get(url + str(FOY), params={"n": 0})
        huge = httpx.get(url + "9" * 40)
    assert unknown_name.status_code == 404
    assert "Member: no member called 'Mary Fow'; did you mean Mary Foy?" in words(unknown_name.text)
    assert unknown_id.status_code == 404
    assert "No member has the id 123456789 in this index" in words(unknown_id.text)
    assert bad_n.status_code == 400
    assert "Traceback" not in bad_n.text
    assert huge.status_code == 404


def test_a_reply_links_its_askers_and_answerers_to_their_pages(index):
    from sendsearch.chat.render import render_turn
    from sendsearch.serve.ui import ChatFilters, answer

    reply, _ = answer(index, "EHC plans", None, ChatFilters("", "", "Any department", "Any", 10))
    html = render_turn(reply)
    assert f'<a class="member" href="members/{FOY}" target="_blank" rel="noopener noreferrer">' in html
    assert f'href="members/{MCKINNELL}"' in html
    facts = re.search(r"Who asked these: (.*?)</p>", html)
    assert facts is not None
    assert f'href="members/{FOY}"' in facts.group(1)
    assert f'href="members/{STRANGER}"' in facts.group(1)
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
