"""Follow-up questions in a chat: "and what about EHC plan assessments?" after a question about
Stockport is searched as "EHC plan assessments Stockport".

A question is read as a follow-up when it opens with a joining phrase ("and", "what about",
"also") or is short and leans on a pronoun ("does it cover them?"). It then borrows what
the last standalone question was about: its names and acronyms (a council, a programme)
where it has any, otherwise its content words. The reply always says how it was read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .analysis import STOPWORDS

__all__ = ["Reading", "read_question"]

_JOINING = re.compile(
    r"^\s*(?:and\s+(?:what|how)\s+about|what\s+about|how\s+about|and\s+also|and|also|but|plus|same\s+for|what\s+of)\b[\s,]*",
    re.I,
)
_LEANING = re.compile(r"\b(?:it|its|they|them|their|that|this|those|these|there)\b", re.I)
_QUESTION_WORDS = {
    "how",
    "what",
    "when",
    "where",
    "who",
    "why",
    "which",
    "much",
    "many",
    "long",
    "get",
    "gets",
    "does",
    "do",
    "is",
    "are",
    "can",
}


@dataclass(frozen=True)
class Reading:
    """How a chat message was turned into a search."""

    query: str
    follow_up_to: str | None = None
    borrowed: tuple[str, ...] = ()

    @property
    def note(self) -> str | None:
        if not self.follow_up_to:
            return None
        return f'Read as a follow-up to "{self.follow_up_to}": searched for "{self.query}".'


def _context_words(question: str) -> list[str]:
    tokens = re.findall(r"[A-Za-z][\w'’-]*", question)
    named = [t for i, t in enumerate(tokens) if (t.isupper() and len(t) > 1) or (i > 0 and t[0].isupper())]
    chosen = named or [t for t in tokens if t.lower() not in STOPWORDS and t.lower() not in _QUESTION_WORDS]
    return list(dict.fromkeys(chosen))[:6]


def read_question(question: str, anchor: str | None) -> Reading:
    """The search for ``question``, given the last standalone question (``anchor``) if any."""
    question = " ".join(question.split())
    if not anchor:
        return Reading(question)
    joined = _JOINING.match(question)
    short_and_leaning = len(question.split()) <= 8 and _LEANING.search(question)
    if not joined and not short_and_leaning:
        return Reading(question)
    rest = question[joined.end() :] if joined else question
    rest = rest.strip(" ?!.") or question
    present = {w.lower() for w in re.findall(r"[\w'’-]+", rest)}
    borrowed = tuple(w for w in _context_words(anchor) if w.lower() not in present)
    return Reading(" ".join([rest, *borrowed]), follow_up_to=anchor, borrowed=borrowed)
