"""The PostgreSQL store, read side: one published generation as a ``Backend``.

Every query names the generation it reads (``generation = <id>``), fixed when the
backend is opened, so a search that started on one generation finishes on it even if a
writer publishes the next meanwhile. Filters are pushed into each candidate query as
WHERE clauses on the documents (``sql_filters``), so truncating to the top k drops
nothing a filter lets through. Dense candidates come from the generation's HNSW index
(pgvector, iterative scans under filters) once it holds ``hnsw_threshold`` chunks, and
from an exact scan below that, as in the folder store; the keyword side sums precomputed
BM25 weights (bm25s's own) over the question's terms and pairs.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np

from ...errors import IndexNotFoundError
from ...filters import Filters
from ...indexing.manifest import Manifest
from ...schema import Citation
from ..backend import AllowedChunks, ChunkDocument, KeywordResult, Pair, ScoredChunks, StoredChunk
from ..sql_filters import POSTGRESQL, clauses, date_sql
from .connection import connect, damaged_store, reports_failures, shown
from .schema import check_schema, citation, citation_sql

__all__ = ["FilteredChunks", "PostgresBackend", "current_generation", "manifest_from_row", "open_current"]

PAIR_SEPARATOR = "\x1f"
# pgvector's own bound on hnsw.ef_search.
_EF_SEARCH_MAX = 1000
_FILTER_CACHE = 64


class FilteredChunks(np.ndarray):
    """The chunk ids that pass some filters (sorted), carrying the filters themselves so each
    candidate query can apply them in SQL rather than through a list of ids."""

    filters: Filters


def _allowed_sql(allowed: AllowedChunks | None, params: list[Any]) -> str:
    """The condition on chunk ``c`` and document ``d`` that ``allowed`` means."""
    if allowed is None:
        return ""
    filters = getattr(allowed, "filters", None)
    if isinstance(filters, Filters):
        where, values = clauses(filters, POSTGRESQL)
        params.extend(values)
        return f" AND {where}"
    params.append([int(c) for c in allowed])
    return " AND c.chunk_id = ANY(%s)"


def _vector_text(vector: np.ndarray) -> str:
    """pgvector's text form; Python's shortest float repr reads back as the same float32."""
    return "[" + ",".join(map(str, np.asarray(vector, dtype=np.float32).reshape(-1).tolist())) + "]"


class _Keyword:
    """The keyword side's answer to one question (a ``KeywordResult``)."""

    def __init__(
        self, backend: PostgresBackend, columns: list[tuple[int, float]], top: np.ndarray, allowed: AllowedChunks | None
    ) -> None:
        self._backend = backend
        self._columns = columns
        self._allowed = allowed
        self.top = top

    def of(self, chunk_ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(chunk_ids, dtype=np.int64)
        scores = np.zeros(len(ids), dtype=np.float32)
        if not len(ids) or not self._columns:
            return scores
        found = self._backend.keyword_scores(self._columns, ids)
        for i, chunk_id in enumerate(ids.tolist()):
            scores[i] = found.get(chunk_id, 0.0)
        if self._allowed is not None:
            scores[~np.isin(ids, np.asarray(self._allowed, dtype=np.int64))] = 0.0
        return scores


class PostgresBackend:
    """One published generation in a PostgreSQL database, behind the ``Backend`` methods."""

    name = "postgresql"

    def __init__(self, dsn: str, generation: int, manifest: Manifest) -> None:
        self.dsn = dsn
        self.generation = int(generation)
        self.manifest = manifest
        self.sources = tuple(manifest.sources)
        self.dimension = manifest.dimension
        self.chunk_count = manifest.chunks
        self.use_hnsw = manifest.vectors.get("kind") == "hnsw"
        self.ef_search = min(int(manifest.vectors.get("ef_search", 512)), _EF_SEARCH_MAX)
        self._local = threading.local()
        self._filter_cache: OrderedDict[Filters, FilteredChunks] = OrderedDict()
        self._filter_lock = threading.Lock()
        self._idf_cache: dict[str, float] = {}
        # A generation never changes, so what searches read again and again is kept here,
        # bounded (emptied when full): term ids, stored vectors (for feedback and rescoring)
        # and each chunk's document. Each saves a round trip per search.
        self._term_ids: dict[str, int] = {}
        self._vectors: dict[int, np.ndarray] = {}
        self._documents: dict[int, ChunkDocument] = {}
        self._cache_lock = threading.Lock()

    # -- connections ----------------------------------------------------------------------
    def db(self) -> Any:
        """This thread's connection (psycopg connections are not shared between threads)."""
        connection = getattr(self._local, "connection", None)
        if connection is None or connection.closed:
            connection = connect(self.dsn)
            connection.execute(f"SET hnsw.ef_search = {self.ef_search}")
            # Filtered HNSW scans go on until k rows pass the filter, best first.
            connection.execute("SET hnsw.iterative_scan = strict_order")
            self._local.connection = connection
        return connection

    def forget_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with contextlib.suppress(Exception):  # it is being dropped because it failed
                connection.close()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.db().execute(sql, params).fetchall())

    @reports_failures
    def published(self) -> int | None:
        """The generation published now (a search reads it at its start)."""
        return current_generation(self.db())

    # -- the dense side -------------------------------------------------------------------
    @reports_failures
    def dense_search(self, vector: np.ndarray, k: int, allowed: AllowedChunks | None) -> ScoredChunks:
        params: list[Any] = []
        text = _vector_text(vector)
        g, d = self.generation, self.dimension
        where = _allowed_sql(allowed, params)
        join = " JOIN documents d ON d.generation = c.generation AND d.doc_id = c.doc_id" if where else ""
        if self.use_hnsw:
            # The cast and the literal generation match the generation's partial HNSW index.
            distance = f"c.embedding::vector({d}) <#> %s::vector({d})"
            order = distance
        else:
            distance = "c.embedding <#> %s::vector"
            order = f"({distance}) + 0"  # "+ 0": an exact scan, never an index's approximation
        sql = (
            f"SELECT c.chunk_id, -({distance}) FROM chunks c{join} WHERE c.generation = {g}{where} "
            f"ORDER BY {order}, c.chunk_id LIMIT %s"
        )
        rows = self._rows(sql, [text, *params, text, max(1, k)])
        return ScoredChunks(
            np.asarray([r[0] for r in rows], dtype=np.int64), np.asarray([r[1] for r in rows], dtype=np.float32)
        )

    def dense_scores(self, vector: np.ndarray, chunk_ids: np.ndarray) -> np.ndarray:
        if not len(chunk_ids):
            return np.zeros(0, dtype=np.float32)
        return self.stored_vectors(chunk_ids) @ np.asarray(vector, dtype=np.float32).reshape(-1)

    @reports_failures
    def stored_vectors(self, chunk_ids: np.ndarray) -> np.ndarray:
        ids = [int(c) for c in np.asarray(chunk_ids).reshape(-1)]
        if not ids:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._cache_lock:
            found = {c: self._vectors[c] for c in ids if c in self._vectors}
        missing = [c for c in ids if c not in found]
        if missing:
            # pgvector's binary form (vector_send): two 16-bit counts, then big-endian float32s.
            rows = self._rows(
                f"SELECT chunk_id, vector_send(embedding) FROM chunks WHERE generation = {self.generation} "
                "AND chunk_id = ANY(%s)",
                [missing],
            )
            fetched = {int(r[0]): np.frombuffer(bytes(r[1]), dtype=">f4", offset=4).astype(np.float32) for r in rows}
            found.update(fetched)
            _remember(self._vectors, fetched, self._cache_lock, _VECTORS_KEPT)
        return np.asarray([found[c] for c in ids], dtype=np.float32).reshape(len(ids), self.dimension)

    # -- the keyword side -----------------------------------------------------------------
    @reports_failures
    def _term_columns(self, words: Mapping[str, float], pairs: Mapping[Pair, float]) -> list[tuple[int, float]]:
        wanted: dict[str, float] = dict(words)
        wanted.update({f"{a}{PAIR_SEPARATOR}{b}": weight for (a, b), weight in pairs.items()})
        if not wanted:
            return []
        with self._cache_lock:
            ids = {term: self._term_ids[term] for term in wanted if term in self._term_ids}
        missing = [term for term in wanted if term not in ids]
        if missing:
            rows = self._rows(
                f"SELECT term, term_id FROM terms WHERE generation = {self.generation} AND term = ANY(%s)", [missing]
            )
            fetched = dict.fromkeys(missing, -1) | {r[0]: int(r[1]) for r in rows}  # -1: not in the index
            ids.update(fetched)
            _remember(self._term_ids, fetched, self._cache_lock, _TERMS_KEPT)
        return [(ids[term], weight) for term, weight in wanted.items() if ids[term] >= 0]

    @reports_failures
    def keyword_search(
        self, words: Mapping[str, float], pairs: Mapping[Pair, float], k: int, allowed: AllowedChunks | None
    ) -> KeywordResult:
        columns = self._term_columns(words, pairs)
        if not columns:
            return _Keyword(self, columns, np.zeros(0, dtype=np.int64), allowed)
        params: list[Any] = [[c for c, _ in columns], [w for _, w in columns]]
        where = _allowed_sql(allowed, params)
        join = (
            " JOIN chunks c ON c.generation = p.generation AND c.chunk_id = p.chunk_id"
            " JOIN documents d ON d.generation = c.generation AND d.doc_id = c.doc_id"
            if where
            else ""
        )
        # real x real and a real sum, as the folder store adds float32 weights.
        sql = (
            "SELECT p.chunk_id, sum(p.weight * q.w) AS score FROM postings p "
            "JOIN unnest(%s::integer[], %s::real[]) AS q (term_id, w) ON p.term_id = q.term_id"
            f"{join} WHERE p.generation = {self.generation}{where} "
            "GROUP BY p.chunk_id HAVING sum(p.weight * q.w) > 0 ORDER BY score DESC, p.chunk_id LIMIT %s"
        )
        rows = self._rows(sql, [*params, max(1, k)])
        return _Keyword(self, columns, np.asarray([r[0] for r in rows], dtype=np.int64), allowed)

    @reports_failures
    def keyword_scores(self, columns: list[tuple[int, float]], chunk_ids: np.ndarray) -> dict[int, float]:
        rows = self._rows(
            "SELECT p.chunk_id, sum(p.weight * q.w) FROM postings p "
            "JOIN unnest(%s::integer[], %s::real[]) AS q (term_id, w) ON p.term_id = q.term_id "
            f"WHERE p.generation = {self.generation} AND p.chunk_id = ANY(%s) GROUP BY p.chunk_id",
            [[c for c, _ in columns], [w for _, w in columns], [int(c) for c in chunk_ids]],
        )
        return {int(r[0]): float(r[1]) for r in rows}

    @reports_failures
    def terms_present(self, words: Sequence[str] | Mapping[str, float], chunk_ids: np.ndarray) -> set[str]:
        wanted = list(words)
        if not wanted or not len(chunk_ids):
            return set()
        rows = self._rows(
            "SELECT DISTINCT t.term FROM terms t JOIN postings p ON p.generation = t.generation "
            f"AND p.term_id = t.term_id WHERE t.generation = {self.generation} AND t.term = ANY(%s) "
            "AND p.chunk_id = ANY(%s)",
            [wanted, [int(c) for c in chunk_ids]],
        )
        return {r[0] for r in rows}

    def _idfs(self, df: np.ndarray) -> np.ndarray:
        """Lucene IDF, the formula bm25s uses (as ``folder.keyword``)."""
        return np.log1p((self.chunk_count - df + 0.5) / (df + 0.5))

    @reports_failures
    def idf(self, term: str) -> float:
        cached = self._idf_cache.get(term)
        if cached is not None:
            return cached
        row = (
            self.db()
            .execute(f"SELECT df FROM terms WHERE generation = {self.generation} AND term = %s", [term])
            .fetchone()
        )
        value = 0.0 if row is None or not self.chunk_count else float(self._idfs(np.asarray([row[0]], float))[0])
        if len(self._idf_cache) < 100_000:
            self._idf_cache[term] = value
        return value

    @reports_failures
    def feedback_terms(self, chunk_ids: np.ndarray, count: int) -> list[str]:
        if not len(chunk_ids):
            return []
        rows = self._rows(
            "SELECT t.term, sum(p.tf), t.df FROM postings p JOIN terms t ON t.generation = p.generation "
            f"AND t.term_id = p.term_id WHERE p.generation = {self.generation} AND p.chunk_id = ANY(%s) "
            "AND NOT t.is_pair GROUP BY t.term_id, t.term, t.df ORDER BY t.term_id",
            [[int(c) for c in chunk_ids]],
        )
        if not rows:
            return []
        tf = np.asarray([r[1] for r in rows], dtype=np.int64)
        weights = tf * self._idfs(np.asarray([r[2] for r in rows], dtype=np.float64))
        ranked = np.argsort(-weights, kind="stable")
        return [term for term in (rows[i][0] for i in ranked) if not term.startswith("~")][:count]

    # -- documents ------------------------------------------------------------------------
    @reports_failures
    def allowed(self, filters: Filters) -> AllowedChunks | None:
        if not filters:
            return None
        with self._filter_lock:
            cached = self._filter_cache.get(filters)
        if cached is None:
            where, params = clauses(filters, POSTGRESQL)
            rows = self._rows(
                "SELECT c.chunk_id FROM chunks c JOIN documents d ON d.generation = c.generation "
                f"AND d.doc_id = c.doc_id WHERE c.generation = {self.generation} AND {where} ORDER BY c.chunk_id",
                params,
            )
            cached = np.asarray([r[0] for r in rows], dtype=np.int64).view(FilteredChunks)
            cached.filters = filters
            with self._filter_lock:
                self._filter_cache[filters] = cached
                while len(self._filter_cache) > _FILTER_CACHE:
                    self._filter_cache.popitem(last=False)
        return cached

    @reports_failures
    def chunk_documents(self, chunk_ids: Sequence[int] | np.ndarray) -> dict[int, ChunkDocument]:
        if not len(chunk_ids):
            return {}
        ids = [int(c) for c in chunk_ids]
        with self._cache_lock:
            found = {c: self._documents[c] for c in ids if c in self._documents}
        missing = [c for c in ids if c not in found]
        if missing:
            rows = self._rows(
                "SELECT c.chunk_id, c.doc_id, d.answer_key, d.non_answer FROM chunks c JOIN documents d "
                f"ON d.generation = c.generation AND d.doc_id = c.doc_id WHERE c.generation = {self.generation} "
                "AND c.chunk_id = ANY(%s)",
                [missing],
            )
            fetched = {int(r[0]): ChunkDocument(r[1], r[2], r[3] is not None) for r in rows}
            found.update(fetched)
            _remember(self._documents, fetched, self._cache_lock, _DOCUMENTS_KEPT)
        return {c: found[c] for c in ids if c in found}

    @reports_failures
    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, StoredChunk]:
        if not chunk_ids:
            return {}
        rows = self._rows(
            "SELECT c.chunk_id, c.doc_id, c.start_char, c.end_char, "
            "substr(d.text, c.start_char + 1, c.end_char - c.start_char), d.answer_key, "
            f"{citation_sql()} FROM chunks c JOIN documents d ON d.generation = c.generation "
            f"AND d.doc_id = c.doc_id WHERE c.generation = {self.generation} AND c.chunk_id = ANY(%s)",
            [[int(c) for c in chunk_ids]],
        )
        return {
            int(chunk_id): StoredChunk(int(chunk_id), doc_id, start, end, text, key, citation(rest))
            for chunk_id, doc_id, start, end, text, key, *rest in rows
        }

    @reports_failures
    def citations(self, doc_ids: Sequence[str]) -> dict[str, Citation]:
        if not doc_ids:
            return {}
        rows = self._rows(
            f"SELECT d.doc_id, {citation_sql()} FROM documents d WHERE d.generation = {self.generation} "
            "AND d.doc_id = ANY(%s)",
            [list(doc_ids)],
        )
        return {r[0]: citation(r[1:]) for r in rows}

    def documents_with_answer(self, keys: Sequence[str]) -> dict[str, list[str]]:
        return self._doc_ids_by("answer_key", keys)

    def documents_with_uin(self, uins: Sequence[str]) -> dict[str, list[str]]:
        return self._doc_ids_by("uin", uins)

    @reports_failures
    def _doc_ids_by(self, column: str, values: Sequence[str]) -> dict[str, list[str]]:
        if not values:
            return {}
        found: dict[str, list[str]] = {}
        for value, doc_id in self._rows(
            f"SELECT {column}, doc_id FROM documents WHERE generation = {self.generation} "
            f'AND {column} = ANY(%s) ORDER BY doc_id COLLATE "C"',
            [list(values)],
        ):
            found.setdefault(value, []).append(doc_id)
        return found

    @reports_failures
    def document_text(self, doc_id: str) -> str | None:
        row = (
            self.db()
            .execute(f"SELECT text FROM documents WHERE generation = {self.generation} AND doc_id = %s", [doc_id])
            .fetchone()
        )
        return row[0] if row else None

    @reports_failures
    def date_range(self) -> tuple[date | None, date | None]:
        row = (
            self.db()
            .execute(f"SELECT min({date_sql()}), max({date_sql()}) FROM documents WHERE generation = {self.generation}")
            .fetchone()
        )
        return (row[0], row[1]) if row else (None, None)

    def departments(self) -> list[tuple[str, int]]:
        return self._counts("department")

    def kinds(self) -> list[tuple[str, int]]:
        return self._counts("kind")

    @reports_failures
    def _counts(self, column: str) -> list[tuple[str, int]]:
        rows = self._rows(
            f"SELECT {column}, count(*) FROM documents WHERE generation = {self.generation} AND {column} IS NOT NULL "
            f'GROUP BY {column} ORDER BY count(*) DESC, {column} COLLATE "C"'
        )
        return [(name, int(count)) for name, count in rows]


