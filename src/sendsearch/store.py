"""The document store: documents, their metadata and chunk offsets in one SQLite file.

Chunk text is not stored twice: a chunk is (doc_id, start, end) into its document's text
and SQLite's ``substr`` cuts it out, so a search reads only the passages it returns. Filters
(dates, department, kind) are plain SQL over indexed columns.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from .schema import Chunk, Document
from .text import normalise_for_match

__all__ = ["Store", "Filters", "StoredChunk"]

_SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT,
    question TEXT,
    text TEXT NOT NULL,
    date_asked TEXT,
    date_answered TEXT,
    asked_by TEXT,
    answered_by TEXT,
    answered_by_role TEXT,
    answering_member_id INTEGER,
    department TEXT,
    source TEXT,
    uin TEXT,
    content_hash TEXT NOT NULL,
    answer_key TEXT NOT NULL
);
CREATE TABLE chunks (
    chunk_id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL
);
CREATE INDEX chunks_by_doc ON chunks(doc_id);
CREATE INDEX documents_by_date ON documents(coalesce(date_answered, date_asked));
CREATE INDEX documents_by_department ON documents(department);
CREATE INDEX documents_by_kind ON documents(kind);
CREATE INDEX documents_by_answer ON documents(answer_key);
"""

_DOC_FIELDS = (
    "doc_id", "kind", "title", "question", "text", "date_asked", "date_answered", "asked_by",
    "answered_by", "answered_by_role", "answering_member_id", "department", "source", "uin",
)


# Ministers answer grouped questions with one answer, repeated word for word; such answers
# are shown once. Short repeated answers are boilerplate ("It has not proved possible to
# respond ... before prorogation" answers 255 unrelated questions), so they stay apart.
MIN_SHARED_ANSWER_CHARS = 400


def answer_key(doc_id: str, text: str) -> str:
    """Identifies a substantive answer up to case and spacing; unique for short answers."""
    normalised = normalise_for_match(text)
    if len(normalised) < MIN_SHARED_ANSWER_CHARS:
        normalised = f"{doc_id}\x1f{normalised}"
    return hashlib.sha1(normalised.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Filters:
    """Restrictions on which documents a search may return. Dates are inclusive."""

    date_from: date | None = None
    date_to: date | None = None
    department: str | None = None
    kind: str | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.date_from, self.date_to, self.department, self.kind))

    def describe(self) -> str:
        parts = []
        if self.date_from or self.date_to:
            start = self.date_from.isoformat() if self.date_from else "the start"
            end = self.date_to.isoformat() if self.date_to else "now"
            parts.append(f"dated {start} to {end}")
        if self.department:
            parts.append(f"department: {self.department}")
        if self.kind:
            parts.append(f"kind: {self.kind.replace('_', ' ')}")
        return "; ".join(parts)


@dataclass(frozen=True)
class StoredChunk:
    """A chunk row joined with its document's citation fields."""

    chunk_id: int
    doc_id: str
    start: int
    end: int
    text: str
    answer_key: str
    document: dict[str, Any]


