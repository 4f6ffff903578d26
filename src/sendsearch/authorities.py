"""English local authorities responsible for SEND: their names, every spelling, and finding them in text.

The table ships inside the package (``data/local-authorities.csv.gz``), made by
``tools/make_places_table.py`` from mySociety's UK local authority names and codes
(CC-BY-4.0; credit: mySociety): counties, unitary authorities, metropolitan districts,
London boroughs and the City of London, current and past, each with the spellings of its
name and of the districts inside it, every spelling marked sure or ambiguous.

``resolve`` turns what a person typed ("stockport", "Stockport MBC", "SKP") into the
authority's three-letter code, or raises a QueryError naming the closest names.
``find_authorities`` lists the authorities a text names, longest name first, each sure or
ambiguous (a bare ambiguous name followed by "Council" is sure).
"""

from __future__ import annotations

import csv
import difflib
import functools
import gzip
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

from .errors import QueryError

__all__ = ["Authority", "NameFound", "authorities", "authority_name", "find_authorities", "resolve"]


@dataclass(frozen=True)
class Authority:
    """One English local authority responsible for SEND (``end`` set once abolished)."""

    code: str
    name: str
    nice_name: str
    type: str
    end: str
    replaced_by: tuple[str, ...]


@dataclass(frozen=True)
class NameFound:
    """An authority named in a text: its code, whether the name is sure, and where it starts."""

    code: str
    sure: bool
    start: int


_TOKEN = re.compile(r"[A-Za-z0-9&]+(?:['’][A-Za-z]+)?")
# Words that only say what kind of council a name is: "Stockport MBC" is Stockport.
_GENERIC = {
    "council", "county", "city", "borough", "metropolitan", "mbc", "district", "london", "royal", "of",
    "the", "corporation", "cc", "bc", "dc", "ua", "lbo", "boro",
}  # fmt: skip
_COUNCIL_AFTER = ("council", "county council", "city council", "borough council", "mbc", "metropolitan borough")
# A name inside a bigger one that is no council: "Greater Manchester", "New York".
_NOT_AFTER = {"greater", "new"}


def _tokens(text: str) -> list[str]:
    return [token.lower().replace("’", "'") for token in _TOKEN.findall(text.replace("-", " "))]


def _core(text: str) -> str:
    """A name without the words that only say what kind of council it is."""
    words = [word for word in _tokens(text) if word not in _GENERIC]
    return " ".join(words) or " ".join(_tokens(text))


@dataclass(frozen=True)
class _Table:
    authorities: dict[str, Authority]
    # Spelling (as tokens) -> the authorities it names, each sure or not.
    spellings: dict[tuple[str, ...], tuple[tuple[str, bool], ...]]
    longest: int
    # What a person may type, reduced to its core -> codes.
    typed: dict[str, frozenset[str]]


@functools.cache
def _table() -> _Table:
    data = resources.files("sendsearch").joinpath("data/local-authorities.csv.gz").read_bytes()
    found: dict[str, Authority] = {}
    spellings: dict[tuple[str, ...], list[tuple[str, bool]]] = {}
    typed: dict[str, set[str]] = {}
    for row in csv.DictReader(io.StringIO(gzip.decompress(data).decode("utf-8"))):
        code = row["code"]
        found[code] = Authority(
            code,
            row["name"],
            row["nice_name"],
            row["type"],
            row["end"],
            tuple(c for c in row["replaced_by"].split(",") if c),
        )
        for column, sure in (("sure", True), ("ambiguous", False)):
            for spelling in filter(None, row[column].split("|")):
                spellings.setdefault(tuple(_tokens(spelling)), []).append((code, sure))
                typed.setdefault(_core(spelling), set()).add(code)
        for name in (row["name"], row["nice_name"], code):
            typed.setdefault(_core(name), set()).add(code)
    return _Table(
        found,
        {key: tuple(value) for key, value in spellings.items() if key},
        max(len(key) for key in spellings),
        {key: frozenset(value) for key, value in typed.items()},
    )


def authorities() -> dict[str, Authority]:
    """Every authority by code."""
    return _table().authorities


def authority_name(code: str) -> str:
    """ "Stockport" for "SKP"; the code itself when the table does not know it."""
    authority = _table().authorities.get(code)
    return authority.nice_name if authority else code


def resolve(typed: str, field: str = "council") -> str:
    """The code of the authority a person named, in any spelling; QueryError naming ``field``
    and the closest names when none or several match."""
    table = _table()
    core = _core(typed)
    codes = table.typed.get(core) or table.typed.get(core.replace(" and ", " & ")) or frozenset()
    if typed.strip().upper() in table.authorities:
        codes = frozenset({typed.strip().upper()})
    current = {code for code in codes if not table.authorities[code].end}
    if len(codes) > 1 and len(current) == 1:
        codes = frozenset(current)
    if len(codes) == 1:
        return next(iter(codes))
    if codes:
        named = " or ".join(sorted(authority_name(code) for code in codes))
        raise QueryError.about(field, f"{{{field}}} {{value}} could be {named}: say which", value=repr(typed))
    names = sorted({authority.nice_name for authority in table.authorities.values()})
    close = difflib.get_close_matches(typed.strip().title(), names, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else " (an English council responsible for SEND)"
    raise QueryError.about(field, f"{{{field}}}: no local authority called {{value}}{hint}", value=repr(typed))


def find_authorities(text: str) -> Iterator[NameFound]:
    """The authorities a text names, in order. A name counts only written with a capital (so
    "reading" the word is not Reading); the longest name at a place wins ("North Yorkshire",
    not "York"); a bare ambiguous name followed by "Council" is sure."""
    table = _table()
    matches = [(m.start(), m.group()) for m in _TOKEN.finditer(text.replace("-", " "))]
    words = [word.lower().replace("’", "'") for _, word in matches]
    position = 0
    while position < len(words):
        start, original = matches[position]
        if not (original[:1].isupper() or original[:1].isdigit()):
            position += 1
            continue
        for length in range(min(table.longest, len(words) - position), 0, -1):
            named = table.spellings.get(tuple(words[position : position + length]))
            if named is None:
                continue
            if position and words[position - 1] in _NOT_AFTER and matches[position - 1][1][:1].isupper():
                break
            after = " ".join(words[position + length : position + length + 3])
            council = any(after.startswith(word) for word in _COUNCIL_AFTER)
            for code, sure in named:
                yield NameFound(code, sure or (council and len(named) == 1), start)
            position += length - 1
            break
        position += 1
