"""A reply to one chat message: how it was read, key points, the passages shown first and the rest.

The page builds a ``Reply`` here and ``render`` turns it into HTML and into plain text.
Passages under the relevance floor (``Passage.weak_match``, set by the search) are left
out and counted; near-identical passages (the same answer to different questions, not
word for word) are shown once, naming the others.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Literal

from .. import settings
from ..errors import SendSearchError
from ..schema import Citation, Passage
from ..search.index import Index
from ..search.request import SearchRequest, SearchResult, Timeline
from ..search.scope import Elsewhere, elsewhere_named
from ..text.analysis import answer_words
from .answers import AnswerScorer, Candidate, candidates, load_answer_scorer
from .conversation import Reading, read_question
from .keypoints import MAX_POINTS, KeyPoint, key_points, overlaps

__all__ = [
    "OTHERS_LISTED",
    "PASSAGES_FETCHED",
    "OtherQuestion",
    "Reply",
    "ShownPassage",
    "build_reply",
    "collapse_near_identical",
    "learned_key_points",
    "reply_passages",
]

# Passages fetched for a reply: those shown first and, behind "more", the rest.
PASSAGES_FETCHED = 10
# Two passages sharing this share of the shorter one's five-word runs say the same thing.
_NEAR_IDENTICAL = 0.8
_SHINGLE = 5
# Other questions given the same answer, named and linked under a passage; the rest are counted.
OTHERS_LISTED = 10
# Words that make two otherwise alike answers say different things when one has them and
# the other does not: figures (digits, number words) and negations.
_TELLS_APART = re.compile(
    r"zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|(?:thir|four|fif|six|seven|eigh|nine)teen|"
    r"twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|half|quarter|third|"
    r"once|twice|first|second|"
    r"not|no|never|none|nothing|nobody|neither|nor|cannot|without|\w+n't|.*\d.*"
)


@dataclass(frozen=True)
class OtherQuestion:
    """Another document given the same answer: a readable name and where to read it."""

    doc_id: str
    label: str
    source: str | None = None

    @classmethod
    def of(cls, doc_id: str, citation: Citation | None) -> OtherQuestion:
        """ "Question 72062 (tabled 29 August 2025)" for a written answer, else the title."""
        if citation is None:
            return cls(doc_id, doc_id)
        return cls(doc_id, citation.question_name or citation.title or doc_id, citation.source)


@dataclass(frozen=True)
class ShownPassage:
    """A numbered passage of a reply, its document's full text, and near-identical ones folded in.

    ``others`` names the first ``OTHERS_LISTED`` documents given the same answer (word for
    word or nearly); ``others_count`` counts them all."""

    number: int
    passage: Passage
    full_text: str | None = None
    near_identical: tuple[Passage, ...] = ()
    others: tuple[OtherQuestion, ...] = ()
    others_count: int = 0


@dataclass(frozen=True)
class Reply:
    """Everything a reply says. ``error`` is set when the message could not be searched."""

    message: str
    reading: Reading
    filters: str = ""
    key_points: tuple[KeyPoint, ...] = ()
    shown: tuple[ShownPassage, ...] = ()
    more: tuple[ShownPassage, ...] = ()
    weak: int = 0
    error: str | None = None
    # The system outside England that the question names, if any (scope.py): the reply
    # says where people there get advice.
    elsewhere: Elsewhere | None = None
    # False when passages were found but no sentence in them answers the question well
    # enough to be a key point: the reply then says so and where parents get advice.
    answered: bool = True
    # With ``answered`` False: the likeliest sentence came close (``AnswerScorer.unsure_at``),
    # so the reply says its passages may answer, not that nothing here does.
    may_answer: bool = False
    # Documents without a date that a date filter left out although they match (SearchResult).
    undated_left_out: int = 0
    # "Councils in these results: Stockport (4)" (SearchResult.councils_line), or "".
    councils: str = ""
    # "Who asked these: Mary Foy (...) (2)" (SearchResult.askers_line), or "".
    askers: str = ""
    # The same as (member id, questions), most first (SearchResult.askers): the page links each name.
    asker_counts: tuple[tuple[int, int], ...] = ()
    # The good matches by month (SearchResult.timeline), when the request asked for it.
    timeline: Timeline | None = None
    newest_first: bool = False
    passages: tuple[ShownPassage, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "passages", self.shown + self.more)

    @property
    def nothing_close(self) -> bool:
        """True when the index holds nothing close enough to answer (and there was no error)."""
        return self.error is None and not self.passages


_words = answer_words


def _shingles(words: Sequence[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + _SHINGLE]) for i in range(max(1, len(words) - _SHINGLE + 1))}


def _tells_apart(word: str) -> bool:
    """A word whose change turns an answer into another: a figure or a negation."""
    return _TELLS_APART.fullmatch(word) is not None


def _differ_in_substance(first: Sequence[str], second: Sequence[str]) -> bool:
    """True when the words that differ between two passages include a figure or a negation.

    Words one passage has beyond the other's first or last word are left aside: chunks of
    the same answer can start or end at different places, and what one of them leaves out it
    does not contradict."""
    opcodes = SequenceMatcher(None, first, second, autojunk=False).get_opcodes()
    for position, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        at_edge = position in (0, len(opcodes) - 1)
        if tag == "equal" or (at_edge and tag in ("insert", "delete")):
            continue
        if any(_tells_apart(word) for word in (*first[i1:i2], *second[j1:j2])):
            return True
    return False


def collapse_near_identical(passages: Sequence[Passage]) -> list[tuple[Passage, list[Passage]]]:
    """Each passage with the later ones that say nearly the same, best first.

    Nearly the same means most five-word runs shared and no figure or negation changed:
    "decided within six weeks" and "not decided within six weeks" are two answers."""
    groups: list[tuple[Passage, list[Passage], list[str], set[tuple[str, ...]]]] = []
    for passage in passages:
        words = _words(passage.text)
        runs = _shingles(words)
        for _, folded, kept_words, kept_runs in groups:
            shorter = min(len(runs), len(kept_runs)) or 1
            if len(runs & kept_runs) / shorter >= _NEAR_IDENTICAL and not _differ_in_substance(kept_words, words):
                folded.append(passage)
                break
        else:
            groups.append((passage, [], words, runs))
    return [(passage, folded) for passage, folded, _, _ in groups]


def _close_groups(
    index: Index, question: str, request: SearchRequest
) -> tuple[list[tuple[Passage, list[Passage]]], SearchResult, int]:
    """The passages a reply draws on, near-identical ones folded; the search's result; and
    how many weak matches were left out."""
    passages = index.search(dataclasses.replace(request, question=question))
    close = [p for p in passages if not p.weak_match]
    return collapse_near_identical(close), passages, len(passages) - len(close)


def reply_passages(index: Index, question: str, request: SearchRequest | None = None) -> list[tuple[int, Passage]]:
    """The numbered passages a reply to ``question`` draws on, before any is moved to the front
    (what the answer scorer was trained on: ``training/train_answer_scorer.py``)."""
    groups, _, _ = _close_groups(index, question, request or SearchRequest.parse(question, PASSAGES_FETCHED))
    return [(number, kept) for number, (kept, _) in enumerate(groups, start=1)]


def _answer_first(
    index: Index, question: str, groups: list[tuple[Passage, list[Passage]]], scorer: AnswerScorer | None
) -> tuple[list[tuple[Passage, list[Passage]]], list[tuple[float, Candidate]], float]:
    """The groups with the one holding the likeliest answering sentence first (when one clears
    the scorer's threshold), the candidate sentences that clear it, likeliest first, and the
    likeliest sentence's probability (0 without candidates)."""
    if scorer is None:
        return groups, [], 0.0
    found = candidates([(number, kept) for number, (kept, _) in enumerate(groups, start=1)])
    probabilities = scorer.score(question, found, index.embedder)
    likeliest = float(probabilities.max()) if len(probabilities) else 0.0
    answering = sorted(
        ((float(p), c) for p, c in zip(probabilities, found, strict=True) if p >= scorer.speaks_at),
        key=lambda item: (-item[0], item[1].number),
    )
    if not answering:
        return groups, [], likeliest
    lead = answering[0][1].number - 1
    return [groups[lead], *groups[:lead], *groups[lead + 1 :]], answering, likeliest


def _renumbered(answering: list[tuple[float, Candidate]], moved_from: int) -> list[tuple[float, Candidate]]:
    """Candidates' passage numbers after the passage numbered ``moved_from`` became the first."""

    def number(n: int) -> int:
        return 1 if n == moved_from else n + 1 if n < moved_from else n

    return [(p, dataclasses.replace(c, number=number(c.number))) for p, c in answering]


def learned_key_points(answering: list[tuple[float, Candidate]]) -> list[KeyPoint]:
    """Up to ``MAX_POINTS`` sentences that clear the threshold, likeliest first, each from
    its own passage and saying something the ones before it do not."""
    chosen: list[KeyPoint] = []
    for _, candidate in answering:
        if len(chosen) == MAX_POINTS:
            break
        if any(point.number == candidate.number for point in chosen) or overlaps(candidate.text, chosen):
            continue
        chosen.append(KeyPoint(candidate.text, candidate.number))
    return chosen


def _scorer_for(index: Index) -> AnswerScorer | None:
    """The answer scorer the settings name (``SENDSEARCH_ANSWER_SCORER``; the shipped one by
    default) when the index's embedder is the one it was trained with; None (hand-tuned key
    points) for ``rules`` or another model."""
    chosen = settings.answer_scorer()
    if chosen == "rules":
        return None
    scorer = load_answer_scorer(chosen)
    return scorer if scorer.model == index.embedder.name else None


def build_reply(
    index: Index,
    message: str,
    anchor: str | None,
    request: SearchRequest,
    shown: int,
    *,
    scorer: AnswerScorer | Literal["shipped"] | None = "shipped",
) -> Reply:
    """Search for a chat message (read as a follow-up to ``anchor`` where it is one) and
    assemble the reply. ``request`` carries the filters and settings; its question is what
    the message is read as, and its ``k`` how many passages the reply draws on.

    ``scorer`` decides the key points: by default the shipped answer scorer (``answers``),
    which leads with the passage holding the likeliest answering sentence and offers no key
    point when no sentence clears its threshold (``Reply.answered`` is then False); None
    keeps the hand-tuned key points (``keypoints``) and the search's order."""
    reading = read_question(message, anchor)
    filters = request.filters
    try:
        groups, passages, weak = _close_groups(index, reading.query, request)
        learned = _scorer_for(index) if scorer == "shipped" else scorer
        ordered, answering, likeliest = _answer_first(index, reading.query, groups, learned)
    except SendSearchError as error:
        return Reply(message, reading, filters.describe(), error=str(error))
    newest_first = request.sort == "newest"
    if newest_first:
        # Newest first was asked for: the passages keep their dates' order.
        ordered = groups
    elif answering:
        answering = _renumbered(answering, answering[0][1].number)
    if learned is not None:
        points = learned_key_points(answering)
    numbered = _numbered(index, ordered)
    if learned is None:
        points = key_points(reading.query, [(s.number, s.passage) for s in numbered])
    # A passage a key point comes from is shown with the first ones, so every [n] is on screen.
    cited = {point.number for point in points}
    first = [s for s in numbered if s.number <= shown or s.number in cited]
    return Reply(
        message,
        reading,
        filters.describe(),
        key_points=tuple(points),
        shown=tuple(first),
        more=tuple(s for s in numbered if s not in first),
        weak=weak,
        elsewhere=elsewhere_named(reading.query),
        answered=bool(points),
        may_answer=not points and _near_an_answer(learned, likeliest),
        undated_left_out=passages.undated_left_out,
        councils=passages.councils_line,
        askers=passages.askers_line,
        asker_counts=passages.askers,
        timeline=passages.timeline,
        newest_first=newest_first,
    )


def _near_an_answer(scorer: AnswerScorer | None, likeliest: float) -> bool:
    unsure_at = scorer.unsure_at if scorer is not None else None
    return unsure_at is not None and likeliest >= unsure_at


def _numbered(index: Index, groups: list[tuple[Passage, list[Passage]]]) -> list[ShownPassage]:
    """The passages of a reply, numbered, each with its full text and the other questions
    given its answer: word for word (ids, looked up here) and folded in (which carry their
    own citations), each folded one with its own word-for-word copies."""
    copies = {
        kept.doc_id: [*kept.same_answer_as, *(d for p in folded for d in (p.doc_id, *p.same_answer_as))]
        for kept, folded in groups
    }
    carried = {p.doc_id: p.citation for _, folded in groups for p in folded}
    wanted = {d for ids in copies.values() for d in ids[:OTHERS_LISTED] if d not in carried}
    citations = {**index.citations(sorted(wanted)), **carried}
    return [
        ShownPassage(
            number,
            kept,
            index.document_text(kept.doc_id),
            tuple(folded),
            tuple(OtherQuestion.of(d, citations.get(d)) for d in copies[kept.doc_id][:OTHERS_LISTED]),
            len(copies[kept.doc_id]),
        )
        for number, (kept, folded) in enumerate(groups, start=1)
    ]
