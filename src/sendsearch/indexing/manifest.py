"""The index manifest: what an index holds and how it was made, and the switch that publishes it.

An index directory holds generation folders (``gen-...``) and one ``manifest.json``
naming the current one. A build or update writes a complete new generation, flushes every
file of it to disk, records their sizes and SHA-256 sums in the manifest, then replaces
``manifest.json`` in one atomic rename: a crash, Ctrl-C, full disk or power cut before
that rename leaves the previous manifest, and so the previous index, untouched. Opening
an index checks the files against the sums, so damage on disk is reported, not served.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..durable import atomic_write, fsync_dir, remove_temporaries
from ..errors import IndexFormatError, IndexNotFoundError, damaged_index, index_problem, rebuild_hint
from .layout import MANIFEST_NAME

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "Manifest",
    "read_manifest",
    "record_files",
    "remove_stale_temporaries",
    "step",
    "verify_files",
    "write_manifest",
]

FORMAT = "sendsearch-index"
# 2: the store keeps one column per citation field (schema.Citation).
# 3: the store keeps dates estimated from question numbers; every file's checksum is recorded.
FORMAT_VERSION = 3
# A generation is a folder directly inside the index, named by the builder; a manifest
# naming anything else ("../elsewhere/gen-1") is refused rather than followed.
_GENERATION_NAME = re.compile(r"gen-[0-9A-Za-z_-]{1,100}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Manifest:
    """Everything needed to load an index and to tell whether it can serve a request."""

    generation: str
    sendsearch_version: str
    model: str
    dimension: int
    chunking: dict[str, Any]
    keyword: dict[str, Any]
    embedding: dict[str, Any]
    vectors: dict[str, Any]
    documents: int
    chunks: int
    corpus_fingerprint: str
    built_at: str
    updated_at: str
    sources: list[str] = field(default_factory=list)
    reading: dict[str, Any] = field(default_factory=dict)
    # Every file of the generation (path inside it -> {"size": bytes, "sha256": hex}); a
    # manifest without them is refused.
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Where the generation's data lives: the name of its store ("folder": FAISS, bm25s and
    # SQLite files in the generation folder); an index from before stores had names is one.
    store: str = "folder"
    # The cosines under which a passage is a weak match, for the index's model: {"floor":
    # 0.30, "term_check_below": 0.45} for all-MiniLM-L6-v2 (embedding.KNOWN_RELEVANCE), {}
    # for a model with none known. None: recorded before they were (the model's are used).
    relevance: dict[str, float] | None = None
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path) -> Manifest:
        directory = where.parent
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as error:
            reason = error.msg if isinstance(error, json.JSONDecodeError) else "nested too deeply"
            raise IndexFormatError(f"{where} is not valid JSON ({reason}); {rebuild_hint(directory)}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise IndexFormatError(f"{where} is not a sendsearch manifest; {rebuild_hint(directory)}")
        hint = rebuild_hint(directory, _sources(data))
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise IndexFormatError(
                f"the index at {directory} has format version {version}, and this sendsearch reads "
                f"version {FORMAT_VERSION}; {hint}"
            )
        known = {f.name for f in fields(cls)}
        missing = known - data.keys() - {"sources", "reading", "files", "store", "relevance"}
        if missing:
            raise IndexFormatError(f"{where} lacks {', '.join(sorted(missing))}; {hint}")
        problem = _problem(data)
        if problem:
            raise IndexFormatError(f"{where} is damaged ({problem}); {hint}")
        if not data.get("files") and data.get("store", "folder") == "folder":
            # Without them, bytes changed on disk could only be told from content by luck.
            raise index_problem(directory, "records no checksums of its files", _sources(data))
        return cls(**{k: v for k, v in data.items() if k in known})


# What each manifest field must be; a manifest that breaks this is damaged, and says so
# before any of its values is used.
_TYPES: dict[str, type | tuple[type, ...]] = {
    "generation": str,
    "sendsearch_version": str,
    "model": str,
    "dimension": int,
    "chunking": dict,
    "keyword": dict,
    "embedding": dict,
    "vectors": dict,
    "documents": int,
    "chunks": int,
    "corpus_fingerprint": str,
    "built_at": str,
    "updated_at": str,
    "sources": list,
    "reading": dict,
    "files": dict,
    "store": str,
    "relevance": dict,
}


def _problem(data: dict[str, Any]) -> str | None:
    """What is wrong with a parsed manifest's fields, or None (checked in this order)."""
    for check in (_type_problem, _value_problem, _file_problem):
        problem = check(data)
        if problem is not None:
            return problem
    return None


