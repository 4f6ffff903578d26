"""Which sentences of the top passages answer the question: a learned scorer.

Hand-tuned rules (``keypoints``) pick the sentence that shares most of the question's
words; measured on parents' questions, that sentence came from a document that answers
for a quarter of the replies, and a reply offered key points when nothing answered. This
module scores every candidate sentence of the first ``CANDIDATE_PASSAGES`` passages with
a logistic model over measures the search already has (the question's cosine with the
sentence and with its passage, both sides' scores, shared words and names, the kind of
figure asked for, non-answer wording, where the sentence sits) and says how likely each
is to answer. The model was fitted on questions written the way parents, SENCOs,
councillors and journalists write them, about sampled Commons answers whose answering
sentences the writers marked (``training/``); it is shipped as LightGBM's text model and a
JSON description (features, threshold, checksum), never pickled, and is tied to the
embedding model its cosines came from. A scorer trained with a sentence reranker
(``reranker``; not the shipped one) has its likeliest sentences read again by it, and
combines its score with the trees'.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SendSearchError
from ..schema import Passage
from ..text.normalise import sentence_spans
from ..text.patterns import FIGURES
from .keypoints import CANDIDATE_PASSAGES, Asked, stems
from .reranker import RerankerError, SentenceReranker, SentenceRerankerSpec

__all__ = [
    "FEATURES",
    "AnswerScorer",
    "AnswerScorerError",
    "Candidate",
    "candidates",
    "features",
    "load_answer_scorer",
]

# Sentences longer than this are tables run together; shorter ones say too little.
_MAX_WORDS = 90
_MIN_WORDS = 4
# Wording of answers that answer nothing: the information is not held, will come later,
# or is somewhere else.
_NON_ANSWER = re.compile(
    r"\b(?:not\s+(?:held|collected|available|hold)\s*(?:centrally)?|does\s+not\s+(?:hold|collect)|"
    r"disproportionate\s+cost|in\s+due\s+course|will\s+(?:write|respond|reply)\s+to\s+(?:the|my)|"
    r"(?:is|are)\s+(?:a\s+)?matters?\s+for|refer(?:red)?\s+to\s+the\s+(?:answer|reply)|"
    r"no\s+plans\s+to|cannot\s+comment|"
    r"responsibility\s+of\s+(?:the\s+)?(?:devolved|scottish|welsh))\b",
    re.I,
)

FEATURES = (
    "sentence_cosine",
    "sentence_cosine_below_best",
    "passage_cosine",
    "passage_reciprocal_rank",
    "passage_score_share",
    "passage_bm25_share",
    "passage_weak",
    "shared_words",
    "shared_words_count",
    "passage_shared_words",
    "names_present",
    "wants_figure",
    "has_figure",
    "wants_and_has_figure",
    "needed_kind_missing",
    "asks_or_leads_in",
    "non_answer_wording",
    "marked_by_search",
    "log_words",
    "position_in_passage",
    "first_of_document",
    "cosine_x_shared",
)


class AnswerScorerError(SendSearchError):
    """The shipped answer scorer is missing, damaged or made for another embedding model."""


@dataclass(frozen=True)
class Candidate:
    """A sentence of a numbered passage that could be a key point."""

    text: str
    number: int
    passage: Passage
    position: float
    marked: bool


def _sentences(passage: Passage) -> list[tuple[str, float, bool]]:
    marked = {" ".join(text.split()) for text in passage.highlight_texts}
    spans = sentence_spans(passage.text)
    found: dict[str, tuple[float, bool]] = {}
    for order, (start, end) in enumerate(spans):
        text = " ".join(passage.text[start:end].split())
        found.setdefault(text, (order / max(1, len(spans) - 1), text in marked))
    return [(text, position, marked_) for text, (position, marked_) in found.items()]


def candidates(passages: Sequence[tuple[int, Passage]]) -> list[Candidate]:
    """The sentences of the first ``CANDIDATE_PASSAGES`` numbered passages that are of a key point's length."""
    found = []
    for number, passage in passages[:CANDIDATE_PASSAGES]:
        for text, position, marked in _sentences(passage):
            if _MIN_WORDS <= len(text.split()) <= _MAX_WORDS:
                found.append(Candidate(text, number, passage, position, marked))
    return found


def _explained(passage: Passage, name: str) -> float:
    value = passage.explanation.get(name)
    return float(value) if isinstance(value, int | float) else 0.0


