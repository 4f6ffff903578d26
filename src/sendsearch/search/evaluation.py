"""Retrieval evaluation: ranking metrics over judged questions, and literal-answer checks.

Rankings are at document level: a document's rank is that of its best passage, which is
what ``Index.search`` returns with one passage per document. A passage that stands for an
answer given word for word to several questions cites all of them (``same_answer_as``);
they are ranked right after it, in the order the store lists them. Metrics come from
ir-measures (trec_eval underneath): nDCG@10 and nDCG@5 with graded gains, Recall@10/20 and
MRR@10 counting grade >= 1 as relevant, and Success@3: whether a passage that answers the
question (grade 2) is among the first three. Documents nobody judged count as not relevant;
they are listed per query so they can be looked at rather than tuned away.

Answer level: many written answers are given word for word to several questions, and one
passage stands for all of them. Counting each of those documents as a hit flatters a
ranking, so the report also scores answers: documents with the same answer text form one
answer, judged by the best grade any of them has and ranked where the first of them is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SendSearchError
from ..schema import Passage
from ..text.normalise import normalise_for_match

__all__ = [
    "METRICS",
    "EvalReport",
    "Fact",
    "answer_level",
    "evaluate",
    "evaluate_rankings",
    "load_facts",
    "load_qrels",
    "load_queries",
    "ranked_documents",
    "text_answer_key",
]


def text_answer_key(text: str | None, doc_id: str) -> str:
    """One answer's key: its text up to case and spacing (a document without text is its own answer)."""
    if not text:
        return "doc:" + doc_id
    return "text:" + hashlib.sha1(normalise_for_match(text).encode("utf-8"), usedforsecurity=False).hexdigest()[:20]


# Name in the report -> ir-measures measure.
METRICS = {
    "ndcg@10": "nDCG@10",
    "recall@10": "R@10",
    "recall@20": "R@20",
    "mrr@10": "RR@10",
    "ndcg@5": "nDCG@5",
    "success@3": "Success(rel=2)@3",
}
DEPTH = 100  # documents ranked per query


@dataclass(frozen=True)
class Fact:
    """A question whose answer is a literal string in one document."""

    qid: str
    query: str
    answer: str
    doc_id: str


@dataclass
class EvalReport:
    modes: dict[str, dict[str, float]] = field(default_factory=dict)
    per_query: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    unjudged: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    facts: dict[str, Any] | None = None
    answer_level: dict[str, dict[str, float]] = field(default_factory=dict)
    answer_level_per_query: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "modes": self.modes,
            "answer_level": self.answer_level,
            "per_query": self.per_query,
            "answer_level_per_query": self.answer_level_per_query,
            "unjudged_in_top10": self.unjudged,
        }
        if self.facts is not None:
            data["facts"] = self.facts
        return data


def _jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise SendSearchError(f"cannot read {path}: {error.strerror or error}") from None
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise SendSearchError(f"{path}:{number}: malformed JSON ({error.msg})") from None
    return rows


