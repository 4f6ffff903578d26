"""Building and updating an index: documents in, a new published generation out.

Every build or update writes a fresh generation folder and publishes it by replacing
``manifest.json`` (see ``manifest.py``); until then the previous index keeps serving. The
embedding cache lives outside the generations, so an interrupted build loses no finished
vectors and a rerun of the same command carries on where it stopped.

An interruption (Ctrl-C, SIGTERM, an error) at any moment leaves the old index or the new
one, whole: the new generation is removed only while no manifest names it. A folder that
cannot be written (read-only, full disk) is a one-line SendSearchError that says the index
there is unchanged. ``manifest.step`` marks each moment, for the tests that interrupt there.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
import re
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ..durable import Busy, exclusive
from ..errors import IndexBusyError, NothingToIndexError, SendSearchError
from ..schema import Chunk, Document, Skipped
from ..sources.readers import ReadReport, SkipLog, read_paths
from ..text.analysis import Analyzer
from ..version import __version__
from . import manifest as manifest_module
from .chunking import chunk_documents
from .config import IndexConfig, config_from_manifest
from .embedding import Embedder, EmbeddingCache, VectorCache, embed_with_cache, relevance_of
from .layout import CACHE_PATH, GENERATION_PREFIX, LOCK_NAME
from .manifest import (
    MANIFEST_NAME,
    Manifest,
    read_manifest,
    record_files,
    remove_stale_temporaries,
    write_manifest,
)
from .writer import Written, open_writer

__all__ = ["STORE", "BuildReport", "build_index", "update_index"]

# The store new indexes are written in (``writer.register_store``; the manifest records it).
STORE = "folder"


@dataclass
class BuildReport:
    """What a build or update did, for the summary a person reads."""

    index: Path | str  # a folder, or a database as ``postgres.connection.shown`` names it
    documents: int = 0
    chunks: int = 0
    files: int = 0
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    removed: int = 0
    withdrawn: int = 0  # withdrawn questions left out
    not_found: list[str] = field(default_factory=list)
    # Every skipped input is counted (skipped.total); the first few dozen keep their reasons.
    skipped: SkipLog = field(default_factory=SkipLog)
    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0
    published: bool = False

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["index"] = str(self.index)
        data["skipped"] = [str(s) for s in self.skipped]
        data["skipped_count"] = self.skipped.total
        return data


@contextmanager
def index_lock(directory: Path) -> Iterator[None]:
    """Hold the index's write lock: one build or update at a time; readers never wait."""
    with ExitStack() as held:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            held.enter_context(exclusive(directory / LOCK_NAME))
        except Busy:
            raise IndexBusyError(f"another build or update is running on {directory}; try again when it ends") from None
        except OSError as error:
            raise SendSearchError(f"cannot write to {directory}: {_reason(error)}; {_unchanged(directory)}") from None
        remove_stale_temporaries(directory)  # left by a writer that was killed mid-publish
        yield


# numpy's message for a write the disk cut short: "216690 requested and 83936 written".
_SHORT_WRITE = re.compile(r"^(\d+) requested and (\d+) written$")
_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def _reason(error: BaseException) -> str:
    """Why a write failed, in words (the errno's, or the library's)."""
    if isinstance(error, OSError) and error.errno in _FULL:
        return f"the disk is full ({error.strerror})"
    short = _SHORT_WRITE.match(str(error))
    if short:
        return f"the disk is full (a write of {int(short[1]):,} bytes stopped after {int(short[2]):,})"
    if isinstance(error, sqlite3.OperationalError) and "full" in str(error):
        return f"the disk is full ({error})"
    if isinstance(error, sqlite3.OperationalError) and "I/O error" in str(error):
        return f"{error} (is the disk full?)"  # SQLite does not say why a write failed
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


def _unchanged(directory: Path) -> str:
    if _current_generation(directory) is None:
        return "no index was published there"
    return "the index there is unchanged"


