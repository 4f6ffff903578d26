"""The records sendsearch passes around: documents, chunks and the passages a search returns.

All are frozen dataclasses so they can be shared between threads (the UI serves several
searches at once) and used as dictionary keys without surprises.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

__all__ = [
    "Chunk",
    "Document",
    "DocumentKind",
    "Passage",
    "Skipped",
    "KIND_WRITTEN_ANSWER",
    "KIND_WEB_PAGE",
    "KIND_DOCUMENT",
]

DocumentKind = Literal["written_answer", "web_page", "document"]
KIND_WRITTEN_ANSWER: DocumentKind = "written_answer"
KIND_WEB_PAGE: DocumentKind = "web_page"
KIND_DOCUMENT: DocumentKind = "document"


@dataclass(frozen=True)
class Document:
    """One source document after cleaning.

    ``text`` is the body a reader wants to read: the answer of a written question, the
    article of a web page. Chunk offsets point into it. ``question`` and ``title`` are kept
    apart so they can be shown as context and weighed differently when ranking.
    """

    doc_id: str
    text: str
    kind: DocumentKind = KIND_DOCUMENT
    title: str | None = None
    question: str | None = None
    date_asked: date | None = None
    date_answered: date | None = None
    asked_by: str | None = None
    answered_by: str | None = None
    answered_by_role: str | None = None
    answering_member_id: int | None = None
    department: str | None = None
    source: str | None = None
    uin: str | None = None

    @property
    def content_hash(self) -> str:
        """A hash of everything indexed about this document, to tell unchanged ones apart."""
        payload = "\x1f".join(
            "" if value is None else str(value) for value in dataclasses.astuple(self)
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]

    @property
    def context(self) -> str:
        """What was asked: the heading and the question, used to situate every chunk."""
        return "\n".join(part for part in (self.title, self.question) if part)


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
    """A search result: the passage text, its score and everything needed to cite it.

    Offsets (``start``, ``end``, ``highlights``) are character offsets into the document's
    cleaned text; ``highlights`` are the sentences that best match the question.
    """

    doc_id: str
    text: str
    score: float
    rank: int
    kind: DocumentKind
    start: int
    end: int
    title: str | None = None
    question: str | None = None
    source: str | None = None
    date_asked: date | None = None
    date_answered: date | None = None
    asked_by: str | None = None
    answered_by: str | None = None
    answered_by_role: str | None = None
    department: str | None = None
    highlights: tuple[tuple[int, int], ...] = ()
    same_answer_as: tuple[str, ...] = ()
    # Set when answered_by/dates were missing from this document's own record and were
    # taken from this document, which carries the same answer (grouped questions).
    cited_from: str | None = None
    explanation: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def highlight_texts(self) -> list[str]:
        """The highlighted sentences as strings."""
        return [self.text[s - self.start : e - self.start] for s, e in self.highlights]

    @property
    def answerer(self) -> str | None:
        """Who answered, with their role where known: "David Johnston, Parliamentary ..."."""
        if not self.answered_by:
            return None
        return f"{self.answered_by}, {self.answered_by_role}" if self.answered_by_role else self.answered_by

    @property
    def citation(self) -> str:
        """A one-line citation: title, who answered, date, source."""
        parts = [self.title or self.doc_id]
        if self.answerer:
            parts.append(f"answered by {self.answerer}")
        elif self.department:
            parts.append(self.department)
        if self.date_answered:
            parts.append(f"answered {self.date_answered:%-d %B %Y}")
        elif self.date_asked:
            parts.append(f"asked {self.date_asked:%-d %B %Y}")
        if self.cited_from:
            parts.append(f"details from {self.cited_from}, which has the same answer")
        if self.source:
            parts.append(self.source)
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: dates as ISO strings, highlights as text and offsets."""
        data = dataclasses.asdict(self)
        for key in ("date_asked", "date_answered"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        data["highlights"] = [list(span) for span in self.highlights]
        data["highlight_texts"] = self.highlight_texts
        data["same_answer_as"] = list(self.same_answer_as)
        data["citation"] = self.citation
        return data