def load_queries(path: Path) -> dict[str, str]:
    """JSONL ``{"qid": ..., "query": ...}``."""
    try:
        return {str(row["qid"]): str(row["query"]) for row in _jsonl(path)}
    except KeyError as error:
        raise SendSearchError(f"{path}: every line needs 'qid' and 'query' (missing {error})") from None


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """TREC qrels ``qid 0 doc_id grade``."""
    qrels: dict[str, dict[str, int]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise SendSearchError(f"cannot read {path}: {error.strerror or error}") from None
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4 or not parts[3].lstrip("-").isdigit():
            raise SendSearchError(f"{path}:{number}: expected 'qid 0 doc_id grade'")
        qrels.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return qrels


def load_facts(path: Path) -> list[Fact]:
    """JSONL ``{"qid", "query", "answer", "doc_id"}``."""
    try:
        return [Fact(str(r["qid"]), str(r["query"]), str(r["answer"]), str(r["doc_id"])) for r in _jsonl(path)]
    except KeyError as error:
        raise SendSearchError(f"{path}: every line needs qid, query, answer and doc_id (missing {error})") from None


def evaluate_rankings(
    rankings: Mapping[str, Sequence[str]], qrels: dict[str, dict[str, int]]
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Aggregate and per-query metrics for ranked document ids per query.

    As trec_eval does, only queries with at least one relevant (grade > 0) judgment count:
    a question the corpus cannot answer says nothing about ranking (its handling is measured
    by the relevance floor instead). A query with relevant judgments but no results scores 0.
    """
    import ir_measures
    from ir_measures import Qrel, ScoredDoc

    measures = {name: ir_measures.parse_measure(spec) for name, spec in METRICS.items()}
    judged = [qid for qid in rankings if any(grade > 0 for grade in qrels.get(qid, {}).values())]
    qrel_rows = [Qrel(qid, doc, grade) for qid in judged for doc, grade in qrels[qid].items()]
    # Scores strictly decrease with rank so trec_eval keeps our order exactly.
    run_rows = [
        ScoredDoc(qid, doc, float(len(rankings[qid]) - rank))
        for qid in judged
        for rank, doc in enumerate(rankings[qid])
    ]
    per_query: dict[str, dict[str, float]] = {qid: dict.fromkeys(measures, 0.0) for qid in judged}
    by_measure = {measure: name for name, measure in measures.items()}
    for metric in ir_measures.iter_calc(list(measures.values()), qrel_rows, run_rows):
        per_query[metric.query_id][by_measure[metric.measure]] = float(metric.value)
    aggregate = {
        name: (sum(q[name] for q in per_query.values()) / len(per_query) if per_query else 0.0) for name in measures
    }
    return aggregate, per_query


def ranked_documents(passages: Iterable[Passage]) -> list[str]:
    """Document ids in the order a reader meets them: each passage, then its same-answer documents."""
    ranking: dict[str, None] = {}
    for passage in passages:
        ranking.setdefault(passage.doc_id)
        for doc_id in passage.same_answer_as:
            ranking.setdefault(doc_id)
    return list(ranking)


def answer_level(
    rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], answer_of: Callable[[str], str]
) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    """Rankings and judgments of answers instead of documents: ``answer_of(doc_id)`` names a
    document's answer; an answer ranks where its first document does and takes the best grade
    of its judged documents."""
    answer_rankings = {qid: list(dict.fromkeys(answer_of(doc) for doc in ranking)) for qid, ranking in rankings.items()}
    answer_qrels: dict[str, dict[str, int]] = {}
    for qid, judged in qrels.items():
        grades: dict[str, int] = {}
        for doc, grade in judged.items():
            answer = answer_of(doc)
            grades[answer] = max(grade, grades.get(answer, grade))
        answer_qrels[qid] = grades
    return answer_rankings, answer_qrels


def fact_found(passages: Iterable[Passage], answer: str, top: int = 3) -> bool:
    """Whether ``answer`` appears in one of the first ``top`` passages (NFKC, spacing, case)."""
    wanted = normalise_for_match(answer)
    return any(wanted in normalise_for_match(p.text) for p in list(passages)[:top])


def evaluate(
    search: Callable[[str, str], list[Passage]],
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    *,
    modes: Sequence[str] = ("hybrid",),
    facts: Sequence[Fact] = (),
    answer_of: Callable[[str], str] | None = None,
) -> EvalReport:
    """Run every query in every mode through ``search(query, mode)`` and score the results;
    with ``answer_of`` (document id -> its answer), at answer level too."""
    report = EvalReport()
    for mode in modes:
        rankings = {qid: ranked_documents(search(query, mode))[:DEPTH] for qid, query in queries.items()}
        aggregate, per_query = evaluate_rankings(rankings, qrels)
        report.modes[mode] = aggregate
        report.per_query[mode] = per_query
        if answer_of is not None:
            answers, answer_qrels = answer_level(rankings, qrels, answer_of)
            report.answer_level[mode], report.answer_level_per_query[mode] = evaluate_rankings(answers, answer_qrels)
        report.unjudged[mode] = {
            qid: [doc for doc in ranking[:10] if doc not in qrels.get(qid, {})] for qid, ranking in rankings.items()
        }
    if facts:
        found = {fact.qid: fact_found(search(fact.query, "hybrid"), fact.answer) for fact in facts}
        report.facts = {"top3": sum(found.values()) / len(found), "found": found}
    return report