class Store:
    """Read and write access to one generation's ``store.sqlite``."""

    def __init__(self, path: Path, *, readonly: bool = True) -> None:
        self.path = path
        self.readonly = readonly
        self._local = threading.local()
        self._write: sqlite3.Connection | None = None
        if not readonly:
            self._write = sqlite3.connect(path)
            self._write.execute("PRAGMA journal_mode=OFF")  # a generation is private until published
            self._write.execute("PRAGMA synchronous=OFF")

    @classmethod
    def create(cls, path: Path) -> Store:
        store = cls(path, readonly=False)
        assert store._write is not None
        store._write.executescript(_SCHEMA)
        return store

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection. Published generations never change, so they are
        opened immutable: no locking, and any number of threads read at once."""
        if self._write is not None:
            return self._write
        connection = getattr(self._local, "connection", None)
        if connection is None:
            uri = f"file:{self.path}?mode=ro&immutable=1"
            connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._local.connection = connection
        return connection

    # -- writing ------------------------------------------------------------------------
    def insert(self, documents: Sequence[Document], chunks: Sequence[Sequence[Chunk]], first_chunk_id: int) -> list[int]:
        """Insert documents and their chunks; returns the chunk ids given, in order."""
        doc_rows = []
        for document in documents:
            values = [getattr(document, name) for name in _DOC_FIELDS]
            values = [v.isoformat() if isinstance(v, date) else v for v in values]
            doc_rows.append((*values, document.content_hash, answer_key(document.doc_id, document.text)))
        chunk_rows = []
        chunk_ids = []
        next_id = first_chunk_id
        for doc_chunks in chunks:
            for chunk in doc_chunks:
                chunk_rows.append((next_id, chunk.doc_id, chunk.ordinal, chunk.start, chunk.end))
                chunk_ids.append(next_id)
                next_id += 1
        marks = ",".join("?" * (len(_DOC_FIELDS) + 2))
        with self.db:
            self.db.executemany(f"INSERT INTO documents VALUES ({marks})", doc_rows)
            self.db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?)", chunk_rows)
        return chunk_ids

    def delete(self, doc_ids: Iterable[str]) -> list[int]:
        """Delete documents and their chunks; returns the chunk ids removed."""
        removed: list[int] = []
        with self.db:
            for doc_id in doc_ids:
                removed += [r[0] for r in self.db.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", (doc_id,))]
                self.db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
                self.db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        return removed

    def finish(self) -> None:
        """Compact and close the writer before the generation is published."""
        if self._write is not None:
            self._write.execute("ANALYZE")
            self._write.commit()
            self._write.execute("VACUUM")
            self._write.close()
            self._write = None

    # -- reading ------------------------------------------------------------------------
    def counts(self) -> tuple[int, int]:
        documents = self.db.execute("SELECT count(*) FROM documents").fetchone()[0]
        chunks = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return int(documents), int(chunks)

    def max_chunk_id(self) -> int:
        value = self.db.execute("SELECT max(chunk_id) FROM chunks").fetchone()[0]
        return -1 if value is None else int(value)

    def content_hashes(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT doc_id, content_hash FROM documents"))

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, StoredChunk]:
        """Chunk rows with their text and document fields, for the ids a search returns."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        fields = ", ".join(f"d.{name}" for name in _DOC_FIELDS if name != "text")
        rows = self.db.execute(
            f"SELECT c.chunk_id, c.start, c.end, substr(d.text, c.start + 1, c.end - c.start), "
            f"d.answer_key, {fields} FROM chunks c JOIN documents d USING (doc_id) "
            f"WHERE c.chunk_id IN ({marks})",
            [int(c) for c in chunk_ids],
        )
        names = [name for name in _DOC_FIELDS if name != "text"]
        result = {}
        for row in rows:
            document = dict(zip(names, row[5:]))
            result[int(row[0])] = StoredChunk(int(row[0]), document["doc_id"], row[1], row[2], row[3], row[4], document)
        return result

    def chunk_documents(self, chunk_ids: Sequence[int] | np.ndarray) -> dict[int, tuple[str, str]]:
        """(doc_id, answer_key) of each chunk id."""
        if not len(chunk_ids):
            return {}
        marks = ",".join("?" * len(chunk_ids))
        return {
            int(chunk_id): (doc_id, key)
            for chunk_id, doc_id, key in self.db.execute(
                f"SELECT c.chunk_id, c.doc_id, d.answer_key FROM chunks c JOIN documents d USING (doc_id) "
                f"WHERE c.chunk_id IN ({marks})",
                [int(c) for c in chunk_ids],
            )
        }

    def doc_chunks(self, doc_ids: Sequence[str]) -> dict[str, list[int]]:
        """Chunk ids of each document, in order."""
        if not doc_ids:
            return {}
        marks = ",".join("?" * len(doc_ids))
        result: dict[str, list[int]] = {}
        for doc_id, chunk_id in self.db.execute(
            f"SELECT doc_id, chunk_id FROM chunks WHERE doc_id IN ({marks}) ORDER BY doc_id, ordinal", list(doc_ids)
        ):
            result.setdefault(doc_id, []).append(int(chunk_id))
        return result

    def document_text(self, doc_id: str) -> str | None:
        row = self.db.execute("SELECT text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def citation_fields(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Who answered, when and for which department, per document."""
        if not doc_ids:
            return {}
        marks = ",".join("?" * len(doc_ids))
        names = ("answered_by", "answered_by_role", "date_answered", "date_asked", "department")
        rows = self.db.execute(f"SELECT doc_id, {', '.join(names)} FROM documents WHERE doc_id IN ({marks})", list(doc_ids))
        return {row[0]: dict(zip(names, row[1:])) for row in rows}

    def documents_with_answer(self, keys: Sequence[str]) -> dict[str, list[str]]:
        """All doc ids sharing each answer key (grouped questions get one answer)."""
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        groups: dict[str, list[str]] = {}
        for key, doc_id in self.db.execute(
            f"SELECT answer_key, doc_id FROM documents WHERE answer_key IN ({marks}) ORDER BY doc_id", list(keys)
        ):
            groups.setdefault(key, []).append(doc_id)
        return groups

    def filtered_chunk_ids(self, filters: Filters) -> np.ndarray:
        """Chunk ids of documents that pass the filters, sorted."""
        clauses, params = [], []
        # Most records give only the date tabled: it stands in where the answer date is
        # unknown. Documents with neither date cannot be placed and are left out.
        if filters.date_from:
            clauses.append("coalesce(d.date_answered, d.date_asked) >= ?")
            params.append(filters.date_from.isoformat())
        if filters.date_to:
            clauses.append("coalesce(d.date_answered, d.date_asked) <= ?")
            params.append(filters.date_to.isoformat())
        if filters.department:
            clauses.append("d.department = ?")
            params.append(filters.department)
        if filters.kind:
            clauses.append("d.kind = ?")
            params.append(filters.kind)
        where = " AND ".join(clauses) or "1"
        rows = self.db.execute(
            f"SELECT c.chunk_id FROM chunks c JOIN documents d USING (doc_id) WHERE {where} ORDER BY c.chunk_id", params
        )
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def departments(self) -> list[tuple[str, int]]:
        """Departments with their document counts, most common first."""
        return [
            (name, int(count))
            for name, count in self.db.execute(
                "SELECT department, count(*) FROM documents WHERE department IS NOT NULL "
                "GROUP BY department ORDER BY count(*) DESC, department"
            )
        ]

    def date_range(self) -> tuple[str | None, str | None]:
        row = self.db.execute(
            "SELECT min(coalesce(date_answered, date_asked)), max(coalesce(date_answered, date_asked)) FROM documents"
        ).fetchone()
        return row[0], row[1]

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
        if self._write is not None:
            self._write.close()
            self._write = None