def features(
    question: str, found: Sequence[Candidate], question_vector: np.ndarray, sentence_vectors: np.ndarray
) -> np.ndarray:
    """One row of ``FEATURES`` per candidate; vectors are unit length (the index's embedder)."""
    asked = Asked.of(question)
    cosines = sentence_vectors @ question_vector if len(found) else np.zeros(0, dtype=np.float32)
    best = float(cosines.max()) if len(found) else 0.0
    top_score = max((abs(c.passage.score) for c in found), default=1.0) or 1.0
    top_bm25 = max((_explained(c.passage, "bm25") for c in found), default=1.0) or 1.0
    # Once per passage, not per sentence: a passage's stems are the costly part.
    passages = {id(c.passage): c.passage for c in found}
    passage_words = {key: len(stems(p.text) & asked.words) / max(1, len(asked.words)) for key, p in passages.items()}
    rows = []
    for candidate, cosine in zip(found, cosines, strict=True):
        words = stems(candidate.text)
        shared = len(words & asked.words)
        share = shared / max(1, len(asked.words))
        lowered = {w.lower() for w in re.findall(r"[\w’'-]+", candidate.text)}
        names = len(asked.names & lowered) / len(asked.names) if asked.names else 1.0
        has_figure = FIGURES.search(candidate.text) is not None
        passage = candidate.passage
        rows.append(
            [
                float(cosine),
                best - float(cosine),
                _explained(passage, "cosine"),
                1.0 / candidate.number,
                passage.score / top_score,
                _explained(passage, "bm25") / top_bm25,
                float(passage.weak_match),
                share,
                math.log1p(shared),
                passage_words[id(passage)],
                names,
                float(asked.wants_figure),
                float(has_figure),
                float(asked.wants_figure and has_figure),
                float(asked.needed is not None and asked.needed.search(candidate.text) is None),
                float(asked.is_lead_in(candidate.text)),
                float(_NON_ANSWER.search(candidate.text) is not None),
                float(candidate.marked),
                math.log1p(len(candidate.text.split())),
                candidate.position,
                float(passage.start == 0 and candidate.position == 0.0),
                float(cosine) * share,
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(found), len(FEATURES))


@dataclass(frozen=True)
class AnswerScorer:
    """Gradient-boosted trees over ``FEATURES`` (LightGBM): ``probabilities`` says how likely
    each candidate sentence is to answer. ``model`` names the embedding model whose cosines it
    was fitted on. With a sentence reranker (module ``reranker``), ``score`` has the trees' likeliest few
    sentences read again together with the question and combines both; a reply offers key
    points only from sentences at or above ``speaks_at``: the reranker's threshold when there
    is one, else the trees' ``threshold``.

    ``unsure_from`` (trees alone) is where silence stops being sure: from there up to the
    threshold, about half the replies of the training questions held out had an answering
    sentence among their candidates, so such a reply says its passages may answer rather than
    that nothing here does (``unsure_at``; chosen by the trainer, ``training/``)."""

    model: str
    booster: Any  # lightgbm.Booster
    threshold: float
    trained_on: dict[str, Any]
    reranker_spec: SentenceRerankerSpec | None = None
    reranker: SentenceReranker | None = None
    unsure_from: float | None = None

    @property
    def _reranked(self) -> bool:
        """Whether the reranker's combined probability decides (its scale, not the trees')."""
        return self.reranker_spec is not None and self.reranker is not None

    @property
    def speaks_at(self) -> float:
        return self.reranker_spec.threshold if self.reranker_spec and self._reranked else self.threshold

    @property
    def unsure_at(self) -> float | None:
        """From which likeliest-sentence probability a silent reply says its passages may
        answer; None when none was chosen or the reranker decides."""
        return None if self._reranked else self.unsure_from

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros(0)
        return np.asarray(self.booster.predict(rows), dtype=np.float64)

    def score(self, question: str, found: Sequence[Candidate], embedder: Any) -> np.ndarray:
        """Probabilities for ``found`` (candidates of one question), using ``embedder``."""
        if embedder.name != self.model:
            raise AnswerScorerError(
                f"the answer scorer was trained with {self.model!r}, not {embedder.name!r}; "
                "retrain it with `make answer-scorer INDEX=...` (training/README.md)"
            )
        if not found:
            return np.zeros(0)
        question_vector = embedder.encode_query([question])[0]
        sentence_vectors = embedder.encode_document([c.text for c in found])
        probabilities = self.probabilities(features(question, found, question_vector, sentence_vectors))
        if self.reranker is None or self.reranker_spec is None:
            return probabilities
        # The others cannot become key points: the combination is known only for these.
        likeliest = np.argsort(-probabilities, kind="stable")[: self.reranker_spec.rescored]
        scores = self.reranker.scores(question, [found[i].text for i in likeliest])
        combined = np.zeros_like(probabilities)
        combined[likeliest] = self.reranker_spec.probability(probabilities[likeliest], scores)
        return combined

    def save(self, path: Path) -> None:
        """``path`` (JSON: model, features, threshold, what it was trained on, its reranker) and,
        beside it, the trees in LightGBM's text format and the reranker's weights, named in the
        JSON with their SHA-256."""
        trees = self.booster.model_to_string()
        trees_path = path.with_suffix(".lgb.txt")
        trees_path.write_text(trees, encoding="utf-8")
        described = {
            "kind": "sendsearch.answer_scorer",
            "version": 2,
            "model": self.model,
            "features": list(FEATURES),
            "threshold": self.threshold,
            **({"unsure_from": self.unsure_from} if self.unsure_from is not None else {}),
            "trees": trees_path.name,
            "trees_sha256": hashlib.sha256(trees.encode("utf-8")).hexdigest(),
            "trained_on": self.trained_on,
        }
        if self.reranker_spec is not None:
            weights = path.with_suffix(".reranker.safetensors")
            described["reranker"] = {**self.reranker_spec.to_json(), "weights": weights.name}
            if self.reranker is not None:
                # When it is not loaded (the trainer), the trainer writes the weights there itself.
                weights.write_bytes(self.reranker.saved)
        path.write_text(json.dumps(described, indent=1) + "\n", encoding="utf-8")


SHIPPED = "answer-scorer.json"


def _read_bytes(name: str, path: str | None) -> tuple[bytes, str]:
    """The bytes of ``name`` (shipped, or beside ``path``) and how to name it in an error."""
    if path is None:
        where = f"sendsearch/data/{name}"
        try:
            return resources.files("sendsearch.data").joinpath(name).read_bytes(), where
        except (OSError, ModuleNotFoundError):
            raise AnswerScorerError(f"the answer scorer file {where} is missing; reinstall sendsearch") from None
    file = Path(path) if name == SHIPPED else Path(path).with_name(name)
    try:
        return file.read_bytes(), str(file)
    except OSError as error:
        raise AnswerScorerError(f"cannot read the answer scorer file {file}: {error.strerror or error}") from None


def _read(name: str, path: str | None) -> tuple[str, str]:
    """The text of ``name`` (shipped, or beside ``path``) and how to name it in an error."""
    data, where = _read_bytes(name, path)
    try:
        return data.decode("utf-8"), where
    except UnicodeDecodeError as error:
        raise AnswerScorerError(f"cannot read the answer scorer file {where}: {error}") from None


def _described(text: str, where: str) -> dict[str, Any]:
    def damaged(why: str) -> AnswerScorerError:
        return AnswerScorerError(f"the answer scorer {where} is damaged ({why}); reinstall sendsearch or retrain it")

    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise damaged(f"not JSON: {error.msg}") from None
    if not isinstance(data, dict) or data.get("kind") != "sendsearch.answer_scorer" or data.get("version") != 2:
        raise damaged("not a version 2 answer scorer")
    if data.get("features") != list(FEATURES):
        raise damaged("its features are not this version's")
    threshold = data.get("threshold")
    if not isinstance(threshold, int | float) or not 0.0 < threshold < 1.0:
        raise damaged("threshold missing or out of range")
    if "unsure_from" in data:
        unsure = data["unsure_from"]
        if not isinstance(unsure, int | float) or not 0.0 < unsure < threshold:
            raise damaged("unsure_from out of range (it must be below the threshold)")
    if not isinstance(data.get("model"), str) or not isinstance(data.get("trees"), str):
        raise damaged("no model or trees named")
    if "/" in data["trees"] or "\\" in data["trees"]:
        raise damaged("the trees file must sit beside it")
    if "reranker" in data:
        try:
            data["reranker"] = SentenceRerankerSpec.from_json(data["reranker"])
        except ValueError as error:
            raise damaged(str(error)) from None
    return data


@lru_cache(maxsize=4)
def load_answer_scorer(path: str | None = None, *, reranker: bool = True) -> AnswerScorer:
    """The scorer described at ``path`` (its trees beside it), or the one shipped with the
    package; with ``reranker=False``, its trees alone (its reranker is not loaded)."""
    import lightgbm

    text, where = _read(SHIPPED, path)
    data = _described(text, where)
    trees, trees_where = _read(data["trees"], path)
    if hashlib.sha256(trees.encode("utf-8")).hexdigest() != data.get("trees_sha256"):
        raise AnswerScorerError(
            f"the answer scorer's trees {trees_where} are damaged (checksum differs); reinstall or retrain it"
        )
    try:
        booster = lightgbm.Booster(model_str=trees)
    except lightgbm.basic.LightGBMError as error:
        raise AnswerScorerError(f"the answer scorer's trees {trees_where} are damaged ({error})") from None
    if booster.feature_name() != list(FEATURES):
        raise AnswerScorerError(f"the answer scorer's trees {trees_where} were fitted on other features; retrain it")
    spec: SentenceRerankerSpec | None = data.get("reranker")
    second_look = None
    if spec is not None and reranker:
        from ..indexing.embedding import resolve_model

        weights, weights_where = _read_bytes(spec.weights, path)
        try:
            second_look = SentenceReranker.load(
                resolve_model(data["model"]), weights, spec.weights_sha256, weights_where, spec.max_length
            )
        except RerankerError as error:
            raise AnswerScorerError(str(error)) from None
    trained_on = dict(data.get("trained_on") or {})
    unsure = data.get("unsure_from")
    return AnswerScorer(
        data["model"],
        booster,
        float(data["threshold"]),
        trained_on,
        spec,
        second_look,
        float(unsure) if unsure is not None else None,
    )
