"""The date a written question was tabled, estimated from its number where its record lost it.

Parliament numbers written questions (the API's ``id``) in the order they are tabled, so a
question's tabling date lies between those of the questions numbered just before and after
it. A small table ships inside the package (``data/question-dates.csv.gz``, made by
``tools/make_question_dates.py`` from the 15,697 Commons records that carry both): those
records sorted by id and cut into runs of consecutive ids tabled on one day, each run's day
with its first and last id (148 rows). A question without dates gets the day interpolated,
by id, between its two nearest dated neighbours (run ends), rounded to a day.

Measured by that tool (README, "Citations"): each dated record estimated from all the others
is right to the day for 99.96% of them and never more than 8 days off. A record of a day
that no dated record comes from is interpolated across the gap to the nearest dated days,
which is less exact (every record of a day left out at once: 45.9% to the day, 84.4% within 3
days, at most 19 days off); no estimate is made across more than ``MAX_GAP_DAYS`` without a
dated record, nor before the first or after the last id in the table.

An estimate never replaces a recorded date: it is kept apart (``Citation.date_asked_estimated``)
and always shown as one.
"""

from __future__ import annotations

import bisect
import csv
import functools
import gzip
import io
from collections.abc import Sequence
from datetime import date
from importlib import resources
from typing import NamedTuple

__all__ = ["MAX_GAP_DAYS", "Knot", "estimate_tabled", "knots_from_runs", "read_table"]

TABLE = "data/question-dates.csv.gz"
# Interpolating across a longer run of days with no dated question (the 2024 general
# election's dissolution sits in one of 211 days) would be a guess, not an estimate.
MAX_GAP_DAYS = 170


class Knot(NamedTuple):
    """A question id and the day (proleptic ordinal) it was tabled on."""

    question_id: int
    day: int


def knots_from_runs(runs: Sequence[tuple[int, int, int]]) -> list[Knot]:
    """Knots from (day ordinal, first id, last id) rows: each run's two ends, by id."""
    return sorted({Knot(first, day) for day, first, _ in runs} | {Knot(last, day) for day, _, last in runs})


@functools.cache
def read_table() -> tuple[Knot, ...]:
    """The shipped table, as knots sorted by question id."""
    data = gzip.decompress(resources.files("sendsearch").joinpath(TABLE).read_bytes()).decode("utf-8")
    rows = [
        (date.fromisoformat(row["date"]).toordinal(), int(row["first_id"]), int(row["last_id"]))
        for row in csv.DictReader(io.StringIO(data))
    ]
    return tuple(knots_from_runs(rows))


def estimate_tabled(question_id: int, knots: Sequence[Knot] | None = None) -> date | None:
    """The estimated tabling date of the question with this id, or None where the table
    cannot place it (outside its ids, or in a gap of more than ``MAX_GAP_DAYS``)."""
    knots = read_table() if knots is None else knots
    if not knots:
        return None
    position = bisect.bisect_right(knots, (question_id, date.max.toordinal()))
    if position and knots[position - 1].question_id == question_id:
        return date.fromordinal(knots[position - 1].day)
    if position == 0 or position == len(knots):
        return None
    before, after = knots[position - 1], knots[position]
    if abs(after.day - before.day) > MAX_GAP_DAYS:
        return None
    share = (question_id - before.question_id) / (after.question_id - before.question_id)
    return date.fromordinal(round(before.day + share * (after.day - before.day)))