# What one backend keeps of a generation's immutable rows (about 40 MB at most in all).
_VECTORS_KEPT = 20_000
_TERMS_KEPT = 200_000
_DOCUMENTS_KEPT = 100_000


def _remember(cache: dict[Any, Any], found: dict[Any, Any], lock: threading.Lock, bound: int) -> None:
    with lock:
        if len(cache) + len(found) > bound:
            cache.clear()
        cache.update(found)


def current_generation(connection: Any) -> int | None:
    """The published generation's id, or None when none has been published."""
    row = connection.execute("SELECT generation FROM current_generation").fetchone()
    return int(row[0]) if row else None


def open_current(dsn: str) -> tuple[int, Manifest, PostgresBackend]:
    """The published generation of a database: its id, manifest and backend; one line
    (SendSearchError) when the server, the tables or the manifest cannot serve."""
    import psycopg

    connection = connect(dsn)
    try:
        check_schema(connection, dsn)
        generation = current_generation(connection)
        if generation is None:
            raise IndexNotFoundError(
                f"no index was published in {shown(dsn)}; create one with "
                f"`sendsearch build PATHS... --store {shown(dsn)}`"
            )
        row = connection.execute("SELECT manifest FROM generations WHERE id = %s", (generation,)).fetchone()
        manifest = manifest_from_row(dsn, row[0] if row else None)
        counts = connection.execute(
            f"SELECT (SELECT count(*) FROM documents WHERE generation = {generation}), "
            f"(SELECT count(*) FROM chunks WHERE generation = {generation})"
        ).fetchone()
    except psycopg.errors.UndefinedColumn as error:
        raise damaged_store(dsn, str(error).splitlines()[0], ()) from None
    except psycopg.OperationalError as error:
        raise damaged_store(dsn, str(error).strip().splitlines()[-1], ()) from None
    finally:
        connection.close()
    if counts is None or tuple(counts) != (manifest.documents, manifest.chunks):
        held = f"{counts[0]} documents and {counts[1]} chunks" if counts else "nothing"
        raise damaged_store(
            dsn,
            f"generation {generation} holds {held}, its manifest says {manifest.documents} and {manifest.chunks}",
            manifest.sources,
        )
    return generation, manifest, PostgresBackend(dsn, generation, manifest)


def manifest_from_row(dsn: str, data: Any) -> Manifest:
    import json
    from pathlib import Path

    from ...errors import SendSearchError

    if not isinstance(data, dict):
        raise damaged_store(dsn, "the published generation has no manifest")
    try:
        return Manifest.from_json(json.dumps(data), Path(shown(dsn)) / "manifest")
    except SendSearchError as error:
        raise damaged_store(dsn, f"its manifest: {error}", data.get("sources") or ()) from None
