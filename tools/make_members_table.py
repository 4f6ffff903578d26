"""Make the compact members table that ships inside sendsearch (src/sendsearch/data/members.csv.gz).

    pip install pyarrow   # only this script needs it
    python tools/make_members_table.py [--members ../shared/data/members]

Source: mySociety's UK politician tables (uk_politician_data, CC-BY-4.0; attribution:
mySociety), see ../shared/data/members/README.md. Kept: every Commons and Lords membership
in force on or after 2010-01-01, keyed by the UK Parliament member id that the written
questions API uses (``askingMemberId``, ``answeringMemberId``), with the person's name, party
(as people write it), House, constituency and dates. Peers whose name the tables do not give
are kept with an empty name: sendsearch then says the name is not recorded.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "sendsearch" / "data" / "members.csv.gz"
SINCE = "2010-01-01"

# Party slugs as the tables write them -> as people write them; others are title-cased.
PARTIES = {
    "labourco-operative": "Labour (Co-op)",
    "liberal-democrat": "Liberal Democrat",
    "scottish-national-party": "SNP",
    "dup": "DUP",
    "sinn-fein": "Sinn Féin",
    "social-democratic-and-labour-party": "SDLP",
    "uup": "UUP",
    "ukip": "UKIP",
    "reform": "Reform UK",
    "non-affiliated": "Non-affiliated",
    "alliance": "Alliance",
    "traditional-unionist-voice": "TUV",
    "green": "Green",
}


def party_name(slug: str | None) -> str:
    if not slug:
        return ""
    return PARTIES.get(slug, slug.replace("-", " ").capitalize())


def main() -> None:
    import pyarrow.parquet as pq

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=Path, default=ROOT.parent / "shared" / "data" / "members")
    args = parser.parse_args()
    identifiers = pq.read_table(args.members / "person_identifiers.parquet").to_pylist()
    memberships = pq.read_table(args.members / "simple_memberships.parquet").to_pylist()
    parliament_id = {r["person_id"]: r["identifier"] for r in identifiers if r["scheme"] == "datadotparl_id"}
    # A peer's membership rows carry no name; a person's other rows (as an MP) may.
    names: dict[str, str] = {}
    for row in sorted(memberships, key=lambda r: r["start_date"] or ""):
        if row["nice_name"]:
            names[row["person_id"]] = row["nice_name"]
    rows: dict[tuple, list[str]] = defaultdict(list)
    for row in memberships:
        person = row["person_id"]
        if row["chamber"] not in ("commons", "lords") or person not in parliament_id:
            continue
        if row["end_date"] and row["end_date"] < SINCE:
            continue
        key = (int(parliament_id[person]), row["start_date"] or "")
        rows[key] = [
            parliament_id[person],
            row["nice_name"] or names.get(person, ""),
            party_name(row["party"]),
            row["chamber"].capitalize(),
            row["constituency"] or "",
            row["start_date"] or "",
            row["end_date"] or "",
        ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["member_id", "name", "party", "house", "constituency", "start", "end"])
    writer.writerows(rows[key] for key in sorted(rows))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same tables always give the same bytes.
    OUT.write_bytes(gzip.compress(buffer.getvalue().encode("utf-8"), mtime=0))
    named = sum(1 for r in rows.values() if r[1])
    print(
        f"wrote {OUT.relative_to(ROOT)}: {len(rows):,} memberships ({named:,} with a name), "
        f"{OUT.stat().st_size:,} bytes"
    )


if __name__ == "__main__":
    main()
