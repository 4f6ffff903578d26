"""Score search settings on judged question sets, per document and per answer, with paired bootstrap intervals.

    python benchmarks/quality_sweep.py --index eval-index \\
        --set dev:../shared/eval/dev-queries.jsonl:../shared/eval/dev-qrels.txt \\
        --set dev2:eval/dev2-queries.jsonl:eval/dev2-qrels.txt \\
        --settings '{}' --settings '{"non_answer_weight": 1.0}'

Each --settings is a JSON object of SearchConfig overrides; the first is the baseline the
others are compared with (paired bootstrap over the set's questions, 10,000 resamples: the
mean difference and its 95% interval, and how many questions went up and down). Metrics are
answer level (identical answers grouped; see sendsearch.search.evaluation) unless --documents.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sendsearch import Index, SearchConfig
from sendsearch.search.evaluation import DEPTH, evaluate, load_qrels, load_queries, text_answer_key


def bootstrap(base: dict[str, float], other: dict[str, float], rounds: int = 10_000) -> tuple[float, float, float]:
    """Mean paired difference and its 95% interval over the questions both scored."""
    qids = sorted(set(base) & set(other))
    diffs = np.array([other[q] - base[q] for q in qids])
    rng = np.random.default_rng(0)
    means = diffs[rng.integers(0, len(diffs), (rounds, len(diffs)))].mean(axis=1)
    return float(diffs.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--set", action="append", required=True, help="name:queries.jsonl:qrels.txt")
    parser.add_argument("--settings", action="append", default=[], help="SearchConfig overrides as JSON")
    parser.add_argument("--modes", default="hybrid")
    parser.add_argument("--metrics", default="ndcg@10,ndcg@5,recall@10,success@3")
    parser.add_argument("--documents", action="store_true", help="document-level metrics instead of answer level")
    parser.add_argument("--per-query", action="store_true")
    args = parser.parse_args()
    index = Index.open(args.index)
    metrics = args.metrics.split(",")
    variants = args.settings or ["{}"]
    print(f"{'set':<10}{'settings':<60}{'mode':<8}" + "".join(f"{m:>11}" for m in metrics))
    for spec in args.set:
        name, queries_path, qrels_path = spec.split(":")
        queries, qrels = load_queries(Path(queries_path)), load_qrels(Path(qrels_path))
        baseline: dict[str, dict[str, dict[str, float]]] = {}
        for number, settings in enumerate(variants):
            config = SearchConfig().with_(**json.loads(settings))
            report = evaluate(
                lambda q, m, config=config: index.search(q, DEPTH, mode=m, settings=config),
                queries,
                qrels,
                modes=args.modes.split(","),
                answer_of=lambda doc_id: text_answer_key(index.document_text(doc_id), doc_id),
            )
            table = report.modes if args.documents else report.answer_level
            per_query = report.per_query if args.documents else report.answer_level_per_query
            for mode, scores in table.items():
                print(f"{name:<10}{settings:<60}{mode:<8}" + "".join(f"{scores[m]:>11.3f}" for m in metrics))
                if number == 0:
                    baseline[mode] = per_query[mode]
                    continue
                for metric in metrics:
                    base = {q: v[metric] for q, v in baseline[mode].items()}
                    other = {q: v[metric] for q, v in per_query[mode].items()}
                    mean, low, high = bootstrap(base, other)
                    up = sum(other[q] > base[q] + 1e-9 for q in base)
                    down = sum(other[q] < base[q] - 1e-9 for q in base)
                    print(f"{'':<18}{metric}: {mean:+.3f} [{low:+.3f}, {high:+.3f}] ({up} up, {down} down)")
                if args.per_query:
                    print("   ", " ".join(f"{q}:{v[metrics[0]]:.2f}" for q, v in per_query[mode].items()))


if __name__ == "__main__":
    main()
