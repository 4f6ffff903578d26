"""Each filter's SQL clause, written once for every store that keeps documents in SQL.

The folder store (SQLite) and a PostgreSQL store filter the same ``documents`` columns
(one per stored ``Citation`` field) the same way; only the placeholder, case-insensitive
comparison and JSON membership are spelt differently, and a ``Dialect`` holds those. A new
filter is one clause in ``clauses`` and reaches every store at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..filters import Filters

__all__ = ["POSTGRESQL", "SQLITE", "Dialect", "clauses", "date_sql"]


@dataclass(frozen=True)
class Dialect:
    """How one SQL engine spells what the clauses need.

    ``mark`` is the parameter placeholder; ``nocase(column)`` compares a column with one
    parameter without regard to case; ``json_has(column)`` is true when a column holding a
    JSON list of text (a tuple citation field) has the parameter among its items."""

    name: str
    mark: str
    nocase: Callable[[str], str]
    json_has: Callable[[str], str]


SQLITE = Dialect(
    "sqlite",
    "?",
    lambda column: f"{column} = ? COLLATE NOCASE",
    lambda column: f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = ?)",
)
POSTGRESQL = Dialect(
    "postgresql",
    "%s",
    lambda column: f"lower({column}) = lower(%s)",
    # A tuple field is stored as JSON text; jsonb_exists is jsonb's "?" operator by name,
    # which no driver can mistake for a placeholder.
    lambda column: f"jsonb_exists(({column})::jsonb, %s)",
)


def date_sql(table: str = "") -> str:
    """The date a document is filtered and listed by: answered, else asked, else asked as
    estimated from a written question's number. ``table`` is a prefix such as ``"d."``."""
    return f"coalesce({table}date_answered, {table}date_asked, {table}date_asked_estimated)"


def clauses(filters: Filters, dialect: Dialect, table: str = "d.") -> tuple[str, list[object]]:
    """A WHERE condition over the ``documents`` table (aliased by ``table``) that only
    documents passing ``filters`` meet, and its parameters in order. No filter is a
    condition every row meets."""
    parts: list[str] = []
    params: list[object] = []
    mark = dialect.mark
    # Most records give only the date tabled: it stands in where the answer date is
    # unknown, and an estimate of it where the record lost both. Documents with no date
    # at all cannot be placed: they are left out unless the filters include them.
    dated, when = [], date_sql(table)
    if filters.date_from:
        dated.append(f"{when} >= {mark}")
        params.append(filters.date_from.isoformat())
    if filters.date_to:
        dated.append(f"{when} <= {mark}")
        params.append(filters.date_to.isoformat())
    if dated:
        undated = f" OR {when} IS NULL" if filters.include_undated else ""
        parts.append(f"(({' AND '.join(dated)}){undated})")
    if filters.department:
        parts.append(dialect.nocase(f"{table}department"))
        params.append(filters.department)
    if filters.kind:
        parts.append(f"{table}kind = {mark}")
        params.append(filters.kind)
    if filters.council:
        named = dialect.json_has(f"{table}places")
        if filters.include_uncertain:
            parts.append(f"({named} OR {dialect.json_has(f'{table}places_uncertain')})")
            params += [filters.council, filters.council]
        else:
            parts.append(named)
            params.append(filters.council)
    return " AND ".join(parts) or "1 = 1", params
