"""Precision and recall of the local-authority tagger against hand labels.

    python tools/sample_places.py --out packet.jsonl      # the sample (seeded: the same 130 documents)
    python tools/measure_places.py --packet packet.jsonl --labels eval/places-labels.jsonl [--errors]

The labels (``{"doc_id", "authorities": [names], "notes"}``) were made by a labeller who saw
only the packet (heading, question, text) and never the tagger or its output. Each labelled
name is resolved to its SEND authority code as the filter resolves what a person types (a
district to its county). The documents are read again from their sources as sendsearch reads
them (so the asking member's constituency is there too) and tagged; every (document,
authority) pair is then counted: precision is the share of the tagger's pairs that the
labeller gave, recall the share of the labeller's pairs that the tagger gave, for the sure
tags alone (what the filter uses) and for sure and uncertain ones together.
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections.abc import Iterable
from pathlib import Path

from sendsearch.authorities import authority_name, resolve
from sendsearch.schema import Document
from sendsearch.sources.parliament import record_to_document
from sendsearch.sources.places import tag_places
from sendsearch.sources.readers import read_paths

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def _documents(wanted: set[str]) -> dict[str, Document]:
    """The sampled documents, read and tagged as sendsearch reads them."""
    found = {d.doc_id: d for d in read_paths(sorted((ROOT / "corpus").glob("*.txt"))) if d.doc_id in wanted}
    for path in (SHARED / "send-written-answers.jsonl", SHARED / "commons-written-answers.jsonl.gz"):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as file:
            for line in file:
                record = json.loads(line)
                doc_id = str(record["id"])
                if doc_id in wanted and doc_id not in found:
                    found[doc_id] = tag_places(record_to_document(record))
    return found


def _score(pairs: Iterable[tuple[bool, bool]]) -> tuple[float, float, int, int, int]:
    """Precision, recall and the counts behind them from (tagged, labelled) flags per pair."""
    both = tagged = labelled = 0
    for is_tagged, is_labelled in pairs:
        both += is_tagged and is_labelled
        tagged += is_tagged
        labelled += is_labelled
    return (both / tagged if tagged else 1.0, both / labelled if labelled else 1.0, both, tagged, labelled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packet", type=Path, required=True)
    parser.add_argument("--labels", type=Path, default=ROOT / "eval" / "places-labels.jsonl")
    parser.add_argument("--errors", action="store_true", help="list every disagreement")
    args = parser.parse_args()
    packet = [json.loads(line)["doc_id"] for line in args.packet.read_text(encoding="utf-8").splitlines() if line]
    labels = {
        row["doc_id"]: {resolve(name) for name in row["authorities"]}
        for row in map(json.loads, args.labels.read_text(encoding="utf-8").splitlines())
    }
    documents = _documents(set(packet))
    missing = sorted(set(packet) - documents.keys() | set(packet) - labels.keys())
    if missing:
        raise SystemExit(f"not found or not labelled: {', '.join(missing)}")
    sure_pairs, any_pairs = [], []
    for doc_id in packet:
        citation = documents[doc_id].citation
        sure, uncertain, gold = set(citation.places), set(citation.places_uncertain), labels[doc_id]
        sure_pairs += [(code in sure, code in gold) for code in sure | gold]
        any_pairs += [(code in sure | uncertain, code in gold) for code in sure | uncertain | gold]
        if args.errors and (sure != gold):
            name = ", ".join
            print(
                f"{doc_id}: labelled [{name(map(authority_name, sorted(gold)))}] "
                f"sure [{name(map(authority_name, sorted(sure)))}] "
                f"uncertain [{name(map(authority_name, sorted(uncertain)))}] "
                f"found {list(citation.places_found)}"
            )
    labelled_docs = sum(1 for doc_id in packet if labels[doc_id])
    print(f"{len(packet)} documents, {labelled_docs} labelled with at least one authority")
    for name, pairs in (("sure", sure_pairs), ("sure + uncertain", any_pairs)):
        precision, recall, both, tagged, labelled = _score(pairs)
        print(f"{name}: precision {precision:.1%} ({both}/{tagged}), recall {recall:.1%} ({both}/{labelled})")


if __name__ == "__main__":
    main()
