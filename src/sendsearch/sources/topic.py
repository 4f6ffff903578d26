"""Is a written question about SEND? A transparent score over a handful of SEND-specific signals.

New written questions fetched from Parliament are kept by default only when they concern special
educational needs and disabilities in England. This module decides that with rules a reader can
check line by line: each signal below is a set of phrases (or concepts of the project's glossary)
with a weight, the score is the sum of the weights of the signals a record shows, and a record is
SEND when its score reaches ``THRESHOLD``. No model, no download, no randomness; 12,000-18,000
records a second on one core. Measured in ``benchmarks/topic_filter.py``, written up in
``docs/topic-filter.md``.

The reference is a set of 721 SEND answers among 49,450 Commons written questions (Sept 2023 -
July 2026). Signals, weights and threshold were chosen on the questions tabled before 2025 and
measured on the rest. Three tiers:

1. SEND's own vocabulary - "special educational needs", SEND/SEN, EHCP, SENCO - anywhere in the
   heading, question or answer. Before 2025, 197 of the 198 records using it are in the reference
   set, so it decides alone.
2. The machinery of the SEND system - alternative provision and pupil referral units, the dedicated
   schools grant and high needs funding, special schools, educational psychologists, safety valve
   agreements, the statutory override - anywhere in the record. It catches SEND answers whose
   question never says SEND (per-pupil funding answered with the high needs block, exclusions
   answered with alternative provision): recall 0.85 -> 0.99 before 2025, for 7 more false positives.
3. A child's disability or condition in an education question: "disabled children", autism, ADHD,
   dyslexia, deafness, learning disability... with schools, pupils, colleges or the Education
   Secretary in the same question. The reference set leaves these out unless a SEND word appears
   too, but a parent asking about autistic pupils is asking about SEND, and a missed answer costs
   more than an extra one (which is just ranked low), so they count at the default threshold;
   ``is_send(record, threshold=2)`` leaves named conditions out and matches the reference better.

Adult social care and housing are out of scope: SEND is the 0-25 education framework of the
Children and Families Act 2014. A question about adults' care or housing that names no child,
young person, pupil or education gets no tier 3 signal and a weight of -4, which cancels a passing
"special needs" (and leaves a record that also names the SEND system above the threshold).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..text.glossary import concept_terms

__all__ = ["SIGNALS", "THRESHOLD", "Signal", "explain", "is_send", "send_score"]


@dataclass(frozen=True)
class Signal:
    """One piece of evidence: what it is called, what it weighs, where it is looked for and why it counts."""

    name: str
    weight: float
    where: str
    why: str


# The weights table. A record is SEND when the weights of the signals it shows add up to THRESHOLD:
# 4 = SEND vocabulary only, 3 = also the SEND system's own terms, 2 = also disabled children in an
# education question, 1 (the default) = also named conditions in an education question.
SIGNALS: tuple[Signal, ...] = (
    Signal("send_vocabulary", 4.0, "whole record", "special educational needs, SEND, SEN, EHCP, SENCO"),
    Signal("send_system", 3.0, "whole record", "alternative provision, PRU, DSG, high needs, special school, EP..."),
    Signal("disabled_child_in_education", 2.0, "heading + question", "disabled children, pupils with a disability"),
    Signal("condition_in_education", 1.0, "heading + question", "autism, ADHD, dyslexia, deafness... in education"),
    Signal("adult_only", -4.0, "heading + question", "adults' care or housing; no child, young person or education"),
)
_WEIGHT = {signal.name: signal.weight for signal in SIGNALS}
THRESHOLD = 1.0

# Tier 1 comes from the glossary, which already knows that "SEND" counts only in capitals (so
# "the Government will send" is not SEND) and which spellings of EHCP and SENCO exist.
_VOCABULARY = {"~send", "~ehcp", "~senco"}
# The glossary reads "sen" in any case; in title case it is a surname (Amartya Sen), never the acronym.
_SURNAME_SEN = re.compile(r"(?<![\w-])Sen(?![\w-])")
# The glossary's patterns cost ~100 us a record, half the time budget. Every form of the three
# concepts contains "SEN" (capitals) or, lower-cased, "special", "ehc", "senco", "sendco", "sen" at a
# word's end or "care plan", so a record with none of these is not scanned. tests/sources/test_topic.py checks
# on the real data that the shortcut changes no decision.
_VOCABULARY_HINTS = ("special", "ehc", "senco", "sendco")
_VOCABULARY_HINT_PATTERNS = (re.compile(r"sen(?![\w-])"), re.compile(r"care[\s-]+(?:\(ehc\)[\s-]+)?plan"))

_GAP = r"[\s-]+"
_NOT_LITERAL = re.compile(r"[^\w,]")


class _Phrases:
    """Whole-word phrases (regular expressions in lower case, a space for any run of space or hyphen).

    Python's ``re`` scans an alternation of phrases at every position of the text, with ``re.I``
    twice as slowly again; a substring test is a hundred times faster. So the patterns run on
    lower-cased text, and only when the text contains the literal first word of one of the phrases.
    """

    def __init__(self, *phrases: str) -> None:
        self.anchors = tuple(sorted({self._anchor(phrase) for phrase in phrases}))
        self.pattern = re.compile(r"\b(?:" + "|".join(p.replace(" ", _GAP) for p in phrases) + r")(?![\w-])")

    @staticmethod
    def _anchor(phrase: str) -> str:
        literal = _NOT_LITERAL.split(phrase, maxsplit=1)[0]
        if phrase[len(literal) : len(literal) + 1] in ("?", "*", "{"):
            literal = literal[:-1]  # "schools?": the "s" is optional
        if not literal:
            raise ValueError(f"phrase must start with a literal word: {phrase!r}")
        return literal

    def search(self, lower: str) -> bool:
        """Whether any phrase occurs in the lower-cased text."""
        return any(anchor in lower for anchor in self.anchors) and self.pattern.search(lower) is not None


_SYSTEM = _Phrases(
    r"alternative provisions?",
    r"pupil referral units?",
    r"dedicated schools? grants?",
    r"high needs",
    r"special (?:free |academy )?schools?",
    r"special academ(?:y|ies)",
    r"educational psycholog(?:y|ists?)",
    r"safety valve",
    r"statutory override",
    r"inclusion funds?",  # the early years SEN inclusion fund
)
# Case matters for these: the acronyms count in capitals only ("AP" and "EP" stand for too many other
# things to count at all), and the DfE programme is "Delivering Better Value", where "delivering better
# value for money" is any department's boilerplate.
_SYSTEM_NAMES = re.compile(r"\b(?:DSG|PRUs?|Delivering[\s-]+Better[\s-]+Value)\b")
_SYSTEM_NAME_HINTS = ("DSG", "PRU", "Delivering")
_NEED = r"(?:a )?(?:disabilit(?:y|ies)|additional needs|complex needs|learning difficult(?:y|ies))"
# Not "disabled students": the Disabled Students' Allowance is university support, not SEND.
_DISABLED_CHILD = _Phrases(
    r"disabled (?:children|child|pupils?|learners?|young people)",
    rf"child(?:ren)? with {_NEED}",
    rf"pupils? with {_NEED}",
    rf"learners? with {_NEED}",
    rf"young people with {_NEED}",
)
_CONDITION = _Phrases(
    r"autis(?:m|tic)",
    r"adhd",
    r"attention deficit",
    r"neurodiver(?:gent|gence|sity)",
    r"neurodevelopmental",
    r"dyslexi(?:a|c)",
    r"dyspraxi(?:a|c)",
    r"dyscalculia",
    r"learning disabilit(?:y|ies)",
    r"learning difficult(?:y|ies)",
    r"down(?:'s|\u2019s)? syndrome",
    r"cerebral palsy",
    r"deaf(?:ness)?",
    r"hearing impair(?:ed|ment)",
    r"visual(?:ly)? impair(?:ed|ment)",
    r"blind(?:ness)?",
    r"sensory impair(?:ed|ment)",
    r"speech,? (?:and )?language",
    r"additional needs",
    r"complex needs",
)
# Education in the question: the Education Secretary or a schools minister as addressee, or a setting,
# learner or exam named. "Education" alone is not enough: "health education", "education of nurses".
_EDUCATION = _Phrases(
    r"secretary of state for education",
    r"minister for (?:children|schools|school standards|early education)",
    r"schools?",
    r"pupils?",
    r"classrooms?",
    r"teachers?",
    r"nurser(?:y|ies)",
    r"early years",
    r"colleges?",
    r"further education",
    r"academ(?:y|ies)",
    r"primary education",
    r"secondary education",
    r"exams?",
    r"examinations?",
    r"gcses?",
    r"curriculum",
    r"ofsted",
)
_ADULT = _Phrases(
    r"adult social care",
    r"disabled adults?",
    r"adults? with",
    r"supported (?:living|accommodation|housing)",
    r"care homes?",
    r"older people",
)
_CHILD = _Phrases(
    r"child(?:ren)?",
    r"young (?:people|persons?|adults?)",
    r"pupils?",
    r"students?",
    r"learners?",
    r"schools?",
    r"education(?:al)?",
)
_TAG = re.compile(r"<[^>]*>")


def _answer_text(markup: str) -> str:
    """Answer HTML as words for matching: tags become spaces, entities characters.

    ``cleaning.html_to_text`` keeps paragraphs and tables for reading, but parsing with lxml costs
    as much as all the matching together, and word patterns only need the words.
    """
    return html.unescape(_TAG.sub(" ", markup)) if "<" in markup or "&" in markup else markup


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    return value if isinstance(value, str) else ""


def _unwrap(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """The record itself, also when it comes as the API's ``{"value": {...}, "links": [...]}`` item."""
    value = record.get("value")
    return value if isinstance(value, Mapping) else record


