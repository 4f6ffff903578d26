"""UK Parliament written questions: records in the shape of the written questions API.

Accepted file shapes (see ``../shared/data/README.md``): one JSON record per line (JSONL,
optionally gzipped), a JSON list of records, ``{"value": {...}, "links": [...]}`` items as the
API returns them, and ``{"results": [...], "totalResults": N}`` pages. Reading those files in
bounded memory is ``jsonstream``'s part; this module turns what it reads into documents.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from ..limits import (
    MAX_BAD_RUN,
)
from ..members import Member, lookup_member
from ..schema import API_RECORD_PREFIX, KIND_WRITTEN_ANSWER, PUBLIC_PAGE_PREFIX, Citation, Document, Skipped
from ..text.normalise import normalise, parse_date
from .cleaning import html_to_text
from .departments import department_from_question
from .jsonstream import Stop, json_items, open_text
from .question_dates import estimate_tabled

__all__ = [
    "MAX_RECORD_CHARS",
    "iter_records",
    "non_answer_kind",
    "record_to_document",
    "record_url",
    "referred_questions",
    "title_from_question",
]

# A single answer longer than this is not a written answer but a data dump; the largest
# in the 49,450-record collection is 55,000 characters.
MAX_RECORD_CHARS = 2_000_000

PUBLIC_PAGE = PUBLIC_PAGE_PREFIX + "{date}/{uin}"
API_RECORD = API_RECORD_PREFIX + "questions/{id}"

# What each field of a record must be when present (None is always allowed). A record that
# breaks this is skipped with the reason, so one bad record never costs the others.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "uin": (str, int),
    "house": (str,),
    "heading": (str,),
    "questionText": (str,),
    "answerText": (str,),
    "dateTabled": (str,),
    "dateAnswered": (str,),
    "dateHoldingAnswer": (str,),
    "dateAnswerCorrected": (str,),
    "answeringBodyName": (str,),
    "askingMemberId": (int,),
    "answeringMemberId": (int,),
    "askingMember": (dict,),
    "answeringMember": (dict,),
    "isWithdrawn": (bool,),
    "answerIsCorrection": (bool,),
    "groupedQuestions": (list,),
    "groupedQuestionsDates": (list,),
}
_TYPE_NAMES = {str: "text", int: "a whole number", bool: "true or false", dict: "an object", list: "a list"}


def record_url(record: dict[str, Any]) -> str:
    """The public page when tabling date and UIN are known, else the API record."""
    tabled, uin = record.get("dateTabled"), record.get("uin")
    if tabled and uin:
        return PUBLIC_PAGE.format(date=str(tabled)[:10], uin=uin)
    return API_RECORD.format(id=record["id"])


def _check_types(record: dict[str, Any]) -> None:
    for name, allowed in _FIELD_TYPES.items():
        value = record.get(name)
        # bool is an int in Python; a flag given for a number (or the reverse) is still wrong.
        wrong_bool = isinstance(value, bool) and bool not in allowed
        if value is not None and (wrong_bool or not isinstance(value, allowed)):
            raise ValueError(f"'{name}' should be {' or '.join(_TYPE_NAMES[t] for t in allowed)}, not {value!r:.40}")
        # SQLite stores whole numbers in 64 bits; a larger one would stop the build at insert.
        if isinstance(value, int) and not wrong_bool and not -(2**63) <= value < 2**63:
            raise ValueError(f"'{name}' is out of range: {value!r:.40}")


def _date(record: dict[str, Any], name: str) -> date | None:
    value = record.get(name)
    parsed = parse_date(value)
    if value and parsed is None:
        raise ValueError(f"'{name}' is not a date: {value!r:.40}")
    return parsed


# -- titles ----------------------------------------------------------------------------------
_ADDRESSED = re.compile(
    r"^\W*to\s+ask\s+(?:the\s+)?(?P<to>.{0,160}?)[,\s]+"
    r"(?=(?:what|which|whether|if|how|when|who|why|pursuant|with reference|further|for what)\b)",
    re.I,
)
# "pursuant to the Answer of 19 February 2024 to Question 13342 on ..., " and "with reference to
# ..., " open many questions; the title starts after them when a question word follows.
_LEAD_IN = re.compile(
    r"^(?:pursuant(?:\s+to)?|with reference to|further to)\b[^;]{0,300}?,?\s+"
    r"(?=(?:what|which|whether|if|how|when|who|why)\b)",
    re.I,
)
_ENUMERATOR = re.compile(r"\((?:[a-z]|i{1,3}|iv|v|vi{0,3})\)\s*")
_PRONOUN_DEPARTMENT = re.compile(r"\b(?:his|her|their|the)\s+Department\b(?!\s+(?:for|of)\b)")
_PRONOUN_POSSESSIVE = re.compile(
    r"\b(?:his|her)\s+(?=(?:policies|policy|plans|officials|ministerial colleagues|Department's)\b)"
)
_PRONOUN_SUBJECT = re.compile(
    r"\b(?:he|she)\b(?=\s+(?:has|is|will|plans|intends|had|would|can|could|may|expects|proposes)\b)"
)
_LORDS_SUBJECT = re.compile(r"\bthey\b(?=\s+(?:are|have|will|plan|intend|had|would|can|could|may|expect|propose)\b)")
TITLE_CHARS = 100


def title_from_question(question: str, department: str | None = None) -> str:
    """A readable title from a written question: "To ask the Secretary of State for Education,
    what steps her Department is taking to ..." gives "What steps the Department for Education
    is taking to ...", cut at a word boundary near ``TITLE_CHARS``."""
    text = " ".join(question.split())
    addressed = _ADDRESSED.match(text)
    if addressed:
        text = text[addressed.end() :]
    text = _LEAD_IN.sub("", text)
    text = text.split(";")[0]
    text = _ENUMERATOR.sub("", text)
    text = _PRONOUN_DEPARTMENT.sub(f"the {department}" if department else "the Department", text)
    text = _PRONOUN_POSSESSIVE.sub("the Government's ", text)
    text = _PRONOUN_SUBJECT.sub("the Government", text)
    if addressed and "government" in addressed.group("to").lower():  # Lords: "His Majesty's Government"
        text = _LORDS_SUBJECT.sub("the Government", text)
    text = text.strip(" .?,")
    if len(text) > TITLE_CHARS:
        cut = text[: TITLE_CHARS + 1].rsplit(" ", 1)[0].rstrip(" ,;:-(")
        text = cut + " …"
    return text[:1].upper() + text[1:] if text else question[:TITLE_CHARS]


