"""The records sendsearch passes around: citations, documents, chunks and the passages a search returns.

A ``Citation`` says what was asked, who answered, when and where to read it. It is defined
here once: readers fill it, the store keeps it field by field, passages carry it, and
``Citation.line`` formats it for the CLI, the page and ``str(passage.citation)`` alike.
All records are frozen dataclasses, safe to share between the threads that serve searches.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

__all__ = [
    "API_RECORD_PREFIX",
    "KIND_DOCUMENT",
    "KIND_LABELS",
    "KIND_WEB_PAGE",
    "KIND_WRITTEN_ANSWER",
    "PUBLIC_PAGE_PREFIX",
    "Chunk",
    "Citation",
    "Document",
    "DocumentKind",
    "Passage",
    "Skipped",
]

DocumentKind = Literal["written_answer", "web_page", "document"]
KIND_WRITTEN_ANSWER: DocumentKind = "written_answer"
KIND_WEB_PAGE: DocumentKind = "web_page"
KIND_DOCUMENT: DocumentKind = "document"
# How each kind is named to a person.
KIND_LABELS: dict[DocumentKind, str] = {
    KIND_WRITTEN_ANSWER: "Written answer",
    KIND_WEB_PAGE: "Web page",
    KIND_DOCUMENT: "Document",
}


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


PUBLIC_PAGE_PREFIX = "https://questions-statements.parliament.uk/written-questions/detail/"
API_RECORD_PREFIX = "https://questions-statements-api.parliament.uk/api/writtenquestions/"


@dataclass(frozen=True)
class Citation:
    """Who, when and where for one document, as far as its source records them.

    ``title`` is what a person reads as the passage's title: the source's ``heading`` where
    it has one, else one made from the question. ``source`` is a web address or a path
    relative to the folder the document was read from, never a path on the server. A field
    is None (or empty) when the source does not say; nothing is invented. Fields marked
    ``stored=False`` are worked out at search time and never kept in the index.
    """

    kind: DocumentKind = KIND_DOCUMENT
    title: str | None = None
    heading: str | None = None
    question: str | None = None
    source: str | None = None
    house: str | None = None
    date_asked: date | None = None
    date_answered: date | None = None
    # For a written question whose record lost its dates: the day it was tabled, estimated
    # from its question number (question_dates.py). Never stands in for a recorded date.
    date_asked_estimated: date | None = None
    # An answer first given as a holding answer ("I will reply as soon as possible") on this date.
    date_holding_answer: date | None = None
    date_corrected: date | None = None
    asked_by: str | None = None
    asking_member_id: int | None = None
    # The asking member's party on the day they asked (the members table), for the party filter.
    asked_by_party: str | None = None
    answered_by: str | None = None
    answered_by_role: str | None = None
    answered_by_party: str | None = None
    answering_member_id: int | None = None
    department: str | None = None
    uin: str | None = None
    withdrawn: bool = False
    # The answer only points to another answer ("I refer the hon. Member to the answer I
    # gave on ... to Question 12345"); ``refers_to`` holds the question numbers it names.
    referral: bool = False
    refers_to: tuple[str, ...] = ()
    # Why the answer says nothing of its own, when it does not: "unanswered" (no answer yet),
    # "holding" ("It has not proved possible to respond ..."), "not held" ("The information
    # is not held centrally.") or "referral". Such answers are ranked below real ones.
    non_answer: str | None = None
    # Questions answered together with this one, as "tabled-date/uin" (their public pages).
    grouped_with: tuple[str, ...] = ()
    # The English local authorities (three-letter codes, authorities.py) the document is
    # about, named surely in it; those named only ambiguously or by the asking member's
    # constituency; and how each was found ("SKP heading", "DUR text ambiguous"). Set by
    # sources/places.py when the document is read.
    places: tuple[str, ...] = ()
    places_uncertain: tuple[str, ...] = ()
    places_found: tuple[str, ...] = ()
    # The document that supplied who answered and when, when this one's record lacks them
    # and another carries the same answer word for word (grouped questions).
    details_from: str | None = field(default=None, metadata={"stored": False})
    # That document as a reader knows it ("Question 77 (tabled 1 March 2024)", or its title):
    # its id is a number from Parliament's data or a file name, which tell a reader nothing.
    details_from_name: str | None = field(default=None, metadata={"stored": False})

    @property
    def answerer(self) -> str | None:
        """Who answered: "David Johnston, Parliamentary Under-Secretary (...)" with their role
        where the source gives it, else "Catherine McKinnell (Labour)" with their party."""
        if not self.answered_by:
            return None
        if self.answered_by_role:
            return f"{self.answered_by}, {self.answered_by_role}"
        return f"{self.answered_by} ({self.answered_by_party})" if self.answered_by_party else self.answered_by

    @property
    def kind_label(self) -> str:
        if self.kind == KIND_WRITTEN_ANSWER and self.house == "Lords":
            return "Written answer (House of Lords)"
        return KIND_LABELS[self.kind]

    @property
    def dates(self) -> str:
        """ "answered 9 September 2024 (corrected 26 November 2024), asked 30 August 2024"."""
        parts = []
        if self.date_answered:
            answered = f"answered {_day(self.date_answered)}"
            if self.date_corrected:
                answered += f" (corrected {_day(self.date_corrected)})"
            parts.append(answered)
        if self.date_holding_answer:
            parts.append(f"holding answer {_day(self.date_holding_answer)}")
        if self.date_asked:
            parts.append(f"asked {_day(self.date_asked)}")
        if not parts and self.date_asked_estimated:
            parts.append(self.estimated_date)
        return ", ".join(parts)

    @property
    def estimated_date(self) -> str:
        """ "tabled about 12 March 2024, estimated from the question number", or ""."""
        if not self.date_asked_estimated:
            return ""
        return f"tabled about {_day(self.date_asked_estimated)}, estimated from the question number"

    @property
    def summary(self) -> list[str]:
        """The line under a passage's title, in parts: kind, who answered, department, dates."""
        parts = [self.kind_label]
        if self.answerer:
            parts.append(f"answered by {self.answerer}")
        if self.department:
            parts.append(self.department)
        if self.dates:
            parts.append(self.dates)
        return parts

    @property
    def question_name(self) -> str | None:
        """A written question as a reader finds it: "Question 72062 (tabled 29 August 2025)"
        (the date where the record has it); None without a question number."""
        if not self.uin:
            return None
        asked = self.date_asked
        return f"Question {self.uin}" + (f" (tabled {asked.day} {asked:%B %Y})" if asked else "")

    @property
    def source_label(self) -> str:
        """What ``source`` is, for a person: the question's page on parliament.uk, the
        Parliament data record (JSON, when no public page can be made), a web page or a file."""
        source = self.source or ""
        if source.startswith(PUBLIC_PAGE_PREFIX):
            return "Parliament page"
        if source.startswith(API_RECORD_PREFIX):
            return "Parliament data record"
        if source.startswith(("http://", "https://")):
            return "Web page"
        return "File"

    def line(self, fallback_title: str = "") -> str:
        """The one-line citation to paste into a letter: title, who answered, when, where.

        A written answer whose record does not say who answered or when says so."""
        parts = [self.title or fallback_title]
        is_answer = self.kind == KIND_WRITTEN_ANSWER
        if self.answerer:
            parts.append(f"answered by {self.answerer}")
        elif is_answer:
            parts.append("answerer not recorded")
        role = self.answered_by_role or ""
        if self.department and (is_answer or not self.answerer) and self.department not in role:
            parts.append(self.department)
        if self.date_answered:
            parts.append(f"answered {_day(self.date_answered)}")
            if self.date_corrected:
                parts.append(f"corrected {_day(self.date_corrected)}")
        elif self.date_asked:
            parts.append(f"asked {_day(self.date_asked)}")
        elif self.date_asked_estimated:
            parts.append(self.estimated_date)
        elif is_answer:
            parts.append("date not recorded")
        if self.house == "Lords":
            parts.append("House of Lords")
        if self.details_from:
            parts.append(f"details from {self.details_from_name or self.details_from}, which has the same answer")
        if self.source:
            label = self.source_label
            if label == "File":
                # A saved copy's file name is where the index found it, nowhere a reader can go.
                parts.append("a saved copy of a page, no web address recorded")
            elif label == "Parliament data record":
                parts.append(f"{label}: {self.source}")
            else:
                parts.append(self.source)
        return ", ".join(part for part in parts if part)

    def __str__(self) -> str:
        return self.line()

    def to_dict(self) -> dict[str, Any]:
        """Fields as JSON values: dates as ISO strings, tuples as lists."""
        data = dataclasses.asdict(self)
        for key, value in data.items():
            if isinstance(value, date):
                data[key] = value.isoformat()
            elif isinstance(value, tuple):
                data[key] = list(value)
        data["source_label"] = self.source_label
        return data


