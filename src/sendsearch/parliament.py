"""UK Parliament written questions: records in the shape of the written questions API.

Accepted file shapes (see ``../shared/data/README.md``): one JSON record per line (JSONL,
optionally gzipped), a JSON list of records, ``{"value": {...}, "links": [...]}`` items as the
API returns them, and ``{"results": [...], "totalResults": N}`` pages.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .cleaning import html_to_text
from .departments import department_from_question
from .schema import KIND_WRITTEN_ANSWER, Citation, Document, Skipped
from .text import normalise, parse_date

__all__ = ["MAX_RECORD_CHARS", "iter_records", "record_to_document", "record_url"]

# A single answer longer than this is not a written answer but a data dump; the largest
# in the 49,450-record collection is 55,000 characters.
MAX_RECORD_CHARS = 2_000_000

PUBLIC_PAGE = "https://questions-statements.parliament.uk/written-questions/detail/{date}/{uin}"
API_RECORD = "https://questions-statements-api.parliament.uk/api/writtenquestions/questions/{id}"


def record_url(record: dict[str, Any]) -> str:
    """The public page when tabling date and UIN are known, else the API record."""
    tabled, uin = record.get("dateTabled"), record.get("uin")
    if tabled and uin:
        return PUBLIC_PAGE.format(date=str(tabled)[:10], uin=uin)
    return API_RECORD.format(id=record["id"])


def record_to_document(record: dict[str, Any]) -> Document:
    """Turn one API record into a Document; raises ValueError for an unusable record."""
    if "value" in record and isinstance(record["value"], dict):
        record = record["value"]
    record_id = record.get("id")
    if isinstance(record_id, bool) or not isinstance(record_id, (int, str)) or not str(record_id).strip():
        raise ValueError("record has no 'id'")
    question = normalise(str(record.get("questionText") or ""))
    answer_html = record.get("answerText") or ""
    if not isinstance(answer_html, str):
        raise ValueError("'answerText' is not a string")
    if len(question) + len(answer_html) > MAX_RECORD_CHARS:
        raise ValueError(f"record is over {MAX_RECORD_CHARS:,} characters")
    answer = html_to_text(answer_html)
    if not question and not answer:
        raise ValueError("record has neither question nor answer text")
    member = record.get("answeringMemberId")
    citation = Citation(
        kind=KIND_WRITTEN_ANSWER,
        title=normalise(record["heading"]) if record.get("heading") else None,
        question=question or None,
        source=record_url(record),
        date_asked=parse_date(record.get("dateTabled")),
        date_answered=parse_date(record.get("dateAnswered")),
        answering_member_id=member if isinstance(member, int) else None,
        department=record.get("answeringBodyName") or department_from_question(question),
        uin=str(record["uin"]) if record.get("uin") else None,
    )
    # An unanswered question is still worth finding: its question becomes its text.
    return Document(str(record_id).strip(), answer or question, citation)


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8-sig")


def _unwrap(payload: Any) -> list[Any]:
    """The records inside any of the accepted shapes: a list, a results page, one record."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict) and isinstance(payload.get("results"), list):
        return payload["results"]
    return [payload]


def iter_records(path: Path, display: str) -> Iterator[Document | Skipped]:
    """Documents from a records file; a malformed record yields a Skipped with its line.

    JSONL is streamed line by line so a large file never sits in memory as one parsed
    tree. A file that starts with ``[`` or holds one object over several lines is parsed
    whole. A file that breaks off (truncated gzip, bad bytes) keeps the records before the
    break and reports the rest as skipped.
    """
    line: int | None = None
    try:
        with _open_text(path) as handle:
            for line, item in _json_items(handle):
                if isinstance(item, Skipped):
                    yield Skipped(display, item.reason, line)
                    continue
                for record in _unwrap(item):
                    if not isinstance(record, dict):
                        yield Skipped(display, "record is not a JSON object", line)
                        continue
                    try:
                        yield record_to_document(record)
                    except ValueError as error:
                        yield Skipped(display, f"record {record.get('id', '?')}: {error}", line)
    except (OSError, EOFError, UnicodeDecodeError) as error:
        where = f" after line {line}" if line else ""
        yield Skipped(display, f"file unreadable{where}: {error}")


def _json_items(handle: io.TextIOBase) -> Iterator[tuple[int | None, Any]]:
    """(line number or None, parsed JSON or Skipped) for each record-bearing unit."""
    lines = iter(handle)
    first = ""
    for first in lines:
        if first.strip():
            break
    if not first.strip():
        return
    if first.lstrip().startswith("["):
        yield from _whole(first + "".join(lines))
        return
    try:
        yield 1, json.loads(first)
    except json.JSONDecodeError:
        # Either one pretty-printed object, or JSONL whose first line is broken.
        buffered = [first, *lines]
        whole = list(_whole("".join(buffered)))
        if whole and not isinstance(whole[0][1], Skipped):
            yield from whole
            return
        yield from _jsonl(buffered, start=1)
        return
    yield from _jsonl(lines, start=2)


def _whole(text: str) -> Iterator[tuple[int | None, Any]]:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        yield error.lineno, Skipped("", f"malformed JSON: {error.msg}")
        return
    if not isinstance(payload, (dict, list)):
        yield 1, Skipped("", "expected a JSON object or list")
        return
    yield None, payload


def _jsonl(lines: Iterator[str] | list[str], start: int) -> Iterator[tuple[int | None, Any]]:
    for number, line in enumerate(lines, start=start):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as error:
            yield number, Skipped("", f"malformed JSON: {error.msg}")
