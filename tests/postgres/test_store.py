"""The PostgreSQL store against the folder store: the same index, the same answers.

Both stores are built from the same corpus with the same embedder; every search must
return the same documents in the same order with the same scores (to float32 rounding),
with and without filters. A real PostgreSQL with pgvector (tests/postgres_server.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import CORPUS, FakeEmbedder

pytestmark = pytest.mark.slow

QUESTIONS = [
    "How much does Stockport spend on SEND?",
    "EHC needs assessment capacity",
    "high needs funding 2022",
    "written statement of action",
    "How long does an EHC needs assessment take?",
    "What support is there for children with autism waiting for a diagnosis?",
    "home to school transport for children with SEND",
    "tribunal appeals about EHC plans",
    "special school places shortage",
    "safety valve agreements deficit",
]
FILTERS = [
    {"kind": "written_answer"},
    {"date_from": "2023-01-01", "date_to": "2023-12-31"},
    {"department": "department for education", "date_from": "2024-01-01"},
    {"kind": "web_page"},
]


def _top(index, question: str, **filters) -> list[tuple[str, float]]:
    return [(p.doc_id, p.score) for p in index.search(question, 10, **filters).passages]


def _same(folder, database, question: str, **filters) -> None:
    expected, found = _top(folder, question, **filters), _top(database, question, **filters)
    assert [d for d, _ in found] == [d for d, _ in expected], (question, filters)
    np.testing.assert_allclose([s for _, s in found], [s for _, s in expected], rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def both_fake(tmp_path_factory: pytest.TempPathFactory, postgres_server):
    import psycopg

    from sendsearch import Index

    with psycopg.connect(postgres_server.dsn(), autocommit=True) as connection:
        connection.execute("CREATE DATABASE store_fake")
    dsn = postgres_server.dsn("store_fake")
    embedder = FakeEmbedder()
    folder, _ = Index.build([CORPUS], tmp_path_factory.mktemp("fake") / "index", embedder=embedder)
    database, _ = Index.build([CORPUS], dsn, embedder=embedder)
    return folder, database


@pytest.mark.parametrize("question", QUESTIONS)
def test_both_stores_give_the_same_top_10(both_fake, question: str) -> None:
    folder, database = both_fake
    _same(folder, database, question)


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f))
def test_filtered_top_10_is_the_same_on_both_stores(both_fake, filters: dict[str, str]) -> None:
    folder, database = both_fake
    for question in QUESTIONS[:5]:
        _same(folder, database, question, **filters)