# -- referrals -------------------------------------------------------------------------------
# An answer that only points elsewhere: "I refer the hon. Member to the answer I gave on 12
# March 2024 to Question 17890." Longer answers that also refer somewhere have substance.
_REFERRAL = re.compile(
    r"^(?:I|We)\s+(?:would\s+)?refer\s+the\b|^(?:Please\s+)?(?:see|refer\s+to)\s+the\s+(?:answer|reply|response)\b",
    re.I,
)
_REFERRAL_CHARS = 400
_QUESTION_NUMBERS = re.compile(
    r"\b(?:Questions?|PQs?)\s+(?:UIN\s*|numbers?\s+)?((?:HL)?\d{3,7}(?:(?:\s*,\s*|\s+and\s+)(?:HL)?\d{3,7})*)", re.I
)
_DETAIL_LINK = re.compile(re.escape(PUBLIC_PAGE_PREFIX) + r"\d{4}-\d{2}-\d{2}/((?:HL)?\d+)")


# Answers that only say the information is not held, or that no answer could be given in
# time: short (the long ones that start so usually go on to give what is held).
_NOT_HELD = re.compile(
    r"(?:is|are) not (?:held|collected|recorded|available)|does not (?:hold|collect|record)|disproportionate cost", re.I
)
_HOLDING = re.compile(r"not proved possible to respond|reply .{0,40}as soon as possible|holding answer", re.I)
_NON_ANSWER_CHARS = 300


