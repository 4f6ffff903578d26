"""Query time of search settings side by side, interleaved in one process so that load on the machine falls on both.

    python benchmarks/query_latency.py --index commons-index \\
        --settings '{"non_answer_weight": 1.0, "off_topic_term_weight": 1.0}' --settings '{}'
    python benchmarks/query_latency.py --index commons-index --file-checks   # their cost per search

Questions: the 264 of benchmarks/bench.py (24 dev questions and 240 from SEND written
questions) and the 40 realistic ones of eval/realistic-queries.jsonl, each searched with
k=10, end to end (the question embedded too), after 30 warm-up searches; --rounds times.
With --file-checks, each setting runs twice, interleaved: as shipped, and with the check of
the generation's files after each search (Index._served) turned off.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from bench import questions

from sendsearch import Index, SearchConfig
from sendsearch.search.evaluation import load_queries

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--settings", action="append", default=[], help="SearchConfig overrides as JSON")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--file-checks", action="store_true", help="also run each setting without file checks")
    args = parser.parse_args()
    index = Index.open(args.index)
    unchecked = Index.open(args.index, embedder=index.embedder)
    unchecked._served = lambda snapshot: None  # type: ignore[method-assign]
    asked = questions() + list(load_queries(ROOT / "eval" / "realistic-queries.jsonl").values())
    runs = {}
    for settings in args.settings or ["{}"]:
        runs[settings] = (index, SearchConfig().with_(**json.loads(settings)))
        if args.file_checks:
            runs[f"{settings} without file checks"] = (unchecked, SearchConfig().with_(**json.loads(settings)))
    for question in asked[:30]:
        for searcher, config in runs.values():
            searcher.search(question, 10, settings=config)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for question in asked:
            for name, (searcher, config) in runs.items():
                began = time.perf_counter()
                searcher.search(question, 10, settings=config)
                times[name].append(time.perf_counter() - began)
    for settings, values in times.items():
        ms = np.array(values) * 1000
        print(f"{settings}: {len(ms)} searches, p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms")


if __name__ == "__main__":
    main()