def _has_send_vocabulary(text: str, lower: str, *, shortcut: bool = True) -> bool:
    """Whether the glossary finds SEND, EHCP or SENCO in the text (``shortcut=False``: always ask it)."""
    if (
        shortcut
        and "SEN" not in text
        and not any(hint in lower for hint in _VOCABULARY_HINTS)
        and not any(pattern.search(lower) for pattern in _VOCABULARY_HINT_PATTERNS)
    ):
        return False
    return bool(concept_terms(_SURNAME_SEN.sub(" ", text), among=_VOCABULARY))


def explain(record: Mapping[str, Any]) -> dict[str, float]:
    """The signals a written-question record shows, with their weights: why it is (or is not) SEND."""
    record = _unwrap(record)
    question = _text(record, "heading") + "\n" + _text(record, "questionText")
    whole = question + "\n" + _answer_text(_text(record, "answerText"))
    lower = whole.lower()
    question_lower = lower[: len(question)]
    found: dict[str, float] = {}
    if _has_send_vocabulary(whole, lower):
        found["send_vocabulary"] = _WEIGHT["send_vocabulary"]
    if _SYSTEM.search(lower) or (any(hint in whole for hint in _SYSTEM_NAME_HINTS) and _SYSTEM_NAMES.search(whole)):
        found["send_system"] = _WEIGHT["send_system"]
    if _ADULT.search(question_lower) and not _CHILD.search(question_lower):
        found["adult_only"] = _WEIGHT["adult_only"]
    elif _EDUCATION.search(question_lower):
        if _DISABLED_CHILD.search(question_lower):
            found["disabled_child_in_education"] = _WEIGHT["disabled_child_in_education"]
        if _CONDITION.search(question_lower):
            found["condition_in_education"] = _WEIGHT["condition_in_education"]
    return found


def send_score(record: Mapping[str, Any]) -> float:
    """The sum of the weights of the SEND signals in a written-question record (see ``SIGNALS``)."""
    return sum(explain(record).values())


def is_send(record: Mapping[str, Any], threshold: float = THRESHOLD) -> bool:
    """Whether a written-question record concerns SEND: its score reaches ``threshold``."""
    return send_score(record) >= threshold
