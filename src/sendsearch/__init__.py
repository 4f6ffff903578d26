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
from .search.backend import Backend
from .search.config import (
    Feedback,
    Fusion,
    Gathering,
    LongQuestions,
    NonAnswers,
    SearchConfig,
    Shaping,
    WeakMatch,
)
from .search.index import Index, IndexInfo, Snapshot, search
from .search.pipeline import Relevance
from .search.request import Mode, SearchRequest, SearchResult
from .text.analysis import QueryPlan
from .version import __version__

__all__ = [
    "FILTERS",
    "MAX_K",
    "Backend",
    "BuildReport",
    "ChunkingConfig",
    "Citation",
    "Embedder",
    "Feedback",
    "FilterField",
    "Filters",
    "Fusion",
    "Gathering",
    "Index",
    "IndexBusyError",
    "IndexConfig",
    "IndexFormatError",
    "IndexInfo",
    "IndexNotFoundError",
    "KeywordConfig",
    "LongQuestions",
    "Manifest",
    "Mode",
    "ModelLoadError",
    "ModelMismatchError",
    "NonAnswers",
    "NothingToIndexError",
    "Passage",
    "QueryError",
    "QueryPlan",
    "Relevance",
    "SearchConfig",
    "SearchRequest",
    "SearchResult",
    "SendSearchError",
    "Shaping",
    "Skipped",
    "Snapshot",
    "WeakMatch",
    "__version__",
    "register_embedder",
    "search",
    "unregister_embedder",
]