def _new_generation(directory: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = directory / f"{GENERATION_PREFIX}{stamp}-{secrets.token_hex(3)}"
    path.mkdir()
    return path


def _collect_garbage(directory: Path, keep: set[str]) -> None:
    """Delete generations other than the current and the previous one (which a reader
    that has not reloaded yet may still be using), and leftovers of interrupted builds."""
    for path in directory.glob(f"{GENERATION_PREFIX}*"):
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def _fingerprint(hashes: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for doc_id in sorted(hashes):
        digest.update(f"{doc_id}\x1f{hashes[doc_id]}\n".encode())
    return digest.hexdigest()


def _check_paths(paths: Sequence[str | Path]) -> None:
    """Refuse, before anything changes, paths that do not exist: a typo is not an empty corpus."""
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise SendSearchError(f"no such file or folder: {', '.join(missing)}; nothing was changed")


def _read_unique(
    paths: Iterable[str | Path],
    report: ReadReport,
    progress: bool,
    config: IndexConfig,
    build: BuildReport,
    source_prefix: str = "",
    follow_links: bool = False,
) -> list[Document]:
    """Documents from paths, the last of any repeated id winning, in first-seen order;
    withdrawn questions left out (and counted) unless the config keeps them."""
    documents: dict[str, Document] = {}
    stream: Iterable[Document] = read_paths(paths, report, source_prefix=source_prefix, follow_links=follow_links)
    if progress:
        from tqdm import tqdm

        stream = tqdm(stream, desc="reading", unit=" docs", leave=False)
    for document in stream:
        documents[document.doc_id] = document
    kept = [d for d in documents.values() if config.include_withdrawn or not d.citation.withdrawn]
    build.withdrawn += len(documents) - len(kept)
    return kept


def _chunk(
    documents: list[Document], embedder: Embedder, config: IndexConfig, report: BuildReport
) -> tuple[list[Document], list[list[Chunk]]]:
    # The model reads at most max_tokens word pieces: no chunk may hold more.
    chunks = chunk_documents(documents, embedder.count_tokens, config.chunking.within(embedder.max_tokens))
    kept_docs, kept_chunks = [], []
    for document, doc_chunks in zip(documents, chunks, strict=False):
        if doc_chunks:
            kept_docs.append(document)
            kept_chunks.append(doc_chunks)
        else:
            report.skipped.append(Skipped(document.citation.source or document.doc_id, "no text to index"))
    return kept_docs, kept_chunks


def _embed(
    documents: Sequence[Document],
    chunks: Sequence[Sequence[Chunk]],
    embedder: Embedder,
    cache: VectorCache,
    config: IndexConfig,
    report: BuildReport,
    progress: bool,
) -> np.ndarray:
    """One unit vector per chunk, from the cache where it holds them."""
    texts: list[str] = []
    contexts: list[str] = []
    for document, doc_chunks in zip(documents, chunks, strict=False):
        context = document.context
        for chunk in doc_chunks:
            if config.context == "prefix" and context:
                texts.append(f"{context}\n{chunk.text}")
            else:
                texts.append(chunk.text)
            contexts.append(context)
    extra = sorted({c for c in contexts if c}) if config.context == "mix" else []
    inputs = texts + extra
    bar = None
    if progress:
        from tqdm import tqdm

        # The total counts texts: every chunk plus each document's heading and question
        # (embedded once as context); text already in the cache goes by without a model call.
        bar = tqdm(total=len(inputs), desc="embedding", unit=" texts", smoothing=0.05)
        bar.set_postfix(docs=len(documents), chunks=len(texts))
    try:
        matrix, embedded = embed_with_cache(inputs, embedder, cache, progress=bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
    report.embedded += embedded
    report.reused += len(inputs) - embedded
    vectors = matrix[: len(texts)]
    if extra:
        row_of = {context: len(texts) + i for i, context in enumerate(extra)}
        weight = config.context_weight
        for i, context in enumerate(contexts):
            if context:
                vectors[i] = (1 - weight) * vectors[i] + weight * matrix[row_of[context]]
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors, dtype=np.float32)


def _manifest(
    generation: Path,
    embedder: Embedder,
    config: IndexConfig,
    written: Written,
    sources: list[str],
    built_at: str | None,
) -> Manifest:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return Manifest(
        generation=generation.name,
        sendsearch_version=__version__,
        model=embedder.name,
        dimension=embedder.dimension,
        chunking=config.chunking.to_dict(),
        keyword=config.keyword.to_dict(),
        embedding=config.embedding_dict(getattr(embedder, "precision", "fp32")),
        reading={"include_withdrawn": config.include_withdrawn},
        vectors=written.settings,
        documents=written.documents,
        chunks=written.chunks,
        corpus_fingerprint=_fingerprint(written.content_hashes),
        built_at=built_at or now,
        updated_at=now,
        sources=sources,
        store=STORE,
        relevance=relevance_of(embedder),
    )


def _embed_chunks(
    directory: Path,
    documents: Sequence[Document],
    chunks: Sequence[Sequence[Chunk]],
    embedder: Embedder,
    config: IndexConfig,
    report: BuildReport,
    progress: bool,
) -> np.ndarray:
    """One vector per chunk, through the index's embedding cache."""
    cache = EmbeddingCache(directory / CACHE_PATH, embedder.dimension)
    try:
        return _embed(documents, chunks, embedder, cache, config, report, progress)
    finally:
        cache.close()


def _publish(directory: Path, generation: Path, manifest: Manifest, previous: str | None) -> None:
    """Record (and flush) every file of the generation, then switch the manifest to it."""
    manifest = dataclasses.replace(manifest, files=record_files(generation))
    manifest_module.step("files recorded")
    # A copy inside the generation says what it is if found on its own; not itself recorded.
    # (No atomic write needed: nothing reads the generation before it is published.)
    with open(generation / MANIFEST_NAME, "w", encoding="utf-8") as handle:
        handle.write(manifest.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    write_manifest(directory, manifest)
    manifest_module.step("published")
    _collect_garbage(directory, {generation.name} | ({previous} if previous else set()))
    manifest_module.step("old generations removed")


@contextmanager
def _generation(directory: Path) -> Iterator[Path]:
    """A new generation folder, removed again if anything stops it before it is published.

    Whether it was published is read from the manifest, not assumed: an interruption just
    after the manifest's rename must leave the new index, not delete what it names."""
    try:
        generation = _new_generation(directory)
    except OSError as error:
        raise SendSearchError(f"cannot write to {directory}: {_reason(error)}; {_unchanged(directory)}") from None
    try:
        yield generation
    except BaseException as error:
        if _current_generation(directory) == generation.name:
            raise
        shutil.rmtree(generation, ignore_errors=True)
        if isinstance(error, OSError | sqlite3.OperationalError):
            raise SendSearchError(
                f"could not write the new index in {directory}: {_reason(error)}; {_unchanged(directory)}"
            ) from None
        raise


def build_index(
    paths: Sequence[str | Path],
    directory: Path,
    embedder: Embedder,
    *,
    config: IndexConfig | None = None,
    progress: bool = False,
    follow_links: bool = False,
) -> BuildReport:
    """Build a complete index of ``paths`` into ``directory`` and publish it.

    Symbolic links inside folders are skipped unless ``follow_links``."""
    started = time.perf_counter()
    config = config or IndexConfig()
    # Recorded as used: the chunk size the model allows, not more.
    config = dataclasses.replace(config, chunking=config.chunking.within(embedder.max_tokens))
    report = BuildReport(index=directory)
    _check_paths(paths)
    with index_lock(directory):
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
        previous = _current_generation(directory)
        with _generation(directory) as generation:
            writer = open_writer(STORE, generation, None, config, embedder.dimension)
            try:
                vectors = _embed_chunks(directory, documents, chunks, embedder, config, report, progress)
                manifest_module.step("embedded")
                writer.add(documents, chunks, vectors, Analyzer().chunk_terms(documents, chunks, config.keyword))
                written = writer.finish()
            finally:
                writer.close()
            manifest = _manifest(generation, embedder, config, written, _sources(paths), None)
            _publish(directory, generation, manifest, previous)
        report.added = len(documents)
        report.documents, report.chunks = manifest.documents, manifest.chunks
        report.published = True
    report.seconds = time.perf_counter() - started
    return report


def _skip_summary(skipped: SkipLog) -> str:
    """What was skipped, for a one-line error: the count, and a reason about a whole file
    (reading stopped, unreadable) when there is one, since it says the most."""
    if not skipped:
        return ""
    whole = [s for s in skipped if s.line is None]
    return f" ({skipped.total:,} skipped, e.g. {whole[-1] if whole else skipped[0]})"


def _sources(paths: Iterable[str | Path]) -> list[str]:
    """Paths as the manifest records them: absolute, so that the advice to rebuild from
    them works from any folder."""
    return [str(Path(p).absolute()) for p in paths]


def _current_generation(directory: Path) -> str | None:
    try:
        return read_manifest(directory).generation
    except SendSearchError:
        return None


def update_index(
    directory: Path,
    embedder: Embedder,
    *,
    add: Sequence[str | Path] = (),
    remove: Sequence[str] = (),
    progress: bool = False,
    source_prefix: str = "",
    follow_links: bool = False,
) -> BuildReport:
    """Add, replace or remove documents in an existing index without re-embedding the rest.

    A document whose id is already indexed is replaced when its content changed and left
    alone when it did not. The result is published as a new generation. Files given with
    a ``source_prefix`` (uploads) are named by it, never by where they sit on the server.
    """
    started = time.perf_counter()
    report = BuildReport(index=directory)
    _check_paths(add)
    with index_lock(directory):
        manifest = read_manifest(directory)
        config = config_from_manifest(manifest, directory)
        read = ReadReport(skipped=report.skipped)
        incoming = _read_unique(add, read, progress, config, report, source_prefix, follow_links) if add else []
        report.files = read.files
        manifest_module.step("read")
        if add and not incoming and not remove:
            given = "the files given" if source_prefix else ", ".join(map(str, add))
            raise NothingToIndexError(
                f"nothing to add: no readable documents in {given}" + _skip_summary(report.skipped)
            )
        try:
            _apply_update(
                directory,
                manifest,
                config,
                incoming,
                remove,
                embedder,
                report,
                progress,
                [source_prefix] if source_prefix else _sources(add),
            )
        except _NothingChanged:
            report.documents, report.chunks = manifest.documents, manifest.chunks
    report.seconds = time.perf_counter() - started
    return report


def _apply_update(
    directory: Path,
    manifest: Manifest,
    config: IndexConfig,
    incoming: list[Document],
    remove: Sequence[str],
    embedder: Embedder,
    report: BuildReport,
    progress: bool,
    sources: Sequence[str],
) -> None:
    """Write and publish the next generation of an update (see ``update_index``)."""
    with _generation(directory) as generation:
        writer = open_writer(
            manifest.store, generation, directory / manifest.generation, config, embedder.dimension, manifest.vectors
        )
        try:
            hashes = writer.content_hashes()
            changed = [d for d in incoming if hashes.get(d.doc_id) != d.content_hash]
            report.unchanged = len(incoming) - len(changed)
            report.replaced = sum(1 for d in changed if d.doc_id in hashes)
            report.added = len(changed) - report.replaced
            to_remove = [doc_id for doc_id in dict.fromkeys(remove) if doc_id in hashes]
            report.not_found = [doc_id for doc_id in dict.fromkeys(remove) if doc_id not in hashes]
            report.removed = len(to_remove)
            if not changed and not to_remove:
                raise _NothingChanged()
            writer.remove([d.doc_id for d in changed if d.doc_id in hashes] + to_remove)
            changed, chunks = _chunk(changed, embedder, config, report)
            vectors = _embed_chunks(directory, changed, chunks, embedder, config, report, progress)
            manifest_module.step("embedded")
            if changed:
                writer.add(changed, chunks, vectors, Analyzer().chunk_terms(changed, chunks, config.keyword))
            written = writer.finish()
        finally:
            writer.close()
        new_sources = [*manifest.sources, *dict.fromkeys(s for s in sources if s not in manifest.sources)]
        new_manifest = _manifest(generation, embedder, config, written, new_sources, manifest.built_at)
        _publish(directory, generation, new_manifest, manifest.generation)
    report.documents, report.chunks = new_manifest.documents, new_manifest.chunks
    report.published = True


class _NothingChanged(Exception):
    """Raised inside the generation context so the unused folder is removed."""
