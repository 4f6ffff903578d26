"""Ranking identity: record what every dev question returns, and check later that nothing moved.

    python benchmarks/ranking_identity.py --index /tmp/ref-index --record ranking.jsonl
    python benchmarks/ranking_identity.py --index /tmp/ref-index --compare ranking.jsonl

For every question of the dev sets (../shared/eval/dev-queries.jsonl, eval/dev2-queries.jsonl)
in every mode (hybrid, dense, bm25), k=20: each returned passage's doc_id, start, end,
highlights, same_answer_as, refers_to_docs, weak_match and score (rounded to 1e-4). A
refactoring that must not change the ranking is checked by recording before and comparing
after, on the same index (built once, with the real model). Scores may differ by at most
1e-4 (float rounding across code paths); everything else must be equal. Exits 1 on any
difference, listing the first few. The record names questions by id only: keep it outside
the repository, since it follows the held-back dev questions.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUESTION_FILES = (ROOT.parent / "shared" / "eval" / "dev-queries.jsonl", ROOT / "eval" / "dev2-queries.jsonl")
MODES = ("hybrid", "dense", "bm25")
K = 20
SCORE_TOLERANCE = 1e-4


def questions() -> Iterator[tuple[str, str]]:
    """(qid, question) of every dev question, file by file."""
    for path in QUESTION_FILES:
        if not path.exists():
            raise SystemExit(f"error: {path} is missing (the dev questions are needed)")
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                yield str(record["qid"]), str(record["query"])


def _search(index: Any, question: str, mode: str) -> list[Any]:
    """The passages for one question: through ``SearchRequest`` where the library has it."""
    import sendsearch

    if hasattr(sendsearch, "SearchRequest"):
        return list(index.search(sendsearch.SearchRequest.parse(question, K, mode=mode)))
    return list(index.search(question, K, mode=mode))


def results(index_dir: Path) -> list[dict[str, Any]]:
    """One record per (mode, question): the passages as compared."""
    from sendsearch import Index

    index = Index.open(index_dir)
    rows = []
    for mode in MODES:
        for qid, question in questions():
            passages = [
                {
                    "doc_id": p.doc_id,
                    "start": p.start,
                    "end": p.end,
                    "highlights": [list(span) for span in p.highlights],
                    "same_answer_as": list(p.same_answer_as),
                    "refers_to_docs": list(p.refers_to_docs),
                    "weak_match": p.weak_match,
                    "score": round(p.score, 4),
                }
                for p in _search(index, question, mode)
            ]
            rows.append({"mode": mode, "qid": qid, "passages": passages})
    return rows


def differences(recorded: list[dict[str, Any]], now: list[dict[str, Any]]) -> list[str]:
    """Each way ``now`` departs from ``recorded``, in words."""
    found: list[str] = []
    before = {(row["mode"], row["qid"]): row for row in recorded}
    after = {(row["mode"], row["qid"]): row for row in now}
    for key in sorted(before.keys() ^ after.keys()):
        found.append(f"{key}: only in {'the record' if key in before else 'this run'}")
    for key in sorted(before.keys() & after.keys()):
        old, new = before[key]["passages"], after[key]["passages"]
        if len(old) != len(new):
            found.append(f"{key}: {len(old)} passages recorded, {len(new)} now")
            continue
        for rank, (a, b) in enumerate(zip(old, new, strict=True), start=1):
            if abs(a["score"] - b["score"]) > SCORE_TOLERANCE:
                found.append(f"{key} rank {rank}: score {a['score']} recorded, {b['score']} now")
            fields = sorted(name for name in a.keys() | b.keys() if name != "score" and a.get(name) != b.get(name))
            if fields:
                found.append(
                    f"{key} rank {rank}: {', '.join(fields)} differ ({a['doc_id']} recorded, {b['doc_id']} now)"
                )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True, help="an index built with the real model")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--record", type=Path, help="write the results to this JSONL file")
    action.add_argument("--compare", type=Path, help="compare with the results recorded in this JSONL file")
    args = parser.parse_args()
    now = results(args.index)
    passages = sum(len(row["passages"]) for row in now)
    if args.record:
        args.record.write_text("".join(json.dumps(row, sort_keys=True) + "\n" for row in now), encoding="utf-8")
        print(f"recorded {len(now)} searches ({passages} passages) in {args.record}")
        return
    recorded = [json.loads(line) for line in args.compare.read_text(encoding="utf-8").splitlines() if line.strip()]
    found = differences(recorded, now)
    if found:
        print(f"DIFFERENT: {len(found)} differences over {len(now)} searches", file=sys.stderr)
        for line in found[:20]:
            print(f"  {line}", file=sys.stderr)
        raise SystemExit(1)
    print(f"identical: {len(now)} searches ({passages} passages), scores within {SCORE_TOLERANCE}")


if __name__ == "__main__":
    main()
