"""sendsearch: find and cite the passages that answer questions about SEND support and funding.

    >>> import sendsearch
    >>> for passage in sendsearch.search("How much does Stockport spend on SEND?"):
    ...     print(passage.citation)

See ``Index`` for building, updating and filtered search.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    IndexBusyError,
    IndexFormatError,
    IndexNotFoundError,
    ModelLoadError,
    ModelMismatchError,
    NothingToIndexError,
    QueryError,
    SendSearchError,
)
from .index import Index, search  # noqa: E402
from .schema import Chunk, Document, Passage, Skipped  # noqa: E402

__all__ = [
    "Chunk",
    "Document",
    "Index",
    "IndexBusyError",
    "IndexFormatError",
    "IndexNotFoundError",
    "ModelLoadError",
    "ModelMismatchError",
    "NothingToIndexError",
    "Passage",
    "QueryError",
    "SendSearchError",
    "Skipped",
    "search",
    "__version__",
]
