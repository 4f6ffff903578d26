"""Wrong admin passwords counted in the database: every instance on one database counts the
same guesses (serve.attempt_table), with the in-memory limiter's rules and clock.

Each "instance" here is a guard with limiters of its own (its own connections), as a
second ``serve`` process would have; a real PostgreSQL (tests/postgres_server.py).
"""

from __future__ import annotations

import logging
import threading

import psycopg
import pytest

from sendsearch.limits import PROXY_FREE_GUESSES, PROXY_LOCKOUT_AFTER
from sendsearch.search.postgres.schema import migrate
from sendsearch.serve.admin import LIMITS_UNAVAILABLE, AdminGuard, AttemptLimiter
from sendsearch.serve.attempt_table import AttemptTable
from tests.serve.test_admin import PASSWORD, Clock

pytestmark = pytest.mark.slow  # a database of its own


@pytest.fixture
def dsn(postgres_dsn: str) -> str:
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        migrate(connection, postgres_dsn)
    return postgres_dsn


def _guard(dsn: str, clock: Clock) -> AdminGuard:
    """One instance's guard, as ``admin.guard_for`` makes it for a database, on the test's clock."""
    return AdminGuard(
        PASSWORD,
        AttemptTable(dsn, "client", clock=clock),
        clock=clock,
        proxy_limiter=AttemptTable(
            dsn, "proxy", free=PROXY_FREE_GUESSES, lockout_after=PROXY_LOCKOUT_AFTER, clock=clock
        ),
    )


def test_wrong_guesses_alternating_between_two_limiters_add_up_as_on_one(dsn: str) -> None:
    clock = Clock()
    tables = [
        AttemptTable(dsn, "client", free=3, base_delay=1, max_delay=60, lockout_after=10, lockout=900, clock=clock)
        for _ in range(2)
    ]
    memory = AttemptLimiter(free=3, base_delay=1, max_delay=60, lockout_after=10, lockout=900, clock=clock)
    delays = [tables[i % 2].failed("1.2.3.4") for i in range(10)]
    assert delays == [memory.failed("1.2.3.4") for _ in range(10)] == [0, 0, 0, 1, 2, 4, 8, 16, 32, 900]
    assert tables[0].wait("1.2.3.4") == tables[1].wait("1.2.3.4") == 900
    assert tables[1].wait("5.6.7.8") == 0  # per client
    clock.now += 899
    assert tables[1].wait("1.2.3.4") == pytest.approx(1)
    clock.now += 2
    assert tables[0].wait("1.2.3.4") == 0  # the lockout is over: the client starts afresh
    assert tables[1].failed("1.2.3.4") == 0
    assert [tables[i % 2].failed("9.9.9.9") for i in range(4)][-1] == 1
    tables[0].succeeded("9.9.9.9")  # the right password, on either instance, clears the count
    assert tables[1].wait("9.9.9.9") == 0


def test_twenty_wrong_passwords_spread_over_two_instances_are_slowed_then_refused(dsn: str) -> None:
    clock = Clock()
    guards = [_guard(dsn, clock), _guard(dsn, clock)]
    answers = []
    for number in range(20):
        answers.append(guards[number % 2].check("attacker", f"guess-{number}"))
        clock.now += 0.05  # 20 tries a second
    assert [a.status for a in answers[:4]] == [401, 401, 401, 401]
    assert all(a.status == 429 for a in answers[4:])
    assert answers[3].retry_after == 1
    assert guards[0].check("attacker", PASSWORD).status == 429
    assert guards[1].check("attacker", PASSWORD).status == 429
    assert guards[1].check("admin", PASSWORD).ok  # another client is not locked out


