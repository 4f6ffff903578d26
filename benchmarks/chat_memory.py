"""The server's memory under hostile chat messages (issue 18, finding 3).

    python benchmarks/chat_memory.py --index index

Starts `sendsearch serve` on the index, then, the way the page sends its questions (one
POST of the Ask event to ``/gradio_api/run/predict``, the conversation token of the last
reply sent back with the next), as separate anonymous sessions:

1. ``--sessions`` sessions (20) each send one question of ``--chars`` characters (5,000,000);
2. one conversation of ``--questions`` ordinary questions in a row (200).

It prints the server's RSS before, after each phase and ``--settle`` seconds later, what
the hostile requests were answered, and the size of the last reply and of the
conversation token the page holds. Passes (exit 0)
when RSS after the first phase stays within ``--budget-mb`` (100) of where it started.
"""

from __future__ import annotations

import argparse
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


def ask_event(config: dict[str, Any]) -> tuple[int, list[Any]]:
    """The Ask event's id and its inputs as a new page sends them (each control's value)."""
    event = next(d for d in config["dependencies"] if d.get("api_name") == "respond")
    values = {c["id"]: (c.get("props") or {}).get("value") for c in config["components"]}
    return event["id"], [values.get(i) for i in event["inputs"]]


def ask(
    url: str, event: tuple[int, list[Any]], question: str, token: str = "", session: str = "", timeout: float = 120
) -> tuple[int, int, str]:
    """Ask as the page does (``session``: the page's, a new one if not given); returns (HTTP
    status, characters of the chat reply, the new conversation token)."""
    fn_index, defaults = event
    body = {
        "data": [question, token, *defaults[2:]],
        "fn_index": fn_index,
        "session_hash": session or uuid.uuid4().hex,
        "event_data": None,
        "trigger_id": None,
    }
    reply = httpx.post(url + "gradio_api/run/predict", json=body, timeout=timeout)
    if reply.status_code != 200:
        return reply.status_code, 0, token
    # The notice, the new reply ({"html": ...}), the new token, then the page's controls.
    data: Any = reply.json().get("data") or ["", None, token]
    fresh = data[1] if isinstance(data[1], dict) else {}
    return 200, len(fresh.get("html") or ""), data[2] if isinstance(data[2], str) else token


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
        event = ask_event(config)
        ask(server.url, event, QUESTIONS[0])  # everything loaded once
        start = server.rss_mb()
        print(f"RSS at the start: {start:,.0f} MB")

        question = "x" * args.chars
        began = time.perf_counter()
        with ThreadPoolExecutor(args.sessions) as pool:
            answers = list(pool.map(lambda n: ask(server.url, event, question), range(args.sessions)))
        statuses = sorted({status for status, _, _ in answers})
        after = server.rss_mb()
        print(
            f"{args.sessions} sessions x {args.chars:,} characters: HTTP {statuses} in "
            f"{time.perf_counter() - began:.1f} s; RSS {after:,.0f} MB ({after - start:+,.0f} MB)"
        )

        token, sizes, tokens, session = "", [], [], uuid.uuid4().hex
        for n in range(args.questions):
            _, size, token = ask(server.url, event, QUESTIONS[n % len(QUESTIONS)], token, session)
            sizes.append(size)
            tokens.append(len(token))
        print(
            f"one conversation, {args.questions} questions: last reply {sizes[-1] / 1e6:.2f} MB "
            f"(largest {max(sizes) / 1e6:.2f} MB), token at most {max(tokens):,} characters; "
            f"RSS {server.rss_mb():,.0f} MB"
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
