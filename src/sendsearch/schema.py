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
    "KIND_DOCUMENT",
    "KIND_LABELS",
    "KIND_WEB_PAGE",
    "KIND_WRITTEN_ANSWER",
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


@dataclass(frozen=True)
class Citation:
    """Who, when and where for one document, as far as its source records them.

    ``source`` is a web address or a path relative to the folder the document was read from.
    A field is None when the source does not say; nothing is invented. Fields marked
    ``stored=False`` are worked out at search time and never kept in the index.
    """

    kind: DocumentKind = KIND_DOCUMENT
    title: str | None = None
    question: str | None = None
    source: str | None = None
    date_asked: date | None = None
    date_answered: date | None = None
    asked_by: str | None = None
    answered_by: str | None = None
    answered_by_role: str | None = None
    answering_member_id: int | None = None
    department: str | None = None
    uin: str | None = None
    # The document that supplied who answered and when, when this one's record lacks them
    # and another carries the same answer word for word (grouped questions).
    details_from: str | None = field(default=None, metadata={"stored": False})

    @property
    def answerer(self) -> str | None:
        """Who answered, with their role where known: "David Johnston, Parliamentary ..."."""
        if not self.answered_by:
            return None
        return f"{self.answered_by}, {self.answered_by_role}" if self.answered_by_role else self.answered_by

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def dates(self) -> str:
        """ "answered 18 April 2024, asked 11 April 2024", as far as known."""
        parts = []
        if self.date_answered:
            parts.append(f"answered {_day(self.date_answered)}")
        if self.date_asked:
            parts.append(f"asked {_day(self.date_asked)}")
        return ", ".join(parts)

    def line(self, fallback_title: str = "") -> str:
        """The one-line citation to paste into a letter: title, who answered, date, source."""
        parts = [self.title or fallback_title]
        if self.answerer:
            parts.append(f"answered by {self.answerer}")
        elif self.department:
            parts.append(self.department)
        if self.date_answered:
            parts.append(f"answered {_day(self.date_answered)}")
        elif self.date_asked:
            parts.append(f"asked {_day(self.date_asked)}")
        if self.details_from:
            parts.append(f"details from {self.details_from}, which has the same answer")
        if self.source:
            parts.append(self.source)
        return ", ".join(part for part in parts if part)

    def __str__(self) -> str:
        return self.line()

    def to_dict(self) -> dict[str, Any]:
        """Fields as JSON values: dates as ISO strings."""
        data = dataclasses.asdict(self)
        for key, value in data.items():
            if isinstance(value, date):
                data[key] = value.isoformat()
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
        """What was asked: the heading and the question, used to situate every chunk."""
        return "\n".join(part for part in (self.citation.title, self.citation.question) if part)


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
            **{key: value for key, value in citation.items() if key != "details_from"},
            "cited_from": self.citation.details_from,
            "highlights": [list(span) for span in self.highlights],
            "highlight_texts": self.highlight_texts,
            "same_answer_as": list(self.same_answer_as),
            "citation": self.citation_line,
            "explanation": self.explanation,
        }
