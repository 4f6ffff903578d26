"""Choose the Commons written answers that question writers see (training data for the learned ranking).

Deterministic: the same data gives the same sample. Never an evaluation document: none of the
726 documents of the evaluation corpus (the five seeds and ../shared/data/send-written-answers.jsonl),
no document judged in ../shared/eval or eval/, and no document whose answer text is word for word
that of one of those (grouped questions share one answer). Spread over topics, SEND-heavy but not
only SEND (what a parent asks touches schools, health, benefits, transport and councils).

    python training/sample.py            # writes training/data/samples.jsonl.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from collections import Counter
from pathlib import Path

from sendsearch.search.folder.documents import answer_key
from sendsearch.sources.parliament import record_to_document
from sendsearch.sources.topic import send_score
from sendsearch.text.normalise import sentence_spans

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ALL_ANSWERS = SHARED / "data" / "commons-written-answers.jsonl.gz"
EVAL_CORPUS = SHARED / "data" / "send-written-answers.jsonl"
QRELS = [*sorted((SHARED / "eval").glob("*qrels*")), *sorted((ROOT / "eval").glob("*qrels*"))]
OUT = ROOT / "training" / "data" / "samples.jsonl.gz"
SEED = 20261207
# How many answers to take from each stratum (all of a stratum when it holds fewer).
QUOTAS = {
    "send": 450,
    "send-adjacent": 750,
    "education": 250,
    "health": 300,
    "benefits": 180,
    "councils": 220,
    "other": 250,
}
MAX_CHARS = 5000  # longer answers are not shown whole to a writer
MIN_CHARS = 200  # shorter ones rarely answer anything a parent asks

_EDUCATION = re.compile(
    r"\b(schools?|pupils?|teachers?|teaching|colleges?|nurser(?:y|ies)|childcare|early years|apprenticeships?|"
    r"universit(?:y|ies)|students?|ofsted|exams?|curriculum|academ(?:y|ies)|education)\b",
    re.I,
)
# Education answers about what SEND questions touch: needs, disability, attendance, exclusions,
# support staff, funding, transport, early years, wellbeing.
_SEND_ADJACENT = re.compile(
    r"\b(disab\w*|special|needs|autis\w*|adhd|mental health|wellbeing|attendance|absence|exclu\w*|"
    r"alternative provision|inclusi\w*|teaching assistants?|support staff|funding|transport|speech|dyslexi\w*|"
    r"deaf\w*|blind\w*|visual\w*|behaviour|home educat\w*|missing education|early years|nurser(?:y|ies)|"
    r"free school meals|pupil premium|high needs|therap\w*|neurodivers\w*|anxiety|bullying|safeguarding)\b",
    re.I,
)
_HEALTH = re.compile(
    r"\b(child(?:ren)?|young people|autis\w*|adhd|mental health|camhs|speech and language|diagnos\w*|"
    r"paediatric\w*|neurodivers\w*|learning disabilit\w*|therap\w*|wheelchairs?)\b",
    re.I,
)
_BENEFITS = re.compile(
    r"\b(disability living allowance|dla|personal independence payment|pip|carers?|universal credit|"
    r"disabled|disabilit\w*|access to work|motability)\b",
    re.I,
)
_COUNCILS = re.compile(
    r"\b(local authorit\w*|councils?|tribunals?|ombudsman|transport|blue badge|social care|"
    r"safeguarding|children's services|foster\w*|care leavers?)\b",
    re.I,
)


def excluded_ids() -> set[str]:
    ids = {json.loads(line)["id"] for line in EVAL_CORPUS.open(encoding="utf-8")}
    excluded = {str(i) for i in ids}
    for path in QRELS:
        for line in path.open(encoding="utf-8"):
            parts = line.split()
            if len(parts) >= 3:
                excluded.add(parts[2])
    return excluded


def stratum(text: str, department: str | None, record: dict) -> str:
    if send_score(record) >= 1:
        return "send"
    if department == "Department for Education" or _EDUCATION.search(text):
        return "send-adjacent" if _SEND_ADJACENT.search(text) else "education"
    if department == "Department of Health and Social Care" and _HEALTH.search(text):
        return "health"
    if _BENEFITS.search(text):
        return "benefits"
    if _COUNCILS.search(text):
        return "councils"
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    excluded = excluded_ids()
    with gzip.open(ALL_ANSWERS, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    documents = {}
    for record in records:
        try:
            documents[str(record["id"])] = (record, record_to_document(record))
        except ValueError:
            continue
    # Answers given word for word to an excluded question are excluded with it.
    excluded_keys = {answer_key(d.doc_id, d.text) for i, (_, d) in documents.items() if i in excluded}
    pools: dict[str, list[tuple[str, dict]]] = {name: [] for name in QUOTAS}
    seen_keys: set[str] = set()
    for doc_id, (record, document) in sorted(documents.items()):
        key = answer_key(doc_id, document.text)
        if doc_id in excluded or key in excluded_keys or key in seen_keys:
            continue
        if document.citation.non_answer or document.citation.withdrawn:
            continue
        if not MIN_CHARS <= len(document.text) <= MAX_CHARS:
            continue
        seen_keys.add(key)
        citation = document.citation
        text = f"{citation.heading or ''}\n{citation.question or ''}\n{document.text}"
        name = stratum(text, citation.department, record)
        spans = sentence_spans(document.text)
        pools[name].append(
            (
                doc_id,
                {
                    "doc_id": doc_id,
                    "stratum": name,
                    "heading": citation.heading,
                    "department": citation.department,
                    "mp_question": citation.question,
                    "sentences": [document.text[s:e] for s, e in spans],
                },
            )
        )
    rng = random.Random(SEED)  # noqa: S311 - a reproducible sample, not a secret
    chosen = []
    for name, quota in QUOTAS.items():
        pool = pools[name]
        chosen += rng.sample(pool, min(quota, len(pool)))
        print(f"{name}: {min(quota, len(pool))} of {len(pool)}")
    rng.shuffle(chosen)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8") as handle:
        for _, sample in chosen:
            handle.write(json.dumps(sample, ensure_ascii=False) + "\n")
    print(f"{len(chosen)} answers -> {args.out} ({Counter(s['stratum'] for _, s in chosen)})")


if __name__ == "__main__":
    main()
