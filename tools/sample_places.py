"""Pick the documents on which the local-authority tagger is measured, and write them for a labeller.

    python tools/sample_places.py [--out /work/scratch/places/packet.jsonl] [--seed 22]

A stratified sample, drawn without the tagger (a crude test stands in: does the heading,
question or text hold any English local authority's name from mySociety's lookup, written
with a capital, as a whole word?), so that the sample favours neither what the tagger finds
nor what it misses:

- the five seed pages of the bundled corpus (the Stockport ones among them): all;
- SEND written answers (``../shared/data/send-written-answers.jsonl``): 40 that name a
  place by the crude test, 25 that name none;
- other Commons written answers (``../shared/data/commons-written-answers.jsonl.gz``): 35
  that name a place, 25 that name none (drawn from a seeded reservoir of 4,000 records).

Each line of the packet is ``{"doc_id", "heading", "question", "text"}`` as sendsearch reads
the document (cleaned text), and nothing else: no tag, no stratum, so the labeller works
blind. The stratum of each document is written beside it (``--strata``) for the report.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import re
from pathlib import Path

from sendsearch.sources.parliament import record_to_document
from sendsearch.sources.readers import read_paths

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
QUOTAS = {"send-named": 40, "send-none": 25, "commons-named": 35, "commons-none": 25}
RESERVOIR = 4000


def english_names(folder: Path) -> re.Pattern[str]:
    """Every spelling of an English authority's name that starts with a capital, as one pattern."""
    with (folder / "uk_local_authorities_future.csv").open(encoding="utf-8") as file:
        english = {row["local-authority-code"] for row in csv.DictReader(file) if row["nation"] == "England"}
    with (folder / "lookup_name_to_registry.csv").open(encoding="utf-8") as file:
        names = {row["la-name"] for row in csv.DictReader(file) if row["local-authority-code"] in english}
    names = {name for name in names if name[:1].isupper() and len(name) > 3}
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b")


def _entry(document) -> dict[str, str]:
    citation = document.citation
    return {
        "doc_id": document.doc_id,
        "heading": citation.heading or "",
        "question": citation.question or "",
        "text": document.text,
    }


def _names_a_place(entry: dict[str, str], pattern: re.Pattern[str]) -> bool:
    return bool(pattern.search("\n".join((entry["heading"], entry["question"], entry["text"]))))


def _records(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def _reservoir(path: Path, size: int, rng: random.Random) -> list[dict]:
    kept: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as file:
        for seen, line in enumerate(file):
            if seen < size:
                kept.append(line)
            else:
                slot = rng.randrange(seen + 1)
                if slot < size:
                    kept[slot] = line
    return [json.loads(line) for line in kept]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/work/scratch/places/packet.jsonl"))
    parser.add_argument("--strata", type=Path, default=None, help="where to write doc_id -> stratum (JSON)")
    parser.add_argument("--seed", type=int, default=22)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    pattern = english_names(SHARED / "local-authorities")

    chosen: dict[str, tuple[str, dict[str, str]]] = {}
    for document in read_paths(sorted((ROOT / "corpus").glob("*.txt"))):
        chosen[document.doc_id] = ("seed", _entry(document))

    pools: dict[str, list[dict[str, str]]] = {name: [] for name in QUOTAS}
    send = [_entry(record_to_document(r)) for r in _records(SHARED / "send-written-answers.jsonl")]
    send_ids = {entry["doc_id"] for entry in send}
    commons = [
        _entry(record_to_document(r))
        for r in _reservoir(SHARED / "commons-written-answers.jsonl.gz", RESERVOIR, rng)
        if str(r["id"]) not in send_ids
    ]
    for source, entries in (("send", send), ("commons", commons)):
        for entry in entries:
            pools[f"{source}-{'named' if _names_a_place(entry, pattern) else 'none'}"].append(entry)
    for stratum, quota in QUOTAS.items():
        pool = sorted(pools[stratum], key=lambda e: e["doc_id"])
        for entry in rng.sample(pool, min(quota, len(pool))):
            chosen.setdefault(entry["doc_id"], (stratum, entry))

    order = sorted(chosen.values(), key=lambda item: rng.random())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as file:
        for _, entry in order:
            file.write(json.dumps(entry, ensure_ascii=False) + "\n")
    if args.strata:
        args.strata.write_text(json.dumps({e["doc_id"]: s for s, e in order}, indent=1) + "\n", encoding="utf-8")
    counts = {name: sum(1 for s, _ in order if s == name) for name in ("seed", *QUOTAS)}
    print(f"{len(order)} documents to {args.out}: {counts}")


if __name__ == "__main__":
    main()