def test_the_proxy_bound_is_shared_too(dsn: str) -> None:
    """Clients behind one trusted proxy, each claiming a new address, spread over two instances."""
    clock = Clock()
    guards = [_guard(dsn, clock), _guard(dsn, clock)]
    answers = [
        guards[n % 2].check(f"10.0.{n // 250}.{n % 250}", f"guess-{n}", proxy="192.0.2.1")
        for n in range(PROXY_FREE_GUESSES + 1)
    ]
    assert all(a.status == 401 for a in answers)
    assert answers[-2].retry_after == 0
    assert answers[-1].retry_after == 1  # the proxy's first paid guess, counted over both
    assert guards[0].check("10.9.9.9", PASSWORD, proxy="192.0.2.1").status == 429
    assert guards[1].check("10.9.9.9", PASSWORD).ok  # not through the proxy: its own count


def test_guesses_at_the_same_moment_on_two_instances_are_all_counted(dsn: str) -> None:
    clock = Clock()
    tables = [AttemptTable(dsn, "client", lockout_after=1000, clock=clock) for _ in range(2)]
    start = threading.Barrier(2)

    def guess(table: AttemptTable) -> None:
        start.wait()
        for _ in range(25):
            table.failed("1.2.3.4")

    threads = [threading.Thread(target=guess, args=(table,)) for table in tables]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    with psycopg.connect(dsn) as connection:
        [(failures,)] = connection.execute("SELECT failures FROM admin_attempts WHERE client = '1.2.3.4'")
    assert failures == 50


def test_quiet_clients_are_forgotten_and_the_rows_are_bounded(dsn: str) -> None:
    clock = Clock()
    tables = [AttemptTable(dsn, "client", free=0, base_delay=1, lockout=60, max_clients=3, clock=clock) for _ in "ab"]
    for number, client in enumerate("abcd"):
        tables[number % 2].failed(client)
        clock.now += 0.01
    assert tables[0].remembered() == 3
    assert tables[0].wait("a") == 0  # the oldest was dropped to keep three
    assert tables[1].wait("d") == pytest.approx(1, abs=0.1)
    clock.now += 120
    assert tables[1].wait("d") == 0
    assert tables[0].remembered() == 2  # "d" was forgotten when it was asked about
    tables[1].failed("e")  # a wrong guess deletes the rows of clients forgotten anyway
    assert tables[0].remembered() == 1
    other = AttemptTable(dsn, "proxy", clock=clock)
    assert other.remembered() == 0  # the scopes are counted apart


def test_a_long_address_is_kept_by_its_digest(dsn: str) -> None:
    clock = Clock()
    table = AttemptTable(dsn, "client", free=0, clock=clock)
    address = "x" * 5000  # X-Forwarded-For is the client's to write
    assert table.failed(address) == 1
    assert table.wait(address) == 1
    assert table.wait("x" * 4999) == 0


def test_limits_that_cannot_be_checked_refuse_the_sign_in_in_one_line(dsn: str, caplog) -> None:
    """Fail closed: a right password and a wrong one get the same refusal, and the log one line."""
    clock = Clock()
    guard = _guard(dsn, clock)
    assert guard.check("me", PASSWORD).ok
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("DROP TABLE admin_attempts")
    with caplog.at_level(logging.WARNING, logger="sendsearch.server"):
        answers = [guard.check("me", given) for given in (PASSWORD, "wrong")]
    assert [(a.ok, a.status, a.message) for a in answers] == [(False, 503, LIMITS_UNAVAILABLE)] * 2
    assert answers[0].retry_after > 0
    [record, _] = caplog.records
    assert "could not be checked" in record.getMessage()
    assert 'relation "admin_attempts" does not exist' in record.getMessage()
    assert "\n" not in record.getMessage()
    assert record.exc_info is None
    assert PASSWORD not in caplog.text


def test_an_unreachable_database_refuses_the_sign_in(postgres_server) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    guard = _guard(f"postgresql://postgres:secret@127.0.0.1:{port}/nothing", Clock())
    check = guard.check("me", PASSWORD)
    assert (check.ok, check.status, check.message) == (False, 503, LIMITS_UNAVAILABLE)
