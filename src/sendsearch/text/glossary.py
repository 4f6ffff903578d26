"""SEND vocabulary: the acronyms and long forms people and ministers use for the same thing.

Each concept lists the ways it is written. Wherever any form appears (in a document or a
question) the concept's marker term (``~ehcp``) is added to the BM25 terms, so "EHCP", "EHC
plan" and "education, health and care plan" match one another in both directions. For the
dense side, an acronym in a question is followed by its long form, since the model reads
"education, health and care plan" far better than "EHCP".

Short acronyms that are also English words (SEND, AP, APP, LA, PRU as "send", "ap", ...)
match only in capitals, except "send" in a question, which counts unless it is plainly the
verb ("send my son to ...").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CONCEPTS", "CONCEPT_PREFIX", "Concept", "concept_terms", "expand_query"]

CONCEPT_PREFIX = "~"


@dataclass(frozen=True)
class Concept:
    name: str
    long_form: str  # what an acronym means, appended for the dense side
    forms: tuple[str, ...]  # case-insensitive phrases (regex, words separated by spaces)
    acronyms: tuple[str, ...] = ()  # case-sensitive (capitals), e.g. "AP"
    any_case_acronyms: tuple[str, ...] = ()  # unambiguous in any case, e.g. "ehcp"


CONCEPTS: tuple[Concept, ...] = (
    Concept(
        "ehcp",
        "education, health and care plan",
        (r"education,? health,? and care (?:\(ehc\) )?plans?", r"ehc plans?", r"ehc needs assessments?"),
        # "echp" is how the acronym is often mistyped.
        any_case_acronyms=("ehcp", "ehcps", "echp", "echps"),
    ),
    Concept(
        "send",
        "special educational needs and disabilities",
        (r"special educational needs?(?: and disabilit(?:y|ies))?", r"special needs"),
        acronyms=("SEND", "SEN"),
        any_case_acronyms=("sen",),
    ),
    Concept(
        "senco",
        "special educational needs co-ordinator",
        (r"special educational needs co-?ordinators?",),
        any_case_acronyms=("senco", "sencos", "sendco", "sendcos", "sencos"),
    ),
    Concept(
        "dsg",
        "dedicated schools grant",
        (r"dedicated schools? grants?",),
        acronyms=("DSG",),
        any_case_acronyms=("dsg",),
    ),
    Concept(
        "high_needs",
        "high needs block",
        (r"high needs (?:block|funding|budgets?|allocations?|national funding formula)",),
    ),
    Concept("ap", "alternative provision", (r"alternative provision",), acronyms=("AP",)),
    Concept("pru", "pupil referral unit", (r"pupil referral units?",), acronyms=("PRU", "PRUs")),
    Concept(
        "wsoa",
        "written statement of action",
        (r"written statements? of action",),
        acronyms=("WSOA", "WSoA"),
        any_case_acronyms=("wsoa",),
    ),
    Concept("app", "accelerated progress plan", (r"accelerated progress plans?",), acronyms=("APP",)),
    Concept(
        "semh",
        "social, emotional and mental health",
        (r"social,? emotional and mental health",),
        any_case_acronyms=("semh",),
    ),
    Concept(
        "eotas",
        "education other than at school",
        (r"education other than (?:at|in) schools?",),
        any_case_acronyms=("eotas",),
    ),
    Concept("cqc", "Care Quality Commission", (r"care quality commission",), any_case_acronyms=("cqc",)),
    Concept(
        "dbv", "Delivering Better Value", (r"delivering better value",), acronyms=("DBV",), any_case_acronyms=("dbv",)
    ),
    Concept("safety_valve", "safety valve agreement", (r"safety valve",)),
    Concept("statutory_override", "statutory override", (r"statutory override",)),
    Concept("local_authority", "local authority", (r"local authorit(?:y|ies)", r"councils?"), acronyms=("LA", "LAs")),
    Concept(
        "tribunal",
        "SEND tribunal",
        (r"first-?tier tribunal", r"send tribunal", r"tribunals?"),
        any_case_acronyms=("sendist",),
    ),
    Concept("ep", "educational psychologist", (r"educational psychologists?",), acronyms=("EP", "EPs")),
    Concept(
        "autism", "autism", (r"autis(?:m|tic)", r"autistic spectrum (?:disorder|condition)"), acronyms=("ASD", "ASC")
    ),
    Concept(
        "adhd",
        "attention deficit hyperactivity disorder",
        (r"attention deficit hyperactivity disorder",),
        any_case_acronyms=("adhd",),
    ),
    Concept(
        "pmld",
        "profound and multiple learning disabilities",
        (r"profound and multiple learning difficult(?:y|ies)|profound and multiple learning disabilit(?:y|ies)",),
        any_case_acronyms=("pmld",),
    ),
    Concept(
        "slcn",
        "speech, language and communication needs",
        (r"speech,? language and communication needs?",),
        any_case_acronyms=("slcn",),
    ),
    Concept(
        "vi",
        "visual impairment",
        (r"visual(?:ly)? impair(?:ment|ed)s?", r"blind(?:ness)?", r"partially sighted"),
        acronyms=("VI",),
    ),
    Concept("hi", "hearing impairment", (r"hearing impair(?:ment|ed)s?", r"deaf(?:ness)?"), acronyms=("HI",)),
    Concept("itt", "initial teacher training", (r"initial teacher (?:training|education)",), acronyms=("ITT", "ITE")),
    Concept(
        "npq",
        "national professional qualification",
        (r"national professional qualifications?",),
        any_case_acronyms=("npq", "npqs"),
    ),
    Concept(
        "lgsco",
        "Local Government and Social Care Ombudsman",
        (r"local government (?:and social care )?ombudsman",),
        any_case_acronyms=("lgsco",),
    ),
)

# "send" is the verb when a person or thing follows it.
_SEND_VERB = re.compile(
    r"\bsend(?:s|ing)?\s+(?:my|his|her|their|our|your|a|an|the|them|him|it|us|me|back|home|out|letters?)\b", re.I
)


def _compile(concept: Concept, *, query: bool) -> re.Pattern[str]:
    gap = r"[\s-]+"  # "EHC plan", "EHC-plan", "EHC\nplan"
    parts = ["(?i:" + form.replace(" ", gap) + ")" for form in concept.forms]
    parts += [f"(?i:{re.escape(a)})" for a in concept.any_case_acronyms]
    acronyms = concept.acronyms
    if query and concept.name == "send":
        parts.append("(?i:send)")  # people type "send support"; the verb is ruled out separately
        acronyms = tuple(a for a in acronyms if a != "SEND")
    parts += [re.escape(a) for a in acronyms]
    return re.compile(r"(?<![\w-])(?:" + "|".join(parts) + r")(?![\w-])")


_TEXT_PATTERNS = [(c, _compile(c, query=False)) for c in CONCEPTS]
_QUERY_PATTERNS = [(c, _compile(c, query=True)) for c in CONCEPTS]


def concept_terms(text: str, among: set[str] | None = None) -> list[str]:
    """Marker terms (``~ehcp``) for every concept a document text mentions, once each.

    ``among`` limits the check to those markers (highlighting needs only the question's).
    """
    return [
        CONCEPT_PREFIX + concept.name
        for concept, pattern in _TEXT_PATTERNS
        if (among is None or CONCEPT_PREFIX + concept.name in among) and pattern.search(text)
    ]


def _query_concepts(query: str) -> list[tuple[Concept, re.Match[str]]]:
    without_verb = _SEND_VERB.sub(" ", query)
    found = []
    for concept, pattern in _QUERY_PATTERNS:
        match = pattern.search(without_verb)
        if match:
            found.append((concept, match))
    return found


def expand_query(query: str) -> tuple[str, list[str], list[str]]:
    """(text for the dense side, concept marker terms, the words that matched) for a question.

    Acronyms get their long form in brackets after them; long forms are left as they are.
    """
    dense = query
    terms = []
    matched = []
    for concept, match in _query_concepts(query):
        terms.append(CONCEPT_PREFIX + concept.name)
        matched.append(match.group(0))
        written = match.group(0)
        if (
            written.lower() != concept.long_form.lower()
            and len(written) <= 6
            and concept.long_form.lower() not in query.lower()
        ):
            dense = dense.replace(written, f"{written} ({concept.long_form})", 1)
    return dense, terms, matched
