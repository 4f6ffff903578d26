"""Wrong admin passwords counted in the PostgreSQL store, shared by every instance serving it.

``guard_for`` gives a server the guard its store calls for: these shared counts for an
index in PostgreSQL, the in-memory ones for a folder.

``AttemptTable`` is an ``admin.AttemptLimiter`` whose counts live in the database's
``admin_attempts`` table (schema migration 2) rather than in one process: twenty wrong
guesses spread over several ``serve`` instances behind a load balancer are slowed and
locked out exactly as twenty sent to one. The rules (free guesses, the exponential delay,
the lockout, forgetting quiet clients) are ``AttemptLimiter``'s own; only where the counts
are kept differs.

- A wrong guess is counted by one upsert that holds the client's row until its
  transaction commits, so guesses arriving at the same moment on different instances
  are counted one after the other, none lost.
- The clock is injected as for the in-memory limiter. Its default is wall time: the
  times are compared by other instances, on other machines (as session expiries are).
- Bounded: each wrong guess also deletes the rows of clients that would be forgotten
  anyway, and the oldest beyond ``max_clients`` per scope; rows another instance is
  writing at that moment are skipped (``SKIP LOCKED``), never waited for.
- Any database failure is a ``SendSearchError`` of one line (after one more try on a new
  connection, for a restart or a failover); ``AdminGuard.check`` turns it into a refusal.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ..limits import PROXY_FREE_GUESSES, PROXY_LOCKOUT_AFTER
from ..search.index import Index
from ..search.postgres.connection import StoreUnavailableError, connect, shown
from .admin import AdminGuard, AttemptLimiter

__all__ = ["AttemptTable", "guard_for"]

_T = TypeVar("_T")
# An address longer than any real one (X-Forwarded-For is the client's to write) is kept
# by its digest, so no key outgrows the table's index.
_MAX_KEY = 100
# A database that does not answer within this refuses the sign-in rather than holding it.
_STATEMENT_TIMEOUT_MS = 5000


class AttemptTable(AttemptLimiter):
    """Wrong guesses per client in ``admin_attempts`` under ``scope`` ("client" or "proxy")."""

    def __init__(
        self,
        dsn: str,
        scope: str,
        *,
        free: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        lockout_after: int = 10,
        lockout: float = 900.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            free=free,
            base_delay=base_delay,
            max_delay=max_delay,
            lockout_after=lockout_after,
            lockout=lockout,
            max_clients=max_clients,
            clock=clock,
        )
        self.dsn = dsn
        self.scope = scope
        self._connection: Any = None
        # One connection, used by one check at a time: sign-ins are rare and quick.
        self._connection_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AttemptTable({shown(self.dsn)!r}, {self.scope!r})"

    # -- the limiter ---------------------------------------------------------------------------
    def wait(self, client: str) -> float:
        now = self._clock()
        key = _key(client)

        def read(connection: Any) -> float:
            row = connection.execute(
                "SELECT until, last FROM admin_attempts WHERE scope = %s AND client = %s", (self.scope, key)
            ).fetchone()
            if row is None:
                return 0.0
            until, last = float(row[0]), float(row[1])
            if self.forgotten(until, last, now):
                # Only if no guess was counted since it was read.
                connection.execute(
                    "DELETE FROM admin_attempts WHERE scope = %s AND client = %s AND last = %s", (self.scope, key, last)
                )
                return 0.0
            return max(0.0, until - now)

        return self._run(read)

    def failed(self, client: str) -> float:
        now = self._clock()
        key = _key(client)

        def count(connection: Any) -> float:
            with connection.transaction():
                # A row that would be forgotten starts afresh, as a forgotten client does in memory.
                failures = int(
                    connection.execute(
                        "INSERT INTO admin_attempts AS a (scope, client, failures, until, last) "
                        "VALUES (%(scope)s, %(key)s, 1, %(now)s, %(now)s) "
                        "ON CONFLICT (scope, client) DO UPDATE SET last = %(now)s, failures = CASE "
                        "WHEN a.until <= %(now)s AND %(now)s - a.last > %(lockout)s THEN 1 "
                        "ELSE a.failures + 1 END RETURNING failures",
                        {"scope": self.scope, "key": key, "now": now, "lockout": self.lockout},
                    ).fetchone()[0]
                )
                delay = self.delay_after(failures)
                connection.execute(
                    "UPDATE admin_attempts SET until = %s WHERE scope = %s AND client = %s",
                    (now + delay, self.scope, key),
                )
            self._trim(connection, now)
            return delay

        return self._run(count)

    def succeeded(self, client: str) -> None:
        key = _key(client)
        self._run(
            lambda connection: connection.execute(
                "DELETE FROM admin_attempts WHERE scope = %s AND client = %s", (self.scope, key)
            )
        )

    def remembered(self) -> int:
        """How many clients this scope holds rows for (what the bound bounds)."""
        return int(
            self._run(
                lambda c: c.execute("SELECT count(*) FROM admin_attempts WHERE scope = %s", (self.scope,)).fetchone()[0]
            )
        )

    def _trim(self, connection: Any, now: float) -> None:
        """Delete the rows of clients that are forgotten anyway, then the oldest beyond the bound.
        A client that last failed over ``lockout`` ago has waited out any delay (none is longer)."""
        connection.execute(
            "DELETE FROM admin_attempts WHERE (scope, client) IN (SELECT scope, client FROM admin_attempts "
            "WHERE scope = %s AND last < %s FOR UPDATE SKIP LOCKED)",
            (self.scope, now - self.lockout),
        )
        connection.execute(
            "DELETE FROM admin_attempts WHERE (scope, client) IN (SELECT scope, client FROM admin_attempts "
            "WHERE scope = %s ORDER BY last DESC, client OFFSET %s FOR UPDATE SKIP LOCKED)",
            (self.scope, self._max_clients),
        )

    # -- the connection --------------------------------------------------------------------------
    def _run(self, work: Callable[[Any], _T]) -> _T:
        """``work`` on this limiter's connection; a broken connection is replaced and the work
        tried once more; any failure left is one line (StoreUnavailableError)."""
        import psycopg

        with self._connection_lock:
            for attempt in (1, 2):
                try:
                    return work(self._connect())
                except psycopg.OperationalError as error:
                    self._forget()
                    if attempt == 2:
                        raise self._failure(error) from None
                except psycopg.Error as error:
                    self._forget()
                    raise self._failure(error) from None
        raise AssertionError("unreachable")  # the loop returns or raises

    def _connect(self) -> Any:
        if self._connection is None or self._connection.closed:
            connection = connect(self.dsn, timeout=5)
            connection.execute(f"SET statement_timeout = {_STATEMENT_TIMEOUT_MS}")
            self._connection = connection
        return self._connection

    def _forget(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # it is being dropped because it failed
                connection.close()

    def _failure(self, error: BaseException) -> StoreUnavailableError:
        primary = getattr(getattr(error, "diag", None), "message_primary", None)
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = str(primary or (lines[-1] if lines else type(error).__name__))
        return StoreUnavailableError(f"PostgreSQL at {shown(self.dsn)} did not answer for the sign-in limits: {reason}")


def guard_for(index: Index, password: str | None, *, secret: bytes | None = None) -> AdminGuard:
    """The guard a server of ``index`` signs in with. With the index in PostgreSQL, the
    wrong-password counts (per client and per trusted proxy) are kept in its database, so
    every instance serving it counts the same guesses; with a folder index they stay in
    this process's memory (``AttemptLimiter``)."""
    if index.dsn is None:
        return AdminGuard(password, secret=secret)
    return AdminGuard(
        password,
        AttemptTable(index.dsn, "client"),
        secret=secret,
        proxy_limiter=AttemptTable(index.dsn, "proxy", free=PROXY_FREE_GUESSES, lockout_after=PROXY_LOCKOUT_AFTER),
    )


def _key(client: str) -> str:
    if len(client) <= _MAX_KEY:
        return client
    return "sha256:" + hashlib.sha256(client.encode("utf-8", "replace")).hexdigest()
