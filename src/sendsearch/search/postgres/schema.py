"""The PostgreSQL store's tables: versioned migrations, and one column per citation field.

Migrations are numbered and applied in order, each in one transaction, recording its
number in ``schema_migrations``; applying them again is a no-op. The ``documents`` table
gets one column per stored ``Citation`` field, made from the dataclass (as the folder
store's SQLite does), so a field added to the citation needs no change here: a writer
adds the missing columns, and the indexes on the filter columns, before it writes.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ...errors import IndexFormatError, IndexNotFoundError
from ...schema import Citation
from ..sql_filters import date_sql
from .connection import shown

__all__ = [
    "COLUMNS",
    "LATEST",
    "MIGRATIONS",
    "check_schema",
    "citation",
    "citation_sql",
    "ensure_citation_columns",
    "migrate",
]

# (number, SQL). Never edit a released one: add the next.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE EXTENSION IF NOT EXISTS vector;
        CREATE TABLE generations (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            created_at timestamptz NOT NULL DEFAULT now(),
            state text NOT NULL DEFAULT 'building' CHECK (state IN ('building', 'published')),
            manifest jsonb
        );
        -- The one switch publishing turns: the generation every search reads.
        CREATE TABLE current_generation (
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            generation bigint NOT NULL REFERENCES generations (id)
        );
        CREATE TABLE documents (
            generation bigint NOT NULL,
            doc_id text NOT NULL,
            text text NOT NULL,
            content_hash text NOT NULL,
            answer_key text NOT NULL,
            PRIMARY KEY (generation, doc_id)
        );
        CREATE INDEX documents_by_answer ON documents (generation, answer_key);
        CREATE TABLE chunks (
            generation bigint NOT NULL,
            chunk_id bigint NOT NULL,
            doc_id text NOT NULL,
            ordinal integer NOT NULL,
            start_char integer NOT NULL,
            end_char integer NOT NULL,
            embedding vector NOT NULL,
            PRIMARY KEY (generation, chunk_id)
        );
        CREATE INDEX chunks_by_doc ON chunks (generation, doc_id);
        -- The keyword side: one row per term and per adjacent pair ("first\x1fsecond") of a
        -- generation, and its BM25 weight in each chunk that holds it (bm25s computes them).
        CREATE TABLE terms (
            generation bigint NOT NULL,
            term_id integer NOT NULL,
            term text NOT NULL,
            is_pair boolean NOT NULL,
            df integer NOT NULL,
            PRIMARY KEY (generation, term_id),
            UNIQUE (generation, term)
        );
        CREATE TABLE postings (
            generation bigint NOT NULL,
            term_id integer NOT NULL,
            chunk_id bigint NOT NULL,
            weight real NOT NULL,
            tf integer NOT NULL,
            PRIMARY KEY (generation, term_id, chunk_id)
        );
        CREATE INDEX postings_by_chunk ON postings (generation, chunk_id);
        -- Vectors by (model, text) hash, shared by all generations: a killed build resumes.
        CREATE TABLE embedding_cache (
            key bytea PRIMARY KEY,
            vector bytea NOT NULL
        );
        """,
    ),
    (
        2,
        """
        -- Wrong admin passwords per client address and per trusted proxy (scope 'client' or
        -- 'proxy'), shared by every serve instance of this database (serve.attempt_table).
        -- Times are seconds on the instances' clock; rows are forgotten as the in-memory
        -- limiter forgets quiet clients, and at most a bounded number kept per scope.
        CREATE TABLE admin_attempts (
            scope text NOT NULL,
            client text NOT NULL,
            failures integer NOT NULL,
            until double precision NOT NULL,
            last double precision NOT NULL,
            PRIMARY KEY (scope, client)
        );
        CREATE INDEX admin_attempts_by_last ON admin_attempts (scope, last);
        """,
    ),
)
LATEST = MIGRATIONS[-1][0]
# The tables a reader needs, checked when an index is opened.
TABLES = ("generations", "current_generation", "documents", "chunks", "terms", "postings")


