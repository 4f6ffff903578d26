"""Publishing in PostgreSQL: atomic under kill -9, one writer at a time, one line per failure.

Builds and updates (``add``, ``remove``) run as processes of their own (tests/cli_driver.py,
the fake embedder) stopped at a named step and killed there with SIGKILL; the database must
still serve the generation it served before (or the new one, once its switch committed),
and the next writer must carry on. A real PostgreSQL with pgvector (tests/postgres_server.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEED_PAGES, FakeEmbedder

pytestmark = pytest.mark.slow  # processes and a database of their own

DRIVER = ROOT / "tests" / "cli_driver.py"
QUESTION = "Stockport consultation"


def _pages(folder: Path, count: int) -> Path:
    folder.mkdir()
    for page in SEED_PAGES[:count]:
        shutil.copy(page, folder / page.name)
    return folder


def _top(dsn: str) -> tuple[int, list[str]]:
    from sendsearch import Index

    index = Index.open(dsn, embedder=FakeEmbedder())
    return index.info().documents, [p.doc_id for p in index.search(QUESTION, 5).passages]


def _cli(*arguments: str | Path, stop_at: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, **({"SENDSEARCH_STOP_AT": stop_at} if stop_at else {})}
    return subprocess.Popen(
        [sys.executable, str(DRIVER), *map(str, arguments)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _one_error_line(process: subprocess.Popen[str]) -> str:
    _, errors = process.communicate(timeout=120)
    assert process.returncode == 1, errors
    assert "Traceback" not in errors
    [line] = [text for text in errors.splitlines() if text.strip()]
    assert line.startswith("Error: ")
    return line


@pytest.fixture
def published(tmp_path: Path, postgres_dsn: str) -> tuple[str, Path, tuple[int, list[str]]]:
    """A database serving three seed pages; a folder of all five for the next build."""
    from sendsearch import Index

    Index.build([_pages(tmp_path / "three", 3)], postgres_dsn, embedder=FakeEmbedder())
    return postgres_dsn, _pages(tmp_path / "five", 5), _top(postgres_dsn)


def _generations(dsn: str) -> list[tuple[int, str]]:
    import psycopg

    with psycopg.connect(dsn) as connection:
        return [(r[0], r[1]) for r in connection.execute("SELECT id, state FROM generations ORDER BY id")]


BUILD_STEPS = [
    ("read", "old"),
    ("embedded", "old"),
    ("documents written", "old"),
    ("chunks written", "old"),
    ("keyword written", "old"),
    ("vectors indexed", "old"),
    ("publishing", "old"),  # inside the switch's transaction, before it commits
    ("published", "new"),
    ("old generations removed", "new"),
]


@pytest.mark.parametrize(("step", "outcome"), BUILD_STEPS)
def test_a_build_killed_at_any_step_leaves_the_old_index_serving_or_the_new_one(published, step, outcome):
    dsn, five, before = published
    process = _cli("build", five, "--store", dsn, "-q", stop_at=step)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"at {step}"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    documents, top = _top(dsn)
    if outcome == "old":
        assert (documents, top) == before
    else:
        assert documents == 5
    # The next writer is not refused (the lock went with the killed session) and clears what it left.
    rerun = _cli("add", SEED_PAGES[0], "--store", dsn, "-q")
    _, errors = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, errors
    assert all(state == "published" for _, state in _generations(dsn))
    assert len(_generations(dsn)) <= 2


# The steps of an update (``update_database``), in order; an update that only removes
# writes no documents or chunks of its own.
UPDATE_STEPS = [
    ("read", "old"),
    ("embedded", "old"),
    ("rows copied", "old"),
    ("documents written", "old"),
    ("chunks written", "old"),
    ("keyword written", "old"),
    ("vectors indexed", "old"),
    ("publishing", "old"),
    ("published", "new"),
    ("old generations removed", "new"),
]
_NEW_ROWS = {"documents written", "chunks written"}
REMOVE_STEPS = [(step, outcome) for step, outcome in UPDATE_STEPS if step not in _NEW_ROWS]


def _kill_at(process: subprocess.Popen[str], step: str) -> None:
    """Wait for the writer to report ``step`` (it then waits there), and SIGKILL it."""
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"at {step}", process.communicate(timeout=60)[1]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()


def _rerun_completes(dsn: str, command: tuple[str | Path, ...]) -> None:
    """The same command again is not refused (the lock went with the killed session), clears
    what the killed one left, publishes, and leaves no generation half-built."""
    rerun = _cli(*command)
    _, errors = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, errors
    assert all(state == "published" for _, state in _generations(dsn))
    assert len(_generations(dsn)) <= 2


@pytest.mark.parametrize(("step", "outcome"), UPDATE_STEPS)
def test_an_add_killed_at_any_step_leaves_the_old_index_serving_or_the_new_one(published, tmp_path, step, outcome):
    dsn, _, before = published
    two = tmp_path / "two"
    two.mkdir()
    for page in SEED_PAGES[3:5]:
        shutil.copy(page, two / page.name)
    command: tuple[str | Path, ...] = ("add", two, "--store", dsn, "-q")
    _kill_at(_cli(*command, stop_at=step), step)
    documents, top = _top(dsn)
    if outcome == "old":
        assert (documents, top) == before
    else:
        assert documents == 5
    _rerun_completes(dsn, command)
    assert _top(dsn)[0] == 5


@pytest.mark.parametrize(("step", "outcome"), REMOVE_STEPS)
def test_a_remove_killed_at_any_step_leaves_the_old_index_serving_or_the_new_one(published, step, outcome):
    dsn, _, before = published
    gone = before[1][0]  # the best passage's document, so its removal shows in the answers
    command: tuple[str | Path, ...] = ("remove", gone, "--store", dsn)  # remove has no -q
    _kill_at(_cli(*command, stop_at=step), step)
    documents, top = _top(dsn)
    if outcome == "old":
        assert (documents, top) == before
    else:
        assert documents == 2
        assert gone not in top
    _rerun_completes(dsn, command)
    documents, top = _top(dsn)
    assert documents == 2
    assert gone not in top


def test_searches_during_publishing_see_the_old_index_or_the_new_one_never_a_mix(published, tmp_path):
    """Builds of three and of five pages take turns while searches run: every answer is one of
    the two generations' answers (the counts and the passages of one generation)."""
    from sendsearch import Index

    dsn, five, (_, three_top) = published
    three = tmp_path / "three"
    index = Index.open(dsn, embedder=FakeEmbedder())
    Index.build([five], dsn, embedder=FakeEmbedder())
    answers = {tuple(three_top), tuple(_top(dsn)[1])}
    assert len(answers) == 2
    stop = threading.Event()
    seen: list[tuple[str, ...]] = []

    def search() -> None:
        while not stop.is_set():
            seen.append(tuple(p.doc_id for p in index.search(QUESTION, 5).passages))

    reader = threading.Thread(target=search)
    reader.start()
    try:
        for folder in [three, five, three, five]:
            Index.build([folder], dsn, embedder=FakeEmbedder())
    finally:
        stop.set()
        reader.join(timeout=60)
    assert seen
    assert set(seen) <= answers


