"""Measure retrieval settings on the dev set: `python benchmarks/quality_sweep.py --index eval-index`.

Each row is one setting (search-time overrides, given as JSON) scored with the same
harness as `sendsearch eval`. Index-time settings (chunking, context, BM25 fields) need
an index built with them; pass several --index folders to compare those.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sendsearch import Index, SearchConfig
from sendsearch.evaluation import DEPTH, evaluate, load_facts, load_qrels, load_queries

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"


def build_variant(folder: Path, variant: dict, cache_from: Path | None) -> None:
    from sendsearch.builder import IndexConfig
    from sendsearch.chunking import ChunkingConfig
    from sendsearch.keyword import KeywordConfig

    settings = dict(variant)
    if "chunking" in settings:
        settings["chunking"] = ChunkingConfig(**settings["chunking"])
    if "keyword" in settings:
        settings["keyword"] = KeywordConfig(**settings["keyword"])
    folder.mkdir(parents=True, exist_ok=True)
    if cache_from and not (folder / "cache").exists():
        (folder / "cache").symlink_to((cache_from / "cache").resolve())
    corpus = [EVAL.parent / "seeds", EVAL.parent / "data" / "send-written-answers.jsonl"]
    _, report = Index.build(corpus, folder, config=IndexConfig(**settings), progress=True)
    print(f"built {folder}: {report.documents} documents, {report.chunks} chunks, {report.embedded} embedded")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", action="append", type=Path, required=True)
    parser.add_argument("--settings", action="append", default=[], help="JSON overrides, e.g. '{\"rrf_k\": 20}'")
    parser.add_argument("--modes", default="bm25,dense,hybrid")
    parser.add_argument("--per-query", action="store_true")
    parser.add_argument(
        "--build", type=Path, metavar="DIR", help="first build the evaluation corpus into DIR with --variant settings"
    )
    parser.add_argument(
        "--variant",
        default="{}",
        help='IndexConfig settings as JSON, e.g. \'{"context": "prefix", "chunking": {"max_tokens": 128}}\'',
    )
    parser.add_argument("--cache-from", type=Path, help="reuse the embedding cache of this index folder (symlinked)")
    args = parser.parse_args()
    if args.build:
        build_variant(args.build, json.loads(args.variant), args.cache_from)
    queries = load_queries(EVAL / "dev-queries.jsonl")
    qrels = load_qrels(EVAL / "dev-qrels.txt")
    facts = load_facts(EVAL / "dev-facts.jsonl")
    settings = [json.loads(s) for s in args.settings] or [{}]
    print(f"{'index':<22}{'settings':<48}{'mode':<8}{'nDCG@10':>9}{'R@10':>7}{'R@20':>7}{'MRR@10':>8}{'facts':>6}")
    for folder in args.index:
        index = Index.open(folder)
        for overrides in settings:
            modes = args.modes.split(",")
            config = SearchConfig(**overrides)
            report = evaluate(
                lambda q, m, index=index, config=config: index.search(q, DEPTH, mode=m, config=config),
                queries,
                qrels,
                modes=modes,
                facts=facts,
            )
            for mode, s in report.modes.items():
                f = sum(report.facts["found"].values()) if mode == "hybrid" else ""
                print(
                    f"{folder.name:<22}{json.dumps(overrides):<48}{mode:<8}{s['ndcg@10']:>9.3f}{s['recall@10']:>7.3f}{s['recall@20']:>7.3f}{s['mrr@10']:>8.3f}{f!s:>6}"
                )
                if args.per_query:
                    print("   ", " ".join(f"{q}:{v['ndcg@10']:.2f}" for q, v in report.per_query[mode].items()))


if __name__ == "__main__":
    main()
