"""The test PostgreSQL itself: it starts, holds pgvector, and answers over the DSN the fixture gives."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_the_fixture_gives_a_database_with_pgvector(postgres_dsn: str) -> None:
    import psycopg

    with psycopg.connect(postgres_dsn) as connection:
        version = connection.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        distance = connection.execute("SELECT '[1,0]'::vector <#> '[0.5,0]'::vector").fetchone()
    assert version is not None
    assert distance == (-0.5,)
