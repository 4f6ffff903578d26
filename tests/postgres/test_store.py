"""The PostgreSQL store against the folder store: the same index, the same answers.

Both stores are built from the same corpus with the same embedder; every search must
return the same documents in the same order with the same scores (to float32 rounding),
with and without filters. A real PostgreSQL with pgvector (tests/postgres_server.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import CORPUS, EVAL, FakeEmbedder

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
FILTERS: list[dict[str, Any]] = [
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


def _database(server, name: str) -> str:
    import psycopg

    with psycopg.connect(server.dsn(), autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return str(server.dsn(name))


@pytest.fixture(scope="module")
def both_fake(tmp_path_factory: pytest.TempPathFactory, postgres_server):
    from sendsearch import Index

    embedder = FakeEmbedder()
    folder, _ = Index.build([CORPUS], tmp_path_factory.mktemp("fake") / "index", embedder=embedder)
    database, _ = Index.build([CORPUS], _database(postgres_server, "store_fake"), embedder=embedder)
    return folder, database


def _dev_questions() -> list[str]:
    """The dev set's questions where ../shared has them (the only file of eval/ read here)."""
    import json

    path = EVAL / "dev-queries.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["query"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("question", QUESTIONS)
def test_both_stores_give_the_same_top_10(both_fake, question: str) -> None:
    folder, database = both_fake
    _same(folder, database, question)


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f))
def test_filtered_top_10_is_the_same_on_both_stores(both_fake, filters: dict[str, str]) -> None:
    folder, database = both_fake
    for question in QUESTIONS[:5]:
        _same(folder, database, question, **filters)


def test_the_real_model_ranks_alike_on_both_stores(eval_index, real_embedder, postgres_server) -> None:
    """The bundled corpus with all-MiniLM-L6-v2: the dev set's questions and the tests' own."""
    from sendsearch import Index

    database, _ = Index.build([CORPUS], _database(postgres_server, "store_real"), embedder=real_embedder)
    for question in [*QUESTIONS, *_dev_questions()]:
        _same(eval_index, database, question)
    for filters in FILTERS:
        _same(eval_index, database, QUESTIONS[4], **filters)


def test_hnsw_filtered_top_10_is_the_exact_filtered_top_10(both_fake, postgres_server) -> None:
    """With the HNSW index searched (threshold 0), a filtered dense top 10 is still the exact
    one: pgvector's iterative scans go on until k rows pass the filter."""
    from sendsearch import Index
    from sendsearch.indexing.config import IndexConfig

    folder, _ = both_fake
    embedder = FakeEmbedder()
    database, _ = Index.build(
        [CORPUS],
        _database(postgres_server, "store_hnsw"),
        embedder=embedder,
        index_config=IndexConfig(hnsw_threshold=0),
    )
    assert database.manifest.vectors["kind"] == "hnsw"
    for filters in FILTERS:
        for question in QUESTIONS[:5]:
            expected = [p.doc_id for p in folder.search(question, 10, mode="dense", **filters).passages]
            assert [p.doc_id for p in database.search(question, 10, mode="dense", **filters).passages] == expected


def test_updates_keep_both_stores_alike(tmp_path: Path, postgres_server) -> None:
    """Add, replace and remove on both stores: the BM25 statistics and the vectors follow."""
    from sendsearch import Index

    embedder = FakeEmbedder()
    pages = tmp_path / "pages"
    pages.mkdir()
    for page in sorted(CORPUS.glob("*.txt")):
        (pages / page.name).write_text(page.read_text(encoding="utf-8"), encoding="utf-8")
    folder, _ = Index.build([pages], tmp_path / "index", embedder=embedder)
    database, _ = Index.build([pages], _database(postgres_server, "store_updates"), embedder=embedder)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "transport.txt").write_text(
        "Home to school transport for children with SEND in Testshire: apply by 31 May.", encoding="utf-8"
    )
    first = sorted(p.name for p in pages.glob("*.txt"))[0]
    for index in (folder, database):
        index.add([extra])
        index.remove([first])
    assert database.manifest.documents == folder.manifest.documents
    for question in [*QUESTIONS, "school transport Testshire"]:
        _same(folder, database, question)


def test_tuple_fields_are_json_that_the_shared_membership_clause_reads(tmp_path: Path, postgres_dsn: str) -> None:
    """A tuple citation field (grouped questions) is kept as JSON: read back as a tuple, and
    ``sql_filters``'s PostgreSQL membership test finds a document by one whole item."""
    from sendsearch import Index
    from sendsearch.search.postgres.backend import PostgresBackend
    from sendsearch.search.sql_filters import POSTGRESQL

    pages = tmp_path / "pages"
    pages.mkdir()
    for page in sorted(CORPUS.glob("*.txt"))[:2]:
        (pages / page.name).write_text(page.read_text(encoding="utf-8"), encoding="utf-8")
    database, _ = Index.build([pages], postgres_dsn, embedder=FakeEmbedder())
    backend = database.snapshot().backend
    assert isinstance(backend, PostgresBackend)
    doc_id = sorted(p.name for p in pages.iterdir())[0]
    connection = backend.db()
    column = connection.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'documents' AND column_name = %s",
        ["grouped_with"],
    ).fetchone()
    assert column == ("jsonb",)
    connection.execute("UPDATE documents SET grouped_with = %s::jsonb WHERE doc_id = %s", ['["1234", "5678"]', doc_id])
    assert database.citations([doc_id])[doc_id].grouped_with == ("1234", "5678")
    query = f"SELECT d.doc_id FROM documents d WHERE {POSTGRESQL.json_has('d.grouped_with')}"  # noqa: S608 - the clause's own text
    assert [r[0] for r in connection.execute(query, ["5678"])] == [doc_id]
    assert not connection.execute(query, ["567"]).fetchall()
