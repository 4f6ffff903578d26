"""Make the question-number-to-date table that ships inside sendsearch
(src/sendsearch/data/question-dates.csv.gz), and measure how well it estimates dates.

    python tools/make_question_dates.py [--records ../shared/data/commons-written-answers.jsonl.gz]

Source: the Commons written-answer records that carry both a question id and a tabling date.
Kept: the records sorted by id, cut into runs of consecutive ids tabled on the same day, each
run's day with its first and last id (``date,first_id,last_id``): all that
``sendsearch.sources.question_dates`` interpolates between, with nothing lost (the nearest dated
neighbours of any id are run ends). Printed: the estimate's error measured three ways, with
the shipped estimator:

- leave one out: each record's date estimated from a table made without it;
- leave one day out: every record of a day estimated from a table without that day, as for a
  record tabled on a day no dated record comes from;
- how many undated records of the bundled corpus get an estimate.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import itertools
import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sendsearch.sources.question_dates import Knot, estimate_tabled, knots_from_runs  # noqa: E402

OUT = ROOT / "src" / "sendsearch" / "data" / "question-dates.csv.gz"
BUNDLED = ROOT / "corpus" / "parliament" / "send-written-answers.jsonl.gz"


def records(path: Path) -> Iterable[dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def tabled(path: Path) -> list[Knot]:
    """(question id, day tabled) of every record that carries both, by id."""
    return sorted(
        Knot(record["id"], date.fromisoformat(record["dateTabled"][:10]).toordinal())
        for record in records(path)
        if isinstance(record.get("id"), int) and not isinstance(record["id"], bool) and record.get("dateTabled")
    )


def runs(pairs: list[Knot]) -> list[tuple[int, int, int]]:
    """(day, first id, last id) of each run of consecutive ids tabled on one day."""
    found: list[tuple[int, int, int]] = []
    for question_id, day in pairs:
        if found and found[-1][0] == day:
            found[-1] = (day, found[-1][1], question_id)
        else:
            found.append((day, question_id, question_id))
    return found


def write(pairs: list[Knot]) -> int:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["date", "first_id", "last_id"])
    table = runs(pairs)
    for day, first, last in table:
        writer.writerow([date.fromordinal(day).isoformat(), first, last])
    # mtime 0: the same records always make the same bytes.
    OUT.write_bytes(gzip.compress(text.getvalue().encode(), mtime=0))
    return len(table)


def leave_one_out(pairs: list[Knot]) -> tuple[list[int], int]:
    """Absolute errors in days of each record's estimate from all the others, and how many
    got none. Only an id's nearest neighbours count, so they stand in for the whole table."""
    found, missing = [], 0
    for i, (question_id, day) in enumerate(pairs):
        estimate = estimate_tabled(question_id, pairs[max(0, i - 1) : i] + pairs[i + 1 : i + 2])
        if estimate is None:
            missing += 1
        else:
            found.append(abs(estimate.toordinal() - day))
    return found, missing


def leave_one_day_out(pairs: list[Knot]) -> tuple[list[int], int]:
    """The same with every record of the record's day left out of the table."""
    found, missing = [], 0
    by_day: dict[int, list[int]] = defaultdict(list)
    for question_id, day in pairs:
        by_day[day].append(question_id)
    for day, ids in by_day.items():
        knots = knots_from_runs(runs([pair for pair in pairs if pair.day != day]))
        for question_id in ids:
            estimate = estimate_tabled(question_id, knots)
            if estimate is None:
                missing += 1
            else:
                found.append(abs(estimate.toordinal() - day))
    return found, missing


def describe(name: str, found: list[int], missing: int) -> str:
    found = sorted(found)
    exact = sum(1 for e in found if e == 0) / len(found)
    within_3 = sum(1 for e in found if e <= 3) / len(found)
    return (
        f"{name}: {len(found):,} estimated ({missing:,} not placed): {exact:.2%} exact to the day, "
        f"{within_3:.2%} within 3 days, median {found[len(found) // 2]} days, max {found[-1]} days"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--records", type=Path, default=ROOT.parent / "shared" / "data" / "commons-written-answers.jsonl.gz"
    )
    args = parser.parse_args()
    pairs = tabled(args.records)
    table = write(pairs)
    days = len({day for _, day in pairs})
    print(f"wrote {OUT.relative_to(ROOT)}: {table} runs on {days} days, from {len(pairs):,} records that carry both")
    backwards = sum(1 for a, b in itertools.pairwise(pairs) if b.day < a.day)
    print(f"{backwards} of {len(pairs) - 1:,} steps from one id to the next go back in time")
    print(describe("leave one out", *leave_one_out(pairs)))
    print(describe("leave one day out", *leave_one_day_out(pairs)))
    if BUNDLED.exists():
        knots = knots_from_runs(runs(pairs))
        undated = [r["id"] for r in records(BUNDLED) if not r.get("dateTabled") and not r.get("dateAnswered")]
        placed = sum(1 for i in undated if estimate_tabled(i, knots) is not None)
        print(f"bundled corpus: {placed:,} of its {len(undated):,} undated records get an estimate")


if __name__ == "__main__":
    main()
