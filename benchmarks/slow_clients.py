"""A bounded slow-client (slowloris) attack on `sendsearch serve`, and what other clients see meanwhile.

    python benchmarks/slow_clients.py --index index --sockets 2000 --seconds 30

Starts `sendsearch serve` on the index. Attackers on loopback addresses 127.0.0.2 ...
(``--sources`` of them) keep ``--sockets`` connections open between them, each sending one
more byte of never-ending request headers every second and reconnecting when the server
closes it. Meanwhile an ordinary client on 127.0.0.1 asks a question every half second.
Prints that client's latency (p50, p95, max) and failures, how many attack connections the
server refused or cut off, its open files, and its log's size and tracebacks. Passes (exit
0) when every ordinary request was answered within ``--within`` seconds (2).
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from live_server import live_server  # beside this script

HEADER = b"GET /api/search?q=EHC HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: "


@dataclass
class Attack:
    opened: int = 0
    closed_by_server: int = 0
    open_now: int = 0
    sockets: list[socket.socket] = field(default_factory=list)


def attack(host: str, port: int, sources: list[str], target: int, stop: threading.Event, result: Attack) -> None:
    rounds = 0
    while not stop.is_set():
        while len(result.sockets) < target and not stop.is_set():
            source = sources[len(result.sockets) % len(sources)]
            try:
                client = socket.create_connection((host, port), timeout=2, source_address=(source, 0))
                client.sendall(HEADER)
                client.setblocking(False)
            except OSError:
                break  # the backlog is full, or we are out of descriptors: try again next round
            result.sockets.append(client)
            result.opened += 1
        alive = []
        for client in result.sockets:
            try:
                with contextlib.suppress(BlockingIOError):
                    if client.recv(4096) == b"":
                        raise ConnectionResetError
                client.send(b"x")
                alive.append(client)
            except OSError:
                result.closed_by_server += 1
                client.close()
        result.sockets[:] = alive
        result.open_now = len(alive)
        rounds += 1
        stop.wait(1.0)
    for client in result.sockets:
        client.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--sockets", type=int, default=2000, help="attack connections kept open")
    parser.add_argument("--sources", type=int, default=1, help="attacker addresses (127.0.0.2 ...)")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--within", type=float, default=2.0, help="seconds an ordinary request may take")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.sockets + 256
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))

    with live_server(args.index) as server:
        host, port = server.url.split("//")[1].rstrip("/").split(":")
        sources = [f"127.0.0.{2 + number}" for number in range(args.sources)]
        stop, result = threading.Event(), Attack()
        attacker = threading.Thread(target=attack, args=(host, int(port), sources, args.sockets, stop, result))
        attacker.start()
        latencies: list[float] = []
        failures: list[str] = []
        peak_files = 0
        began = time.monotonic()
        with httpx.Client(timeout=30) as client:
            while time.monotonic() - began < args.seconds:
                started = time.perf_counter()
                try:
                    reply = client.get(server.url + "api/search", params={"q": "EHC plan timescales", "k": 3})
                    if reply.status_code != 200:
                        failures.append(f"HTTP {reply.status_code}")
                except httpx.HTTPError as error:
                    failures.append(type(error).__name__)
                latencies.append(time.perf_counter() - started)
                peak_files = max(peak_files, server.open_files())
                time.sleep(0.5)
        stop.set()
        attacker.join()
        log = server.log.read_text(errors="replace")
    slowest = max(latencies)
    print(
        f"attack: {args.sockets:,} connections wanted from {len(sources)} address(es); {result.opened:,} opened, "
        f"{result.closed_by_server:,} refused or cut off by the server, {result.open_now:,} open at the end"
    )
    print(
        f"other client: {len(latencies)} requests, p50 {percentile(latencies, 0.5):.3f} s, "
        f"p95 {percentile(latencies, 0.95):.3f} s, max {slowest:.3f} s, {len(failures)} failed {failures[:5]}"
    )
    print(
        f"server: at most {peak_files:,} open files; log {len(log.splitlines()):,} lines, "
        f"{log.count('Traceback')} tracebacks"
    )
    passed = not failures and slowest <= args.within
    print(f"{'PASS' if passed else 'FAIL'}: every other request answered within {args.within:g} s")
    raise SystemExit(0 if passed else 1)


if __name__ == "__main__":
    main()
