"""Reading the citation details a scraped page states in its text.

Written-question pages republished from UK Parliament say who asked and answered and when
in lines such as "(asked on 16th May 2022)", "Asked by: Navendu Mishra (Labour - Stockport)",
"Answered by David Johnston - Parliamentary Under-Secretary (Department for Education)" and
"This question was answered on 24th May 2022". This module finds those lines, takes them
out of the body text and returns them as fields. Pages without them are plain web pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..schema import KIND_WEB_PAGE, KIND_WRITTEN_ANSWER, Citation
from ..text.normalise import find_date, normalise
from .cleaning import strip_furniture
from .departments import canonical_department, department_from_question

__all__ = ["Page", "parse_page"]


@dataclass(frozen=True)
class Page:
    """What a page's text says about itself (its citation), and its body with those lines removed."""

    body: str
    citation: Citation


_ASKED_ON = re.compile(r"^\(?asked on (.+?)\)?$", re.I)
_ANSWERED_ON = re.compile(r"^this question was answered on (.+?)\.?$", re.I)
_ASKED_BY = re.compile(r"^asked by:?\s+(.+)$", re.I)
_QUESTION_TO = re.compile(r"^question to (?:the )?(.+?):?$", re.I)
_ANSWERED_BY = re.compile(r"^answered by:?\s*(.*)$", re.I)
_QUESTION = re.compile(r"^to ask (?:the )?", re.I)
_PORTRAIT = re.compile(r"^(.+?) portrait$", re.I)
_BARE_DATE = re.compile(
    r"^(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day\s+)?\d{1,2}(?:st|nd|rd|th)?\s+\w+\s+\d{4}$", re.I
)
_CARD_START = re.compile(r"^written (?:question|answer)s?$", re.I)


def _split_answerer(value: str) -> tuple[str | None, str | None]:
    """'David Johnston - Parliamentary Under-Secretary (DfE)' -> name, role."""
    value = value.strip()
    if not value:
        return None, None
    name, _, role = value.partition(" - ")
    return name.strip() or None, role.strip() or None


@dataclass
class _PageReading:
    """A scraped written-answer card read line by line: header -> question -> answer_header -> body."""

    fields: dict[str, Any] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)  # lines before the question, a title among them
    body: list[str] = field(default_factory=list)
    question_lines: list[str] = field(default_factory=list)
    state: str = "header"
    pending_answerer: bool = False

    def read(self, line: str) -> None:
        if not line:
            if self.state == "body":
                self.body.append("")
            return
        if self._citation_line(line):
            return
        if self.state in ("header", "question") and self._question_line(line):
            return
        if self.state == "answer_header" and self._answer_header_line(line):
            return
        self._text_line(line)

    def _citation_line(self, line: str) -> bool:
        """ "Asked on ...", "Answered on ...", "Asked by ..." wherever they are."""
        if match := _ASKED_ON.match(line):
            self.fields["date_asked"] = find_date(match.group(1))
        elif match := _ANSWERED_ON.match(line):
            self.fields["date_answered"] = find_date(match.group(1))
            self.state = "body"
        elif match := _ASKED_BY.match(line):
            self.fields["asked_by"] = match.group(1).strip()
        else:
            return False
        return True

    def _question_line(self, line: str) -> bool:
        """The department asked, the question's first line, and "Answered by"."""
        if match := _QUESTION_TO.match(line):
            self.fields["department"] = canonical_department(match.group(1))
        elif _QUESTION.match(line):
            self.state = "question"
            self.question_lines.append(line)
        elif match := _ANSWERED_BY.match(line):
            name, role = _split_answerer(match.group(1))
            if name:
                self.fields["answered_by"], self.fields["answered_by_role"] = name, role
                self.state = "body"
            else:  # the name follows on its own line, often after a "Portrait" caption
                self.state, self.pending_answerer = "answer_header", True
        else:
            return False
        return True

    def _answer_header_line(self, line: str) -> bool:
        """The answerer's name under "Answered by"; the first other line starts the body."""
        if portrait := _PORTRAIT.match(line):
            self.fields["answered_by"] = portrait.group(1)
            return True
        if self.pending_answerer and line == self.fields.get("answered_by"):
            return True  # the name repeated under its portrait
        if "answered_by" not in self.fields:
            self.fields["answered_by"] = line
            return True
        self.state = "body"
        return False

    def _text_line(self, line: str) -> None:
        if self.state == "header":
            if _BARE_DATE.match(line):
                self.fields["bare_date"] = find_date(line)
            else:
                self.header.append(line)
        elif self.state == "question":
            self.question_lines.append(line)
        else:
            self.body.append(line)


def parse_page(text: str, *, fallback_title: str | None = None) -> Page:
    """Split a scraped page into citation fields and body text.

    A page is read as a written answer when it carries both a "To ask ..." question and an
    "Answered by" line; otherwise it is a web page whose first short line is its title.
    """
    lines = strip_furniture(normalise(text)).split("\n")
    # A listing page (a member's activity feed) carries unrelated items before the
    # written-question card: start at the card when there is one.
    for number, line in enumerate(lines):
        if _CARD_START.match(line.strip()):
            lines = lines[number + 1 :]
            break

    reading = _PageReading()
    for raw in lines:
        reading.read(raw.strip())
    fields, header, body, question_lines = reading.fields, reading.header, reading.body, reading.question_lines
    question = " ".join(question_lines) or None
    is_answer = bool(question) and ("answered_by" in fields or "date_answered" in fields)
    if not is_answer:
        return _web_page(lines, fallback_title)
    # A bare date on a written-question card that carries the answer is the date answered.
    title = header[0] if header else fallback_title
    citation = Citation(
        kind=KIND_WRITTEN_ANSWER,
        title=title,
        heading=title,
        question=question,
        date_asked=fields.get("date_asked"),
        date_answered=fields.get("date_answered") or fields.get("bare_date"),
        asked_by=fields.get("asked_by"),
        answered_by=fields.get("answered_by"),
        answered_by_role=fields.get("answered_by_role"),
        department=fields.get("department") or department_from_question(question),
    )
    return Page(normalise("\n".join(body)), citation)


def _web_page(lines: list[str], fallback_title: str | None) -> Page:
    """A page that is not a written answer: the first short line is taken as its title."""
    text = normalise("\n".join(lines))
    first = text.split("\n", 1)[0].strip() if text else ""
    looks_like_title = 0 < len(first) <= 150 and not first.endswith((".", ":", ";", ","))
    if looks_like_title:
        body = text[len(first) :].strip()
        return Page(body or text, Citation(kind=KIND_WEB_PAGE, title=first, heading=first))
    return Page(text, Citation(kind=KIND_WEB_PAGE, title=fallback_title, heading=fallback_title))
