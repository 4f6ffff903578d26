"""The PostgreSQL store, write side: build and update generations, publish them in one transaction.

A writer holds a session advisory lock for its whole run (a second one is refused with
one line; the server lets the lock go when a killed writer's connection drops), applies
the migrations, and removes what killed writers left (generations still ``building``).
It writes the new generation's rows batch by batch, committing as it goes, then publishes
in one transaction: the generation's manifest is recorded and ``current_generation``
switched to it. Searches read the generation named when they start, so they see the old
index or the new one, never a mix; a writer killed at any moment before that transaction
leaves the previous generation serving. Generations other than the current and the
previous one (which a reader may still be finishing) are then deleted.

Reading, chunking, embedding and the keyword analysis are the builder's own
(``indexing.builder``); the BM25 weights are those bm25s computes for the folder store
(``folder.keyword.KeywordIndex``), stored as postings, so both stores score alike.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import IndexBusyError, NothingToIndexError
from ...indexing import manifest as manifest_module
from ...indexing.builder import (
    BuildReport,
    _check_paths,
    _chunk,
    _embed,
    _manifest,
    _read_unique,
    _skip_summary,
    _sources,
)
from ...indexing.config import IndexConfig, config_from_manifest
from ...indexing.embedding import Embedder
from ...indexing.manifest import Manifest
from ...indexing.writer import Written
from ...schema import Chunk, Document
from ...sources.readers import ReadReport
from ...text.analysis import Analyzer, Terms
from ..folder.documents import answer_key
from ..folder.keyword import KeywordIndex
from .backend import PAIR_SEPARATOR, current_generation, manifest_from_row
from .connection import connect, shown
from .schema import COLUMNS, citation_values, ensure_citation_columns, migrate

__all__ = ["STORE", "build_database", "update_database", "writer_lock"]

STORE = "postgresql"
# The advisory lock every sendsearch writer of a database takes (any fixed 64-bit number).
LOCK_KEY = 0x53454E44_53524348
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 512


@contextmanager
def writer_lock(dsn: str) -> Iterator[Any]:
    """A connection holding the database's writer lock, with the schema migrated and the
    leftovers of killed writers removed; IndexBusyError (one line) if another writer holds it."""
    connection = connect(dsn)
    try:
        locked = connection.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
        if not (locked and locked[0]):
            raise IndexBusyError(f"another build or update is writing to {shown(dsn)}; try again when it ends")
        migrate(connection, dsn)
        ensure_citation_columns(connection)
        abandoned = [r[0] for r in connection.execute("SELECT id FROM generations WHERE state = 'building'")]
        _delete_generations(connection, abandoned)
        yield connection
    finally:
        connection.close()  # the lock goes with the session


def _delete_generations(connection: Any, ids: Sequence[int]) -> None:
    if not ids:
        return
    for table in ("postings", "terms", "chunks", "documents"):
        connection.execute(f"DELETE FROM {table} WHERE generation = ANY(%s)", (list(ids),))
    for generation in ids:
        connection.execute(f"DROP INDEX IF EXISTS chunks_vectors_g{int(generation)}")
    connection.execute("DELETE FROM generations WHERE id = ANY(%s) AND state = 'building'", (list(ids),))
    connection.execute(
        "DELETE FROM generations WHERE id = ANY(%s) AND id NOT IN (SELECT generation FROM current_generation)",
        (list(ids),),
    )


class EmbeddingTable:
    """The embedding cache as a table (``embedding_cache``): an ``EmbeddingCache`` that a killed
    build's rerun, or a build on another machine, carries on from."""

    def __init__(self, connection: Any, dimension: int) -> None:
        self._connection = connection
        self.dimension = dimension

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        for start in range(0, len(keys), 5000):
            batch = list(keys[start : start + 5000])
            for key, blob in self._connection.execute(
                "SELECT key, vector FROM embedding_cache WHERE key = ANY(%s)", (batch,)
            ):
                vector = np.frombuffer(bytes(blob), dtype=np.float32)
                if vector.shape[0] == self.dimension:
                    found[bytes(key)] = vector
        return found

    def put_many(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        rows = [(key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in items]
        with self._connection.transaction(), self._connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO embedding_cache (key, vector) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET vector = EXCLUDED.vector",
                rows,
            )

    def close(self) -> None:
        """The connection is the writer's, closed with its lock."""


def _vector_text(vector: np.ndarray) -> str:
    return "[" + ",".join(map(str, vector.tolist())) + "]"


_DOCUMENT_COLUMNS = ("generation", "doc_id", "text", "content_hash", "answer_key", *(c.name for c in COLUMNS))


def _insert(
    connection: Any,
    generation: int,
    documents: Sequence[Document],
    chunks: Sequence[Sequence[Chunk]],
    vectors: np.ndarray,
    first_chunk_id: int,
) -> list[int]:
    """Documents, their chunks and vectors, by COPY; the chunk ids given, in order."""
    with connection.transaction(), connection.cursor() as cursor:
        with cursor.copy(f"COPY documents ({', '.join(_DOCUMENT_COLUMNS)}) FROM STDIN") as copy:
            for document in documents:
                copy.write_row(
                    (
                        generation,
                        document.doc_id,
                        document.text,
                        document.content_hash,
                        answer_key(document.doc_id, document.text),
                        *citation_values(document.citation),
                    )
                )
        manifest_module.step("documents written")
        ids: list[int] = []
        with cursor.copy(
            "COPY chunks (generation, chunk_id, doc_id, ordinal, start_char, end_char, embedding) FROM STDIN"
        ) as copy:
            row = 0
            for doc_chunks in chunks:
                for chunk in doc_chunks:
                    chunk_id = first_chunk_id + row
                    copy.write_row(
                        (
                            generation,
                            chunk_id,
                            chunk.doc_id,
                            chunk.ordinal,
                            chunk.start,
                            chunk.end,
                            _vector_text(vectors[row]),
                        )
                    )
                    ids.append(chunk_id)
                    row += 1
    manifest_module.step("chunks written")
    return ids


def _write_keyword(connection: Any, generation: int, keyword: KeywordIndex) -> None:
    columns, chunk_ids, weights, tf = keyword.postings()
    with connection.transaction(), connection.cursor() as cursor:
        with cursor.copy("COPY terms (generation, term_id, term, is_pair, df) FROM STDIN") as copy:
            for term_id, (term, pair, df) in enumerate(keyword.columns(PAIR_SEPARATOR)):
                copy.write_row((generation, term_id, term, pair, df))
        with cursor.copy("COPY postings (generation, term_id, chunk_id, weight, tf) FROM STDIN") as copy:
            for row in zip(columns.tolist(), chunk_ids.tolist(), weights.tolist(), tf.tolist(), strict=True):
                copy.write_row((generation, *row))
    manifest_module.step("keyword written")


def _stored_terms(connection: Any, generation: int, kept: Sequence[int]) -> Iterator[Terms]:
    """The keyword terms of a generation's chunks (``kept``, sorted), rebuilt from its postings:
    BM25 needs only how often each term occurs in a chunk, not in which order."""
    rows = connection.execute(
        "SELECT p.chunk_id, t.term, t.is_pair, p.tf FROM postings p JOIN terms t ON t.generation = p.generation "
        "AND t.term_id = p.term_id WHERE p.generation = %s AND p.chunk_id = ANY(%s) ORDER BY p.chunk_id, p.term_id",
        (generation, list(kept)),
    )
    by_chunk: dict[int, Terms] = {}
    for chunk_id, term, pair, tf in rows:
        terms = by_chunk.setdefault(chunk_id, Terms())
        if pair:
            first, second = term.split(PAIR_SEPARATOR, 1)
            terms.pairs.extend([(first, second)] * tf)
        else:
            terms.words.extend([term] * tf)
    for chunk_id in kept:
        yield by_chunk.get(chunk_id, Terms())


def _finish(connection: Any, generation: int, dimension: int, config: IndexConfig) -> Written:
    """Index the generation's vectors and count what it holds."""
    connection.execute("SET maintenance_work_mem = '256MB'")
    connection.execute(
        f"CREATE INDEX chunks_vectors_g{generation} ON chunks USING hnsw ((embedding::vector({dimension})) "
        f"vector_ip_ops) WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) WHERE generation = {generation}"
    )
    manifest_module.step("vectors indexed")
    for table in ("documents", "chunks", "postings", "terms"):
        connection.execute(f"ANALYZE {table}")
    documents, chunks = connection.execute(
        f"SELECT (SELECT count(*) FROM documents WHERE generation = {generation}), "
        f"(SELECT count(*) FROM chunks WHERE generation = {generation})"
    ).fetchone()
    hashes = dict(connection.execute("SELECT doc_id, content_hash FROM documents WHERE generation = %s", (generation,)))
    # Exact scans below the threshold, as the folder store; the HNSW index above it.
    kind = "hnsw" if chunks >= config.hnsw_threshold else "flat"
    settings = {"kind": kind, "hnsw_threshold": config.hnsw_threshold, "ef_search": HNSW_EF_SEARCH}
    return Written(int(documents), int(chunks), hashes, settings)


def _publish(connection: Any, generation: int, manifest: Manifest, previous: int | None) -> None:
    """Record the manifest and switch ``current_generation`` in one transaction; then delete
    generations other than this one and the previous one."""
    with connection.transaction():
        connection.execute(
            "UPDATE generations SET state = 'published', manifest = %s::jsonb WHERE id = %s",
            (manifest.to_json(), generation),
        )
        connection.execute(
            "INSERT INTO current_generation (only_row, generation) VALUES (true, %s) "
            "ON CONFLICT (only_row) DO UPDATE SET generation = EXCLUDED.generation",
            (generation,),
        )
        manifest_module.step("publishing")
    manifest_module.step("published")
    keep = {generation} | ({previous} if previous is not None else set())
    old = [r[0] for r in connection.execute("SELECT id FROM generations") if r[0] not in keep]
    _delete_generations(connection, old)
    manifest_module.step("old generations removed")


def _new_generation(connection: Any) -> int:
    row = connection.execute("INSERT INTO generations DEFAULT VALUES RETURNING id").fetchone()
    return int(row[0])


def _manifest_of(
    generation: int, embedder: Embedder, config: IndexConfig, written: Written, sources: list[str], built_at: str | None
) -> Manifest:
    made = _manifest(Path(f"gen-{generation}"), embedder, config, written, sources, built_at)
    return dataclasses.replace(made, store=STORE)


def build_database(
    paths: Sequence[str | Path],
    dsn: str,
    embedder: Embedder,
    *,
    config: IndexConfig | None = None,
    progress: bool = False,
    follow_links: bool = False,
) -> BuildReport:
    """Build a complete index of ``paths`` into the database and publish it (see ``builder.build_index``)."""
    started = time.perf_counter()
    config = config or IndexConfig()
    config = dataclasses.replace(config, chunking=config.chunking.within(embedder.max_tokens))
    report = BuildReport(index=shown(dsn))
    _check_paths(paths)
    with writer_lock(dsn) as connection:
        read = ReadReport(skipped=report.skipped)
        documents = _read_unique(paths, read, progress, config, report, follow_links=follow_links)
        report.files = read.files
        manifest_module.step("read")
        documents, chunks = _chunk(documents, embedder, config, report)
        if not documents:
            raise NothingToIndexError(
                "nothing to index: no readable documents in "
                + ", ".join(map(str, paths))
                + _skip_summary(report.skipped)
            )
        previous = current_generation(connection)
        generation = _new_generation(connection)
        cache = EmbeddingTable(connection, embedder.dimension)
        vectors = _embed(documents, chunks, embedder, cache, config, report, progress)
        manifest_module.step("embedded")
        ids = _insert(connection, generation, documents, chunks, vectors, 0)
        keyword = KeywordIndex.build(ids, Analyzer().chunk_terms(documents, chunks, config.keyword), config.keyword)
        _write_keyword(connection, generation, keyword)
        written = _finish(connection, generation, embedder.dimension, config)
        manifest = _manifest_of(generation, embedder, config, written, _sources(paths), None)
        _publish(connection, generation, manifest, previous)
        report.added = len(documents)
        report.documents, report.chunks = manifest.documents, manifest.chunks
        report.published = True
    report.seconds = time.perf_counter() - started
    return report


def update_database(
    dsn: str,
    embedder: Embedder,
    *,
    add: Sequence[str | Path] = (),
    remove: Sequence[str] = (),
    progress: bool = False,
    source_prefix: str = "",
    follow_links: bool = False,
) -> BuildReport:
    """Add, replace or remove documents (see ``builder.update_index``): the new generation
    copies the kept rows inside the server, and only new text is embedded."""
    started = time.perf_counter()
    report = BuildReport(index=shown(dsn))
    _check_paths(add)
    with writer_lock(dsn) as connection:
        base = current_generation(connection)
        if base is None:
            raise NothingToIndexError(f"no index was published in {shown(dsn)}; build one first")
        row = connection.execute("SELECT manifest FROM generations WHERE id = %s", (base,)).fetchone()
        manifest = manifest_from_row(dsn, row[0] if row else None)
        config = config_from_manifest(manifest, Path(shown(dsn)))
        read = ReadReport(skipped=report.skipped)
        incoming = _read_unique(add, read, progress, config, report, source_prefix, follow_links) if add else []
        report.files = read.files
        manifest_module.step("read")
        if add and not incoming and not remove:
            given = "the files given" if source_prefix else ", ".join(map(str, add))
            raise NothingToIndexError(
                f"nothing to add: no readable documents in {given}" + _skip_summary(report.skipped)
            )
        hashes = dict(connection.execute("SELECT doc_id, content_hash FROM documents WHERE generation = %s", (base,)))
        changed = [d for d in incoming if hashes.get(d.doc_id) != d.content_hash]
        report.unchanged = len(incoming) - len(changed)
        report.replaced = sum(1 for d in changed if d.doc_id in hashes)
        report.added = len(changed) - report.replaced
        to_remove = [doc_id for doc_id in dict.fromkeys(remove) if doc_id in hashes]
        report.not_found = [doc_id for doc_id in dict.fromkeys(remove) if doc_id not in hashes]
        report.removed = len(to_remove)
        if not changed and not to_remove:
            report.documents, report.chunks = manifest.documents, manifest.chunks
            report.seconds = time.perf_counter() - started
            return report
        dropped = [d.doc_id for d in changed if d.doc_id in hashes] + to_remove
        changed, chunks = _chunk(changed, embedder, config, report)
        vectors = _embed(
            changed, chunks, embedder, EmbeddingTable(connection, embedder.dimension), config, report, progress
        )
        manifest_module.step("embedded")
        generation = _new_generation(connection)
        names = ", ".join(_DOCUMENT_COLUMNS[1:])
        with connection.transaction():
            connection.execute(
                f"INSERT INTO documents (generation, {names}) SELECT %s, {names} FROM documents "
                "WHERE generation = %s AND doc_id <> ALL(%s)",
                (generation, base, dropped),
            )
            connection.execute(
                "INSERT INTO chunks (generation, chunk_id, doc_id, ordinal, start_char, end_char, embedding) "
                "SELECT %s, chunk_id, doc_id, ordinal, start_char, end_char, embedding FROM chunks "
                "WHERE generation = %s AND doc_id <> ALL(%s)",
                (generation, base, dropped),
            )
        manifest_module.step("rows copied")
        kept = [
            r[0]
            for r in connection.execute(
                f"SELECT chunk_id FROM chunks WHERE generation = {generation} ORDER BY chunk_id"
            )
        ]
        first = (
            int(
                connection.execute(
                    f"SELECT coalesce(max(chunk_id), -1) FROM chunks WHERE generation = {base}"
                ).fetchone()[0]
            )
            + 1
        )
        new_ids = _insert(connection, generation, changed, chunks, vectors, first) if changed else []
        terms = _chain(_stored_terms(connection, base, kept), Analyzer().chunk_terms(changed, chunks, config.keyword))
        vocabulary = [
            r[0]
            for r in connection.execute(
                "SELECT term FROM terms WHERE generation = %s AND NOT is_pair ORDER BY term_id", (base,)
            )
        ]
        keyword = KeywordIndex.build([*kept, *new_ids], terms, config.keyword, vocabulary)
        _write_keyword(connection, generation, keyword)
        written = _finish(connection, generation, embedder.dimension, config)
        sources = [source_prefix] if source_prefix else _sources(add)
        new_sources = [*manifest.sources, *dict.fromkeys(s for s in sources if s not in manifest.sources)]
        new_manifest = _manifest_of(generation, embedder, config, written, new_sources, manifest.built_at)
        _publish(connection, generation, new_manifest, base)
        report.documents, report.chunks = new_manifest.documents, new_manifest.chunks
        report.published = True
    report.seconds = time.perf_counter() - started
    return report


def _chain(*parts: Iterable[Terms]) -> Iterator[Terms]:
    for part in parts:
        yield from part
