"""Measure where to put the chat's "nothing relevant" floor: `python benchmarks/relevance_floor.py --index eval-index`.

For each dev question, the cosine (question vs. passage) of the hybrid top 5, split by
judged grade; for off-topic questions, the best cosine they reach. The floor should sit
below nearly all relevant passages and above the off-topic ones.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sendsearch import Index
from sendsearch.evaluation import load_qrels, load_queries

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
OFF_TOPIC = [
    "What is the best pizza in Rome?",
    "How do I renew my passport?",
    "Who won the football world cup in 2018?",
    "Recipe for banana bread",
    "What time is the next train to Manchester?",
    "How do I fix a leaking tap?",
    "What are the symptoms of flu?",
    "Bitcoin price today",
    "How tall is Mount Everest?",
    "Which smartphone should I buy?",
    "How to grow tomatoes in a greenhouse",
    "Can I take my dog on holiday to France?",
    "What is the capital of Australia?",
    "How do black holes form?",
    "Best way to learn the guitar",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, required=True)
    args = parser.parse_args()
    index = Index.open(args.index)
    queries, qrels = load_queries(EVAL / "dev-queries.jsonl"), load_qrels(EVAL / "dev-qrels.txt")
    by_grade: dict[str, list[float]] = {"2": [], "1": [], "0": [], "unjudged": []}
    for qid, query in queries.items():
        for p in index.search(query, 5):
            grade = qrels[qid].get(p.doc_id)
            by_grade["unjudged" if grade is None else str(grade)].append(p.explanation["cosine"])
    off = [max(p.explanation["cosine"] for p in index.search(q, 5)) for q in OFF_TOPIC]
    print(f"{'passages':<28}{'n':>5}{'min':>8}{'p5':>8}{'p50':>8}{'max':>8}")
    for name, values in [*by_grade.items(), ("off-topic (best of 5)", off)]:
        v = np.array(values)
        print(f"{name:<28}{len(v):>5}{v.min():>8.3f}{np.percentile(v, 5):>8.3f}{np.median(v):>8.3f}{v.max():>8.3f}")
    relevant = np.array(by_grade["2"] + by_grade["1"])
    for floor in (0.2, 0.25, 0.3, 0.35, 0.4):
        print(
            f"floor {floor:.2f}: keeps {np.mean(relevant >= floor):.1%} of relevant passages, "
            f"{np.mean(np.array(by_grade['0']) >= floor):.1%} of grade-0 ones; "
            f"off-topic questions with any passage: {sum(o >= floor for o in off)}/{len(off)}"
        )


if __name__ == "__main__":
    main()
