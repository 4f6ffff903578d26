"""Does the reply a reader sees first answer the question? Measured through the page's own reply builder.

Three measures over judged questions (grade 2 = the document answers the question), for the
reply the page would show with ``shown`` passages first:

- **first key point answers**: of the replies that show key points, those whose first key
  point comes from an answering document;
- **silent when nothing answers**: of the replies that hold no answering passage among those
  shown, those that offer no key point (and so say that nothing here answers directly);
- **led by an answer**: of the replies that hold an answering passage among those shown,
  those whose first passage is one.

Documents are compared by their answer (identical answers to grouped questions count as one,
as in ``search.evaluation``); a shown document that was never judged counts as not answering,
and is counted in ``unjudged_shown`` so a reader can see how much that matters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..search.evaluation import text_answer_key
from ..search.index import Index
from ..search.request import SearchRequest
from .replies import PASSAGES_FETCHED, Reply, build_reply

__all__ = ["ReplyMeasures", "ReplyVerdict", "judge_reply", "reply_measures"]

ANSWERS = 2


@dataclass(frozen=True)
class ReplyVerdict:
    """What one reply did for one judged question."""

    qid: str
    key_points: bool
    first_point_answers: bool
    holds_answer: bool
    led_by_answer: bool
    unjudged_shown: int
    error: str | None = None


@dataclass(frozen=True)
class ReplyMeasures:
    """Counts behind the three measures; ``share`` gives each as a fraction (None when nothing counts)."""

    questions: int
    with_key_points: int
    first_point_answers: int
    without_answer: int
    silent_without_answer: int
    with_answer: int
    led_by_answer: int
    unjudged_shown: int
    # Replies that could not be built (a damaged answer scorer, a question refused): they
    # count as replies without key points and without an answer shown.
    errors: int = 0
    verdicts: tuple[ReplyVerdict, ...] = field(default=(), repr=False)

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def first_point_precision(self) -> float | None:
        return self._share(self.first_point_answers, self.with_key_points)

    @property
    def silent_when_none(self) -> float | None:
        return self._share(self.silent_without_answer, self.without_answer)

    @property
    def led_by_answer_share(self) -> float | None:
        return self._share(self.led_by_answer, self.with_answer)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "verdicts"}
        data |= {
            "first_point_precision": self.first_point_precision,
            "silent_when_none": self.silent_when_none,
            "led_by_answer_share": self.led_by_answer_share,
            "per_query": {v.qid: asdict(v) for v in self.verdicts},
        }
        return data


def judge_reply(qid: str, reply: Reply, grade_of: Callable[[str], int | None]) -> ReplyVerdict:
    """The verdict on one reply; ``grade_of(doc_id)`` is the document's grade (None: unjudged)."""

    def answers(doc_id: str) -> bool:
        return grade_of(doc_id) == ANSWERS

    by_number = {shown.number: shown.passage for shown in reply.passages}
    shown = [s.passage for s in reply.shown]
    first_point = by_number[reply.key_points[0].number] if reply.key_points else None
    return ReplyVerdict(
        qid,
        key_points=bool(reply.key_points),
        first_point_answers=first_point is not None and answers(first_point.doc_id),
        holds_answer=any(answers(p.doc_id) for p in shown),
        led_by_answer=bool(shown) and answers(shown[0].doc_id),
        unjudged_shown=sum(1 for p in shown if grade_of(p.doc_id) is None),
        error=reply.error,
    )


def _grade(grades: Mapping[str, int], key: Callable[[str], str], doc_id: str) -> int | None:
    return grades.get(key(doc_id))


def summarise(verdicts: list[ReplyVerdict]) -> ReplyMeasures:
    """The counts over a set of verdicts."""
    with_points = [v for v in verdicts if v.key_points]
    without = [v for v in verdicts if not v.holds_answer]
    holding = [v for v in verdicts if v.holds_answer]
    return ReplyMeasures(
        questions=len(verdicts),
        with_key_points=len(with_points),
        first_point_answers=sum(v.first_point_answers for v in with_points),
        without_answer=len(without),
        silent_without_answer=sum(not v.key_points for v in without),
        with_answer=len(holding),
        led_by_answer=sum(v.led_by_answer for v in holding),
        unjudged_shown=sum(v.unjudged_shown for v in verdicts),
        errors=sum(v.error is not None for v in verdicts),
        verdicts=tuple(verdicts),
    )


def reply_measures(
    index: Index,
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    shown: int = 3,
    build: Callable[[Index, str], Reply] | None = None,
) -> ReplyMeasures:
    """The three measures for ``queries`` (only those with judgments), each reply built as the
    page builds it (``build`` replaces that, for comparisons)."""
    keys: dict[str, str] = {}

    def key(doc_id: str) -> str:
        if doc_id not in keys:
            keys[doc_id] = text_answer_key(index.document_text(doc_id), doc_id)
        return keys[doc_id]

    def page_reply(index_: Index, question: str) -> Reply:
        return build_reply(index_, question, None, SearchRequest.parse(question, PASSAGES_FETCHED), shown)

    make = build or page_reply
    verdicts = []
    for qid, question in queries.items():
        judged = qrels.get(qid)
        if not judged:
            continue
        grades: dict[str, int] = {}
        for doc_id, grade in judged.items():
            grades[key(doc_id)] = max(grade, grades.get(key(doc_id), grade))
        verdicts.append(judge_reply(qid, make(index, question), functools.partial(_grade, grades, key)))
    return summarise(verdicts)
