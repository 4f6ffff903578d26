"""The index manifest: what an index holds and how it was made, and the switch that publishes it.

An index directory holds generation folders (``gen-...``) and one ``manifest.json``
naming the current one. A build or update writes a complete new generation, then replaces
``manifest.json`` in one atomic rename: a crash, Ctrl-C or full disk before that rename
leaves the previous manifest, and so the previous index, untouched.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import IndexFormatError, IndexNotFoundError

__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST_NAME", "Manifest", "read_manifest", "write_manifest"]

FORMAT = "sendsearch-index"
# 2: the store keeps one column per citation field (schema.Citation).
FORMAT_VERSION = 2
MANIFEST_NAME = "manifest.json"


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
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path) -> Manifest:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise IndexFormatError(
                f"{where} is not valid JSON ({error.msg}); rebuild with `sendsearch build`"
            ) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise IndexFormatError(f"{where} is not a sendsearch manifest; rebuild with `sendsearch build`")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise IndexFormatError(
                f"the index at {where.parent} has format version {version}, and this sendsearch reads "
                f"version {FORMAT_VERSION}; rebuild it with `sendsearch build --index {where.parent}`"
            )
        known = {f.name for f in fields(cls)}
        missing = known - data.keys() - {"sources", "reading"}
        if missing:
            raise IndexFormatError(f"{where} lacks {', '.join(sorted(missing))}; rebuild with `sendsearch build`")
        return cls(**{k: v for k, v in data.items() if k in known})


def read_manifest(directory: Path) -> Manifest:
    """The manifest of an index directory, validated."""
    path = directory / MANIFEST_NAME
    if not path.exists():
        if directory.exists() and any(directory.glob("gen-*")):
            raise IndexNotFoundError(
                f"{directory} holds no finished index (a build was interrupted); "
                f"run `sendsearch build --index {directory}`"
            )
        raise IndexNotFoundError(f"no index at {directory}; create one with `sendsearch build --index {directory}`")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise IndexFormatError(f"cannot read {path}: {error}") from None
    return Manifest.from_json(text, path)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Publish a manifest atomically: write a temporary file, flush it, rename it over."""
    tmp = directory / f".{MANIFEST_NAME}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(manifest.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, directory / MANIFEST_NAME)
    _fsync_dir(directory)
