"""Fit the answer scorer (src/sendsearch/data/answer-scorer.json) from the questions in training/data.

For every training question, the script searches the index it is given as a reply does
(``sendsearch.chat.replies.reply_passages``) but deeper, takes the evaluation documents out
(``training_passages``: the reply the question would get without them), takes the candidate
sentences of the first passages (``sendsearch.chat.answers.candidates``), computes their
features with the index's own embedder and labels them:

- questions written about a sampled answer (``questions.jsonl.gz``): the sentences the writer
  marked as answering are positive; the rest of that answer, every other document, and
  every sentence for a question the writer said the answer does not answer, negative;
- parent-style questions judged blind (``realistic-train-*.jsonl``): the marked sentences of
  documents graded 2 are positive, sentences of documents graded 0 or 1 negative, sentences
  of unjudged documents left out.

Documents of the evaluation sets never become training rows: any passage whose document is
listed in ``training/data/excluded-ids.txt`` (the evaluation corpus and every judged
document) or judged in ``eval/`` is dropped before labelling.

The model is LightGBM's gradient-boosted trees (binary, deterministic settings); the
threshold is chosen on a held-out fifth of the training questions (split by source
document) as the one at which most replies open rightly: their first key point comes from
an answering sentence, or, when none of their candidates answers, they offer none.

    python training/train_answer_scorer.py --index commons-index --limit 0
    python training/train_answer_scorer.py --index commons-index --limit 0 --features-cache /tmp/f.npz

Same data, same index and same model give the same file (fixed seeds, sorted inputs).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sendsearch.chat.answers import FEATURES, AnswerScorer, candidates, features
from sendsearch.chat.replies import PASSAGES_FETCHED, reply_passages
from sendsearch.indexing.embedding import resolve_model
from sendsearch.schema import Passage
from sendsearch.search.index import Index
from sendsearch.search.request import SearchRequest
from sendsearch.text.normalise import sentence_spans

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "training" / "data"
OUT = ROOT / "src" / "sendsearch" / "data" / "answer-scorer.json"
SEED = 20261207
NEAR = 0.8
# How deep a training question's search goes before the evaluation documents are taken out:
# they are 1,744 of the most SEND-heavy answers, so at a reply's own depth (10 passages) most
# parent-style questions had nothing left to learn from (96 of the first 179 gave no row).
DEPTH = 80


@dataclass
class Question:
    qid: str
    text: str
    # doc id -> the normalised texts of its answering sentences (empty: the document does not answer)
    judged: dict[str, set[str]]
    # True: a passage of a document not in ``judged`` is a negative; False: it is left out.
    others_negative: bool
    group: str


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def _synthetic(limit: int | None) -> list[Question]:
    with gzip.open(DATA / "samples.jsonl.gz", "rt", encoding="utf-8") as handle:
        samples = {row["doc_id"]: row for row in map(json.loads, handle)}
    with gzip.open(DATA / "questions.jsonl.gz", "rt", encoding="utf-8") as handle:
        written = [row for row in map(json.loads, handle) if row.get("usable")]
    found = []
    for row in sorted(written, key=lambda r: r["doc_id"]):
        sentences = samples[row["doc_id"]]["sentences"]
        for asked in row["questions"]:
            marked = {_norm(sentences[n - 1]) for n in asked.get("sentences", []) if 0 < n <= len(sentences)}
            answers = bool(asked.get("answers")) and bool(marked)
            found.append(
                Question(
                    f"{row['doc_id']}-{asked['n']}",
                    asked["text"],
                    {row["doc_id"]: marked if answers else set()},
                    True,
                    row["doc_id"],
                )
            )
    random.Random(SEED).shuffle(found)  # noqa: S311 - a reproducible sample, not a secret
    return found[:limit] if limit else found


def _realistic(index: Index) -> list[Question]:
    queries = [json.loads(line) for line in (DATA / "realistic-train-queries.jsonl").read_text().splitlines() if line]
    judged: dict[str, dict[str, set[str]]] = {}
    for line in (DATA / "realistic-train-judgments.jsonl").read_text().splitlines():
        if not line:
            continue
        row = json.loads(line)
        marked: set[str] = set()
        if row.get("grade") == 2:
            text = index.document_text(row["doc_id"]) or ""
            spans = sentence_spans(text)
            marked = {_norm(text[spans[n - 1][0] : spans[n - 1][1]]) for n in row["sentences"] if 0 < n <= len(spans)}
        judged.setdefault(row["qid"], {})[row["doc_id"]] = marked
    return [Question(q["qid"], q["query"], judged.get(q["qid"], {}), False, q["qid"]) for q in queries]


def _excluded() -> set[str]:
    ids = set((DATA / "excluded-ids.txt").read_text().split())
    for qrels in sorted((ROOT / "eval").glob("*qrels*")):
        ids |= {line.split()[2] for line in qrels.read_text().splitlines() if len(line.split()) == 4}
    return ids


def _evaluation_questions() -> list[str]:
    found = []
    for path in [
        *sorted((ROOT / "eval").glob("*queries*.jsonl")),
        *sorted((ROOT.parent / "shared" / "eval").glob("*queries*")),
    ]:
        found += [json.loads(line)["query"] for line in path.read_text().splitlines() if line.strip()]
    return found


def near_evaluation(questions: list[Question], index: Index, bar: float = NEAR) -> set[str]:
    """Training questions within cosine ``bar`` of an evaluation question: left out, so no
    evaluation question is learned from, even reworded."""
    asked = _evaluation_questions()
    if not asked:
        return set()
    embedder = index.embedder
    ours = embedder.encode_query([q.text for q in questions])
    theirs = embedder.encode_query(asked)
    closest = (ours @ theirs.T).max(axis=1)
    return {q.qid for q, c in zip(questions, closest, strict=True) if c >= bar}


def _label(question: Question, doc_ids: tuple[str, ...], text: str) -> float | None:
    sentence = _norm(text)
    for doc in doc_ids:
        if doc in question.judged:
            marked = question.judged[doc]
            return float(
                any(sentence == m or (len(sentence) > 30 and (sentence in m or m in sentence)) for m in marked)
            )
    return 0.0 if question.others_negative else None


def training_passages(index: Index, question: str, excluded: set[str]) -> list[tuple[int, Passage]]:
    """The numbered passages a reply to ``question`` would draw on were the ``excluded``
    documents not in the index: the search goes ``DEPTH`` passages deep, their passages are
    taken out and the rest renumbered from 1 (a passage's rank is one of the features)."""
    found = [p for _, p in reply_passages(index, question, SearchRequest.parse(question, DEPTH))]
    kept = [p for p in found if p.doc_id not in excluded]
    return list(enumerate(kept[:PASSAGES_FETCHED], start=1))


def compute(index: Index, questions: list[Question]) -> dict[str, np.ndarray]:
    excluded = _excluded()
    embedder = index.embedder
    rows, labels, groups, qids, docs, texts = [], [], [], [], [], []
    for number, question in enumerate(questions, start=1):
        found = candidates(training_passages(index, question.text, excluded))
        kept = [(c, _label(question, (c.passage.doc_id, *c.passage.same_answer_as), c.text)) for c in found]
        kept_found = [c for c, label in kept if label is not None]
        if not kept_found:
            continue
        question_vector = embedder.encode_query([question.text])[0]
        vectors = embedder.encode_document([c.text for c in kept_found])
        table = features(question.text, kept_found, question_vector, vectors)
        rows.append(table)
        labels += [label for _, label in kept if label is not None]
        groups += [question.group] * len(kept_found)
        qids += [question.qid] * len(kept_found)
        docs += [c.passage.doc_id for c in kept_found]
        texts += [c.text for c in kept_found]
        if number % 100 == 0:
            print(f"{number}/{len(questions)} questions", file=sys.stderr, flush=True)
    return {
        "x": np.vstack(rows),
        "y": np.asarray(labels),
        "group": np.asarray(groups),
        "qid": np.asarray(qids),
        "doc": np.asarray(docs),
        "text": np.asarray(texts),
    }


def _openings(
    probabilities: np.ndarray, data: dict[str, np.ndarray], threshold: float
) -> tuple[float, float, float, int]:
    """Over questions, for replies that speak when their best sentence clears ``threshold``:
    the share that open rightly (a first key point that answers, or silence when no candidate
    answers), the precision of the first key point, the share of questions with no answering
    candidate left silent, and how many replies speak."""
    spoke = right = none = silent = opened_rightly = 0
    questions = np.unique(data["qid"])
    for qid in questions:
        where = data["qid"] == qid
        best = int(np.argmax(probabilities[where]))
        has_answer = bool(data["y"][where].max() > 0)
        speaks = probabilities[where][best] >= threshold
        answers = bool(data["y"][where][best] > 0)
        spoke += int(speaks)
        right += int(speaks and answers)
        none += int(not has_answer)
        silent += int(not has_answer and not speaks)
        opened_rightly += int(answers if speaks else not has_answer)
    return opened_rightly / len(questions), right / max(1, spoke), silent / max(1, none), spoke


PARAMETERS = {
    "n_estimators": 300,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 50,
    "is_unbalance": True,
    "random_state": SEED,
    "deterministic": True,
    "force_col_wise": True,
    "n_jobs": 1,
    "verbose": -1,
}


def fit(data: dict[str, np.ndarray], model: str, trained_on: dict[str, object]) -> AnswerScorer:
    """Trees fitted on four fifths of the questions (split by source document) choose the
    threshold on the fifth held out: the one at which most replies open rightly (their first
    key point answers, or they stay silent when nothing among their candidates does). The
    shipped trees are then fitted on all of them."""
    import lightgbm

    groups = sorted(set(data["group"].tolist()))
    random.Random(SEED).shuffle(groups)  # noqa: S311 - a reproducible split, not a secret
    held = set(groups[: len(groups) // 5])
    is_held = np.asarray([g in held for g in data["group"]])
    names = list(FEATURES)
    first = lightgbm.LGBMClassifier(**PARAMETERS).fit(data["x"][~is_held], data["y"][~is_held], feature_name=names)
    held_data = {k: v[is_held] for k, v in data.items()}
    probabilities = first.predict_proba(held_data["x"])[:, 1]
    measured = {}
    for candidate in np.arange(0.5, 0.99, 0.01):
        threshold = round(float(candidate), 2)
        measured[threshold] = _openings(probabilities, held_data, threshold)
        rightly, precision, silent, spoke = measured[threshold]
        print(
            f"threshold {threshold:.2f}: open rightly {rightly:.3f}, first-point precision {precision:.3f}, "
            f"silent-when-none {silent:.3f}, speak {spoke}"
        )
    threshold = max(measured, key=lambda t: (measured[t][0], -t))
    unsure = unsure_from(probabilities, held_data, threshold)
    if unsure is not None:
        print(f"unsure from {unsure['from']:.2f}: {unsure['with_an_answer']} of {unsure['replies']} such replies")
    final = lightgbm.LGBMClassifier(**PARAMETERS).fit(data["x"], data["y"], feature_name=names)
    rightly, precision, silent, spoke = measured[threshold]
    return AnswerScorer(
        model,
        final.booster_,
        threshold,
        {
            **trained_on,
            "rows": len(data["y"]),
            "positives": int(data["y"].sum()),
            "questions": len(np.unique(data["qid"])),
            "held_out": {
                "questions": len(np.unique(held_data["qid"])),
                "open_rightly": round(rightly, 3),
                "first_point_precision": round(precision, 3),
                "silent_when_none": round(silent, 3),
                "replies_with_key_points": spoke,
                **({"unsure": unsure} if unsure is not None else {}),
            },
        },
        unsure_from=unsure["from"] if unsure is not None else None,
    )


# A silent reply says its passages may answer where at least this share of such replies has
# an answering sentence among its candidates: "nothing here answers" would be wrong as often.
UNSURE_SHARE = 0.5


def unsure_from(probabilities: np.ndarray, data: dict[str, np.ndarray], threshold: float) -> dict[str, Any] | None:
    """The lowest probability (in steps of 0.01, from 0.50) such that, of the questions whose
    likeliest candidate scores from there to ``threshold`` (silent replies), at least
    ``UNSURE_SHARE`` have an answering candidate; None if no such step. With how many
    replies that band holds and how many of them have an answer."""
    best: dict[str, tuple[float, bool]] = {}
    for qid in np.unique(data["qid"]):
        where = data["qid"] == qid
        best[str(qid)] = (float(probabilities[where].max()), bool(data["y"][where].max() > 0))
    for step in np.arange(0.5, threshold, 0.01):
        low = round(float(step), 2)
        if low >= threshold:
            break
        band = [has for p, has in best.values() if low <= p < threshold]
        if band and sum(band) >= UNSURE_SHARE * len(band):
            return {"from": low, "replies": len(band), "with_an_answer": int(sum(band))}
    return None


def _identity(index: Index) -> dict[str, object]:
    """What the features were computed on: the scorer is reproduced from the same data only on
    an index of the same corpus, built with the same settings and ranking (a change in either
    moves the candidates, and so the rows)."""
    info = index.info()
    return {
        "documents": info.documents,
        "chunks": info.chunks,
        "corpus_fingerprint": info.corpus_fingerprint[:16],
        "sendsearch": info.sendsearch_version,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, type=Path, help="an index built over the Commons answers")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--limit", type=int, default=3000, help="written questions used (default 3000)")
    parser.add_argument("--features-cache", type=Path, help="keep computed features here and reuse them")
    parser.add_argument(
        "--reranker",
        action="store_true",
        help="also train a sentence reranker (about 15 min more; measured, not shipped: docs/quality.md)",
    )
    args = parser.parse_args()
    index = Index.open(args.index)
    if args.features_cache and args.features_cache.exists():
        data = dict(np.load(args.features_cache))
    else:
        questions = [*_synthetic(args.limit), *_realistic(index)]
        data = compute(index, questions)
        if args.features_cache:
            np.savez(args.features_cache, **data)
    questions = [*_synthetic(args.limit), *_realistic(index)]
    dropped = near_evaluation(questions, index)
    kept = ~np.isin(data["qid"], sorted(dropped))
    print(f"left out {len(dropped)} training questions within cosine {NEAR} of an evaluation question")
    data = {k: v[kept] for k, v in data.items()}
    scorer = fit(
        data,
        index.embedder.name,
        {"written_questions": args.limit, "features": len(FEATURES), "index": _identity(index)},
    )
    if args.reranker:
        import answer_reranker
        import lightgbm

        spec, weights = answer_reranker.fit(
            data,
            {q.qid: q.text for q in questions},
            resolve_model(index.embedder.name),
            lambda x, y: lightgbm.LGBMClassifier(**PARAMETERS).fit(x, y),
            _openings,
            SEED,
        )
        args.out.with_suffix(".reranker.safetensors").write_bytes(weights)
        scorer = dataclasses.replace(scorer, reranker_spec=spec)
    scorer.save(args.out)
    print(f"wrote {args.out}: threshold {scorer.threshold}, {scorer.trained_on}")


if __name__ == "__main__":
    main()
