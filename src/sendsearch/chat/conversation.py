"""Follow-up questions in a chat: "and in Stockport?" after a question about EHC needs
assessment times is searched as "in Stockport EHC needs assessments ...".

A message is read as a follow-up only when it cannot stand on its own:

- it has almost nothing of its own to search for ("why?", "how long does that take?",
  "who do I complain to?");
- it opens with a joining phrase and the rest is a fragment, not a question
  ("and in Stockport?", "what about tribunals?", "same for ADHD?");
- or it leans on a word that points back ("is that the same for academies?", "how many of
  them were refused?"), as opposed to the same words used otherwise: "is there", "is it
  true that", "they told us", and "they" where the last question names nothing plural.

A message with a subject of its own (three or more content words: "Are there enough new
special schools being built?") is a new question whatever words it contains, and so is one
that gives its subject in sentences before a bare asking one (five or more content words in
all: "LA refusing to name the special school in my daughter's EHCP... what can i do"). A follow-up
borrows the content words of the last standalone question (the council's name with them,
unless the follow-up names a place of its own), so the topic is kept. The reply says how
a message was read and offers to search it on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..text.analysis import ASKING_WORDS, STOPWORDS, message_words

__all__ = ["Reading", "read_question"]

# Openings that join a message to the last question. "what about" and "same for" are
# followed by what changes; "and", "also", "but" may open a complete new question too.
_JOINING = re.compile(
    r"^\s*(?:and\s+(?:what|how)\s+about|what\s+about|how\s+about|what\s+if|and\s+also|and|also|but|plus|"
    r"same\s+for|same\s+with|what\s+of|even\s+if)\b[\s,]*",
    re.I,
)
# Openings that only ever introduce what changes: the rest is never a question of its own.
_SWAPPING = re.compile(
    r"^\s*(?:and\s+)?(?:what\s+about|how\s+about|what\s+if|same\s+for|same\s+with|what\s+of)\b", re.I
)
# Prepositions that "and", "in", "for" may leave in front of a fragment ("and for post-16?").
_FRAGMENT_START = re.compile(r"^(?:in|for|at|with|from|on|by|to|during|about|if|when)\b", re.I)
# A complete question after a joining word: a question word or an auxiliary, then more.
_QUESTION_START = re.compile(
    r"^(?:what(?:'s|’s)?|who|whom|which|where|why|how|when|is|are|was|were|do|does|did|can|could|will|would|"
    r"should|has|have|had|may|might|must|shall)\b\s+\S",
    re.I,
)
# Someone saying outright that this is a new question.
_NEW_SUBJECT = re.compile(r"\b(?:different|new|another|separate|unrelated)\s+(?:question|topic|subject)\b", re.I)

_POINTERS = {"it", "its", "they", "them", "their", "theirs", "that", "this", "those", "these"}
# "it" that points at nothing: "is it true that ...", "is it legal for a school to ...".
_DUMMY_IT = re.compile(
    r"\bit(?:'s|’s|\s+is|\s+was)?\s+(?:true|legal|illegal|possible|right|normal|ok|okay|fair|worth|usual|"
    r"allowed|lawful|unlawful|likely|common|too\s+late)\b",
    re.I,
)
# "that"/"this" as a pointer: at the end, after a verb or preposition, or before a verb.
_POINTING_THAT = re.compile(
    r"\b(?:th(?:at|is))(?=\s*[?.!]*\s*$)"
    r"|\b(?:is|was|does|did|do|about|for|to|with|against|challenge|appeal|change|stop|keep|fix|mean|cover|"
    r"include|affect)\s+th(?:at|is)\b(?!\s+(?:the|a|an|\w+s)\b)"
    r"|\bth(?:at|is)\s+(?:is|was|will|would|does|did|has|had|can|mean|means|include|includes|cost|costs|"
    r"happen|happens|take|takes|apply|applies|go|going|work|works|affect|affects|change|changes)\b",
    re.I,
)
# Words of asking, of the asker and of filler: they carry no topic from one question to the next.
_ASKING_WORDS = (
    STOPWORDS
    | _POINTERS
    | ASKING_WORDS
    | frozenset(
        [
            "actually",
            "even",
            "moment",
            "often",
            "really",
            "still",
            "take",
            "takes",
            "though",
            "took",
            "us",
            "what's",
        ]
    )
)
# Words that say nothing about a message's own subject: the asking words but "moment" (as the
# reader was measured), and the everyday talk around a question.
_EMPTY_WORDS = (_ASKING_WORDS - {"moment"}) | frozenset(
    [
        "ago",
        "anything",
        "better",
        "calculated",
        "cost",
        "costs",
        "currently",
        "done",
        "else",
        "enough",
        "getting",
        "go",
        "goes",
        "going",
        "got",
        "happen",
        "happened",
        "happens",
        "include",
        "includes",
        "it's",
        "i'm",
        "i’m",
        "im",
        "i've",
        "i’ve",
        "ive",
        "last",
        "mean",
        "means",
        "need",
        "needs",
        "next",
        "ok",
        "okay",
        "paid",
        "pay",
        "pays",
        "please",
        "said",
        "say",
        "says",
        "something",
        "supposed",
        "tell",
        "thank",
        "thanks",
        "that's",
        "there's",
        "they're",
        "today",
        "told",
        "work",
        "works",
        "worse",
        "year",
        "years",
        "yes",
    ]
)
# A message with this many content words of its own is a question in its own right (with
# a swapping opening, this many more).
_OWN_SUBJECT = 3
_OWN_SUBJECT_SWAPPING = 5
# A message this short with at most one content word cannot stand alone ("who do I complain to?").
_SHORT = 6
# Words borrowed from the last question, at most.
_BORROWED = 10

_words = message_words


def _content(words: list[str]) -> list[str]:
    """The words that say what a message is about (to count a message's own subject)."""
    return [w for w in words if w.lower() not in _EMPTY_WORDS]


def _topic(words: list[str]) -> list[str]:
    """The words of a question worth carrying into a follow-up: all but function words, question
    words and pointers, so phrases such as "high needs" and "pay for" keep their verbs and nouns."""
    return [w for w in words if w.lower() not in _ASKING_WORDS]


def _places(words: list[str]) -> set[str]:
    """Capitalised names after the first word (a council, a region, a nation), not acronyms."""
    return {w.lower() for i, w in enumerate(words) if i > 0 and w[0].isupper() and not w.isupper()}


_IRREGULAR_PLURALS = {"children", "people", "men", "women", "staff", "parents"}


def _names_plural(text: str) -> bool:
    """Whether a question names something plural that "they" or "them" could point to."""
    return any(
        w.lower() in _IRREGULAR_PLURALS
        or (w.lower().endswith("s") and not w.lower().endswith(("ss", "'s", "’s", "us", "is")) and len(w) > 3)
        for w in _content(_words(text))
    )


def _points_back(message: str, anchor: str) -> bool:
    lower = message.lower()
    if re.search(r"\b(?:it|its)\b", lower) and not _DUMMY_IT.search(lower):
        return True
    if _POINTING_THAT.search(lower):
        return True
    # "they" at the head of a message that goes on to say things ("They told us ...") is
    # people in general; elsewhere it points back only if the last question named a plural.
    return bool(re.search(r"\b(?:they|them|their|those|these)\b", lower)) and _names_plural(anchor)


def _last_sentence(message: str) -> str:
    """The question in a message that first says something else ("That's useless. How do I ...?")."""
    sentences = [s for s in re.split(r"(?<=[.!?:])\s+", message) if s.strip()]
    return sentences[-1] if sentences else message


@dataclass(frozen=True)
class Reading:
    """How a chat message was turned into a search."""

    query: str
    follow_up_to: str | None = None
    borrowed: tuple[str, ...] = ()
    message: str = ""

    @property
    def note(self) -> str | None:
        if not self.follow_up_to:
            return None
        return f'Read as a follow-up to "{self.follow_up_to}": searched for "{self.query}".'


def is_follow_up(message: str, anchor: str) -> bool:
    """Whether ``message`` leans on the last standalone question ``anchor`` (see the module's rules)."""
    if _NEW_SUBJECT.search(message):
        return False
    question = _last_sentence(message)
    own = _content(_words(question))
    if len(own) >= (_OWN_SUBJECT_SWAPPING if _SWAPPING.match(question) else _OWN_SUBJECT):
        return False
    # "LA refusing to name the special school we want in my daughter's EHCP... what can i do":
    # the asking sentence is bare, but the message says its own subject before it.
    if question != message and len(_content(_words(message))) >= _OWN_SUBJECT_SWAPPING:
        return False
    if _SWAPPING.match(question):
        return True
    if not own or (len(own) <= 1 and len(_words(question)) <= _SHORT):
        return True
    joined = _JOINING.match(question)
    rest = question[joined.end() :].strip(" ?!.") if joined else question
    # "and autism?", "in the North West?", "even if they're over 16?": a fragment, no question.
    if (joined or _FRAGMENT_START.match(rest)) and (_FRAGMENT_START.match(rest) or not _QUESTION_START.match(rest)):
        return True
    return _points_back(question, anchor)


def read_question(question: str, anchor: str | None) -> Reading:
    """The search for ``question``, given the last standalone question (``anchor``) if any."""
    message = " ".join(question.split())
    if not anchor or not is_follow_up(message, anchor):
        return Reading(message, message=message)
    joined = _JOINING.match(message)
    rest = (message[joined.end() :] if joined else message).strip(" ?!.,") or message
    words = _words(rest)
    present = {w.lower() for w in words}
    new_places = _places(["-", *words]) - _places(_words(anchor))
    anchor_words = _words(anchor)
    anchor_places = _places(anchor_words)
    borrowed = tuple(
        dict.fromkeys(
            w
            for w in _topic(anchor_words)
            if w.lower() not in present and not (new_places and w.lower() in anchor_places)
        )
    )[:_BORROWED]
    return Reading(" ".join([rest, *borrowed]), follow_up_to=anchor, borrowed=borrowed, message=message)
