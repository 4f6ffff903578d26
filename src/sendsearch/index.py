"""An index on disk, opened for searching: ``Index.open(...).search("question")``.

Opening reads ``manifest.json`` first and checks it (format, model) before loading the
components it names. The loaded components form an immutable snapshot; when a build or
update publishes a new generation, the next search loads it and swaps the snapshot, so a
search in flight always sees one complete generation.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from .builder import BuildReport, IndexConfig, build_index, update_index
from .embedding import Embedder, configured_model, load_embedder
from .glossary import expand_query
from .errors import IndexFormatError, ModelMismatchError, QueryError, SendSearchError
from .keyword import Analyzer, KeywordIndex
from .manifest import MANIFEST_NAME, Manifest, read_manifest
from .schema import KIND_WEB_PAGE, KIND_WRITTEN_ANSWER, Passage
from .search import Mode, QueryPlan, SearchConfig, clean_query, run_search
from .store import Filters, Store
from .vectors import HNSW_EF_SEARCH, VectorIndex

__all__ = ["Index", "search", "DEFAULT_INDEX"]

DEFAULT_INDEX = Path(os.environ.get("SENDSEARCH_INDEX", "index"))
KINDS = {"written_answer": KIND_WRITTEN_ANSWER, "written answer": KIND_WRITTEN_ANSWER, "web_page": KIND_WEB_PAGE, "web page": KIND_WEB_PAGE, "document": "document"}


@dataclass(frozen=True)
class _Snapshot:
    manifest: Manifest
    store: Store
    vectors: VectorIndex
    keyword: KeywordIndex
    manifest_mtime: int


def _load_snapshot(directory: Path) -> _Snapshot:
    manifest_path = directory / MANIFEST_NAME
    manifest = read_manifest(directory)
    mtime = manifest_path.stat().st_mtime_ns
    generation = directory / manifest.generation
    hint = f"rebuild it with `sendsearch build --index {directory}`"
    for name in ("store.sqlite", "vectors.faiss", "keyword"):
        if not (generation / name).exists():
            raise IndexFormatError(f"the index at {directory} is incomplete ({manifest.generation}/{name} is missing); {hint}")
    try:
        store = Store(generation / "store.sqlite")
        documents, chunks = store.counts()
        vectors = VectorIndex.load(generation / "vectors.faiss", manifest.vectors.get("kind", "flat"), manifest.vectors.get("ef_search", HNSW_EF_SEARCH))
        keyword = KeywordIndex.load(generation / "keyword")
    except (OSError, RuntimeError, ValueError, KeyError, TypeError, sqlite3.Error) as error:
        # FAISS reports a bad file as RuntimeError, SQLite as DatabaseError.
        raise IndexFormatError(f"the index at {directory} is damaged ({error}); {hint}") from None
    if (documents, chunks) != (manifest.documents, manifest.chunks) or len(vectors) != chunks or len(keyword.chunk_ids) != chunks:
        raise IndexFormatError(f"the index at {directory} is inconsistent (its parts disagree on the number of chunks); {hint}")
    if vectors.dimension != manifest.dimension:
        raise IndexFormatError(f"the vectors in {directory} do not have the manifest's dimension; {hint}")
    return _Snapshot(manifest, store, vectors, keyword, mtime)


class Index:
    """A searchable sendsearch index."""

    def __init__(self, directory: Path, snapshot: _Snapshot, *, model: str | None = None, search_config: SearchConfig = SearchConfig()) -> None:
        self.directory = directory
        self._snapshot = snapshot
        self._requested_model = model
        self._reload_lock = threading.Lock()
        self._analyzer = Analyzer()
        self._embedder: Embedder | None = None
        self._filter_cache: OrderedDict[tuple[str, Filters], np.ndarray] = OrderedDict()
        self._filter_lock = threading.Lock()
        self.search_config = search_config

    # -- opening and building -------------------------------------------------------------
    @classmethod
    def open(cls, directory: str | Path = DEFAULT_INDEX, *, model: str | None = None, search_config: SearchConfig = SearchConfig()) -> Index:
        """Open an index, checking its manifest. ``model`` (or ``SENDSEARCH_MODEL``) must be
        the model it was built with, since queries must be embedded the same way."""
        directory = Path(directory)
        snapshot = _load_snapshot(directory)
        wanted = model or os.environ.get("SENDSEARCH_MODEL")
        if wanted and wanted != snapshot.manifest.model:
            raise ModelMismatchError(
                f"the index at {directory} was built with the model {snapshot.manifest.model!r}, not {wanted!r}; "
                f"rebuild it with `sendsearch build --model {wanted} --index {directory}`, or use the index's model"
            )
        return cls(directory, snapshot, model=snapshot.manifest.model, search_config=search_config)

    @classmethod
    def build(cls, paths: Sequence[str | Path], directory: str | Path = DEFAULT_INDEX, *, model: str | None = None, embedder: Embedder | None = None, config: IndexConfig = IndexConfig(), progress: bool = False) -> tuple[Index, BuildReport]:
        """Build an index of files and folders, publish it and open it."""
        embedder = embedder or load_embedder(configured_model(model))
        report = build_index(paths, Path(directory), embedder, config=config, progress=progress)
        index = cls.open(directory, model=embedder.name)
        index._embedder = embedder
        return index, report

    def add(self, paths: Sequence[str | Path], *, progress: bool = False, source_prefix: str | None = None) -> BuildReport:
        """Add or replace documents from files; unchanged documents are left as they are."""
        report = update_index(self.directory, self.embedder, add=paths, progress=progress, source_prefix=source_prefix)
        self.reload()
        return report

    def remove(self, doc_ids: Sequence[str]) -> BuildReport:
        """Remove documents by id."""
        report = update_index(self.directory, self.embedder, remove=doc_ids)
        self.reload()
        return report

    # -- state ----------------------------------------------------------------------------
    @property
    def manifest(self) -> Manifest:
        return self._current().manifest

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            embedder = load_embedder(self.manifest.model)
            if embedder.dimension != self.manifest.dimension:
                raise ModelMismatchError(
                    f"the model {embedder.name!r} makes {embedder.dimension}-dimensional vectors but the index "
                    f"holds {self.manifest.dimension}; rebuild with `sendsearch build --index {self.directory}`"
                )
            self._embedder = embedder
        return self._embedder

    def reload(self) -> bool:
        """Load the published generation if it is not the one in use; True if it changed."""
        with self._reload_lock:
            current = self._snapshot
            try:
                mtime = (self.directory / MANIFEST_NAME).stat().st_mtime_ns
            except OSError:
                return False  # the index was moved away: keep serving what is loaded
            if mtime == current.manifest_mtime:
                return False
            fresh = _load_snapshot(self.directory)
            if fresh.manifest.generation == current.manifest.generation:
                return False
            self._snapshot = fresh
            return True

    def _current(self) -> _Snapshot:
        try:
            self.reload()
        except SendSearchError:
            pass  # a damaged new manifest must not stop the loaded index from serving
        return self._snapshot

    def document_text(self, doc_id: str) -> str | None:
        """The cleaned full text of a document (for "show the full answer")."""
        return self._current().store.document_text(doc_id)

    def info(self) -> dict[str, Any]:
        """The manifest plus what the store knows (departments, dates), for `sendsearch info`."""
        snapshot = self._current()
        first, last = snapshot.store.date_range()
        return {
            "index": str(self.directory),
            **{k: v for k, v in snapshot.manifest.__dict__.items()},
            "date_range": [first, last],
            "departments": snapshot.store.departments(),
        }

    # -- searching ------------------------------------------------------------------------
    def plan(self, query: str, config: SearchConfig | None = None) -> QueryPlan:
        """How each side will read a query: BM25 terms (with SEND concepts) and the dense text."""
        config = config or self.search_config
        text = clean_query(query)
        words = self._analyzer.terms(text)
        terms = dict.fromkeys(words, 1.0)
        if config.phrase_weight > 0:
            for pair in self._analyzer.pairs(words):
                terms.setdefault(pair, config.phrase_weight)
        dense_text, concepts, matched = expand_query(text)
        if config.concept_weight > 0:
            for spelling in matched:
                for term in self._analyzer.terms(spelling):
                    terms[term] = min(terms.get(term, 1.0), config.literal_weight)
            terms.update(dict.fromkeys(concepts, config.concept_weight))
        return QueryPlan(text=text, dense_text=dense_text if config.expand_dense else text, terms=terms)

    def _allowed(self, snapshot: _Snapshot, filters: Filters) -> np.ndarray | None:
        if not filters:
            return None
        key = (snapshot.manifest.generation, filters)
        with self._filter_lock:
            cached = self._filter_cache.get(key)
        if cached is None:
            cached = snapshot.store.filtered_chunk_ids(filters)
            with self._filter_lock:
                self._filter_cache[key] = cached
                while len(self._filter_cache) > 64:
                    self._filter_cache.popitem(last=False)
        return cached

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        date_from: date | str | None = None,
        date_to: date | str | None = None,
        department: str | None = None,
        kind: str | None = None,
        mode: Mode = "hybrid",
        **overrides: Any,
    ) -> list[Passage]:
        """The ``k`` passages that best answer ``query``, at most one per document.

        Filters: ``date_from``/``date_to`` (answered date, or asked date where the answer
        date is unknown; inclusive), ``department`` (exact name as in ``info()``), ``kind``
        ("written_answer" or "web_page"). ``mode`` runs one side alone, for comparison.
        Raises ``QueryError`` (a ``ValueError``) for an empty query or a bad filter.
        """
        if not isinstance(k, int) or k < 1:
            raise QueryError("k must be a positive whole number")
        config = self.search_config.with_overrides(**overrides) if overrides else self.search_config
        plan = self.plan(query, config)
        filters = _filters(date_from, date_to, department, kind)
        snapshot = self._current()
        return run_search(
            plan,
            k,
            store=snapshot.store,
            vectors=snapshot.vectors,
            keyword=snapshot.keyword,
            analyzer=self._analyzer,
            encode=self._encode_query,
            allowed=self._allowed(snapshot, filters),
            mode=mode,
            config=config,
        )

    def _encode_query(self, text: str) -> np.ndarray:
        return self.embedder.encode([text])


def _as_date(value: date | str | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise QueryError(f"{name} must be a date like 2024-09-30, not {value!r}") from None


def _filters(date_from: date | str | None, date_to: date | str | None, department: str | None, kind: str | None) -> Filters:
    start, end = _as_date(date_from, "date_from"), _as_date(date_to, "date_to")
    if start and end and start > end:
        raise QueryError(f"date_from ({start}) is after date_to ({end})")
    if kind is not None and kind != "":
        if kind.lower() not in KINDS:
            raise QueryError("kind must be 'written_answer' or 'web_page'")
        kind = KINDS[kind.lower()]
    return Filters(start, end, department or None, kind or None)


@functools.lru_cache(maxsize=8)
def _open_cached(directory: str) -> Index:
    return Index.open(directory)


def search(query: str, k: int = 5, index: str | Path = DEFAULT_INDEX, **filters: Any) -> list[Passage]:
    """Search an index on disk: ``sendsearch.search("How long does an EHC assessment take?")``.

    The index is opened once per process and follows rebuilds. Keyword arguments are the
    filters of ``Index.search``.
    """
    return _open_cached(str(Path(index).resolve())).search(query, k, **filters)
