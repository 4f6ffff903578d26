"""Filters as SQL: the WHERE clauses both stores push into their candidate queries.

``clauses(filters, dialect)`` gives the conditions on the documents table (aliased ``d``)
and their bound parameters, in the placeholder style of the dialect: SQLite (``?``, dates
kept as ISO text) or PostgreSQL (``%s``, psycopg's style, dates as dates). A new filter is
one clause here, in both dialects.
"""

from __future__ import annotations

from typing import Literal

from ..filters import Filters

__all__ = ["Dialect", "clauses", "date_sql"]

Dialect = Literal["sqlite", "postgresql"]


def date_sql(table: str = "") -> str:
    """The date a document is filtered and listed by: answered, else asked, else asked as
    estimated from a written question's number."""
    return f"coalesce({table}date_answered, {table}date_asked, {table}date_asked_estimated)"


def clauses(filters: Filters, dialect: Dialect) -> tuple[list[str], list[object]]:
    """The conditions a document must meet to pass ``filters``, and their parameters in order."""
    mark = "?" if dialect == "sqlite" else "%s"
    found: list[str] = []
    params: list[object] = []
    # Most records give only the date tabled: it stands in where the answer date is
    # unknown, and an estimate of it where the record lost both. Documents with no date
    # at all cannot be placed: they are left out unless the filters include them.
    dated, when = [], date_sql("d.")
    for bound, operator in ((filters.date_from, ">="), (filters.date_to, "<=")):
        if bound:
            dated.append(f"{when} {operator} {mark}")
            params.append(bound.isoformat() if dialect == "sqlite" else bound)
    if dated:
        undated = f" OR {when} IS NULL" if filters.include_undated else ""
        found.append(f"(({' AND '.join(dated)}){undated})")
    if filters.department:
        # Any case: SQLite's NOCASE collation; in PostgreSQL lower(), which an index holds.
        found.append("d.department = ? COLLATE NOCASE" if dialect == "sqlite" else "lower(d.department) = lower(%s)")
        params.append(filters.department)
    if filters.kind:
        found.append(f"d.kind = {mark}")
        params.append(filters.kind)
    return found, params
