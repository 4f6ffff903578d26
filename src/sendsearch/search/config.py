"""How searches rank: one small frozen value per concern, each checked when made.

``SearchConfig`` is made of ``Gathering`` (how many candidates, one passage per document),
``Fusion`` (how the two sides' scores add up, and how a question's words, phrases and SEND
concepts weigh), ``Feedback`` (pseudo-relevance feedback), ``Shaping`` (answers given word
for word to several questions shown once), ``WeakMatch`` (when a passage is probably not an
answer), ``LongQuestions`` (questions written as paragraphs) and ``NonAnswers`` (answers
that say nothing of their own). ``SearchConfig().with_(relevance_floor=0.2)`` changes
settings by their flat names (``FLAT_NAMES``), as the benchmarks and sweeps give them.
A bad value is a ``QueryError`` naming the setting.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import QueryError
from ..text.analysis import Analyzer, QueryPlan

__all__ = [
    "FLAT_NAMES",
    "Feedback",
    "Fusion",
    "Gathering",
    "LongQuestions",
    "NonAnswers",
    "SearchConfig",
    "Shaping",
    "WeakMatch",
]


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(part: type) -> dict[str, Any]:
    if part not in _HINTS:
        _HINTS[part] = typing.get_type_hints(part)
    return _HINTS[part]


def _check(part: Any, minimum_ints: dict[str, int] | None = None) -> None:
    """Numbers at least 0 (whole numbers at least their minimum), named by their flat name."""
    hints = _hints(type(part))
    for item in dataclasses.fields(part):
        value = getattr(part, item.name)
        name = _FLAT_OF.get((type(part).__name__, item.name), item.name)
        kind = hints[item.name]
        if kind is int:
            least = (minimum_ints or {}).get(item.name, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise QueryError(f"{name} must be a whole number of at least {least}, not {value!r}")
        elif kind is float or kind == (float | None):
            if value is None and kind is not float:
                continue
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise QueryError(f"{name} must be a number of at least 0, not {value!r}")


@dataclass(frozen=True)
class Gathering:
    """How many chunks each side offers, and whether a document gives one passage at most."""

    candidates: int = 100
    one_per_document: bool = True

    def __post_init__(self) -> None:
        _check(self, {"candidates": 1})


@dataclass(frozen=True)
class Fusion:
    """How the two sides' scores are added, and how a question's terms weigh on the keyword side.

    ``method="convex"`` adds the two sides' normalised scores (BM25 divided by the best BM25
    score among the candidates, cosine min-max scaled over them) with these weights;
    ``"rrf"`` adds ``weight / (rrf_k + rank)``."""

    method: Literal["convex", "rrf"] = "convex"
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    rrf_k: float = 60.0
    # Glossary use at query time: concept markers for BM25 (weight), long forms for dense.
    concept_weight: float = 1.0
    # Weight of the literal terms of words a concept matched ("EHCP" -> ehcp), so that a
    # rare spelling does not outweigh the concept shared by all its spellings.
    literal_weight: float = 1.0
    expand_dense: bool = False
    # Weight of the question's adjacent term pairs ("special school", "mental health") on an
    # index built with KeywordConfig.phrases: a passage with the phrase scores above one with
    # both words apart. Below 1 so that the words themselves still lead.
    phrase_weight: float = 0.2

    def __post_init__(self) -> None:
        if self.method not in ("convex", "rrf"):
            raise QueryError(f"fusion must be 'convex' or 'rrf', not {self.method!r}")
        _check(self)
        if self.dense_weight + self.keyword_weight <= 0:
            raise QueryError("dense_weight and keyword_weight cannot both be 0")


@dataclass(frozen=True)
class Feedback:
    """Pseudo-relevance feedback (hybrid only): the best chunks of the first ``documents``
    documents move the query vector towards them (Rocchio, weight ``vector``) and lend their
    ``terms`` most telling terms to BM25 at ``term_weight``; then the search runs again.
    0 documents turns it off."""

    documents: int = 3
    vector: float = 0.5
    terms: int = 10
    term_weight: float = 0.3

    def __post_init__(self) -> None:
        _check(self)


@dataclass(frozen=True)
class Shaping:
    """How passages are shown: an answer given word for word to several questions is one
    passage, the others listed in ``Passage.same_answer_as``."""

    collapse_duplicates: bool = True


@dataclass(frozen=True)
class WeakMatch:
    """When a passage is marked ``weak_match`` (probably not an answer; docs/quality.md,
    "Not covered"): its cosine with the question as asked is below ``floor``, or below
    ``term_check_below`` while it holds under ``min_term_coverage`` of the question's terms
    (IDF-weighted), or the question names a system outside England (scope.py) that the
    passage never mentions. The cosines depend on the model: None takes the index's own
    (``Manifest.relevance``, from the table of known models; an unknown model has none)."""

    floor: float | None = None
    term_check_below: float | None = None
    min_term_coverage: float = 0.10

    def __post_init__(self) -> None:
        _check(self)


@dataclass(frozen=True)
class LongQuestions:
    """Questions of at least ``terms`` terms (after stop words) are read as paragraphs: their
    terms that none of the ``agreement_chunks`` nearest passages (dense) contain are about the
    asker's life rather than the topic, and weigh ``off_topic_weight`` in BM25. A question
    written as several sentences, some of which ask (``asking_part``), is embedded twice: whole
    and its asking sentences alone, the two vectors blended with ``asking_weight`` on the
    second (0 leaves the whole question's vector as it is; 1 uses the asking sentences only)."""

    terms: int = 12
    agreement_chunks: int = 20
    off_topic_weight: float = 0.3
    asking_weight: float = 0.0

    def __post_init__(self) -> None:
        _check(self)
        if self.asking_weight > 1:
            raise QueryError(f"asking_weight must be a number from 0 to 1, not {self.asking_weight!r}")


@dataclass(frozen=True)
class NonAnswers:
    """Answers that say nothing of their own (unanswered, "not held centrally", holding
    answers, bare referrals) have their fused score multiplied by ``weight``, so that answers
    with substance come first (hybrid only; the single sides stay plain for comparison)."""

    weight: float = 0.5

    def __post_init__(self) -> None:
        _check(self)


# Each setting's flat name (as the benchmarks, sweeps and error messages give it): its part and field.
FLAT_NAMES: dict[str, tuple[str, str]] = {
    "candidates": ("gathering", "candidates"),
    "one_per_document": ("gathering", "one_per_document"),
    "fusion": ("fusion", "method"),
    "dense_weight": ("fusion", "dense_weight"),
    "keyword_weight": ("fusion", "keyword_weight"),
    "rrf_k": ("fusion", "rrf_k"),
    "concept_weight": ("fusion", "concept_weight"),
    "literal_weight": ("fusion", "literal_weight"),
    "expand_dense": ("fusion", "expand_dense"),
    "phrase_weight": ("fusion", "phrase_weight"),
    "feedback_docs": ("feedback", "documents"),
    "feedback_vector": ("feedback", "vector"),
    "feedback_terms": ("feedback", "terms"),
    "feedback_term_weight": ("feedback", "term_weight"),
    "collapse_duplicates": ("shaping", "collapse_duplicates"),
    "relevance_floor": ("weak_match", "floor"),
    "term_check_below": ("weak_match", "term_check_below"),
    "min_term_coverage": ("weak_match", "min_term_coverage"),
    "long_question_terms": ("long_questions", "terms"),
    "agreement_chunks": ("long_questions", "agreement_chunks"),
    "off_topic_term_weight": ("long_questions", "off_topic_weight"),
    "asking_weight": ("long_questions", "asking_weight"),
    "non_answer_weight": ("non_answers", "weight"),
}
_PART_CLASSES = {
    "gathering": "Gathering",
    "fusion": "Fusion",
    "feedback": "Feedback",
    "shaping": "Shaping",
    "weak_match": "WeakMatch",
    "long_questions": "LongQuestions",
    "non_answers": "NonAnswers",
}
_FLAT_OF = {(_PART_CLASSES[part], name): flat for flat, (part, name) in FLAT_NAMES.items()}


@dataclass(frozen=True)
class SearchConfig:
    """How a search ranks, by concern. ``SearchConfig()`` is the shipped ranking."""

    gathering: Gathering = field(default_factory=Gathering)
    fusion: Fusion = field(default_factory=Fusion)
    feedback: Feedback = field(default_factory=Feedback)
    shaping: Shaping = field(default_factory=Shaping)
    weak_match: WeakMatch = field(default_factory=WeakMatch)
    long_questions: LongQuestions = field(default_factory=LongQuestions)
    non_answers: NonAnswers = field(default_factory=NonAnswers)

    def with_(self, **overrides: Any) -> SearchConfig:
        """These settings with some changed by their flat names (``FLAT_NAMES``):
        ``SearchConfig().with_(non_answer_weight=1.0, relevance_floor=0.0)``."""
        unknown = sorted(overrides.keys() - FLAT_NAMES.keys())
        if unknown:
            raise QueryError(f"no search setting {unknown[0]!r}; the settings are {', '.join(FLAT_NAMES)}")
        changes: dict[str, dict[str, Any]] = {}
        for flat, value in overrides.items():
            part, name = FLAT_NAMES[flat]
            changes.setdefault(part, {})[name] = value
        return dataclasses.replace(
            self, **{part: dataclasses.replace(getattr(self, part), **values) for part, values in changes.items()}
        )

    def flat(self) -> dict[str, Any]:
        """Every setting by its flat name (for a report or a log line)."""
        return {flat: getattr(getattr(self, part), name) for flat, (part, name) in FLAT_NAMES.items()}

    def plan(self, analyzer: Analyzer, query: str) -> QueryPlan:
        """How each side reads ``query`` under these settings."""
        fusion = self.fusion
        return analyzer.plan(
            query,
            phrase_weight=fusion.phrase_weight,
            concept_weight=fusion.concept_weight,
            literal_weight=fusion.literal_weight,
            expand_dense=fusion.expand_dense,
        )
