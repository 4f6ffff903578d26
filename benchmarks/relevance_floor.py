"""How well ``weak_match`` (the "not covered" floor) separates answers from non-answers.

    python benchmarks/relevance_floor.py --index eval-index \\
        --set dev:../shared/eval/dev-queries.jsonl:../shared/eval/dev-qrels.txt \\
        --set dev2:eval/dev2-queries.jsonl:eval/dev2-qrels.txt
    python benchmarks/relevance_floor.py --index commons-index \
        --set real:eval/realistic-queries.jsonl:eval/realistic-qrels.txt

Over the hybrid top 5 of every judged question, with the shipped defaults: the share of
relevant passages (grade >= 1) kept (not weak), of grade-0 passages kept, and of passages
for 15 off-topic questions kept; per question, how many of the questions with nothing
relevant judged (the set's unanswerable ones) and of the off-topic ones still get a passage
that is not weak. Also the cosine distribution by grade, as the floor was first chosen on.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from sendsearch import Index
from sendsearch.search.evaluation import load_qrels, load_queries

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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], help="name:queries.jsonl:qrels.txt")
    args = parser.parse_args()
    index = Index.open(args.index)
    kept: dict[str, list[bool]] = defaultdict(list)
    cosines: dict[str, list[float]] = defaultdict(list)
    questions: dict[str, list[bool]] = defaultdict(list)
    for spec in args.set:
        name, queries_path, qrels_path = spec.split(":")
        queries, qrels = load_queries(Path(queries_path)), load_qrels(Path(qrels_path))
        for qid, query in queries.items():
            judged = qrels.get(qid, {})
            passages = index.search(query, 5)
            for passage in passages:
                grade = judged.get(passage.doc_id)
                label = "unjudged" if grade is None else f"grade {min(grade, 2)}"
                kept[label].append(not passage.weak_match)
                cosines[label].append(passage.explanation.get("cosine", np.nan))
            if not any(g > 0 for g in judged.values()):
                questions[f"{name}: nothing relevant judged"].append(any(not p.weak_match for p in passages))
    for query in OFF_TOPIC:
        passages = index.search(query, 5)
        for passage in passages:
            kept["off-topic"].append(not passage.weak_match)
            cosines["off-topic"].append(passage.explanation.get("cosine", np.nan))
        questions["off-topic"].append(any(not p.weak_match for p in passages))
    print(f"index {args.index}: hybrid top 5, shipped defaults")
    print(f"{'passages':<12}{'n':>5}{'kept':>8}{'cos min':>9}{'p5':>7}{'median':>8}")
    for label in sorted(kept):
        values = np.array(cosines[label], dtype=float)
        print(
            f"{label:<12}{len(values):>5}{np.mean(kept[label]):>8.1%}{np.nanmin(values):>9.3f}"
            f"{np.nanpercentile(values, 5):>7.3f}{np.nanmedian(values):>8.3f}"
        )
    for label, answered in questions.items():
        print(f"questions, {label}: {sum(answered)} of {len(answered)} still get a passage that is not weak")


if __name__ == "__main__":
    main()