def non_answer_kind(answer: str, referral: bool = False) -> str | None:
    """Why an answer says nothing of its own ("unanswered", "holding", "not held", "referral"), or None."""
    if not answer.strip():
        return "unanswered"
    if referral:
        return "referral"
    if len(answer) <= _NON_ANSWER_CHARS:
        if _HOLDING.search(answer):
            return "holding"
        if _NOT_HELD.search(answer):
            return "not held"
    return None


def referred_questions(answer: str) -> tuple[str, ...]:
    """The question numbers an answer that only refers elsewhere points to; () for an answer
    with substance of its own."""
    if len(answer) > _REFERRAL_CHARS or not _REFERRAL.search(answer):
        return ()
    numbers = [n for match in _QUESTION_NUMBERS.finditer(answer) for n in re.findall(r"(?:HL)?\d+", match.group(1))]
    numbers += _DETAIL_LINK.findall(answer)
    return tuple(dict.fromkeys(numbers)) or ("",)


# -- records ---------------------------------------------------------------------------------
def _member(record: dict[str, Any], role: str, on: date | None) -> tuple[int | None, Member | None, dict[str, Any]]:
    """A member's id, their membership from the shipped table, and the API's expanded object."""
    member_id = record.get(f"{role}MemberId")
    expanded = record.get(f"{role}Member") or {}
    return member_id, lookup_member(member_id, on), expanded


def _grouped(record: dict[str, Any]) -> tuple[str, ...]:
    dates = record.get("groupedQuestionsDates") or []
    keys = []
    for item in dates:
        if isinstance(item, dict) and item.get("questionUin") and item.get("dateTabled"):
            keys.append(f"{str(item['dateTabled'])[:10]}/{item['questionUin']}")
    return tuple(keys)


def record_to_document(record: dict[str, Any]) -> Document:
    """Turn one API record into a Document; raises ValueError for an unusable record."""
    if "value" in record and isinstance(record["value"], dict):
        record = record["value"]
    record_id, question, answer = _texts(record)
    asked, answered = _date(record, "dateTabled"), _date(record, "dateAnswered")
    department = record.get("answeringBodyName") or department_from_question(question)
    heading = normalise(record["heading"]) if record.get("heading") else None
    refers_to = referred_questions(answer)
    citation = Citation(
        kind=KIND_WRITTEN_ANSWER,
        title=heading or title_from_question(question or answer, department),
        heading=heading,
        question=question or None,
        source=record_url(record),
        **_dates(record, asked, answered),
        **_people(record, asked, answered),
        department=department,
        uin=str(record["uin"]) if record.get("uin") else None,
        withdrawn=bool(record.get("isWithdrawn")),
        referral=bool(refers_to),
        refers_to=tuple(n for n in refers_to if n),
        non_answer=non_answer_kind(answer, referral=bool(refers_to)),
        grouped_with=_grouped(record),
    )
    # An unanswered question is still worth finding: its question becomes its text.
    return Document(record_id, answer or question, citation)


def _texts(record: dict[str, Any]) -> tuple[str, str, str]:
    """The record's id, question and answer text, checked: ValueError for an unusable record."""
    record_id = record.get("id")
    if isinstance(record_id, bool) or not isinstance(record_id, int | str) or not str(record_id).strip():
        raise ValueError("record has no 'id'")
    _check_types(record)
    question = normalise(record.get("questionText") or "")
    answer_html = record.get("answerText") or ""
    if len(question) + len(answer_html) > MAX_RECORD_CHARS:
        raise ValueError(f"record is over {MAX_RECORD_CHARS:,} characters")
    answer = html_to_text(answer_html)
    if not question and not answer:
        raise ValueError("record has neither question nor answer text")
    return str(record_id).strip(), question, answer


