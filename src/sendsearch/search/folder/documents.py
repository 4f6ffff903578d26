"""The document store: documents, their citations and chunk offsets in one SQLite file.

The ``documents`` table has one column per stored ``Citation`` field, made from the
dataclass itself, so a field added to the citation is stored, read back and typed without
touching this module. Chunk text is not stored twice: a chunk is (doc_id, start, end) into
its document's text and SQLite's ``substr`` cuts it out, so a search reads only the
passages it returns. Filters are plain SQL over indexed columns, their clauses shared with
every SQL store (``search.sql_filters``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import sqlite3
import threading
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np

from ...errors import damaged_index
from ...filters import Filters
from ...schema import Chunk, Citation, Document
from ...text.normalise import normalise_for_match
from ..backend import ChunkDocument, StoredChunk
from ..sql_filters import SQLITE, clauses, date_sql

__all__ = ["MIN_SHARED_ANSWER_CHARS", "ChunkDocument", "Store", "StoredChunk", "answer_key"]


@dataclass(frozen=True)
class _Column:
    """A stored citation field: its SQL type and how its value goes in and comes out."""

    name: str
    sql: str
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _column(name: str, annotation: Any) -> _Column:
    """The column for a citation field: optional text, whole numbers, flags, dates or tuples of text."""
    base = annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # "X | None" -> X
        [base] = [t for t in typing.get_args(annotation) if t is not type(None)]
    if typing.get_origin(base) is typing.Literal or base is str:
        return _Column(name, "TEXT", _identity, _identity)
    if base is date:
        return _Column(
            name, "TEXT", lambda v: v.isoformat() if v else None, lambda v: date.fromisoformat(v) if v else None
        )
    if base is bool:
        return _Column(
            name, "INTEGER", lambda v: None if v is None else int(v), lambda v: None if v is None else bool(v)
        )
    if base is int:
        return _Column(name, "INTEGER", _identity, _identity)
    if typing.get_origin(base) is tuple:
        return _Column(
            name, "TEXT", lambda v: json.dumps(list(v)) if v else None, lambda v: tuple(json.loads(v)) if v else ()
        )
    raise TypeError(f"Citation.{name}: no column type for {annotation!r}")


_HINTS = typing.get_type_hints(Citation)
_COLUMNS = tuple(
    _column(f.name, _HINTS[f.name]) for f in dataclasses.fields(Citation) if f.metadata.get("stored", True)
)
_CITATION_SQL = ", ".join(f"d.{column.name}" for column in _COLUMNS)


_SCHEMA = f"""
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    answer_key TEXT NOT NULL,
    {", ".join(f"{c.name} {c.sql}" for c in _COLUMNS)}
);
CREATE TABLE chunks (
    chunk_id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL
);
CREATE INDEX chunks_by_doc ON chunks(doc_id);
CREATE INDEX documents_by_date ON documents({date_sql()});
CREATE INDEX documents_by_department ON documents(department COLLATE NOCASE);
CREATE INDEX documents_by_kind ON documents(kind);
CREATE INDEX documents_by_answer ON documents(answer_key);
CREATE INDEX documents_by_uin ON documents(uin);
"""


def _citation(row: Sequence[Any]) -> Citation:
    return Citation(**{column.name: column.decode(value) for column, value in zip(_COLUMNS, row, strict=True)})


# Ministers answer grouped questions with one answer, repeated word for word; such answers
# are shown once. Short repeated answers are boilerplate ("It has not proved possible to
# respond ... before prorogation" answers 255 unrelated questions), so they stay apart.
MIN_SHARED_ANSWER_CHARS = 400


def answer_key(doc_id: str, text: str) -> str:
    """Identifies a substantive answer up to case and spacing; unique for short answers."""
    normalised = normalise_for_match(text)
    if len(normalised) < MIN_SHARED_ANSWER_CHARS:
        normalised = f"{doc_id}\x1f{normalised}"
    return hashlib.sha1(normalised.encode(), usedforsecurity=False).hexdigest()[:20]


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _reports_damage(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """A read whose file turns out to be damaged raises IndexFormatError, one line that says
    which index and how to rebuild it, instead of SQLite's "database disk image is malformed"
    traceback in the middle of a search. Programming errors keep their traceback."""

    @functools.wraps(method)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise
        except sqlite3.DatabaseError as error:
            store = typing.cast(Store, args[0])
            raise damaged_index(store.path.parent.parent, f"{store.path.name}: {error}", store.sources) from None

    return guarded


class Store:
    """Read and write access to one generation's ``store.sqlite``.

    ``sources`` are the index's own, for the advice to rebuild it when a read finds the
    file damaged (``errors.damaged_index``)."""

    def __init__(self, path: Path, *, readonly: bool = True, sources: Sequence[str] = ()) -> None:
        self.path = path
        self.sources = tuple(sources)
        self._local = threading.local()
        self._write: sqlite3.Connection | None = None
        if not readonly:
            self._write = sqlite3.connect(path)
            self._write.execute("PRAGMA journal_mode=OFF")  # a generation is private until published
            self._write.execute("PRAGMA synchronous=OFF")

    @classmethod
    def create(cls, path: Path) -> Store:
        store = cls(path, readonly=False)
        store.db.executescript(_SCHEMA)
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
    def insert(
        self, documents: Sequence[Document], chunks: Sequence[Sequence[Chunk]], first_chunk_id: int
    ) -> list[int]:
        """Insert documents and their chunks; returns the chunk ids given, in order."""
        doc_rows = [
            (
                document.doc_id,
                document.text,
                document.content_hash,
                answer_key(document.doc_id, document.text),
                *(column.encode(getattr(document.citation, column.name)) for column in _COLUMNS),
            )
            for document in documents
        ]
        chunk_rows = []
        next_id = first_chunk_id
        for doc_chunks in chunks:
            for chunk in doc_chunks:
                chunk_rows.append((next_id, chunk.doc_id, chunk.ordinal, chunk.start, chunk.end))
                next_id += 1
        marks = ",".join("?" * (4 + len(_COLUMNS)))
        names = ", ".join(("doc_id", "text", "content_hash", "answer_key", *(c.name for c in _COLUMNS)))
        with self.db:
            self.db.executemany(f"INSERT INTO documents ({names}) VALUES ({marks})", doc_rows)
            self.db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?)", chunk_rows)
        return [row[0] for row in chunk_rows]

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
    @_reports_damage
    def chunk_ids(self) -> np.ndarray:
        """Every chunk id, sorted: the other parts of a generation must hold exactly these."""
        rows = self.db.execute("SELECT chunk_id FROM chunks ORDER BY chunk_id")
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    @_reports_damage
    def missing_columns(self) -> list[str]:
        """Citation columns this sendsearch expects that the file lacks (an index from an older version)."""
        present = {row[1] for row in self.db.execute("PRAGMA table_info(documents)")}
        return [column.name for column in _COLUMNS if column.name not in present]

    @_reports_damage
    def counts(self) -> tuple[int, int]:
        documents = self.db.execute("SELECT count(*) FROM documents").fetchone()[0]
        chunks = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return int(documents), int(chunks)

    @_reports_damage
    def max_chunk_id(self) -> int:
        value = self.db.execute("SELECT max(chunk_id) FROM chunks").fetchone()[0]
        return -1 if value is None else int(value)

    @_reports_damage
    def content_hashes(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT doc_id, content_hash FROM documents"))

    @_reports_damage
    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, StoredChunk]:
        """Chunk rows with their text and document citations, for the ids a search returns."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.db.execute(
            f"SELECT c.chunk_id, c.doc_id, c.start, c.end, substr(d.text, c.start + 1, c.end - c.start), "
            f"d.answer_key, {_CITATION_SQL} FROM chunks c JOIN documents d USING (doc_id) "
            f"WHERE c.chunk_id IN ({marks})",
            [int(c) for c in chunk_ids],
        )
        return {
            int(chunk_id): StoredChunk(int(chunk_id), doc_id, start, end, text, key, _citation(citation))
            for chunk_id, doc_id, start, end, text, key, *citation in rows
        }

    @_reports_damage
    def chunk_documents(self, chunk_ids: Sequence[int] | np.ndarray) -> dict[int, ChunkDocument]:
        """The document of each chunk id: its id, answer key and whether it is a non-answer."""
        if not len(chunk_ids):
            return {}
        marks = ",".join("?" * len(chunk_ids))
        return {
            int(chunk_id): ChunkDocument(doc_id, key, non_answer is not None)
            for chunk_id, doc_id, key, non_answer in self.db.execute(
                "SELECT c.chunk_id, c.doc_id, d.answer_key, d.non_answer "
                f"FROM chunks c JOIN documents d USING (doc_id) WHERE c.chunk_id IN ({marks})",
                [int(c) for c in chunk_ids],
            )
        }

    @_reports_damage
    def document_text(self, doc_id: str) -> str | None:
        row = self.db.execute("SELECT text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    @_reports_damage
    def citations(self, doc_ids: Sequence[str]) -> dict[str, Citation]:
        """The citation of each document."""
        if not doc_ids:
            return {}
        marks = ",".join("?" * len(doc_ids))
        rows = self.db.execute(
            f"SELECT d.doc_id, {_CITATION_SQL} FROM documents d WHERE d.doc_id IN ({marks})", list(doc_ids)
        )
        return {row[0]: _citation(row[1:]) for row in rows}

    def documents_with_uin(self, uins: Sequence[str]) -> dict[str, list[str]]:
        """Doc ids of the written questions with each question number (uin)."""
        return self._doc_ids_by("uin", uins)

    def documents_with_answer(self, keys: Sequence[str]) -> dict[str, list[str]]:
        """All doc ids sharing each answer key (grouped questions get one answer)."""
        return self._doc_ids_by("answer_key", keys)

    @_reports_damage
    def _doc_ids_by(self, column: str, values: Sequence[str]) -> dict[str, list[str]]:
        """Doc ids for each of some values of an indexed column, in doc id order."""
        if not values:
            return {}
        marks = ",".join("?" * len(values))
        found: dict[str, list[str]] = {}
        for value, doc_id in self.db.execute(
            f"SELECT {column}, doc_id FROM documents WHERE {column} IN ({marks}) ORDER BY doc_id", list(values)
        ):
            found.setdefault(value, []).append(doc_id)
        return found

    @_reports_damage
    def filtered_chunk_ids(self, filters: Filters) -> np.ndarray:
        """Chunk ids of documents that pass the filters, sorted."""
        where, params = clauses(filters, SQLITE)
        rows = self.db.execute(
            f"SELECT c.chunk_id FROM chunks c JOIN documents d USING (doc_id) WHERE {where} ORDER BY c.chunk_id", params
        )
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def departments(self) -> list[tuple[str, int]]:
        """Departments with their document counts, most common first."""
        return self._counts("department")

    def kinds(self) -> list[tuple[str, int]]:
        """Kinds of document with their counts, most common first."""
        return self._counts("kind")

    @_reports_damage
    def _counts(self, column: str) -> list[tuple[str, int]]:
        rows = self.db.execute(
            f"SELECT {column}, count(*) FROM documents WHERE {column} IS NOT NULL "
            f"GROUP BY {column} ORDER BY count(*) DESC, {column}"
        )
        return [(name, int(count)) for name, count in rows]

    @_reports_damage
    def date_range(self) -> tuple[date | None, date | None]:
        row = self.db.execute(f"SELECT min({date_sql()}), max({date_sql()}) FROM documents").fetchone()
        return (date.fromisoformat(row[0]) if row[0] else None, date.fromisoformat(row[1]) if row[1] else None)

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
        if self._write is not None:
            self._write.close()
            self._write = None
