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
from ..members import lookup_member

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
    parts: list[tuple[str, list[object]]] = [
        _dates(filters, dialect, table),
        *_plain(filters, dialect, table),
        *_members(filters, dialect, table),
        _council(filters, dialect, table),
    ]
    kept = [(sql, params) for sql, params in parts if sql]
    return " AND ".join(sql for sql, _ in kept) or "1 = 1", [p for _, params in kept for p in params]


def _dates(filters: Filters, dialect: Dialect, table: str) -> tuple[str, list[object]]:
    # Most records give only the date tabled: it stands in where the answer date is
    # unknown, and an estimate of it where the record lost both. Documents with no date
    # at all cannot be placed: they are left out unless the filters include them.
    dated, params, when = [], [], date_sql(table)
    if filters.date_from:
        dated.append(f"{when} >= {dialect.mark}")
        params.append(filters.date_from.isoformat())
    if filters.date_to:
        dated.append(f"{when} <= {dialect.mark}")
        params.append(filters.date_to.isoformat())
    if not dated:
        return "", []
    undated = f" OR {when} IS NULL" if filters.include_undated else ""
    return f"(({' AND '.join(dated)}){undated})", list(params)


def _plain(filters: Filters, dialect: Dialect, table: str) -> list[tuple[str, list[object]]]:
    mark = dialect.mark
    found: list[tuple[str, list[object]]] = []
    if filters.department:
        found.append((dialect.nocase(f"{table}department"), [filters.department]))
    if filters.kind:
        found.append((f"{table}kind = {mark}", [filters.kind]))
    if filters.house:
        found.append((f"{table}house = {mark}", [filters.house]))
    if filters.party:
        # "Labour" includes "Labour (Co-op)".
        party = f"lower({table}asked_by_party)"
        found.append(
            (f"({party} = lower({mark}) OR {party} LIKE lower({mark}))", [filters.party, f"{filters.party} (%"])
        )
    return found


def _members(filters: Filters, dialect: Dialect, table: str) -> list[tuple[str, list[object]]]:
    mark = dialect.mark
    found: list[tuple[str, list[object]]] = []
    for column, name, member in (
        ("asking_member_id", "asked_by", filters.asked_by),
        ("answering_member_id", "answered_by", filters.answered_by),
    ):
        if member is None:
            continue
        # By id; a page read from a file names the member without an id ("Navendu Mishra
        # (Labour - Stockport)"), so the name as written counts too.
        who = lookup_member(member)
        person = who.name if who else str(member)
        written = f"lower({table}{name})"
        sql = f"({table}{column} = {mark} OR {written} = lower({mark}) OR {written} LIKE lower({mark}))"
        found.append((sql, [member, person, f"{person} (%"]))
    return found


def _council(filters: Filters, dialect: Dialect, table: str) -> tuple[str, list[object]]:
    if not filters.council:
        return "", []
    named = dialect.json_has(f"{table}places")
    if filters.include_uncertain:
        return f"({named} OR {dialect.json_has(f'{table}places_uncertain')})", [filters.council, filters.council]
    return named, [filters.council]