@dataclass(frozen=True)
class Document:
    """One source document after cleaning: its body text and its citation.

    ``text`` is what a reader wants to read: the answer of a written question, the article
    of a web page. Chunk offsets point into it. The question and title live in the citation,
    apart from the text, so they can be shown as context and weighed differently in ranking.
    """

    doc_id: str
    text: str
    citation: Citation = field(default_factory=Citation)

    @property
    def content_hash(self) -> str:
        """A hash of everything indexed about this document, to tell unchanged ones apart."""
        values = (self.doc_id, self.text, *dataclasses.astuple(self.citation))
        payload = "\x1f".join("" if value is None else str(value) for value in values)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]

    @property
    def context(self) -> str:
        """What was asked, as the source gives it: the heading and the question, which
        situate every chunk (a title made from the question would only repeat it)."""
        return "\n".join(part for part in (self.citation.heading, self.citation.question) if part)


@dataclass(frozen=True)
class Chunk:
    """A span of a document's text, small enough for the embedding model.

    ``start``/``end`` are character offsets into ``Document.text`` so a passage can be
    cited and highlighted exactly.
    """

    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Skipped:
    """An input that was not indexed, and why (shown in the build summary)."""

    source: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Passage:
    """A search result: the passage text, its score and the citation of its document.

    Offsets (``start``, ``end``, ``highlights``) are character offsets into the document's
    cleaned text; ``highlights`` are the sentences that best match the question.
    ``same_answer_as`` lists other documents that carry this answer word for word.
    """

    doc_id: str
    text: str
    score: float
    rank: int
    start: int
    end: int
    citation: Citation
    highlights: tuple[tuple[int, int], ...] = ()
    same_answer_as: tuple[str, ...] = ()
    # For an answer that only refers to others: those of them in the index.
    refers_to_docs: tuple[str, ...] = ()
    # Below the relevance floor: probably not an answer to the question (see SearchConfig).
    weak_match: bool = False
    explanation: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def highlight_texts(self) -> list[str]:
        """The highlighted sentences as strings."""
        return [self.text[s - self.start : e - self.start] for s, e in self.highlights]

    @property
    def citation_line(self) -> str:
        """The citation as one line (the document id stands in for a missing title)."""
        return self.citation.line(fallback_title=self.doc_id)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the passage, its citation's fields at the top level and the
        citation as one line (``citation``), as ``sendsearch search --json`` prints it."""
        citation = self.citation.to_dict()
        return {
            "doc_id": self.doc_id,
            "text": self.text,
            "score": self.score,
            "rank": self.rank,
            "start": self.start,
            "end": self.end,
            **{key: value for key, value in citation.items() if key not in ("details_from", "details_from_name")},
            "cited_from": self.citation.details_from,
            "cited_from_name": self.citation.details_from_name,
            "highlights": [list(span) for span in self.highlights],
            "highlight_texts": self.highlight_texts,
            "same_answer_as": list(self.same_answer_as),
            "refers_to_docs": list(self.refers_to_docs),
            "weak_match": self.weak_match,
            "citation": self.citation_line,
            "explanation": self.explanation,
        }
