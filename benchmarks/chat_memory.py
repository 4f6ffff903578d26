"""The server's memory under hostile chat messages (issue 18, finding 3).

    python benchmarks/chat_memory.py --index index

Starts `sendsearch serve` on the index, then, the way the page sends its questions
(``/gradio_api/queue/join`` with the Ask event), as separate anonymous sessions:

1. ``--sessions`` sessions (20) each send one question of ``--chars`` characters (5,000,000);
2. one session sends ``--questions`` ordinary questions in a row (200).

It prints the server's RSS before, after each phase and ``--settle`` seconds later, what
the hostile requests were answered, and the size of the last chat reply. Passes (exit 0)
when RSS after the first phase stays within ``--budget-mb`` (100) of where it started.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from live_server import live_server  # beside this script

QUESTIONS = [
    "How long does a council have to complete an EHC needs assessment?",
    "How much high needs funding is Stockport getting?",
    "What is the Delivering Better Value programme?",
    "and what about tribunals?",
]


def ask(url: str, fn_index: int, question: str, session: str, timeout: float = 120) -> tuple[int, int]:
    """Ask as the page does; returns (HTTP status of the join, characters of the chat reply)."""
    body = {
        "data": [question, [], None, "", "", "Any department", "Any", 3],
        "fn_index": fn_index,
        "session_hash": session,
        "event_data": None,
        "trigger_id": None,
    }
    joined = httpx.post(url + "gradio_api/queue/join", json=body, timeout=timeout)
    if joined.status_code != 200:
        return joined.status_code, 0
    with httpx.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}, timeout=timeout) as feed:
        for line in feed.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    data: Any = (message.get("output") or {}).get("data") or [""]
                    return 200, len(data[0] or "")
    return 200, 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--chars", type=int, default=5_000_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds to wait before the last reading")
    parser.add_argument("--budget-mb", type=float, default=100.0)
    args = parser.parse_args()

    with live_server(args.index) as server:
        config = httpx.get(server.url + "config", timeout=60).json()
        fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "respond")
        ask(server.url, fn_index, QUESTIONS[0], uuid.uuid4().hex)  # everything loaded once
        start = server.rss_mb()
        print(f"RSS at the start: {start:,.0f} MB")

        question = "x" * args.chars
        began = time.perf_counter()
        with ThreadPoolExecutor(args.sessions) as pool:
            answers = list(
                pool.map(lambda n: ask(server.url, fn_index, question, uuid.uuid4().hex), range(args.sessions))
            )
        statuses = sorted({status for status, _ in answers})
        after = server.rss_mb()
        print(
            f"{args.sessions} sessions x {args.chars:,} characters: HTTP {statuses} in "
            f"{time.perf_counter() - began:.1f} s; RSS {after:,.0f} MB ({after - start:+,.0f} MB)"
        )

        session = uuid.uuid4().hex
        sizes = [ask(server.url, fn_index, QUESTIONS[n % len(QUESTIONS)], session)[1] for n in range(args.questions)]
        print(
            f"one session, {args.questions} questions: last reply {sizes[-1] / 1e6:.2f} MB "
            f"(largest {max(sizes) / 1e6:.2f} MB); RSS {server.rss_mb():,.0f} MB"
        )
        time.sleep(args.settle)
        settled = server.rss_mb()
        print(f"RSS {args.settle:.0f} s later: {settled:,.0f} MB ({settled - start:+,.0f} MB from the start)")
    within = after - start <= args.budget_mb
    print(
        f"{'PASS' if within else 'FAIL'}: the hostile sessions added {after - start:+,.0f} MB "
        f"(budget {args.budget_mb:.0f})"
    )
    raise SystemExit(0 if within else 1)


if __name__ == "__main__":
    main()
