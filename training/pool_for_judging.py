"""Write blind-judging packets for parent-style training questions (``realistic-train-*``).

For each question, the documents the answer scorer would learn from are those of the first
candidate passages of its training search (``train_answer_scorer.training_passages``: the
search goes deep, evaluation documents are taken out); the packets hold every such document
not judged before, each split into the numbered sentences the trainer reads, with no word of
which search found it. Judges see the packet only (``prompts/judge.md``,
``prompts/judge-task.md``); the key files that map a packet's D1, D2, ... back to document ids
stay with whoever runs this.

    python training/pool_for_judging.py --index commons-index --new questions.jsonl --out packets/
    python training/pool_for_judging.py --grades packets/

The first form drops new questions within cosine 0.9 of an earlier one, writes the kept ones
to ``packets/new-queries.jsonl`` and the packets (``packetN.txt``, ``keyN.json``); the second
appends the kept questions and the judges' grades (``gradesN.jsonl``) to ``data/``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sendsearch.chat.answers import CANDIDATE_PASSAGES
from sendsearch.search.index import Index
from sendsearch.text.normalise import sentence_spans

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_answer_scorer import DATA, _excluded, training_passages  # the script beside this one

QUERIES = DATA / "realistic-train-queries.jsonl"
JUDGMENTS = DATA / "realistic-train-judgments.jsonl"
DUPLICATE = 0.9  # a new question this close to an earlier one is the same question again
PACKETS = 8
SHOWN_SENTENCES = 60  # a judge sees at most this many sentences of one document


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _kept(index: Index, new: list[dict], earlier: list[dict]) -> list[dict]:
    theirs = index.embedder.encode_query([q["query"] for q in earlier])
    ours = index.embedder.encode_query([q["query"] for q in new])
    kept: list[int] = []
    for i in range(len(new)):
        near = max([float((theirs @ ours[i]).max()), *(float(ours[j] @ ours[i]) for j in kept)])
        if near >= DUPLICATE:
            print(f"left out {new[i]['qid']}: the same question as an earlier one", file=sys.stderr)
        else:
            kept.append(i)
    return [new[i] for i in kept]


def write_packets(index: Index, new: list[dict], out: Path) -> None:
    earlier = _lines(QUERIES)
    judged = {(r["qid"], r["doc_id"]) for r in _lines(JUDGMENTS)}
    kept = _kept(index, new, earlier)
    out.mkdir(parents=True, exist_ok=True)
    (out / "new-queries.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in kept))
    excluded = _excluded()
    pooled = []
    for question in [*earlier, *kept]:
        docs: list[str] = []
        for _, passage in training_passages(index, question["query"], excluded)[:CANDIDATE_PASSAGES]:
            if passage.doc_id not in docs and (question["qid"], passage.doc_id) not in judged:
                docs.append(passage.doc_id)
        if docs:
            pooled.append((question, docs))
    guide = (DATA.parent / "prompts" / "judge.md").read_text()
    for number in range(1, PACKETS + 1):
        lines, key = [guide, ""], {}
        for question, docs in pooled[number - 1 :: PACKETS]:
            asked = f"QUESTION {question['qid']} (asked by a {question['persona']}):"
            lines += ["=" * 70, asked, question["query"], ""]
            for n, doc_id in enumerate(docs, start=1):
                text = index.document_text(doc_id) or ""
                citation = index.citations([doc_id]).get(doc_id)
                lines.append(f"--- {question['qid']} D{n}: {citation.title if citation else ''}")
                spans = sentence_spans(text)
                lines += [f"[{i}] {text[a:b]}" for i, (a, b) in enumerate(spans[:SHOWN_SENTENCES], start=1)]
                if len(spans) > SHOWN_SENTENCES:
                    lines.append(f"[... {len(spans) - SHOWN_SENTENCES} more sentences not shown]")
                lines.append("")
                key[f"{question['qid']}|D{n}"] = doc_id
        (out / f"packet{number}.txt").write_text("\n".join(lines))
        (out / f"key{number}.json").write_text(json.dumps(key))
        print(f"packet{number}: {len(key)} documents", file=sys.stderr)


def add_grades(folder: Path) -> None:
    key: dict[str, str] = {}
    for path in sorted(folder.glob("key*.json")):
        key.update(json.loads(path.read_text()))
    graded = []
    for path in sorted(folder.glob("grades*.jsonl")):
        for row in _lines(path):
            graded.append(
                {
                    "qid": row["qid"],
                    "doc_id": key[f"{row['qid']}|{row['doc']}"],
                    "grade": row["grade"],
                    "sentences": row["sentences"] if row["grade"] == 2 else [],
                }
            )
    if len(graded) != len(key) or len({(r["qid"], r["doc_id"]) for r in graded}) != len(key):
        raise SystemExit(f"{len(graded)} grades for {len(key)} packet documents: every document needs exactly one")
    earlier = _lines(JUDGMENTS)
    new = _lines(folder / "new-queries.jsonl")
    added_before = {q["qid"] for q in _lines(QUERIES)} & {q["qid"] for q in new}
    if added_before:
        raise SystemExit(f"{len(added_before)} of these questions are in {QUERIES.name} already: added before?")
    order = {q["qid"]: n for n, q in enumerate([*_lines(QUERIES), *new])}
    rows = sorted([*earlier, *graded], key=lambda r: (order[r["qid"]], r["doc_id"]))
    JUDGMENTS.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with QUERIES.open("a") as f:
        f.writelines(json.dumps(q, ensure_ascii=False) + "\n" for q in new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="an index built over the Commons answers")
    parser.add_argument("--new", type=Path, help="new questions (JSON Lines: qid, query, persona)")
    parser.add_argument("--out", type=Path, help="write packets here")
    parser.add_argument("--grades", type=Path, help="a packets folder holding the judges' gradesN.jsonl")
    args = parser.parse_args()
    if args.grades:
        add_grades(args.grades)
    elif args.index and args.new and args.out:
        write_packets(Index.open(args.index), _lines(args.new), args.out)
    else:
        parser.error("give --index, --new and --out to write packets, or --grades to add the judges' grades")


if __name__ == "__main__":
    main()
