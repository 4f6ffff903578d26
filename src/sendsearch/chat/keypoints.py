"""Key points: the one to three sentences from the top passages that answer the question.

Extractive only: every key point is a sentence exactly as a passage has it, so every word
is attributable to a numbered source. The candidates are the passages' best-matching
sentences (``Passage.highlights``, marked by the search) and the passages' other sentences;
a sentence scores by the question's words it shares and, when the question asks how much,
how many, how long or when, by carrying a figure, a date or a timescale (a sentence the
search marked gets a small lead). Each of the top ``CANDIDATE_PASSAGES`` passages offers its
best sentence, since the figure asked for is not always in the very first passages; the
best of these leads, and the others join it only when they
score nearly as well, name what the question names (a council, a programme) and say
something new. A sentence that shares too little with the question is no key point at all:
then the reply says the passages are the closest the index has.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..schema import Passage
from ..text.analysis import ASKING_WORDS, STOPWORDS, prefix_stems
from ..text.normalise import sentence_spans
from ..text.patterns import FIGURES, MONEY, TIME

__all__ = ["CANDIDATE_PASSAGES", "MAX_POINTS", "Asked", "KeyPoint", "key_points", "names_in", "overlaps", "stems"]

MAX_POINTS = 3
# Passages whose sentences are considered; a key point from a passage beyond those shown
# first brings that passage up with them (replies.py).
CANDIDATE_PASSAGES = 5
# The lead a sentence the search marked as best-matching gets over the passage's others.
_MARKED_LEAD = 0.15
# A later passage's sentence must score at least this share of the first one's.
_CLOSE_ENOUGH = 0.6
# A key point shares at least this share of the question's words.
_MIN_SHARED = 0.25
# Longer sentences are tables run together or boilerplate, not a key point.
_MAX_WORDS = 70
_MIN_WORDS = 5
# Questions that want a number, a date or a timescale for an answer.
_WANTS_FIGURE = re.compile(
    r"\b(?:how\s+(?:much|many|long|soon|often)|when|what\s+date|cost|costs|spend|spends|spent|funding|budget|"
    r"deadline|time\s*limit|timescale|weeks?|percentage|rate|number|figures?)\b",
    re.I,
)
# A question quoted in a passage ("To ask the Secretary of State ...") answers nothing, nor
# does a sentence that only introduces what follows ("... is shown in the table below:").
_ASKED = re.compile(
    r"^\s*(?:to\s+ask\b|.*\?\s*$|.*:\s*$|.*\b(?:table|tables|figures|information)\s+(?:is\s+|are\s+)?"
    r"(?:below|attached)\b|.*\b(?:attached|following|below)\s+tables?\b|.*\bcan be found (?:here|at|on)\b)",
    re.I | re.S,
)
# A question about time wants a timescale or a date, one about money an amount or a share.
_WANTS_TIME = re.compile(r"\b(?:how\s+(?:long|soon|often)|when|deadline|time\s*limit|timescale|weeks?)\b", re.I)
_WANTS_MONEY = re.compile(r"\b(?:how\s+much|cost|costs|spend|spends|spent|funding|budget)\b", re.I)


@dataclass(frozen=True)
class KeyPoint:
    """One sentence of a passage, and the number of the passage it comes from."""

    text: str
    number: int


_LEFT_OUT = STOPWORDS | ASKING_WORDS


def stems(text: str) -> set[str]:
    """A text's words as prefix stems, without stop words and words of asking."""
    return prefix_stems(text, _LEFT_OUT)


def _shared(sentence: str, question: set[str]) -> float:
    return len(stems(sentence) & question) / max(1, len(question))


def _score(sentence: str, question: set[str], wants_figure: bool) -> float:
    return _shared(sentence, question) + (0.5 if wants_figure and FIGURES.search(sentence) else 0.0)


def names_in(text: str) -> set[str]:
    """Capitalised words after the first, and acronyms: "Stockport", "Delivering", "EHC"."""
    words = re.findall(r"[A-Za-z][\w’'-]*", text)
    return {w.lower() for i, w in enumerate(words) if (i > 0 and w[0].isupper()) or (w.isupper() and len(w) > 1)}


def overlaps(sentence: str, chosen: Sequence[KeyPoint]) -> bool:
    words = stems(sentence)
    for point in chosen:
        other = stems(point.text)
        if words and other and len(words & other) / min(len(words), len(other)) > 0.6:
            return True
    return False


@dataclass(frozen=True)
class Asked:
    """What a question asks for: its words (prefix stems), the names it gives, whether it
    wants a figure, and the kind of figure an answer must carry (time, money or none)."""

    words: set[str]
    names: set[str]
    wants_figure: bool
    needed: re.Pattern[str] | None

    @classmethod
    def of(cls, question: str) -> Asked:
        # A question about time or money is answered only by a sentence with that kind of figure.
        needed = TIME if _WANTS_TIME.search(question) else MONEY if _WANTS_MONEY.search(question) else None
        return cls(stems(question), names_in(question), bool(_WANTS_FIGURE.search(question)), needed)

    @staticmethod
    def is_lead_in(sentence: str) -> bool:
        """A question quoted in a passage, or a sentence that only introduces what follows."""
        return _ASKED.match(sentence) is not None

    def could_answer(self, sentence: str) -> bool:
        """A sentence of a key point's length that is not a question or a lead-in, with the figure wanted."""
        return (
            _MIN_WORDS <= len(sentence.split()) <= _MAX_WORDS
            and not _ASKED.match(sentence)
            and (self.needed is None or self.needed.search(sentence) is not None)
        )


def _best_sentence(asked: Asked, number: int, passage: Passage) -> tuple[float, KeyPoint] | None:
    """A passage's best candidate for a key point, with its score; None when it has none."""
    marked = {" ".join(text.split()) for text in passage.highlight_texts}
    sentences = {" ".join(passage.text[s:e].split()) for s, e in sentence_spans(passage.text)} | marked
    candidates = [s for s in sentences if asked.could_answer(s)]
    if not candidates:
        return None

    def rated(sentence: str) -> float:
        return _score(sentence, asked.words, asked.wants_figure) + (_MARKED_LEAD if sentence in marked else 0.0)

    chosen = max(sorted(candidates), key=rated)
    # A key point must share the question's words: a figure, or the lead for marked
    # sentences, orders candidates but does not make an unrelated sentence a key point.
    if _shared(chosen, asked.words) < _MIN_SHARED:
        return None
    return rated(chosen), KeyPoint(chosen, number)


def key_points(question: str, passages: Sequence[tuple[int, Passage]]) -> list[KeyPoint]:
    """Up to three sentences from the numbered passages (best first) that answer ``question``."""
    asked = Asked.of(question)
    best = [
        found for number, passage in passages[:CANDIDATE_PASSAGES] if (found := _best_sentence(asked, number, passage))
    ]
    if not best:
        return []
    top_score, top = max(best, key=lambda item: item[0])
    chosen = [top]
    for score, point in sorted(best, key=lambda item: -item[0]):
        if len(chosen) == MAX_POINTS:
            break
        if point is top or score < _CLOSE_ENOUGH * top_score or overlaps(point.text, chosen):
            continue
        if asked.names <= {w.lower() for w in re.findall(r"[\w’'-]+", point.text)}:
            chosen.append(point)
    return sorted(chosen, key=lambda point: point.number)
