"""The storage seam, write side: what the builder needs to write one new generation.

The builder (``builder.py``) reads, chunks and embeds; a ``GenerationWriter`` keeps what it
is given. A writer is opened on a new generation, empty or as a copy of the published one
(``base``); the builder removes documents, adds documents with their chunks, vectors and
keyword terms, and finishes it; the builder then records the generation's files and
publishes it atomically by replacing the manifest (``manifest.py``), or, if anything stops
it first, the generation is aborted (its folder removed). Stores register a factory by
name (``register_store``); the folder store (``search/folder``) is the first, and the
manifest records which store an index lives in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import SendSearchError
from ..schema import Chunk, Document
from ..text.analysis import Terms
from .config import IndexConfig

__all__ = ["GenerationWriter", "WriterFactory", "Written", "open_writer", "register_store"]


@dataclass(frozen=True)
class Written:
    """What a finished generation holds, for its manifest."""

    documents: int
    chunks: int
    content_hashes: dict[str, str]
    # The store's own settings, recorded in the manifest's ``vectors`` (for the folder store:
    # the kind of vector index, and its search breadth).
    settings: dict[str, Any] = field(default_factory=dict)


class GenerationWriter(Protocol):
    """One new generation being written; not shared between threads."""

    def content_hashes(self) -> dict[str, str]:
        """The documents the generation holds now, by id, with their content hashes."""
        ...

    def remove(self, doc_ids: Sequence[str]) -> None:
        """Remove documents (ids it holds) and their chunks."""
        ...

    def add(
        self,
        documents: Sequence[Document],
        chunks: Sequence[Sequence[Chunk]],
        vectors: np.ndarray,
        terms: Iterable[Terms],
    ) -> None:
        """Add documents with their chunks, one vector per chunk (in order) and each chunk's
        keyword terms (a generator is fine)."""
        ...

    def finish(self) -> Written:
        """Write everything to the generation's files and close them; nothing changes after."""
        ...

    def close(self) -> None:
        """Let go of the files without finishing (the builder then removes the generation)."""
        ...


# Opens a writer on a new generation folder (``base``: the published generation to start
# from, or None for an empty one), with the index's settings, the model's dimension and
# the store's own settings as the base's manifest records them (``Written.settings``).
WriterFactory = Callable[[Path, Path | None, IndexConfig, int, Mapping[str, Any]], GenerationWriter]

_STORES: dict[str, WriterFactory] = {}


def register_store(name: str, factory: WriterFactory) -> None:
    """Make the store called ``name`` (as manifests record it) writable through ``factory``."""
    _STORES[name] = factory


def open_writer(
    store: str,
    folder: Path,
    base: Path | None,
    config: IndexConfig,
    dimension: int,
    saved: Mapping[str, Any] | None = None,
) -> GenerationWriter:
    """A writer for a new generation in the named store."""
    factory = _STORES.get(store)
    if factory is None:
        raise SendSearchError(f"no store named {store!r} can be written (known: {', '.join(sorted(_STORES))})")
    return factory(folder, base, config, dimension, saved or {})