def _dates(record: dict[str, Any], asked: date | None, answered: date | None) -> dict[str, Any]:
    """The citation's dates: a correction's only when the record says it is one, an estimate
    of the day tabled only when the record lost both dates."""
    corrected = record.get("answerIsCorrection") is not False
    return {
        "date_asked": asked,
        "date_answered": answered,
        "date_asked_estimated": _estimated(record) if asked is None and answered is None else None,
        "date_holding_answer": _date(record, "dateHoldingAnswer"),
        "date_corrected": _date(record, "dateAnswerCorrected") if corrected else None,
    }


def _people(record: dict[str, Any], asked: date | None, answered: date | None) -> dict[str, Any]:
    """Who asked and who answered, from the members table (names and parties on the day),
    else as the record names them; the house from the record, else the asker's."""
    asking_id, asking, asking_api = _member(record, "asking", asked)
    answering_id, answering, answering_api = _member(record, "answering", answered or asked)
    asking_label = asking.label if asking else None
    answering_name = answering.name if answering else None
    answering_party = answering.party if answering else None
    return {
        "house": record.get("house") or (asking.house if asking else None),
        "asked_by": asking_label or _text(asking_api.get("listAs") or asking_api.get("name")),
        "asking_member_id": asking_id,
        "asked_by_party": asking.party if asking else _text(asking_api.get("party")),
        "answered_by": answering_name or _text(answering_api.get("name")),
        "answered_by_party": answering_party or _text(answering_api.get("party")),
        "answering_member_id": answering_id,
    }


def _estimated(record: dict[str, Any]) -> date | None:
    """The tabling date estimated from the question id, for a Commons record without dates
    (the table is made from Commons records; Lords ones always carry their dates)."""
    question_id = record.get("id")
    if isinstance(question_id, str) and question_id.strip().isascii() and question_id.strip().isdigit():
        question_id = int(question_id)
    if record.get("house") == "Lords" or isinstance(question_id, bool) or not isinstance(question_id, int):
        return None
    return estimate_tabled(question_id)


def _text(value: Any) -> str | None:
    return normalise(value) if isinstance(value, str) and value.strip() else None


# -- reading files ---------------------------------------------------------------------------
def _unwrap(payload: Any) -> list[Any]:
    """The records inside any of the accepted shapes: a list, a results page, one record."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict) and isinstance(payload.get("results"), list):
        return payload["results"]
    return [payload]


def iter_records(path: Path, display: str) -> Iterator[Document | Skipped]:
    """Documents from a records file; a malformed record yields a Skipped with its line.

    JSONL is streamed line by line and a JSON list item by item, so a large file never
    sits in memory as one parsed tree. A file that is one object over several lines (a
    results page, a pretty-printed record) is parsed whole, up to ``MAX_WHOLE_JSON_CHARS``.
    A file that breaks off (truncated gzip, a compression bomb) keeps the records before
    the break and reports the rest as skipped; so does one that stops holding records
    (``MAX_BAD_RUN`` unusable ones in a row).
    """
    line: int | None = None
    bad_run = 0
    try:
        with open_text(path) as handle:
            for line, item in json_items(handle):
                for result in _documents(item, display, line):
                    yield result
                    bad_run = bad_run + 1 if isinstance(result, Skipped) else 0
                    if bad_run >= MAX_BAD_RUN:
                        raise Stop(f"{MAX_BAD_RUN:,} unusable records in a row (not a records file?)")
    except Stop as stop:
        # About the whole file (no line of its own), so that it is among the reasons kept.
        yield Skipped(display, f"stopped reading{f' at line {line:,}' if line else ''}: {stop}")
    except (OSError, EOFError, zlib.error) as error:
        where = f" after line {line}" if line else ""
        yield Skipped(display, f"file unreadable{where}: {error}")


def _documents(item: Any, display: str, line: int | None) -> Iterator[Document | Skipped]:
    if isinstance(item, Skipped):
        yield Skipped(display, item.reason, line)
        return
    for record in _unwrap(item):
        if not isinstance(record, dict):
            yield Skipped(display, "record is not a JSON object", line)
            continue
        try:
            yield record_to_document(record)
        except ValueError as error:
            yield Skipped(display, f"record {str(record.get('id', '?'))[:40]}: {error}", line)
