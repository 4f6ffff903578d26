"""Connecting to the PostgreSQL store, and its failures as one line each.

A DSN is shown without its password wherever it is named (``shown``). Every failure a
person can fix (no server there, wrong password, no such database, missing tables) is a
``SendSearchError`` saying what to do, never a driver traceback.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from ...errors import IndexFormatError, IndexNotFoundError, SendSearchError

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "SCHEMES",
    "StoreUnavailableError",
    "connect",
    "damaged_store",
    "is_database",
    "rebuild_hint",
    "reports_failures",
    "shown",
]

SCHEMES = ("postgresql://", "postgres://")


class StoreUnavailableError(SendSearchError):
    """The PostgreSQL server cannot be reached, or refuses the credentials."""


def is_database(location: object) -> bool:
    """Whether an index location (``--store``, ``SENDSEARCH_STORE``) names a PostgreSQL database."""
    return isinstance(location, str) and location.strip().lower().startswith(SCHEMES)


def shown(dsn: str) -> str:
    """The DSN as it may be printed: without its password."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - an unparsable DSN is shown by its scheme alone
        return "postgresql://..."
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


def rebuild_hint(dsn: str, sources: Iterable[str] = ()) -> str:
    paths = " ".join(shlex.quote(s) for s in sources) or "PATHS..."
    return f"rebuild it with `sendsearch build {paths} --store {shlex.quote(shown(dsn))}`"


def damaged_store(dsn: str, detail: object, sources: Iterable[str] = ()) -> IndexFormatError:
    return IndexFormatError(f"the index in {shown(dsn)} is damaged ({detail}); {rebuild_hint(dsn, sources)}")


def _driver() -> Any:
    try:
        import psycopg
    except ImportError:
        raise SendSearchError("the PostgreSQL store needs psycopg: pip install 'sendsearch[postgresql]'") from None
    return psycopg


def _first_line(error: BaseException) -> str:
    """The server's own one-line message, else the driver's last line (where libpq says why)."""
    primary = getattr(getattr(error, "diag", None), "message_primary", None)
    if primary:
        return str(primary).strip()
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def connection_failure(dsn: str, error: BaseException) -> SendSearchError:
    """What a failed connection means for the person who typed the DSN."""
    reason = _first_line(error)
    where = shown(dsn)
    if "password authentication failed" in reason or "no password supplied" in reason:
        return StoreUnavailableError(
            f"PostgreSQL at {where} refused the user name and password given in --store: {reason}"
        )
    if "does not exist" in reason and "database" in reason:
        return IndexNotFoundError(f"{reason} at {where}; create it (createdb) or name another one in --store")
    return StoreUnavailableError(f"cannot reach PostgreSQL at {where}: {reason}; is the server running there?")


def connect(dsn: str, *, timeout: int = 10) -> psycopg.Connection[Any]:
    """An autocommit connection; SendSearchError (one line) where none can be made."""
    psycopg = _driver()
    try:
        connection = psycopg.connect(dsn, autocommit=True, connect_timeout=timeout)
    except psycopg.Error as error:
        raise connection_failure(dsn, error) from None
    except Exception as error:  # noqa: BLE001 - libpq's DSN parser raises ProgrammingError and others
        raise StoreUnavailableError(
            f"--store is not a PostgreSQL address sendsearch can use: {_first_line(error)}"
        ) from None
    return connection


_P = ParamSpec("_P")
_R = TypeVar("_R")


def reports_failures(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """A read whose server went away, or whose tables are gone or altered, raises one line
    (SendSearchError) instead of a driver traceback in the middle of a search. A read whose
    connection broke is tried once more on a new one: after a failover (a DSN listing the
    primary and its replicas) that one reaches the server still answering. Programming
    errors keep their traceback."""

    @functools.wraps(method)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        import psycopg

        owner: Any = args[0]
        for attempt in (1, 2):
            try:
                return method(*args, **kwargs)
            except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as error:
                owner.forget_connection()
                raise damaged_store(owner.dsn, _first_line(error), owner.sources) from None
            except (psycopg.OperationalError, StoreUnavailableError) as error:
                owner.forget_connection()
                if attempt == 2:
                    if isinstance(error, StoreUnavailableError):
                        raise
                    where = shown(owner.dsn)
                    raise StoreUnavailableError(
                        f"PostgreSQL at {where} stopped answering: {_first_line(error)}"
                    ) from None
        raise AssertionError("unreachable")  # the loop returns or raises

    return guarded
