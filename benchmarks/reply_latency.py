"""A reply's time with an answer scorer's trees alone and with their sentence reranker (a
scorer trained with ``--reranker``, training/README.md), interleaved in one process so that
load on the machine falls on both.

    python benchmarks/reply_latency.py --index commons-index --scorer path/to/answer-scorer.json

Questions: the 264 of benchmarks/bench.py and the 40 of eval/realistic-queries.jsonl, each
answered as the page answers it (``build_reply``: the search, the candidate sentences, the
scorer, three passages shown), after 20 warm-up replies; --rounds times. Also prints how
many replies offered key points with each.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from bench import questions

from sendsearch import Index
from sendsearch.chat.answers import load_answer_scorer
from sendsearch.chat.replies import PASSAGES_FETCHED, build_reply
from sendsearch.search.evaluation import load_queries
from sendsearch.search.request import SearchRequest

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--scorer", type=Path, required=True, help="a scorer's JSON that names a reranker")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    index = Index.open(args.index)
    scorers = {
        "trees alone": load_answer_scorer(str(args.scorer), reranker=False),
        "trees + reranker": load_answer_scorer(str(args.scorer)),
    }
    if scorers["trees + reranker"].reranker is None:
        raise SystemExit(f"{args.scorer} names no reranker: train one with --reranker")
    asked = questions() + list(load_queries(ROOT / "eval" / "realistic-queries.jsonl").values())

    def reply(question: str, name: str) -> bool:
        request = SearchRequest.parse(question, PASSAGES_FETCHED)
        return bool(build_reply(index, question, None, request, 3, scorer=scorers[name]).key_points)

    for question in asked[:20]:
        for name in scorers:
            reply(question, name)
    times: dict[str, list[float]] = {name: [] for name in scorers}
    spoke: dict[str, int] = dict.fromkeys(scorers, 0)
    for _ in range(args.rounds):
        for question in asked:
            for name in scorers:
                start = time.perf_counter()
                spoke[name] += reply(question, name)
                times[name].append(time.perf_counter() - start)
    print(f"{len(asked)} questions x {args.rounds} rounds, load {os.getloadavg()[0]:.1f}")
    for name, taken in times.items():
        ms = np.asarray(taken) * 1000
        print(
            f"{name:17s} p50 {np.percentile(ms, 50):6.1f} ms  p95 {np.percentile(ms, 95):6.1f} ms  "
            f"key points in {spoke[name] // args.rounds}/{len(asked)} replies"
        )


if __name__ == "__main__":
    main()
