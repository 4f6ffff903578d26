"""Make the local-authority table that ships inside sendsearch (src/sendsearch/data/local-authorities.csv.gz).

    python tools/make_places_table.py [--source ../shared/data/local-authorities]

Source: mySociety's UK local authority names and codes (uk_la_future, CC-BY-4.0;
attribution: mySociety), see ../shared/data/local-authorities/README.md. Kept: the English
authorities responsible for SEND (counties, unitary authorities, metropolitan districts,
London boroughs and the City of London), current and past, one row each, with every spelling
of their names (``lookup_name_to_registry.csv`` and ``alt-names``) and the spellings of the
districts inside them (``county-la``; a district abolished since goes to the authority that
replaced it). A past authority that was replaced by one authority of the same name (North
Yorkshire, Somerset, Dorset, Buckinghamshire) is folded into it: to a reader they are one
council.

Each spelling is marked sure or ambiguous here, once, so the tagger only reads the table:
ambiguous are a district's bare name (a town inside a bigger authority: "Lancaster",
"Oxford"), a name two authorities share, and the names in ``AMBIGUOUS`` (also a town of
another area, a common word, or a place that is not the council: "Durham", "Bath",
"Richmond", "Westminster", "Reading").
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "sendsearch" / "data" / "local-authorities.csv.gz"
SEND_TYPES = {"CTY", "UA", "MD", "LBO", "CC"}
# Bare names that often mean something else than the council: another town of that name, a
# word, Parliament itself ("Westminster"), a city inside a bigger area ("Durham", "Bath").
AMBIGUOUS = {
    "durham", "bath", "richmond", "westminster", "reading", "bury", "sutton", "kingston", "halton",
    "york", "hackney", "merton", "newcastle", "stoke", "windsor", "brent", "wellington", "hull",
    "city of london", "london",
}  # fmt: skip
# Short names people use that the lookup lacks, as authority code -> spellings.
EXTRA = {
    "BAS": ["Bath", "B&NES", "BANES"],
    "RIC": ["Richmond"],
    "KTT": ["Kingston"],
    "NET": ["Newcastle", "Newcastle City Council"],
    "STE": ["Stoke", "Stoke City Council"],
    "WNM": ["Windsor", "Windsor and Maidenhead"],
    "KHL": ["Hull", "Hull City Council"],
    "BNH": ["Brighton", "Brighton & Hove"],
    "SOS": ["Southend"],
    "TFW": ["Telford"],
    "STT": ["Stockton"],
    "RCC": ["Redcar"],
    "BPC": ["BCP", "BCP Council"],
}


def _rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "uk_local_authorities_future.csv").open(encoding="utf-8") as file:
        return [row for row in csv.DictReader(file) if row["nation"] == "England"]


def _spellings(folder: Path, row: dict[str, str], lookup: dict[str, set[str]]) -> set[str]:
    names = {row["official-name"], row["nice-name"], *lookup.get(row["local-authority-code"], set())}
    names |= {name.strip() for name in row["alt-names"].split(",") if name.strip()}
    return {" ".join(name.lower().replace("-", " ").split()) for name in names if name}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data" / "local-authorities")
    args = parser.parse_args()
    rows = _rows(args.source)
    by_code = {row["local-authority-code"]: row for row in rows}
    lookup: dict[str, set[str]] = defaultdict(set)
    with (args.source / "lookup_name_to_registry.csv").open(encoding="utf-8") as file:
        for entry in csv.DictReader(file):
            lookup[entry["local-authority-code"]].add(entry["la-name"])

    def home(code: str) -> str | None:
        """The SEND authority a code's spellings go to (folding a same-named predecessor)."""
        row = by_code.get(code)
        if row is None:
            return None
        successors = [c for c in row["replaced-by"].split(",") if c]
        if row["local-authority-type"] in SEND_TYPES:
            if len(successors) == 1 and by_code[successors[0]]["nice-name"] == row["nice-name"]:
                return successors[0]
            return code
        if row["local-authority-type"] == "NMD":
            if row["end-date"] and len(successors) == 1:
                return home(successors[0])
            return home(row["county-la"]) if row["county-la"] else None
        return None

    own: dict[str, set[str]] = defaultdict(set)
    districts: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        code = row["local-authority-code"]
        target = home(code)
        if target is None:
            continue
        spellings = _spellings(args.source, row, lookup)
        (own if row["local-authority-type"] in SEND_TYPES else districts)[target] |= spellings
    for code, extra in EXTRA.items():
        own[code] |= {" ".join(name.lower().split()) for name in extra}
    owners: dict[str, set[str]] = defaultdict(set)
    for table in (own, districts):
        for code, spellings in table.items():
            for spelling in spellings:
                owners[spelling].add(code)

    _write(by_code, own, districts, owners)
    print(f"{len(own)} authorities, {len(owners)} spellings -> {OUT}")


def _write(
    by_code: dict[str, dict[str, str]],
    own: dict[str, set[str]],
    districts: dict[str, set[str]],
    owners: dict[str, set[str]],
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["code", "name", "nice_name", "type", "end", "replaced_by", "sure", "ambiguous"])
    for code in sorted(own):
        row = by_code[code]
        sure, ambiguous = set(), set()
        for spelling in own[code]:
            shared = len(owners[spelling]) > 1
            (ambiguous if shared or spelling in AMBIGUOUS else sure).add(spelling)
        for spelling in districts.get(code, set()) - own[code]:
            # A district council's full name is sure of the district, hence of its SEND authority.
            full = "council" in spelling and len(owners[spelling]) == 1
            (sure if full else ambiguous).add(spelling)
        writer.writerow(
            [
                code,
                row["official-name"],
                row["nice-name"],
                row["local-authority-type-name"],
                row["end-date"],
                row["replaced-by"],
                "|".join(sorted(sure)),
                "|".join(sorted(ambiguous)),
            ]
        )
    OUT.write_bytes(gzip.compress(out.getvalue().encode("utf-8"), mtime=0))


if __name__ == "__main__":
    main()
