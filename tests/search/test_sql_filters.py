"""Each filter's SQL clause, run on a real SQLite table shaped like the store's ``documents``."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import pytest

from sendsearch.filters import Filters
from sendsearch.search.sql_filters import POSTGRESQL, SQLITE, clauses

ROWS = [
    # doc_id, date_answered, date_asked, date_asked_estimated, department, kind, tags
    ("answered-2024", "2024-03-01", "2024-02-20", None, "Department for Education", "written_answer", ["a"]),
    ("asked-2023", None, "2023-06-01", None, "Department of Health and Social Care", "written_answer", []),
    ("estimated-2022", None, None, "2022-01-10", "Department for Education", "written_answer", ["a", "b"]),
    ("undated-page", None, None, None, None, "web_page", ["b"]),
]


@pytest.fixture
def db():
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE TABLE documents (doc_id TEXT, date_answered TEXT, date_asked TEXT, "
        "date_asked_estimated TEXT, department TEXT, kind TEXT, tags TEXT)"
    )
    connection.executemany(
        "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(*row[:-1], json.dumps(row[-1]) if row[-1] else None) for row in ROWS],
    )
    yield connection
    connection.close()


def _passing(db, filters: Filters) -> set[str]:
    where, params = clauses(filters, SQLITE)
    return {row[0] for row in db.execute(f"SELECT d.doc_id FROM documents d WHERE {where}", params)}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(), {"answered-2024", "asked-2023", "estimated-2022", "undated-page"}),
        (Filters(date_from=date(2023, 1, 1)), {"answered-2024", "asked-2023"}),
        (Filters(date_to=date(2023, 12, 31)), {"asked-2023", "estimated-2022"}),
        (Filters(date_from=date(2023, 1, 1), include_undated=True), {"answered-2024", "asked-2023", "undated-page"}),
        (Filters(department="department for EDUCATION"), {"answered-2024", "estimated-2022"}),
        (Filters(kind="web_page"), {"undated-page"}),
        (
            Filters(date_from=date(2022, 1, 1), department="Department for Education"),
            {"answered-2024", "estimated-2022"},
        ),
    ],
)
def test_sqlite_clauses_pass_exactly_the_documents_the_filters_allow(db, filters, expected):
    assert _passing(db, filters) == expected


def test_sqlite_json_membership_matches_whole_items_only(db):
    has = SQLITE.json_has("d.tags")
    rows = db.execute(f"SELECT doc_id FROM documents d WHERE {has}", ["a"])
    assert {row[0] for row in rows} == {"answered-2024", "estimated-2022"}
    assert not db.execute(f"SELECT doc_id FROM documents d WHERE {has}", ['a"']).fetchall()


@pytest.mark.parametrize("dialect", [SQLITE, POSTGRESQL])
def test_every_parameter_has_its_placeholder_in_the_dialect(dialect):
    filters = Filters(date_from=date(2020, 1, 1), date_to=date(2021, 1, 1), department="DfE", kind="web_page")
    where, params = clauses(filters, dialect)
    assert len(params) == 4
    assert where.count(dialect.mark) == len(params)
    other = POSTGRESQL.mark if dialect is SQLITE else SQLITE.mark
    assert other not in where
    assert clauses(Filters(), dialect) == ("1 = 1", [])
