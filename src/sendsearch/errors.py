"""Exceptions sendsearch raises for problems a user can fix.

The CLI and the UI turn these into one clear message; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = [
    "IndexBusyError",
    "IndexFormatError",
    "IndexNotFoundError",
    "ModelLoadError",
    "ModelMismatchError",
    "NothingToIndexError",
    "QueryError",
    "SendSearchError",
    "damaged_index",
    "index_problem",
    "rebuild_hint",
]


class SendSearchError(Exception):
    """Base class: the message is written for the person who ran the command."""

    def worded(self, labels: Mapping[str, str]) -> str:
        """The message with the fields it names in a surface's own words (see QueryError)."""
        return str(self)


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
    """A query that cannot be served, such as an empty one or a malformed filter.

    ``field`` names the parameter that was wrong as the library calls it (``query``, ``k``,
    ``date_from``, ``date_to``, ``department``, ``kind``), or is None. ``str(error)`` uses
    those names; ``worded(labels)`` puts each surface's own in their place, so that the CLI
    says ``--from``, the REST API ``'from'`` and the page "Dated from" (``filters.FIELD_LABELS``).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self._template: str | None = None
        self._fields: tuple[str, ...] = ()
        self._values: dict[str, str] = {}

    @classmethod
    def about(cls, fields: str | tuple[str, ...], template: str, **values: object) -> QueryError:
        """An error about ``fields`` (the first is ``field``): ``template`` names each as
        ``{date_from}``, and its other ``{placeholders}`` take ``values`` (shown as given,
        braces and all)."""
        names = (fields,) if isinstance(fields, str) else fields
        shown = {key: str(value) for key, value in values.items()}
        error = cls(template.format(**{name: name for name in names}, **shown), field=names[0])
        error._template, error._fields, error._values = template, names, shown
        return error

    def worded(self, labels: Mapping[str, str]) -> str:
        if self._template is None:
            return str(self)
        return self._template.format(**{name: labels.get(name, name) for name in self._fields}, **self._values)


def rebuild_hint(directory: Path, sources: Iterable[str] = ()) -> str:
    """How to rebuild the index in ``directory`` from its own recorded sources (those still
    on disk), so the advice never silently rebuilds something else, such as ``corpus/``."""
    present = [s for s in sources if Path(s).exists()]
    paths = " ".join(shlex.quote(s) for s in present) if present else "PATHS..."
    return f"rebuild it with `sendsearch build {paths} --index {shlex.quote(str(directory))}`"


def index_problem(directory: Path, problem: str, sources: Iterable[str] = ()) -> IndexFormatError:
    """The error for an index that cannot serve: "the index at DIR <problem>; rebuild it with ..."."""
    return IndexFormatError(f"the index at {directory} {problem}; {rebuild_hint(directory, sources)}")


def damaged_index(directory: Path, detail: object, sources: Iterable[str] = ()) -> IndexFormatError:
    """The error for an index whose files are damaged: "the index at DIR is damaged (detail); rebuild it with ..."."""
    return index_problem(directory, f"is damaged ({detail})", sources)
