"""Names for the member ids in written-question records: "answered by 4125" becomes
"Catherine McKinnell (Labour)".

The table ships inside the package (``data/members.csv.gz``), made by
``tools/make_members_table.py`` from mySociety's UK politician tables (CC-BY-4.0; credit:
mySociety): every Commons and Lords membership since 2010, keyed by the Parliament member
id. Ids are resolved when documents are read, with the membership in force on the date of
the question, so a member who changed party is cited with the party they had then.

``resolve_member`` turns what a person typed ("Mary Foy", "foy, mary", "Dr Caroline
Johnson", "4125") into a member id, and ``resolve_party`` a party's name ("labour", "Lib
Dem") into the name the table uses; both raise a QueryError naming the closest names.
"""

from __future__ import annotations

import csv
import difflib
import functools
import gzip
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from importlib import resources

from .errors import QueryError

__all__ = [
    "Member",
    "lookup_member",
    "member_label",
    "member_periods",
    "parties",
    "resolve_member",
    "resolve_party",
]


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


def member_periods(member_id: int) -> tuple[Member, ...]:
    """Every membership the table records for ``member_id`` (one per Parliament, in either house)."""
    return tuple(_table().get(member_id, ()))


# Titles and honours people put before or after a name; a name is its other words, in any order.
_TITLES = {
    "dr", "sir", "dame", "ms", "mr", "mrs", "miss", "mx", "rt", "hon", "right", "honourable", "the", "lord",
    "lady", "baroness", "baron", "viscount", "earl", "countess", "bishop", "of", "mp", "kc", "qc", "obe", "mbe",
    "cbe", "prof", "professor", "rev", "reverend",
}  # fmt: skip
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def _name_key(name: str) -> str:
    """A name without titles, its words sorted: "Foy, Mary", "Mary Foy MP" and "mary foy" meet."""
    words = [w.lower().replace("’", "'") for w in _WORD.findall(name)]
    kept = [w for w in words if w not in _TITLES] or words
    return " ".join(sorted(kept))


@functools.cache
def _by_name() -> dict[str, frozenset[int]]:
    found: dict[str, set[int]] = defaultdict(set)
    for member_id, periods in _table().items():
        for member in periods:
            if member.name:
                found[_name_key(member.name)].add(member_id)
    return {key: frozenset(ids) for key, ids in found.items()}


def member_label(member_id: int) -> str:
    """ "Mary Foy (Labour, City of Durham)" as of their latest membership, or "member 4125"."""
    member = lookup_member(member_id)
    return member.label if member else f"member {member_id}"


def resolve_member(typed: str, field: str = "member") -> int:
    """The Parliament id of the member a person named: the id itself, or the name in any
    order, case and with any title. QueryError naming ``field`` when none or several match."""
    text = typed.strip()
    if text.isdigit():
        if int(text) in _table():
            return int(text)
        raise QueryError.about(field, f"{{{field}}}: no member has the id {{value}}", value=text)
    ids = _by_name().get(_name_key(text), frozenset())
    if len(ids) == 1:
        return next(iter(ids))
    if ids:
        named = "; ".join(f"{member_label(i)}: id {i}" for i in sorted(ids))
        raise QueryError.about(field, f"{{{field}}} {{value}} could be {named}: give the id", value=repr(typed))
    names = sorted({m.name for periods in _table().values() for m in periods if m.name})
    close = difflib.get_close_matches(text.title(), names, n=3, cutoff=0.75)
    hint = f"; did you mean {' or '.join(close)}?" if close else " (a member since 2010, or their id)"
    raise QueryError.about(field, f"{{{field}}}: no member called {{value}}{hint}", value=repr(typed))


# What people write for a party -> the table's name for it.
_PARTY_SPELLINGS = {
    "lab": "Labour",
    "con": "Conservative",
    "tory": "Conservative",
    "tories": "Conservative",
    "conservatives": "Conservative",
    "lib dem": "Liberal Democrat",
    "lib dems": "Liberal Democrat",
    "libdem": "Liberal Democrat",
    "ld": "Liberal Democrat",
    "liberal democrats": "Liberal Democrat",
    "scottish national party": "SNP",
    "reform": "Reform UK",
    "green party": "Green",
    "greens": "Green",
    "plaid": "Plaid cymru",
    "plaid cymru": "Plaid cymru",
    "independents": "Independent",
}


@functools.cache
def parties() -> tuple[str, ...]:
    """Every party the table records, most members first."""
    counts: dict[str, int] = defaultdict(int)
    for periods in _table().values():
        for member in periods:
            if member.party:
                counts[member.party] += 1
    return tuple(sorted(counts, key=lambda party: (-counts[party], party)))


def resolve_party(typed: str, field: str = "party") -> str:
    """The table's name of a party a person named ("labour", "Lib Dem"); QueryError naming the
    parties otherwise."""
    key = " ".join(typed.lower().split())
    known = {party.lower(): party for party in parties()}
    if key in known:
        return known[key]
    if key in _PARTY_SPELLINGS:
        return _PARTY_SPELLINGS[key]
    named = ", ".join(parties()[:8])
    raise QueryError.about(field, f"{{{field}}}: no party called {{value}}; parties include {named}", value=repr(typed))