def test_a_second_writer_is_refused_in_one_line_while_the_first_writes(published):
    dsn, five, before = published
    first = _cli("build", five, "--store", dsn, "-q", stop_at="embedded")
    try:
        assert first.stdout is not None
        assert first.stdout.readline().strip() == "at embedded"
        line = _one_error_line(_cli("add", five, "--store", dsn, "-q"))
        assert "another build or update is writing to postgresql://postgres@127.0.0.1:" in line
        assert "sendsearch-test" not in line  # never the password
        assert "try again when it ends" in line
    finally:
        first.kill()
        first.wait(timeout=60)
    assert _top(dsn) == before


def _search_error(dsn: str) -> str:
    return _one_error_line(_cli("search", QUESTION, "--store", dsn))


def test_an_unreachable_server_is_one_line(postgres_server):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    line = _search_error(f"postgresql://postgres:x@127.0.0.1:{port}/nothing")
    assert f"cannot reach PostgreSQL at postgresql://postgres@127.0.0.1:{port}/nothing" in line
    assert "is the server running there?" in line


def test_a_wrong_password_is_one_line(published):
    dsn, _, _ = published
    line = _search_error(dsn.replace(":sendsearch-test@", ":wrong@"))
    assert "refused the user name and password given in --store" in line
    assert "wrong" not in line.split("--store")[0]


def test_an_empty_database_says_how_to_build_into_it(postgres_dsn):
    line = _search_error(postgres_dsn)
    assert "no index in postgresql://postgres@" in line
    assert "sendsearch build PATHS... --store postgresql://" in line


@pytest.mark.parametrize("table", ["postings", "chunks", "current_generation"])
def test_a_missing_table_is_one_line(published, table):
    import psycopg

    dsn, _, _ = published
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f"DROP TABLE {table} CASCADE")
    line = _search_error(dsn)
    assert f"is damaged (the table {table} is missing)" in line
    assert "rebuild it with `sendsearch build" in line


def test_a_table_dropped_while_serving_is_one_line_per_search(published):
    import psycopg

    from sendsearch import Index
    from sendsearch.errors import IndexFormatError

    dsn, _, _ = published
    index = Index.open(dsn, embedder=FakeEmbedder())
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("DROP TABLE terms")
    with pytest.raises(IndexFormatError, match=r"is damaged \(relation \"terms\" does not exist"):
        index.search(QUESTION, 5)


def test_another_schema_version_is_one_line(published):
    import psycopg

    dsn, _, _ = published
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("INSERT INTO schema_migrations (version) VALUES (99)")
    line = _search_error(dsn)
    assert "has schema version 99, newer than this sendsearch's (2); upgrade sendsearch" in line
    build = _one_error_line(_cli("build", SEED_PAGES[0], "--store", dsn, "-q"))
    assert "newer than this sendsearch knows" in build


def test_migrations_apply_to_an_empty_database_once(postgres_dsn):
    import psycopg

    from sendsearch.search.postgres.schema import LATEST, migrate

    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        migrate(connection, postgres_dsn)
        tables = connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        migrate(connection, postgres_dsn)  # again: nothing to do, nothing fails
        versions = [r[0] for r in connection.execute("SELECT version FROM schema_migrations")]
        again = connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    assert versions == list(range(1, LATEST + 1))
    assert tables == again


def test_a_search_after_the_server_restarted_is_answered_on_a_new_connection(tmp_path: Path) -> None:
    """A broken connection (a restart, a failover) costs no search: the read is tried once
    more on a new one."""
    import psycopg

    from sendsearch import Index
    from tests.postgres_server import LocalPostgres

    server = LocalPostgres.create()
    server.start()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as connection:
            connection.execute("CREATE DATABASE restarted")
        dsn = server.dsn("restarted")
        Index.build([_pages(tmp_path / "three", 3)], dsn, embedder=FakeEmbedder())
        index = Index.open(dsn, embedder=FakeEmbedder())
        before = [p.doc_id for p in index.search(QUESTION, 5).passages]
        backend = index.snapshot().backend
        text = backend.document_text(before[0])
        server.stop()
        server.start()
        # The first read on this thread's broken connection, not one a search's check of the
        # published generation made first.
        assert backend.document_text(before[0]) == text
        assert [p.doc_id for p in index.search(QUESTION, 5).passages] == before
    finally:
        server.remove()
