"""Concurrent searches against a running sendsearch server through its /search API.

    python benchmarks/load_test.py --url http://127.0.0.1:7860/ --clients 20 --rounds 10

Each client is a separate gradio_client.Client asking the questions below in turn; a reply
is correct when its first passage comes from the expected seed document. Prints p50/p95
latency (seconds, client side, including queueing) and any errors or wrong answers.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import threading
import time
from dataclasses import dataclass, field

# Questions over the bundled corpus, with the document that answers each.
QUESTIONS = [
    ("How much does Stockport spend on SEND?", "001_96ab44ec7aed3ea8.txt"),
    ("Who pays for a council's EHC needs assessment team?", "002_30c036443f88d855.txt"),
    ("How much high needs funding is Stockport receiving in 2022-23?", "000_7c82a29ce6e4872e.txt"),
    ("How much money do local authorities have to deliver their core services this year?", "004_f5f6ddbb26941a27.txt"),
    ("When does the Stockport SEND consultation close?", "001_96ab44ec7aed3ea8.txt"),
    ("What data does the department monitor about the SEND system?", "003_a5f8c01f0c4ae145.txt"),
]


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# Seconds a client waits for any one response: httpx's default (5 s) fails a reply that a
# busy machine is still computing, which is slowness, not an error.
PATIENCE = 300.0


def run_load(url: str, clients: int = 20, rounds: int = 10, patience: float = PATIENCE) -> LoadResult:
    from gradio_client import Client

    result = LoadResult()
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def worker(number: int) -> None:
        try:
            client = Client(url, verbose=False, httpx_kwargs={"timeout": patience})
        except Exception as error:  # noqa: BLE001 - counted, and the others must not wait for it
            with lock:
                result.errors.append(f"client {number}: {type(error).__name__}: {error}")
            client = None
        # A client that failed to connect breaks the barrier; the rest start anyway.
        with contextlib.suppress(threading.BrokenBarrierError):
            start.wait(timeout=300)
        if client is None:
            return
        for r in range(rounds):
            question, expected = QUESTIONS[(number + r) % len(QUESTIONS)]
            began = time.perf_counter()
            try:
                passages = client.predict(question, 5, "", "", "", "", api_name="/search")
            except Exception as error:  # noqa: BLE001 - every failure is counted
                with lock:
                    result.errors.append(f"{question}: {type(error).__name__}: {error}")
                continue
            elapsed = time.perf_counter() - began
            with lock:
                result.latencies.append(elapsed)
                if not passages or passages[0]["doc_id"] != expected:
                    result.wrong.append(f"{question}: got {passages[0]['doc_id'] if passages else 'nothing'}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    began = time.perf_counter()
    result = run_load(args.url, args.clients, args.rounds)
    wall = time.perf_counter() - began
    print(f"{len(result.latencies)} replies, {len(result.errors)} errors, {len(result.wrong)} wrong, in {wall:.1f} s")
    if result.latencies:
        print(
            f"latency p50 {result.percentile(0.5):.3f} s, p95 {result.percentile(0.95):.3f} s, "
            f"mean {statistics.mean(result.latencies):.3f} s, max {max(result.latencies):.3f} s"
        )
    for line in (result.errors + result.wrong)[:10]:
        print("  ", line)


if __name__ == "__main__":
    main()