@dataclass(frozen=True)
class _Column:
    """A stored citation field: its SQL type and how its value comes out."""

    name: str
    sql: str
    decode: Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _column(name: str, annotation: Any) -> _Column:
    base = annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # "X | None" -> X
        [base] = [t for t in typing.get_args(annotation) if t is not type(None)]
    if typing.get_origin(base) is typing.Literal or base is str:
        return _Column(name, "text", _identity)
    if base is date:
        return _Column(name, "date", _identity)
    if base is bool:
        return _Column(name, "boolean", _identity)
    if base is int:
        return _Column(name, "bigint", _identity)
    if typing.get_origin(base) is tuple:
        # JSON, as the folder store keeps them and ``sql_filters`` tests membership.
        return _Column(name, "jsonb", lambda v: tuple(v) if v else ())
    raise TypeError(f"Citation.{name}: no column type for {annotation!r}")


_HINTS = typing.get_type_hints(Citation)
COLUMNS = tuple(_column(f.name, _HINTS[f.name]) for f in dataclasses.fields(Citation) if f.metadata.get("stored", True))
# Indexes on what filters and lookups read; made with the columns they need.
_INDEXES = {
    "documents_by_date": f"(generation, ({date_sql()}))",
    "documents_by_department": "(generation, lower(department))",
    "documents_by_kind": "(generation, kind)",
    "documents_by_uin": "(generation, uin)",
}


def citation_sql(table: str = "d.") -> str:
    return ", ".join(f"{table}{column.name}" for column in COLUMNS)


def citation(row: Sequence[Any]) -> Citation:
    return Citation(**{column.name: column.decode(value) for column, value in zip(COLUMNS, row, strict=True)})


def citation_values(value: Citation) -> list[Any]:
    """A citation's stored fields in column order, as COPY writes them (tuples as JSON text)."""
    values = [getattr(value, column.name) for column in COLUMNS]
    return [(json.dumps(list(v)) if v else None) if isinstance(v, tuple) else v for v in values]


def applied(connection: Any) -> int | None:
    """The schema version of a database, or None when it holds no sendsearch tables."""
    exists = connection.execute("SELECT to_regclass('schema_migrations')").fetchone()[0]
    if exists is None:
        return None
    row = connection.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(connection: Any, dsn: str) -> None:
    """Apply the migrations a database lacks, each in one transaction (call under the writer's lock)."""
    connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    version = applied(connection) or 0
    if version > LATEST:
        raise IndexFormatError(
            f"the database at {shown(dsn)} has schema version {version}, newer than this sendsearch "
            f"knows ({LATEST}); upgrade sendsearch"
        )
    for number, sql in MIGRATIONS:
        if number > version:
            with connection.transaction():
                connection.execute(sql)
                connection.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (number,))


def ensure_citation_columns(connection: Any) -> None:
    """Add the citation columns and filter indexes the documents table lacks."""
    with connection.transaction():
        for column in COLUMNS:
            connection.execute(f"ALTER TABLE documents ADD COLUMN IF NOT EXISTS {column.name} {column.sql}")
        for name, columns in _INDEXES.items():
            connection.execute(f"CREATE INDEX IF NOT EXISTS {name} ON documents {columns}")


def check_schema(connection: Any, dsn: str) -> None:
    """Raise one line unless the database holds this sendsearch's tables at its schema version."""
    version = applied(connection)
    build = f"`sendsearch build PATHS... --store {shown(dsn)}`"
    if version is None:
        raise IndexNotFoundError(f"no index in {shown(dsn)}; create one with {build}")
    if version != LATEST:
        newer = "newer" if version > LATEST else "older"
        action = "upgrade sendsearch" if version > LATEST else f"run {build} to migrate it"
        raise IndexFormatError(
            f"the index in {shown(dsn)} has schema version {version}, {newer} than this sendsearch's "
            f"({LATEST}); {action}"
        )
    missing = [t for t in TABLES if connection.execute("SELECT to_regclass(%s)", (t,)).fetchone()[0] is None]
    if missing:
        raise IndexFormatError(
            f"the index in {shown(dsn)} is damaged (the table {missing[0]} is missing); rebuild it with {build}"
        )
    present = {
        row[0]
        for row in connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'documents' "
            "AND table_schema = current_schema()"
        )
    }
    lacking = [c.name for c in COLUMNS if c.name not in present]
    if lacking:
        raise IndexFormatError(
            f"the index in {shown(dsn)} was built by an older sendsearch (its documents lack "
            f"{', '.join(lacking)}); rebuild it with {build}"
        )
