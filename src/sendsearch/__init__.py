"""sendsearch: find and cite the passages that answer questions about SEND support and funding.

    >>> import sendsearch
    >>> for passage in sendsearch.search("How much does Stockport spend on SEND?"):
    ...     print(passage.citation)

See ``Index`` for building, updating and filtered search.
"""

from __future__ import annotations

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
from .filters import FILTERS, FilterField, Filters
from .indexing.builder import BuildReport
from .indexing.chunking import ChunkingConfig
from .indexing.config import IndexConfig, KeywordConfig
from .indexing.embedding import Embedder, register_embedder, unregister_embedder
from .indexing.manifest import Manifest
from .limits import MAX_K
from .schema import Citation, Passage, Skipped
from .search.config import SearchConfig
from .search.index import Index, IndexInfo, Snapshot, search
from .search.request import Mode, SearchRequest, SearchResult
from .version import __version__

__all__ = [
    "FILTERS",
    "MAX_K",
    "BuildReport",
    "ChunkingConfig",
    "Citation",
    "Embedder",
    "FilterField",
    "Filters",
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
    "SearchRequest",
    "SearchResult",
    "SendSearchError",
    "Skipped",
    "Snapshot",
    "__version__",
    "register_embedder",
    "search",
    "unregister_embedder",
]
