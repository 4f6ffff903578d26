"""The SEND topic filter: what it keeps, what it leaves, and how it does on the real collection.

The synthetic records need nothing outside the repository; the last tests measure the filter on
the 49,450 real written questions in ``../shared`` and are skipped where that folder is absent.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from sendsearch.sources import topic
from sendsearch.sources.topic import SIGNALS, THRESHOLD, explain, is_send, send_score

SHARED = Path(__file__).resolve().parents[3] / "shared"
DATA = SHARED / "data"
HELD_OUT_FROM_ID = 1_750_000  # as in benchmarks/topic_filter.py: questions tabled from 2025 on

EDUCATION = "To ask the Secretary of State for Education, "


def record(question: str, answer: str = "", heading: str | None = None) -> dict[str, Any]:
    return {"id": 1, "heading": heading, "questionText": question, "answerText": answer}


SEND_QUESTIONS = {
    "ehcp": record(EDUCATION + "how many EHCPs were issued within 20 weeks in Cornwall in 2024."),
    "ehc plan long form": record(
        EDUCATION + "what steps she is taking to reduce waiting times for Education, Health and Care plans."
    ),
    "senco": record(EDUCATION + "whether she plans to fund the national SENCO qualification for early years staff."),
    "send acronym": record(EDUCATION + "what her Department's timetable is for reform of the SEND system."),
    "autism in schools": record(
        EDUCATION + "what support her Department provides for autistic pupils in mainstream schools."
    ),
    "special schools": record(EDUCATION + "how many new special schools will open in Kent in the next three years."),
    "alternative provision": record(
        EDUCATION + "how many children were educated in alternative provision in each of the last five years."
    ),
    "high needs funding": record(
        EDUCATION + "what the high needs funding allocation for Hampshire is in 2025-26.",
        "<p>Hampshire will receive &pound;230 million through the high needs block.</p>",
    ),
    "disabled children in school": record(
        EDUCATION + "what steps she is taking to ensure disabled children can take part in school trips."
    ),
    "dyslexia screening": record(EDUCATION + "if she will introduce dyslexia screening in primary schools."),
    "only the answer says SEND": record(
        EDUCATION + "what funding is available to local authorities for home to school transport.",
        "<p>Councils must arrange travel for eligible children with special educational needs and disabilities.</p>",
    ),
    "only the heading says SEND": record(
        EDUCATION + "how many pupils in Durham wait more than a year for an assessment.",
        heading="Special Educational Needs: County Durham",
    ),
    "send tribunal": record(
        "To ask the Secretary of State for Justice, how many appeals to the SEND Tribunal were upheld in 2024."
    ),
}

NOT_SEND_QUESTIONS = {
    "defence procurement": record(
        "To ask the Secretary of State for Defence, what the cost was of the Type 26 frigate programme in 2024.",
        "<p>The programme remains within its approved budget of &pound;4.2 billion.</p>",
    ),
    "nhs waiting times": record(
        "To ask the Secretary of State for Health and Social Care, what the median wait for hip replacement was.",
        "<p>The median wait was 14 weeks.</p>",
    ),
    "the government will send": record(
        "To ask the Secretary of State for Foreign, Commonwealth and Development Affairs, whether the Government "
        "will send a delegation to the climate summit.",
        "<p>The Government will send a ministerial delegation and send letters to partners in advance.</p>",
    ),
    "amartya sen": record(
        "To ask the Chancellor of the Exchequer, what assessment he has made of the capability approach of "
        "Amartya Sen in measuring wellbeing.",
        "<p>The Treasury has no plans to adopt Sen's approach.</p>",
    ),
    # Adult social care is out: SEND is the 0-25 education system, not support for disabled adults.
    "adult social care": record(
        "To ask the Secretary of State for Health and Social Care, what steps he is taking to reduce waiting "
        "lists for care packages for disabled adults with learning disabilities in supported living.",
        "<p>Local authorities are responsible for assessing the care needs of adults.</p>",
    ),
    "adults with special needs housing": record(
        "To ask the Secretary of State for Housing, Communities and Local Government, what steps he is taking to "
        "improve supported accommodation for adults with special needs in Warwickshire."
    ),
    "delivering better value for money": record(
        "To ask the Secretary of State for Transport, what the cost of the bridge project is.",
        "<p>Private finance is delivering better value for taxpayers.</p>",
    ),
    # University disability support is not SEND.
    "disabled students allowance": record(
        EDUCATION + "what the average Disabled Students' Allowance award was for university students in 2024."
    ),
    "deaf adults and television": record(
        "To ask the Secretary of State for Culture, Media and Sport, what steps she is taking to improve subtitles "
        "for deaf viewers of television."
    ),
}


@pytest.mark.parametrize("name", SEND_QUESTIONS)
def test_clear_send_questions_are_kept(name: str) -> None:
    rec = SEND_QUESTIONS[name]
    assert is_send(rec), explain(rec)


@pytest.mark.parametrize("name", NOT_SEND_QUESTIONS)
def test_clear_and_hard_negatives_are_left(name: str) -> None:
    rec = NOT_SEND_QUESTIONS[name]
    assert not is_send(rec), explain(rec)


def test_score_is_the_sum_of_the_signals_shown() -> None:
    rec = SEND_QUESTIONS["high needs funding"]
    assert explain(rec) == {"send_system": 3.0}
    assert send_score(rec) == 3.0
    assert explain(SEND_QUESTIONS["ehcp"]) == {"send_vocabulary": 4.0}
    assert send_score(NOT_SEND_QUESTIONS["defence procurement"]) == 0.0
    assert {s.name for s in SIGNALS} >= {"send_vocabulary", "send_system", "adult_only"}


def test_threshold_trades_named_conditions_for_precision() -> None:
    autism = SEND_QUESTIONS["autism in schools"]
    assert explain(autism) == {"condition_in_education": 1.0}
    assert is_send(autism, threshold=THRESHOLD)
    assert not is_send(autism, threshold=2)
    assert is_send(SEND_QUESTIONS["ehcp"], threshold=4)


def test_a_condition_outside_education_is_not_send() -> None:
    rec = record(
        "To ask the Secretary of State for Health and Social Care, what the wait is for adult autism assessments."
    )
    assert explain(rec) == {}


def test_send_in_lower_case_is_the_verb() -> None:
    assert not is_send(record(EDUCATION + "whether she will send guidance to schools on uniform costs."))
    assert is_send(record(EDUCATION + "whether she will send guidance to schools on SEND support."))


def test_answer_html_is_read_as_words() -> None:
    rec = record(EDUCATION + "what funding is planned.", "<p>Funding for <b>special</b> educational needs rose.</p>")
    assert explain(rec) == {"send_vocabulary": 4.0}
    entity = record(EDUCATION + "what funding is planned.", "<p>Pupil&nbsp;referral units will receive more.</p>")
    assert explain(entity) == {"send_system": 3.0}


def test_api_item_wrapper_and_missing_fields() -> None:
    assert is_send({"value": SEND_QUESTIONS["ehcp"], "links": []})
    assert not is_send({})
    assert not is_send({"id": 5, "heading": None, "questionText": None, "answerText": None})
    assert is_send({"questionText": EDUCATION + "how many EHCPs were issued."})


def test_every_phrase_has_a_literal_first_word() -> None:
    with pytest.raises(ValueError, match="literal"):
        topic._Phrases(r"(?:primary|secondary) schools")
    assert topic._Phrases(r"schools?", r"speech,? language").anchors == ("school", "speech")


SHORTCUT_TEXTS = [
    "SEN support",
    "special educational needs",
    "an EHC plan",
    "Education,\nHealth and Care plan",
    "education health and care (EHC) plan",
    "the SENCo",
    "SENDCOs",
    "sen",
    "the sen team",
    "the Government will send letters",
    "Amartya Sen",
    "present and essential",
]


@pytest.mark.parametrize("text", SHORTCUT_TEXTS)
def test_vocabulary_shortcut_agrees_with_the_glossary(text: str) -> None:
    fast = topic._has_send_vocabulary(text, text.lower())
    assert fast == topic._has_send_vocabulary(text, text.lower(), shortcut=False)


# --- the real collection --------------------------------------------------------------------------------------

needs_data = pytest.mark.skipif(
    not (DATA / "commons-written-answers.jsonl.gz").exists(),
    reason=f"the written questions collection is not at {DATA} (../shared/data is absent on this machine)",
)


@pytest.fixture(scope="module")
def collection() -> tuple[list[dict[str, Any]], set[int]]:
    with gzip.open(DATA / "commons-written-answers.jsonl.gz", "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    with open(DATA / "send-written-answers.jsonl", encoding="utf-8") as lines:
        positives = {json.loads(line)["id"] for line in lines}
    return records, positives


@pytest.mark.slow  # reads all 49,450 records
@needs_data
def test_precision_and_recall_on_the_real_collection(collection: tuple[list[dict[str, Any]], set[int]]) -> None:
    """Floors a little under what benchmarks/topic_filter.py measured (docs/topic-filter.md)."""
    records, positives = collection
    kept = {r["id"] for r in records if is_send(r)}
    tp = len(kept & positives)
    precision, recall = tp / len(kept), tp / len(positives)
    assert recall >= 0.97, f"recall {recall:.3f} (measured 0.982)"
    assert precision >= 0.89, f"precision {precision:.3f} (measured 0.908)"
    held_out = {i for i in positives if i >= HELD_OUT_FROM_ID}
    held_out_recall = len(kept & held_out) / len(held_out)
    assert held_out_recall >= 0.96, f"held-out recall {held_out_recall:.3f} (measured 0.975)"


@pytest.mark.slow  # classifies all 49,450 records twice
@needs_data
def test_shortcuts_change_no_decision_on_the_real_collection(
    collection: tuple[list[dict[str, Any]], set[int]],
) -> None:
    """The substring tests in front of the slow patterns only skip records the patterns would not match."""
    records, _ = collection
    question_phrases = [topic._DISABLED_CHILD, topic._CONDITION, topic._EDUCATION, topic._ADULT, topic._CHILD]
    for r in records:
        question = "\n".join(str(r.get(key) or "") for key in ("heading", "questionText"))
        text = question + "\n" + topic._answer_text(str(r.get("answerText") or ""))
        lower = text.lower()
        assert topic._has_send_vocabulary(text, lower) == topic._has_send_vocabulary(text, lower, shortcut=False), r[
            "id"
        ]
        assert topic._SYSTEM.search(lower) == (topic._SYSTEM.pattern.search(lower) is not None), r["id"]
        for phrases in question_phrases:
            found = phrases.pattern.search(question.lower()) is not None
            assert phrases.search(question.lower()) == found, (r["id"], phrases.anchors)
