"""An index on disk, the one door for the CLI, the page and tests: build, open, add, remove, search.

Opening reads ``manifest.json`` first and checks it (format, model) before loading the
components it names. The loaded components form an immutable ``Snapshot``; when a build or
update publishes a new generation, the next search loads it and swaps the snapshot, so a
search in flight always sees one complete generation.

A published generation never changes, so its files are read without locks (SQLite opened
immutable, keyword arrays memory-mapped). Bytes changed under it while it serves would be
served as they are; so every search ends by looking at its files (a ``stat`` each, some
microseconds in all), and a file whose size or times moved is checked against its recorded
checksum again. A damaged generation stops serving (IndexFormatError, one line saying how to
rebuild, logged once) until its files match again or a new generation is published.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, overload

import numpy as np

from .. import settings as environment
from ..errors import IndexFormatError, ModelMismatchError, SendSearchError, damaged_index, index_problem
from ..filters import Filters
from ..indexing.builder import BuildReport, build_index, update_index
from ..indexing.config import IndexConfig, config_from_manifest
from ..indexing.embedding import Embedder, load_embedder, relevance_for
from ..indexing.manifest import MANIFEST_NAME, Manifest, read_manifest, verify_files
from ..schema import Citation, Passage
from ..text.analysis import Analyzer, QueryPlan
from .backend import Backend
from .config import SearchConfig
from .folder.backend import FolderBackend
from .pipeline import Relevance, count_close, run_search
from .postgres.backend import PostgresBackend, open_current
from .postgres.connection import is_database, shown
from .postgres.writer import build_database, update_database
from .request import TIMELINE_POOL, Mode, SearchRequest, SearchResult, Timeline

__all__ = ["Index", "IndexInfo", "Snapshot", "search"]

log = logging.getLogger("sendsearch.index")


def _stat_key(path: str) -> tuple[int, ...] | None:
    """What changes when a file's bytes are written or the file is replaced."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


class _Watch:
    """Notices when a served generation's files change, and whether they still hold their
    recorded bytes. ``look`` is the per-search cost: one ``stat`` per file; a file is read
    (SHA-256) again only when its ``stat`` moved since it was last checked, so a damaged
    index answers each request with its error at the same small cost."""

    def __init__(self, directory: Path, manifest: Manifest) -> None:
        generation = directory / manifest.generation
        self._directory = directory
        self._manifest = manifest
        self._paths = {relative: str(generation / relative) for relative in manifest.files}
        # Taken before the files are verified at open: a change during that check shows later.
        self._seen = {relative: _stat_key(path) for relative, path in self._paths.items()}
        self._problems: dict[str, str] = {}
        self._lock = threading.Lock()
        self.damage: str | None = None

    def look(self) -> bool:
        """True when every file is as it was when last found sound (the fast path)."""
        return self.damage is None and all(_stat_key(path) == self._seen[rel] for rel, path in self._paths.items())

    def check(self) -> tuple[str | None, bool]:
        """Re-check the files whose ``stat`` moved: the damage now found (one line, or None),
        and whether that verdict differs from the last one."""
        with self._lock:
            before = self.damage
            for relative, path in self._paths.items():
                now = _stat_key(path)
                if now == self._seen[relative]:
                    continue
                self._seen[relative] = now
                problem = self._verify(relative, path)
                if problem is None:
                    self._problems.pop(relative, None)
                else:
                    self._problems[relative] = problem
            self.damage = next(iter(self._problems.values()), None)
            return self.damage, (before is None) != (self.damage is None)

    def _verify(self, relative: str, path: str) -> str | None:
        entry = self._manifest.files[relative]
        where = f"{self._manifest.generation}/{relative}"
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                digest = hashlib.file_digest(handle, "sha256").hexdigest() if size == entry["size"] else ""
        except OSError:
            what = f"{where} is missing"
        else:
            if digest == entry["sha256"]:
                return None
            what = f"{where} changed while it was being served"
        return str(damaged_index(self._directory, what, self._manifest.sources))


# The stores a generation can live in, by the name its manifest records (``Manifest.store``).
BACKENDS: dict[str, type[FolderBackend]] = {FolderBackend.name: FolderBackend}


