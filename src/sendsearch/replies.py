"""A reply to one chat message: how it was read, key points, the passages shown first and the rest.

The page builds a ``Reply`` here and ``render`` turns it into HTML and into plain text.
Passages under the relevance floor (``Passage.weak_match``, set by the search) are left
out and counted; near-identical passages (the same answer to different questions, not
word for word) are shown once, naming the others.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .conversation import Reading, read_question
from .errors import SendSearchError
from .filters import Filters
from .index import Index
from .keypoints import KeyPoint, key_points
from .schema import Passage
from .scope import Elsewhere, elsewhere_named

__all__ = ["PASSAGES_FETCHED", "Reply", "ShownPassage", "build_reply", "collapse_near_identical"]

# Passages fetched for a reply: those shown first and, behind "more", the rest.
PASSAGES_FETCHED = 10
# Two passages sharing this share of the shorter one's five-word runs say the same thing.
_NEAR_IDENTICAL = 0.8
_SHINGLE = 5


@dataclass(frozen=True)
class ShownPassage:
    """A numbered passage of a reply, its document's full text, and near-identical ones folded in."""

    number: int
    passage: Passage
    full_text: str | None = None
    near_identical: tuple[Passage, ...] = ()


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
    passages: tuple[ShownPassage, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "passages", self.shown + self.more)

    @property
    def nothing_close(self) -> bool:
        """True when the index holds nothing close enough to answer (and there was no error)."""
        return self.error is None and not self.passages


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + _SHINGLE]) for i in range(max(1, len(words) - _SHINGLE + 1))}


def collapse_near_identical(passages: Sequence[Passage]) -> list[tuple[Passage, list[Passage]]]:
    """Each passage with the later ones that say nearly the same, best first."""
    groups: list[tuple[Passage, list[Passage], set[tuple[str, ...]]]] = []
    for passage in passages:
        runs = _shingles(passage.text)
        for _, folded, kept_runs in groups:
            shorter = min(len(runs), len(kept_runs)) or 1
            if len(runs & kept_runs) / shorter >= _NEAR_IDENTICAL:
                folded.append(passage)
                break
        else:
            groups.append((passage, [], runs))
    return [(passage, folded) for passage, folded, _ in groups]


def build_reply(index: Index, message: str, anchor: str | None, filters: Filters, shown: int) -> Reply:
    """Search for a chat message (read as a follow-up to ``anchor`` where it is one) and assemble the reply."""
    reading = read_question(message, anchor)
    try:
        passages = index.search(
            reading.query,
            PASSAGES_FETCHED,
            date_from=filters.date_from,
            date_to=filters.date_to,
            department=filters.department,
            kind=filters.kind,
        )
    except SendSearchError as error:
        return Reply(message, reading, filters.describe(), error=str(error))
    close = [p for p in passages if not p.weak_match]
    numbered = [
        ShownPassage(number, passage, index.document_text(passage.doc_id), tuple(folded))
        for number, (passage, folded) in enumerate(collapse_near_identical(close), start=1)
    ]
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
        weak=len(passages) - len(close),
        elsewhere=elsewhere_named(reading.query),
    )