def _type_problem(data: dict[str, Any]) -> str | None:
    """A field of the wrong type (a number where text belongs, a flag where a count does)."""
    for name, kind in _TYPES.items():
        value = data.get(name)
        if name == "relevance" and value is None:
            continue  # recorded before weak-match cosines were
        if name in data and (not isinstance(value, kind) or isinstance(value, bool)):
            return f"'{name}' is {type(value).__name__}, not {getattr(kind, '__name__', kind)}"
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _value_problem(data: dict[str, Any]) -> str | None:
    """A field of the right type with a value no index has."""
    for key, value in (data.get("relevance") or {}).items():
        if key not in ("floor", "term_check_below") or not _is_number(value):
            return f"'relevance' holds {key[:40]!r}: {str(value)[:40]}, not a cosine"
    if not _GENERATION_NAME.fullmatch(data["generation"]):
        return f"'generation' names {data['generation'][:80]!r}, not a generation folder inside the index"
    for name in ("dimension", "documents", "chunks"):
        if data[name] < (1 if name == "dimension" else 0):
            return f"'{name}' is {data[name]}"
    if not all(isinstance(s, str) for s in data.get("sources", [])):
        return "'sources' holds something other than paths"
    if data["vectors"].get("kind", "flat") not in ("flat", "hnsw"):
        return f"'vectors.kind' is {data['vectors'].get('kind')!r}"
    for key in ("max_tokens", "overlap_tokens"):
        if not isinstance(data["chunking"].get(key), int):
            return f"'chunking.{key}' is missing or not a number"
    return None


def _file_problem(data: dict[str, Any]) -> str | None:
    """A recorded file outside the generation, or without its size and checksum."""
    for path, entry in data.get("files", {}).items():
        parts = Path(path).parts
        if not parts or Path(path).is_absolute() or ".." in parts or "\\" in path:
            return f"'files' names {path[:80]!r}, outside the generation"
        if not isinstance(entry, dict) or not isinstance(entry.get("size"), int) or isinstance(entry["size"], bool):
            return f"'files' has no size for {path[:80]!r}"
        if not isinstance(entry.get("sha256"), str) or not _SHA256.fullmatch(entry["sha256"]):
            return f"'files' has no SHA-256 for {path[:80]!r}"
    return None


def _sources(data: Any) -> list[str]:
    sources = data.get("sources") if isinstance(data, dict) else None
    return [s for s in sources if isinstance(s, str)] if isinstance(sources, list) else []


def read_manifest(directory: Path) -> Manifest:
    """The manifest of an index directory, validated."""
    path = directory / MANIFEST_NAME
    if not path.exists():
        if directory.exists() and any(directory.glob("gen-*")):
            raise IndexNotFoundError(
                f"{directory} holds no finished index (a build was interrupted); "
                f"run `sendsearch build PATHS... --index {directory}`"
            )
        raise IndexNotFoundError(
            f"no index at {directory}; create one with `sendsearch build PATHS... --index {directory}`"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise IndexFormatError(f"cannot read {path}: {error}; {rebuild_hint(directory)}") from None
    return Manifest.from_json(text, path)


def record_files(generation: Path) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every file in a generation, each flushed to disk on the way,
    and its folders flushed after them: what the manifest records before it is published.

    A power cut after the manifest's rename must not publish a generation whose files are
    still only in the page cache, hence the fsync of each file and folder here."""
    recorded: dict[str, dict[str, Any]] = {}
    folders = [generation]
    for path in sorted(generation.rglob("*")):
        if path.is_dir():
            folders.append(path)
            continue
        relative = path.relative_to(generation).as_posix()
        if relative == MANIFEST_NAME:
            continue
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256")
            os.fsync(handle.fileno())
        recorded[relative] = {"size": path.stat().st_size, "sha256": digest.hexdigest()}
    for folder in [*reversed(folders), generation.parent]:  # the index folder holds the generation's name
        fsync_dir(folder)
    return recorded


def verify_files(directory: Path, manifest: Manifest, *, checksums: bool = True) -> None:
    """Check a generation's files against the sizes and sums in its manifest.

    Raises IndexFormatError naming the first file that is missing, of another size or
    with other content. Sizes cost a ``stat`` each; sums read every byte (about 1 GB/s)."""
    generation = directory / manifest.generation
    for relative, entry in sorted(manifest.files.items()):
        path = generation / relative
        try:
            info = path.lstat()
        except OSError:
            raise index_problem(
                directory, f"is incomplete ({manifest.generation}/{relative} is missing)", manifest.sources
            ) from None
        if not path.is_file() or path.is_symlink() or info.st_size != entry["size"]:
            detail = f"{manifest.generation}/{relative} has {info.st_size:,} bytes, not {entry['size']:,}"
            raise damaged_index(directory, detail, manifest.sources)
    if not checksums:
        return
    for relative, entry in sorted(manifest.files.items()):
        with open(generation / relative, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        if digest != entry["sha256"]:
            detail = f"{manifest.generation}/{relative} does not match its recorded checksum"
            raise damaged_index(directory, detail, manifest.sources)


def step(name: str) -> None:
    """A named moment of a build or update (see builder.py); does nothing. Tests replace it
    to interrupt a writer at each moment and check what it leaves (tests/indexing/test_index_writes.py)."""


def remove_stale_temporaries(directory: Path) -> None:
    """Remove half-written manifests left by a writer that was killed (call under the lock)."""
    remove_temporaries(directory, MANIFEST_NAME)


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Publish a manifest atomically: write a temporary file, flush it, rename it over."""
    text = manifest.to_json().encode("utf-8")
    atomic_write(
        directory / MANIFEST_NAME, lambda handle: handle.write(text), before_replace=lambda: step("manifest flushed")
    )
    step("manifest renamed")