@dataclass(frozen=True)
class Snapshot:
    """One published generation, loaded: its manifest, the ``Backend`` that reads it, and the
    cosines under which its passages are weak matches (``relevance``, for its model)."""

    manifest: Manifest
    backend: Backend
    relevance: Relevance
    # The folder store's: when its manifest was written, and its files' watch. The
    # PostgreSQL store's: the generation's id, and no files to watch.
    manifest_mtime: int
    watch: _Watch | None


def _relevance(manifest: Manifest) -> Relevance:
    """The weak-match cosines the manifest records; an index built before they were recorded
    takes those of its model from the table of known models."""
    recorded = manifest.relevance if manifest.relevance is not None else relevance_for(manifest.model)
    return Relevance(recorded.get("floor"), recorded.get("term_check_below"))


def _load_snapshot(directory: Path) -> Snapshot:
    """Load the published generation, checking first what is cheap to check: the manifest's
    fields, the generation's place, every file's size and checksum, then that the parts agree.
    Anything wrong is an IndexFormatError saying how to rebuild from the index's sources."""
    manifest_path = directory / MANIFEST_NAME
    manifest = read_manifest(directory)
    mtime = manifest_path.stat().st_mtime_ns
    generation = directory / manifest.generation
    sources = manifest.sources
    if generation.is_symlink() or not generation.is_dir():
        raise index_problem(directory, f"is incomplete ({manifest.generation} is not a folder inside it)", sources)
    kind = BACKENDS.get(manifest.store)
    if kind is None:
        raise index_problem(
            directory, f"is kept in a store this sendsearch does not know ({manifest.store!r})", sources
        )
    missing = kind.missing_part(generation)
    if missing is not None:
        raise index_problem(directory, f"is incomplete ({manifest.generation}/{missing} is missing)", sources)
    watch = _Watch(directory, manifest)
    verify_files(directory, manifest)
    config_from_manifest(manifest, directory)
    return Snapshot(manifest, kind.open(directory, manifest), _relevance(manifest), mtime, watch)


