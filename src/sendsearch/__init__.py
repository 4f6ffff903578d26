"""sendsearch: find and cite the passages that answer questions about SEND support and funding.

    >>> import sendsearch
    >>> for passage in sendsearch.search("How much does Stockport spend on SEND?"):
    ...     print(passage.citation)

See ``Index`` for building, updating and filtered search.
"""

from __future__ import annotations

from .builder import BuildReport, IndexConfig
from .chunking import ChunkingConfig
from .embedding import Embedder, register_embedder, unregister_embedder
from .errors import (
    IndexBusyError,
    IndexFormatError,
    IndexNotFoundError,
    ModelLoadError,
    ModelMismatchError,
    NothingToIndexError,
    QueryError,
    SendSearchError,
)
from .index import Index, IndexInfo, Snapshot, search
from .keyword import KeywordConfig
from .limits import MAX_K
from .manifest import Manifest
from .retrieval import Mode, SearchConfig
from .schema import Citation, Passage, Skipped
from .version import __version__

__all__ = [
    "MAX_K",
    "BuildReport",
    "ChunkingConfig",
    "Citation",
    "Embedder",
    "Index",
    "IndexBusyError",
    "IndexConfig",
    "IndexFormatError",
    "IndexInfo",
    "IndexNotFoundError",
    "KeywordConfig",
    "Manifest",
    "Mode",
    "ModelLoadError",
    "ModelMismatchError",
    "NothingToIndexError",
    "Passage",
    "QueryError",
    "SearchConfig",
    "SendSearchError",
    "Skipped",
    "Snapshot",
    "__version__",
    "register_embedder",
    "search",
    "unregister_embedder",
]
