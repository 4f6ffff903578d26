"""Query time of search settings side by side, interleaved in one process so that load on the machine falls on both.

    python benchmarks/query_latency.py --index commons-index \\
        --settings '{"non_answer_weight": 1.0, "off_topic_term_weight": 1.0}' --settings '{}'

Questions: the 264 of benchmarks/bench.py (24 dev questions and 240 from SEND written
questions) and the 40 realistic ones of eval/realistic-queries.jsonl, each searched with
k=10, end to end (the question embedded too), after 30 warm-up searches; --rounds times.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from bench import questions

from sendsearch import Index, SearchConfig
from sendsearch.evaluation import load_queries

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--settings", action="append", default=[], help="SearchConfig overrides as JSON")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    index = Index.open(args.index)
    asked = questions() + list(load_queries(ROOT / "eval" / "realistic-queries.jsonl").values())
    configs = {settings: SearchConfig(**json.loads(settings)) for settings in args.settings or ["{}"]}
    for question in asked[:30]:
        for config in configs.values():
            index.search(question, 10, config=config)
    times: dict[str, list[float]] = {settings: [] for settings in configs}
    for _ in range(args.rounds):
        for question in asked:
            for settings, config in configs.items():
                began = time.perf_counter()
                index.search(question, 10, config=config)
                times[settings].append(time.perf_counter() - began)
    for settings, values in times.items():
        ms = np.array(values) * 1000
        print(f"{settings}: {len(ms)} searches, p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms")


if __name__ == "__main__":
    main()