@dataclass(frozen=True)
class IndexInfo:
    """What an index holds and how it was made, for ``sendsearch info`` and the page's status line."""

    directory: Path | str
    generation: str
    documents: int
    chunks: int
    model: str
    dimension: int
    precision: str
    vectors: str
    max_tokens: int
    overlap_tokens: int
    built_at: str
    updated_at: str
    corpus_fingerprint: str
    sendsearch_version: str
    format_version: int
    date_range: tuple[date | None, date | None]
    departments: list[tuple[str, int]] = field(default_factory=list)
    kinds: list[tuple[str, int]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["directory"] = str(self.directory)
        data["date_range"] = [d.isoformat() if d else None for d in self.date_range]
        return data


class Index:
    """A searchable sendsearch index. Make one with ``Index.open`` or ``Index.build``."""

    def __init__(
        self,
        directory: Path,
        snapshot: Snapshot,
        *,
        embedder: Embedder | None,
        settings: SearchConfig,
        dsn: str | None = None,
    ) -> None:
        self.directory = directory
        # A PostgreSQL store's address (``--store``), else None: the index is the folder.
        self.dsn = dsn
        self.settings = settings
        self._snapshot = snapshot
        self._embedder = embedder
        self._analyzer = Analyzer()
        self._reload_lock = threading.Lock()
        self._examined_mtime: int | None = None
        self._embedder_lock = threading.Lock()

    # -- opening and building -------------------------------------------------------------
    @classmethod
    def open(
        cls,
        directory: str | Path | None = None,
        *,
        embedder: Embedder | None = None,
        model: str | None = None,
        settings: SearchConfig | None = None,
    ) -> Index:
        """Open the index in ``directory`` (default ``SENDSEARCH_STORE``, else ``SENDSEARCH_INDEX``
        or ``index``): a folder, or a PostgreSQL database given as ``postgresql://...``.

        Questions must be embedded by the model the index was built with: ``embedder``
        (any object with the ``Embedder`` methods) or ``model`` (or ``SENDSEARCH_MODEL``)
        is checked against the manifest; without either, the index's own model is loaded
        when the first question needs it. ``settings`` sets how searches rank.
        """
        location = _location(directory)
        wanted = embedder.name if embedder is not None else model or environment.model()
        if isinstance(location, str):
            snapshot = _load_database(location)
            _check_model(Path(shown(location)), snapshot.manifest, wanted)
            _check_precision(Path(shown(location)), snapshot.manifest, embedder)
            return cls(
                Path(shown(location)), snapshot, embedder=embedder, settings=settings or SearchConfig(), dsn=location
            )
        snapshot = _load_snapshot(location)
        _check_model(location, snapshot.manifest, wanted)
        _check_precision(location, snapshot.manifest, embedder)
        return cls(location, snapshot, embedder=embedder, settings=settings or SearchConfig())

    @classmethod
    def build(
        cls,
        paths: Sequence[str | Path],
        directory: str | Path | None = None,
        *,
        embedder: Embedder | None = None,
        model: str | None = None,
        index_config: IndexConfig | None = None,
        settings: SearchConfig | None = None,
        progress: bool = False,
        follow_links: bool = False,
    ) -> tuple[Index, BuildReport]:
        """Build an index of files and folders into ``directory``, publish it and open it.

        Replaces any index already there (atomically: searches keep being answered from
        the old one until the new one is complete). Raises ``SendSearchError`` for a path
        that does not exist, before anything is changed. Symbolic links inside folders
        are skipped unless ``follow_links``."""
        location = _location(directory)
        embedder = embedder or load_embedder(model)
        build = build_database if isinstance(location, str) else build_index
        report = build(
            paths,
            location,  # type: ignore[arg-type]
            embedder,
            config=index_config or IndexConfig(),
            progress=progress,
            follow_links=follow_links,
        )
        return cls.open(location, embedder=embedder, settings=settings), report

    def add(
        self,
        paths: Sequence[str | Path],
        *,
        progress: bool = False,
        source_prefix: str = "",
        follow_links: bool = False,
    ) -> BuildReport:
        """Add or replace documents from files; unchanged documents are left as they are.

        ``source_prefix`` goes before each file's path in its citation ("uploaded/").
        Symbolic links inside folders are skipped unless ``follow_links``."""
        report = self._update(
            add=paths,
            progress=progress,
            source_prefix=source_prefix,
            follow_links=follow_links,
        )
        self.reload()
        return report

    def remove(self, doc_ids: Sequence[str]) -> BuildReport:
        """Remove documents by id."""
        report = self._update(remove=doc_ids)
        self.reload()
        return report

    def _update(self, **changes: Any) -> BuildReport:
        if self.dsn is not None:
            return update_database(self.dsn, self.embedder, **changes)
        return update_index(self.directory, self.embedder, **changes)

    # -- state ----------------------------------------------------------------------------
    @property
    def manifest(self) -> Manifest:
        return self.snapshot().manifest

    @property
    def embedder(self) -> Embedder:
        """The model that embeds questions: the one given, else the index's own, loaded once."""
        with self._embedder_lock:
            if self._embedder is None:
                manifest = self._snapshot.manifest
                precision = query_precision(str(manifest.embedding.get("precision", "fp32")), environment.precision())
                embedder = load_embedder(manifest.model, precision=precision)
                # A registered embedder is returned whatever precision was asked for.
                _check_precision(self.directory, manifest, embedder)
                if embedder.dimension != manifest.dimension:
                    raise ModelMismatchError(
                        f"the model {embedder.name!r} makes {embedder.dimension}-dimensional vectors but the index "
                        f"holds {manifest.dimension}; rebuild with `sendsearch build --index {self.directory}`"
                    )
                self._embedder = embedder
            return self._embedder

    def reload(self) -> bool:
        """Load the published generation if it is not the one in use; True if it changed."""
        if self.dsn is not None:
            return self._reload_database(self.dsn)
        with self._reload_lock:
            current = self._snapshot
            try:
                mtime = (self.directory / MANIFEST_NAME).stat().st_mtime_ns
            except OSError:
                return False  # the index was moved away: keep serving what is loaded
            if mtime in (current.manifest_mtime, self._examined_mtime):
                return False
            # Looked at once per published manifest, good or damaged: opening checks every
            # file's checksum, which searches must not pay again and again.
            self._examined_mtime = mtime
            fresh = _load_snapshot(self.directory)
            if fresh.manifest.generation == current.manifest.generation:
                return False
            self._snapshot = fresh
            return True

    def _reload_database(self, dsn: str) -> bool:
        """Pick up the generation published now: one indexed read of one row per search."""
        current = self._snapshot
        backend = current.backend
        published = backend.published() if isinstance(backend, PostgresBackend) else None
        if published is None or published == current.manifest_mtime:
            return False
        with self._reload_lock:
            if self._snapshot.manifest_mtime == published:
                return False
            self._snapshot = _load_database(dsn)
            return True

    def snapshot(self) -> Snapshot:
        """The generation searches use now, after picking up a newly published one."""
        # A damaged new manifest must not stop the loaded index from serving.
        with contextlib.suppress(SendSearchError):
            self.reload()
        return self._snapshot

    def document_text(self, doc_id: str) -> str | None:
        """The cleaned full text of a document (for "show the full answer")."""
        snapshot = self.snapshot()
        text = snapshot.backend.document_text(doc_id)
        self._served(snapshot)
        return text

    def citations(self, doc_ids: Sequence[str]) -> dict[str, Citation]:
        """The citation of each of some documents (those the index holds)."""
        snapshot = self.snapshot()
        found = snapshot.backend.citations(doc_ids)
        self._served(snapshot)
        return found

    def info(self) -> IndexInfo:
        """What the index holds: counts, model, settings, dates, departments and kinds."""
        snapshot = self.snapshot()
        manifest, backend = snapshot.manifest, snapshot.backend
        details = IndexInfo(
            directory=shown(self.dsn) if self.dsn is not None else self.directory,
            generation=manifest.generation,
            documents=manifest.documents,
            chunks=manifest.chunks,
            model=manifest.model,
            dimension=manifest.dimension,
            precision=str(manifest.embedding.get("precision", "fp32")),
            vectors=str(manifest.vectors.get("kind", "flat")),
            max_tokens=int(manifest.chunking["max_tokens"]),
            overlap_tokens=int(manifest.chunking["overlap_tokens"]),
            built_at=manifest.built_at,
            updated_at=manifest.updated_at,
            corpus_fingerprint=manifest.corpus_fingerprint,
            sendsearch_version=manifest.sendsearch_version,
            format_version=manifest.format_version,
            date_range=backend.date_range(),
            departments=backend.departments(),
            kinds=backend.kinds(),
            sources=list(manifest.sources),
        )
        self._served(snapshot)
        return details

    def documents(self, filters: Filters) -> list[tuple[str, Citation]]:
        """Every document that passes ``filters`` (at least one set), with its citation,
        newest first (by the date the filters use; undated ones last)."""
        if not filters:
            raise ValueError("documents() lists the documents that pass some filter; none was given")
        backend = self.snapshot().backend
        allowed = backend.allowed(filters)
        if allowed is None or not len(allowed):
            return []
        doc_ids = sorted({found.doc_id for found in backend.chunk_documents(allowed).values()})
        citations = backend.citations(doc_ids)
        return sorted(citations.items(), key=_newest_first)

    # -- searching ------------------------------------------------------------------------
    def plan(self, query: str, settings: SearchConfig | None = None) -> QueryPlan:
        """How each side will read a query: BM25 terms and pairs (with SEND concepts) and the dense text."""
        return (settings or self.settings).plan(self._analyzer, query)

    @overload
    def search(self, request: SearchRequest, /) -> SearchResult: ...
    @overload
    def search(
        self,
        question: str,
        k: int = 5,
        *,
        mode: Mode = "hybrid",
        settings: SearchConfig | None = None,
        **filters: Any,
    ) -> SearchResult: ...
    def search(
        self,
        question: str | SearchRequest,
        k: int = 5,
        *,
        mode: Mode = "hybrid",
        settings: SearchConfig | None = None,
        **filters: Any,
    ) -> SearchResult:
        """The passages that best answer a question, at most one per document, best first.

        Takes a ``SearchRequest``, or its parts: ``index.search("EHC plan delays", 10,
        date_from="2024-01-01", kind="written_answer")`` is
        ``index.search(SearchRequest.parse("EHC plan delays", 10, date_from="2024-01-01",
        kind="written_answer"))``. Filters (``filters.FILTERS``): ``date_from``/``date_to``
        (answered date, else asked date, else the asked date estimated from a written
        question's number; inclusive; dates or "YYYY-MM-DD"), ``department`` (as listed by
        ``info()``, any case), ``kind`` ("written_answer" or "web_page"), and
        ``include_undated`` (documents with no date at all pass a date filter only with it).
        ``mode`` runs one side alone, for comparison; ``settings`` overrides the index's
        ranking settings. Raises ``QueryError`` (a ``ValueError``) for an empty question, a
        bad filter or ``k``; IndexFormatError when the index's files are found damaged.
        """
        if isinstance(question, SearchRequest):
            request = question
        else:
            request = SearchRequest.parse(question, k, mode=mode, settings=settings, **filters)
        settings = request.settings or self.settings
        SearchRequest.check_question(request.question)
        plan = settings.plan(self._analyzer, request.question)
        snapshot = self.snapshot()
        if snapshot.watch is not None and snapshot.watch.damage is not None:
            self._served(snapshot)  # refuse at once, unless the files were repaired
            snapshot = self.snapshot()
        allowed = snapshot.backend.allowed(request.filters)
        # The question is embedded once, whichever searches this request runs.
        encode = _once(self._encode_query)
        passages = self._run(snapshot, plan, request, settings, allowed, encode)
        timeline = None
        if request.sort == "newest" or request.timeline:
            # The best matches of a wider pool: the newest of those above the floor come
            # first, and the timeline counts them.
            wide = self._run(snapshot, plan, dataclasses.replace(request, k=TIMELINE_POOL), settings, allowed, encode)
            timeline = Timeline.of(wide) if request.timeline else None
            if request.sort == "newest":
                passages = _newest(wide, request.k)
        undated = self._undated_left_out(snapshot, plan, request, settings, allowed, encode)
        # After the search: a change before or during it must not reach the caller.
        self._served(snapshot)
        return SearchResult(request, tuple(passages), undated_left_out=undated, timeline=timeline)

    def _run(
        self,
        snapshot: Snapshot,
        plan: QueryPlan,
        request: SearchRequest,
        settings: SearchConfig,
        allowed: np.ndarray | None,
        encode: Callable[[str], np.ndarray],
    ) -> list[Passage]:
        return run_search(
            plan,
            request.k,
            backend=snapshot.backend,
            analyzer=self._analyzer,
            encode=encode,
            allowed=allowed,
            mode=request.mode,
            settings=settings,
            relevance=snapshot.relevance,
        )

    def _undated_left_out(
        self,
        snapshot: Snapshot,
        plan: QueryPlan,
        request: SearchRequest,
        settings: SearchConfig,
        kept: np.ndarray | None,
        encode: Callable[[str], np.ndarray],
    ) -> int:
        """How many documents without any date a date filter kept out (``kept`` is what it
        let through) that match the question (above the relevance floor), at most ``k``: the
        same search over the undated documents alone, counted rather than made into passages
        (``count_close``), with the question's vector the first search made. Those are
        usually a few pages, so it costs little, and nothing when the filters leave none out."""
        filters = request.filters
        if filters.include_undated or not (filters.date_from or filters.date_to):
            return 0
        wider = snapshot.backend.allowed(dataclasses.replace(filters, include_undated=True))
        if wider is None or kept is None or len(wider) == len(kept):
            return 0
        undated = np.setdiff1d(wider, kept, assume_unique=True)
        # Whether a passage matches is judged on its own (cosine, the question's words), so
        # the expanded second reading (feedback) that orders the best ones is not needed.
        return count_close(
            plan,
            request.k,
            backend=snapshot.backend,
            encode=encode,
            allowed=undated,
            mode=request.mode,
            settings=settings.with_(feedback_docs=0),
            relevance=snapshot.relevance,
        )

    def _served(self, snapshot: Snapshot) -> None:
        """Raise IndexFormatError if the files of the generation just used no longer hold
        their recorded bytes (see the module's docstring); pick the index up again once
        they do."""
        if snapshot.watch is None or snapshot.watch.look():
            return
        damage, changed = snapshot.watch.check()
        if damage is None:
            if changed:  # repaired in place: load it afresh, not through the old handles
                with self._reload_lock:
                    if self._snapshot is snapshot:
                        self._snapshot = _load_snapshot(self.directory)
            return
        if changed:
            log.error("%s", damage)
        raise IndexFormatError(damage)

    def _encode_query(self, text: str) -> np.ndarray:
        return self.embedder.encode_query([text])


def _once(encode: Callable[[str], np.ndarray]) -> Callable[[str], np.ndarray]:
    """``encode``, remembering its vectors for the one request it serves (a few texts at most)."""
    vectors: dict[str, np.ndarray] = {}

    def once(text: str) -> np.ndarray:
        if text not in vectors:
            vectors[text] = encode(text)
        return vectors[text]

    return once


def _location(directory: str | Path | None) -> Path | str:
    """Where an index lives: a PostgreSQL DSN (str), or a folder (Path); by default
    ``SENDSEARCH_STORE``, else ``SENDSEARCH_INDEX``, else ``index``."""
    if directory is None:
        directory = environment.store() or environment.index_dir()
    if isinstance(directory, str) and is_database(directory):
        return directory.strip()
    return Path(directory)


def _load_database(dsn: str) -> Snapshot:
    """The generation a database publishes now (``postgres.backend.open_current``)."""
    generation, manifest, backend = open_current(dsn)
    config_from_manifest(manifest, Path(shown(dsn)))
    return Snapshot(manifest, backend, _relevance(manifest), generation, None)


def _newest(passages: Sequence[Passage], k: int) -> list[Passage]:
    """The ``k`` newest passages above the relevance floor (undated ones after the dated,
    by relevance), then weak matches by relevance if fewer; numbered in that order."""
    close = [p for p in passages if not p.weak_match]
    close.sort(key=lambda p: _newest_first((p.doc_id, p.citation))[:2])
    chosen = (close + [p for p in passages if p.weak_match])[:k]
    return [dataclasses.replace(p, rank=number) for number, p in enumerate(chosen, start=1)]


def _newest_first(item: tuple[str, Citation]) -> tuple[bool, int, str]:
    citation = item[1]
    day = citation.date_answered or citation.date_asked or citation.date_asked_estimated
    return (day is None, -day.toordinal() if day else 0, item[0])


def _check_model(directory: Path, manifest: Manifest, wanted: str | None) -> None:
    if wanted and wanted != manifest.model:
        raise ModelMismatchError(
            f"the index at {directory} was built with the model {manifest.model!r}, not {wanted!r}; "
            f"rebuild it with `sendsearch build --model {wanted} --index {directory}`, or use the index's model"
        )


def query_precision(index_precision: str, wanted: str) -> str:
    """The precision to encode an index's questions in, given the one the settings ask for.

    int8 vectors and float ones differ (cosine 0.997): an int8 index is asked in int8 whatever
    the settings say, and a float one never in int8 but in its own precision. Between fp32 and
    bf16 (cosine 0.9999) the settings choose, as they always have."""
    if index_precision == "int8":
        return "int8"
    return index_precision if wanted == "int8" else wanted


def _check_precision(directory: Path, manifest: Manifest, embedder: Embedder | None) -> None:
    """An embedder given to ``Index.open`` must quantise as the index's vectors were made."""
    if embedder is None:
        return
    built = str(manifest.embedding.get("precision", "fp32"))
    given = str(getattr(embedder, "precision", "fp32"))
    if (built == "int8") != (given == "int8"):
        raise ModelMismatchError(
            f"the index at {directory} holds {built} vectors but the model given computes {given}; "
            f"open it with SENDSEARCH_PRECISION={'int8' if built == 'int8' else 'fp32'} or rebuild it"
        )


@functools.lru_cache(maxsize=8)
def _open_cached(directory: Path) -> Index:
    return Index.open(directory)


def search(question: str, k: int = 5, *, index: str | Path | None = None, **filters: Any) -> SearchResult:
    """Search an index on disk: ``sendsearch.search("How long does an EHC assessment take?")``.

    ``index`` defaults to ``SENDSEARCH_INDEX`` or ``index``. The index is opened once per
    process and follows rebuilds. The filters are those of ``Index.search``.
    """
    directory = Path(index) if index is not None else environment.index_dir()
    return _open_cached(directory.resolve()).search(question, k, **filters)
