"""Exceptions sendsearch raises for problems a user can fix.

The CLI and the UI turn these into one clear message; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

__all__ = [
    "IndexBusyError",
    "IndexFormatError",
    "IndexNotFoundError",
    "ModelLoadError",
    "ModelMismatchError",
    "NothingToIndexError",
    "QueryError",
    "SendSearchError",
]


class SendSearchError(Exception):
    """Base class: the message is written for the person who ran the command."""


class IndexNotFoundError(SendSearchError):
    """No index at the given directory."""


class IndexFormatError(SendSearchError):
    """The index is corrupt, incomplete or from an incompatible version."""


class ModelMismatchError(SendSearchError):
    """The index was built with a different embedding model than the one requested."""


class NothingToIndexError(SendSearchError):
    """A build found no document it could index."""


class IndexBusyError(SendSearchError):
    """Another build or update holds the index's lock."""


class ModelLoadError(SendSearchError):
    """The embedding model could not be loaded (missing package, bad name or path)."""


class QueryError(SendSearchError, ValueError):
    """A query that cannot be served, such as an empty one or a malformed filter."""
