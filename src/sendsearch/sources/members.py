"""Names for the member ids in written-question records: "answered by 4125" becomes
"Catherine McKinnell (Labour)".

The table ships inside the package (``data/members.csv.gz``), made by
``tools/make_members_table.py`` from mySociety's UK politician tables (CC-BY-4.0; credit:
mySociety): every Commons and Lords membership since 2010, keyed by the Parliament member
id. Ids are resolved when documents are read, with the membership in force on the date of
the question, so a member who changed party is cited with the party they had then.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from importlib import resources

__all__ = ["Member", "lookup_member"]


@dataclass(frozen=True)
class Member:
    """One membership of the Commons or the Lords."""

    member_id: int
    name: str
    party: str | None
    house: str
    constituency: str | None
    start: str  # ISO date, or only a year for some peers
    end: str  # empty while the membership lasts

    def covers(self, day: date) -> bool:
        iso = day.isoformat()
        return self.start[:10] <= iso and (not self.end or iso <= self.end)

    @property
    def label(self) -> str:
        """ "Mary Foy (Labour, City of Durham)"; party and seat as far as known."""
        details = ", ".join(part for part in (self.party, self.constituency) if part)
        return f"{self.name} ({details})" if details else self.name


@functools.cache
def _table() -> dict[int, list[Member]]:
    data = resources.files("sendsearch").joinpath("data/members.csv.gz").read_bytes()
    members: dict[int, list[Member]] = defaultdict(list)
    for row in csv.DictReader(io.StringIO(gzip.decompress(data).decode("utf-8"))):
        member = Member(
            member_id=int(row["member_id"]),
            name=row["name"],
            party=row["party"] or None,
            house=row["house"],
            constituency=row["constituency"] or None,
            start=row["start"],
            end=row["end"],
        )
        members[member.member_id].append(member)
    return dict(members)


def lookup_member(member_id: int | None, on: date | None = None) -> Member | None:
    """The membership of ``member_id`` in force ``on`` a date (else the latest), if the
    table knows a name for it."""
    if member_id is None:
        return None
    periods = [m for m in _table().get(member_id, []) if m.name]
    if not periods:
        return None
    if on is not None:
        for member in periods:
            if member.covers(on):
                return member
    return max(periods, key=lambda m: m.start)
