"""Pool search results for relevance judging, and merge judges' grades into TREC qrels.

    # 1. Pool: the top documents of every mode (and of any --settings variant) that the
    #    qrels do not judge yet, written as blind packets for judges (no system names, order
    #    shuffled, identical answers judged once).
    python benchmarks/judging.py pool --index commons-index --queries eval/realistic-queries.jsonl \\
        --qrels eval/realistic-qrels.txt --depth 10 --out judging/round1 --judges 4
    # 2. Judges grade each packet (0 not relevant, 1 partly, 2 answers it) into <packet>.grades.jsonl
    # 3. Merge: grades become qrels lines for every document that carries the judged text.
    python benchmarks/judging.py merge --out judging/round1 --qrels eval/realistic-qrels.txt

Grades are per answer text: documents whose answers are identical (grouped questions) get
the grade their text received. Documents are shown with the heading and question they
answer, so a judge sees what a reader of the result would see.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections import defaultdict
from pathlib import Path

from sendsearch import Index, SearchConfig
from sendsearch.search.evaluation import load_qrels, load_queries, ranked_documents, text_answer_key

GUIDE = """You are judging search results for people who ask about SEND (special educational needs
and disabilities) support and funding in England. For each question you get documents: UK
Parliament written answers (the question an MP asked and the minister's answer) or council pages.
Grade each document for the person's question, from what the document says (not from what you
know):
  2 = it answers the question, or the main part of it (the facts the person needs are there);
  1 = partly: on the topic and useful (related figures, policy or context), but not the answer;
  0 = not relevant, or only shares words with the question, or says nothing ("the information
      is not held centrally", "I refer the hon. Member to the answer I gave..." with nothing else).
A question about one place (e.g. Surrey) is answered by national figures only partly (1) unless the
document gives that place's figures. Judge every document independently; several or none may be 2.
Write one JSON object per line to the grades file: {"qid": "...", "doc": "D7", "grade": 0|1|2}.
"""


def _key(text: str | None, doc_id: str) -> str:
    return text_answer_key(text, doc_id)


def pool(args: argparse.Namespace) -> None:
    index = Index.open(args.index)
    queries = load_queries(args.queries)
    qrels = load_qrels(args.qrels) if args.qrels.exists() else {}
    variants = [SearchConfig().with_(**json.loads(s)) for s in args.settings] or [SearchConfig()]
    store = index.snapshot().backend.store
    packets: dict[str, list[dict]] = defaultdict(list)
    for qid, query in queries.items():
        judged_keys = {_key(store.document_text(d), d) for d in qrels.get(qid, {})}
        found: dict[str, str] = {}  # answer key -> a document carrying it
        for config in variants:
            for mode in args.modes.split(","):
                ranking = ranked_documents(index.search(query, args.depth, mode=mode, settings=config))  # type: ignore[call-overload]
                for doc_id in ranking[: args.depth]:
                    key = _key(store.document_text(doc_id), doc_id)
                    if key not in judged_keys:
                        found.setdefault(key, doc_id)
        citations = store.citations(sorted(found.values()))
        documents = []
        for key, doc_id in found.items():
            citation = citations[doc_id]
            text = store.document_text(doc_id) or ""
            documents.append(
                {
                    "key": key,
                    "doc_id": doc_id,
                    "title": citation.title,
                    "asked": citation.question,
                    "text": text[: args.max_chars] + (" [...]" if len(text) > args.max_chars else ""),
                }
            )
        random.Random(f"{qid}-{len(documents)}").shuffle(documents)
        packets[qid] = documents
    args.out.mkdir(parents=True, exist_ok=True)
    qids = [q for q in queries if packets[q]]
    secret: dict[str, dict[str, str]] = {}
    for number in range(args.judges):
        mine = qids[number :: args.judges]
        lines = [GUIDE, ""]
        for qid in mine:
            lines.append(f"=== Question {qid}: {queries[qid]}")
            for position, document in enumerate(packets[qid], start=1):
                label = f"D{position}"
                secret.setdefault(qid, {})[label] = document["doc_id"]
                lines.append(f"--- {label}")
                if document["title"]:
                    lines.append(f"Title: {document['title']}")
                if document["asked"]:
                    lines.append(f"Question asked in Parliament: {document['asked']}")
                lines.append(f"Text: {document['text']}")
            lines.append("")
        (args.out / f"packet-{number + 1}.txt").write_text("\n".join(lines), encoding="utf-8")
    (args.out / "key.json").write_text(json.dumps(secret, indent=1), encoding="utf-8")
    total = sum(len(p) for p in packets.values())
    print(f"{total} documents to judge for {len(qids)} questions in {args.judges} packets under {args.out}")


def merge(args: argparse.Namespace) -> None:
    index = Index.open(args.index)
    store = index.snapshot().backend.store
    secret = json.loads((args.out / "key.json").read_text(encoding="utf-8"))
    qrels = load_qrels(args.qrels) if args.qrels.exists() else {}
    # Every document in the index with the same answer text gets the judged grade.
    by_key: dict[str, list[str]] = defaultdict(list)
    for (doc_id,) in store.db.execute("SELECT doc_id FROM documents"):
        by_key[_key(store.document_text(doc_id), doc_id)].append(doc_id)
    added = 0
    for grades in sorted(args.out.glob("packet-*.grades.jsonl")):
        for line in grades.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            doc_id = secret[row["qid"]][row["doc"]]
            for twin in by_key[_key(store.document_text(doc_id), doc_id)]:
                if twin not in qrels.setdefault(row["qid"], {}):
                    qrels[row["qid"]][twin] = int(row["grade"])
                    added += 1
    lines = [f"{qid} 0 {doc} {grade}" for qid in sorted(qrels) for doc, grade in sorted(qrels[qid].items())]
    args.qrels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    digest = hashlib.sha1(args.qrels.read_bytes()).hexdigest()[:10]
    print(f"added {added} judgments; {args.qrels} now holds {len(lines)} (sha1 {digest})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("pool")
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--queries", type=Path, required=True)
    p.add_argument("--qrels", type=Path, required=True)
    p.add_argument("--depth", type=int, default=10)
    p.add_argument("--modes", default="bm25,dense,hybrid")
    p.add_argument("--settings", action="append", default=[], help="SearchConfig overrides as JSON")
    p.add_argument("--judges", type=int, default=4)
    p.add_argument("--max-chars", type=int, default=2500)
    p.add_argument("--out", type=Path, required=True)
    m = commands.add_parser("merge")
    m.add_argument("--index", type=Path, required=True)
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--qrels", type=Path, required=True)
    args = parser.parse_args()
    pool(args) if args.command == "pool" else merge(args)


if __name__ == "__main__":
    main()
