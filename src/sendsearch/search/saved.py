"""Saved searches: a question with its filters kept under a name, and what each has already seen.

They live in ``watch.sqlite`` in the index folder, beside the generations and outside them,
so they survive restarts, ``add``, ``fetch`` and rebuilds (``build`` replaces generations,
never this file). A saved search keeps its filters as typed values and parses them again
when it runs, so a council or a member is resolved by the table of the version running.

``check`` runs every saved search and returns, for each, its new matching answers:
"matching" is above the relevance floor (not a weak match), "new" is a document that saved
search has not listed before; those are recorded as seen in the same transaction, so each
is listed once.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ..errors import QueryError, SendSearchError
from ..filters import FILTERS, Filters
from ..schema import Passage
from .index import Index
from .request import SearchRequest

__all__ = ["WATCH_FILE", "OnNew", "SavedSearch", "SavedSearches", "check_name"]

WATCH_FILE = "watch.sqlite"
# Called with the open transaction, a saved search's name and its new matches.
OnNew = Callable[[sqlite3.Connection, str, list[Passage]], None]
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,59}")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS searches (name TEXT PRIMARY KEY, request TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (
    name TEXT NOT NULL, doc_id TEXT NOT NULL, first_seen TEXT NOT NULL, PRIMARY KEY (name, doc_id)
);
"""


def check_name(name: str) -> str:
    """A saved search's name: letters, digits, - and _, 1 to 60, starting with a letter or digit
    (it is part of its feed's address)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise QueryError(
            "a saved search's name is 1 to 60 letters, digits, - or _ (starting with a letter or digit), "
            f"not {name!r:.60}"
        )
    return name


def _typed(filters: Filters) -> dict[str, Any]:
    """The filters as JSON values that ``Filters.parse`` reads back."""
    values: dict[str, Any] = {}
    for field in FILTERS:
        value = getattr(filters, field.name)
        if value:
            values[field.name] = value.isoformat() if isinstance(value, date) else value
    return values


@dataclass(frozen=True)
class SavedSearch:
    """A named search."""

    name: str
    request: SearchRequest
    created: str

    def describe(self) -> str:
        filters = self.request.filters.describe()
        return f"{self.name}: “{self.request.question}”" + (f" ({filters})" if filters else "")


class SavedSearches:
    """The saved searches of the index in ``directory``; ``clock`` gives the time recorded."""

    def __init__(self, directory: Path | str, *, clock: Callable[[], datetime] | None = None) -> None:
        if not isinstance(directory, Path):
            # A PostgreSQL store (--store) has no folder to keep them in, and they are not in
            # its tables yet.
            raise SendSearchError("saved searches need an index folder (--index); a --store database has none yet")
        self.path = directory / WATCH_FILE
        self.clock = clock or (lambda: datetime.now(UTC))

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            db.executescript(_SCHEMA)
            with db:
                yield db

    def add(self, name: str, request: SearchRequest) -> SavedSearch:
        """Save ``request`` as ``name``; QueryError if the name is taken or not a name."""
        check_name(name)
        stored = json.dumps({"question": request.question, "k": request.k, "filters": _typed(request.filters)})
        created = self.clock().isoformat(timespec="seconds")
        with self._db() as db:
            try:
                db.execute("INSERT INTO searches VALUES (?, ?, ?)", (name, stored, created))
            except sqlite3.IntegrityError:
                raise QueryError(f"a saved search is already called {name!r}; remove it first") from None
        return SavedSearch(name, request, created)

    def remove(self, name: str) -> bool:
        """Forget ``name`` and what it has seen; False if there was no such saved search."""
        with self._db() as db:
            gone = db.execute("DELETE FROM searches WHERE name = ?", (name,)).rowcount
            db.execute("DELETE FROM seen WHERE name = ?", (name,))
        return bool(gone)

    def all(self) -> list[SavedSearch]:
        """Every saved search, by name."""
        if not self.path.exists():
            return []
        with self._db() as db:
            rows = db.execute("SELECT name, request, created FROM searches ORDER BY name").fetchall()
        return [self._read(*row) for row in rows]

    def get(self, name: str) -> SavedSearch | None:
        if not self.path.exists():
            return None
        with self._db() as db:
            row = db.execute("SELECT name, request, created FROM searches WHERE name = ?", (name,)).fetchone()
        return self._read(*row) if row else None

    @staticmethod
    def _read(name: str, stored: str, created: str) -> SavedSearch:
        data = json.loads(stored)
        request = SearchRequest.parse(data["question"], data["k"], **data["filters"])
        return SavedSearch(name, request, created)

    def check(self, index: Index, also: OnNew | None = None) -> dict[str, list[Passage]]:
        """Each saved search's new matching answers (above the relevance floor, not listed
        before), best first; they are recorded as seen. ``also`` runs in the transaction
        that records them (the digests' outbox), so both happen or neither."""
        found: dict[str, list[Passage]] = {}
        for saved in self.all():
            matches = [p for p in index.search(saved.request) if not p.weak_match]
            with self._db() as db:
                seen = {row[0] for row in db.execute("SELECT doc_id FROM seen WHERE name = ?", (saved.name,))}
                new = [p for p in matches if p.doc_id not in seen]
                now = self.clock().isoformat(timespec="seconds")
                db.executemany("INSERT INTO seen VALUES (?, ?, ?)", [(saved.name, p.doc_id, now) for p in new])
                if also is not None:
                    also(db, saved.name, new)
            found[saved.name] = new
        return found
