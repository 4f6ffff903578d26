"""`sendsearch serve` in a process of its own, for the benchmarks that attack it from outside."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    url: str
    pid: int
    log: Path

    def rss_mb(self) -> float:
        """The server's resident memory now, from /proc (Linux)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS line: is this Linux?")

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))


@contextmanager
def live_server(
    index: Path, *args: str, env: dict[str, str] | None = None, ready_within: float = 300
) -> Iterator[LiveServer]:
    """Start `sendsearch serve --index INDEX ARGS...` on a free loopback port; stop it after."""
    port = free_port()
    log = Path(tempfile.gettempdir()) / f"sendsearch-serve-{port}.log"
    command = [sys.executable, "-m", "sendsearch.cli", "serve", "--index", str(index), "--port", str(port), *args]
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    with open(log, "w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=environment)
    url = f"http://127.0.0.1:{port}/"
    try:
        started = time.monotonic()
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server exited:\n{log.read_text()}")
            try:
                if httpx.get(url + "api/search", params={"q": "EHC"}, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > ready_within:
                raise SystemExit(f"the server did not answer within {ready_within:.0f} s:\n{log.read_text()}")
            time.sleep(0.5)
        yield LiveServer(url, process.pid, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
