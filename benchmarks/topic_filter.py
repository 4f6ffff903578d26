"""How well the SEND topic filter keeps SEND written answers: `python benchmarks/topic_filter.py [--shared ../shared]`.

Reference: the 721 records of ``data/send-written-answers.jsonl`` are the SEND positives among
the 49,450 of ``data/commons-written-answers.jsonl.gz``; every other record is a negative.

Split: the weights and the threshold of ``sendsearch.sources.topic`` were chosen on the questions tabled
before 2025 and are reported on those tabled from 2025 on. Two thirds of the records carry no
``dateTabled``, but Parliament numbers questions (``id``) in tabling order: every dated record of
2023-2024 has an id below 1,750,000 and every dated record of 2025-2026 one above (checked below),
so the split is made on the id.

Prints precision, recall, F1 and TP/FP/FN for each part at the default threshold, the same for the
other thresholds (the trade-off), how often each signal fires on positives and negatives, the
throughput, and 15 false negatives and 15 false positives to judge by eye.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sendsearch.sources.topic import SIGNALS, THRESHOLD, explain, send_score

HELD_OUT_FROM_ID = 1_750_000  # the first question ids of 2025 (see the module docstring)
CURVE = (4.0, 3.0, 2.0, 1.0)  # SEND words only; + SEND system; + disabled children; + named conditions
SHOWN = 15

Record = Mapping[str, Any]


def load(path: Path) -> list[dict[str, Any]]:
    """The records of a JSONL file, gzipped or not."""
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def check_split(records: list[dict[str, Any]]) -> None:
    """Fail loudly if the id no longer separates the tabling years (a new data file)."""
    crossing = [
        r["id"]
        for r in records
        if r.get("dateTabled") and (r["dateTabled"] < "2025-01-01") != (r["id"] < HELD_OUT_FROM_ID)
    ]
    dated = sum(1 for r in records if r.get("dateTabled"))
    print(
        f"split check: of {dated:,} records with a dateTabled, {len(crossing)} fall on the wrong side of the id split"
    )
    if crossing:
        raise SystemExit(f"the id split does not follow the tabling date for {crossing[:10]}")


def counts(scores: list[tuple[float, bool]], threshold: float) -> tuple[int, int, int]:
    """TP, FP, FN of ``score >= threshold`` against the reference labels."""
    tp = sum(1 for score, positive in scores if positive and score >= threshold)
    fp = sum(1 for score, positive in scores if not positive and score >= threshold)
    fn = sum(1 for score, positive in scores if positive and score < threshold)
    return tp, fp, fn


def row(name: str, tp: int, fp: int, fn: int) -> str:
    """One markdown table row; an empty selection scores 0 rather than dividing by zero."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f"| {name} | {tp + fn} | {precision:.3f} | {recall:.3f} | {f1:.3f} | {tp} | {fp} | {fn} |"


def spread(items: list[dict[str, Any]], n: int) -> Iterator[dict[str, Any]]:
    """``n`` items evenly spaced through the list (all of them when there are fewer)."""
    if len(items) <= n:
        yield from items
        return
    for i in range(n):
        yield items[i * len(items) // n]


def describe(record: Record) -> str:
    """One error on one line, with the signals it showed, so a reader can judge the label and the rule."""
    question = " ".join(str(record.get("questionText") or "").split())[:150]
    signals = ", ".join(f"{name} {weight:+g}" for name, weight in explain(record).items()) or "no signal"
    return f"- {record['id']} | {record.get('heading') or '(no heading)'} | {question} | [{signals}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    args = parser.parse_args()
    data = args.shared / "data"
    records = load(data / "commons-written-answers.jsonl.gz")
    positives = {r["id"] for r in load(data / "send-written-answers.jsonl")}
    missing = positives - {r["id"] for r in records}
    if missing:
        raise SystemExit(f"{len(missing)} reference SEND records are not in the full collection")
    check_split(records)

    runs = []
    for _ in range(3):
        began = time.perf_counter()
        scored = [send_score(r) for r in records]
        runs.append(time.perf_counter() - began)
    labelled = [(score, r["id"] in positives) for score, r in zip(scored, records, strict=True)]
    held_out = [r["id"] >= HELD_OUT_FROM_ID for r in records]
    parts = {
        "tuning (tabled before 2025)": [x for x, late in zip(labelled, held_out, strict=True) if not late],
        "held out (tabled 2025 on)": [x for x, late in zip(labelled, held_out, strict=True) if late],
        "all": labelled,
    }

    print(f"\n{len(records):,} records, {len(positives)} SEND; default threshold {THRESHOLD:g}\n")
    print("| part | SEND | precision | recall | F1 | TP | FP | FN |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, part in parts.items():
        print(row(f"{name}, {len(part):,} records", *counts(part, THRESHOLD)))

    print("\nTrade-off (score >= threshold)\n\n| threshold | part | SEND | precision | recall | F1 | TP | FP | FN |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for threshold in CURVE:
        for name, part in parts.items():
            print(f"| {threshold:g} " + row(name.split(" (")[0], *counts(part, threshold)))

    tuning = [r for r in records if r["id"] < HELD_OUT_FROM_ID]
    fired = [(explain(r), r["id"] in positives) for r in tuning]
    print(
        "\nSignals on the tuning part (records showing each)\n\n| signal | weight | looked for in | SEND | not SEND |"
    )
    print("| --- | ---: | --- | ---: | ---: |")
    for signal in SIGNALS:
        on = [positive for found, positive in fired if signal.name in found]
        print(f"| {signal.name} | {signal.weight:+g} | {signal.where} | {sum(on)} | {len(on) - sum(on)} |")

    median = statistics.median(runs)
    print(
        f"\nThroughput: {len(records) / median:,.0f} records/s (median of 3 passes over {len(records):,} records, "
        f"{median:.2f} s each; one process, one thread; JSON already parsed)"
    )

    by_id = sorted(zip(scored, records, strict=True), key=lambda pair: pair[1]["id"])
    missed = [r for score, r in by_id if r["id"] in positives and score < THRESHOLD]
    extra = [r for score, r in by_id if r["id"] not in positives and score >= THRESHOLD]
    print(f"\nFalse negatives ({len(missed)}; {min(SHOWN, len(missed))} shown, evenly spaced by id)")
    print("\n".join(describe(r) for r in spread(missed, SHOWN)))
    print(f"\nFalse positives ({len(extra)}; {min(SHOWN, len(extra))} shown, evenly spaced by id)")
    print("\n".join(describe(r) for r in spread(extra, SHOWN)))


if __name__ == "__main__":
    main()
