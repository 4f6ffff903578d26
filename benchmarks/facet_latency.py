"""Query time with and without the facet filters (council, member, party), interleaved in one process.

    python benchmarks/facet_latency.py --index commons-index
    python benchmarks/facet_latency.py --index commons-fake --fake-embedder   # an index built with tests' FakeEmbedder

Questions: 240 from the SEND written questions of ../shared/data (the question text, its
"To ask the Secretary of State ..." opening removed), each searched with k=10 end to end
(the question embedded too), after 30 warm-up searches per setting; the settings are run in
turn for each question, so load on the machine falls on all of them alike. A filter's set
of allowed passages is cached after its first use, as in serving: "warm" is what a
repeated filter costs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

SETTINGS: dict[str, dict[str, object]] = {
    "no filter": {},
    "council=Kent": {"council": "Kent"},
    "council=Stockport": {"council": "Stockport"},
    "council=Kent, uncertain too": {"council": "Kent", "include_uncertain": True},
    "party=Labour": {"party": "Labour"},
    "house=Commons, from 2024": {"house": "Commons", "date_from": "2024-01-01"},
    # A date filter alone: it also counts the undated documents it left out.
    "from 2024": {"date_from": "2024-01-01"},
}


def questions(count: int = 240) -> list[str]:
    found: list[str] = []
    for line in (DATA / "send-written-answers.jsonl").read_text(encoding="utf-8").splitlines():
        text = re.sub(r"^To ask the .*?,\s*", "", json.loads(line)["questionText"]).split(";")[0].strip()
        text = text[:200].rsplit(" ", 1)[0] if len(text) > 200 else text
        if len(text) >= 30 and text not in found:
            found.append(text[0].upper() + text[1:])
        if len(found) >= count:
            break
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--fake-embedder", action="store_true", help="register tests' FakeEmbedder (384 dims)")
    args = parser.parse_args()
    from sendsearch import Index

    if args.fake_embedder:
        sys.path.insert(0, str(ROOT))
        from tests.conftest import FakeEmbedder

        index = Index.open(args.index, embedder=FakeEmbedder(dimension=384, name="fake-hash-384"))
    else:
        index = Index.open(args.index)
    asked = questions()
    for filters in SETTINGS.values():
        for question in asked[:30]:
            index.search(question, 10, **filters)
    times: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for question in asked:
        for name, filters in SETTINGS.items():
            start = time.perf_counter()
            index.search(question, 10, **filters)
            times[name].append(time.perf_counter() - start)
    print(f"{len(asked)} questions, k=10, {index.manifest.documents:,} documents, model {index.manifest.model}")
    for name, values in times.items():
        ordered = sorted(values)
        p50, p95 = ordered[len(ordered) // 2] * 1000, ordered[int(0.95 * len(ordered))] * 1000
        print(f"{name:30} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")


if __name__ == "__main__":
    main()
