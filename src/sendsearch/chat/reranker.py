"""A second look at the answer scorer's likeliest sentences: a cross-encoder.

The answer scorer's trees (``answers``) see a sentence through measures taken apart from
the question: cosines of separately embedded texts, shared words, figures. A cross-encoder
reads the question and the sentence together, so every word of one attends to every word of
the other, and can tell "the council must issue the plan within 20 weeks" from "the council
issued 20 plans". It is the embedding model (all-MiniLM-L6-v2) with its top layers and a
linear head trained here, on the answer scorer's own training rows (``training/``), to say
whether a sentence answers a question (``training/train_answer_scorer.py --reranker``).
Only the layers trained are saved (float16 safetensors, 14 MB), with their SHA-256 in the
scorer's JSON; the rest are the embedding model's, from its package.

It reads only the trees' ``rescored`` likeliest sentences of a reply (a handful of pairs,
tens of milliseconds); its score and the trees' are combined by a logistic model fitted on
training questions neither was fitted on, and a reply speaks when the combination clears
the threshold chosen there. The shipped scorer has none: measured, it did not make more
replies of the evaluation sets open rightly (docs/quality.md, "A second look").
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SendSearchError

__all__ = ["RerankerError", "SentenceReranker", "SentenceRerankerSpec"]


class RerankerError(SendSearchError):
    """The sentence reranker's weights are missing, damaged or made for another model."""


@dataclass(frozen=True)
class SentenceRerankerSpec:
    """What the answer scorer's JSON says of its reranker: the weights file beside it and its
    SHA-256, how many top layers it trained, how many sentences it rescores, and how its score
    and the trees' combine (``probability``) and when a reply speaks (``threshold``)."""

    weights: str
    weights_sha256: str
    layers_trained: int
    rescored: int
    max_length: int
    tree_weight: float
    reranker_weight: float
    intercept: float
    threshold: float
    trained_on: dict[str, Any]

    @classmethod
    def from_json(cls, data: Any) -> SentenceRerankerSpec:
        """The spec in ``data`` (the JSON's ``reranker`` object); ValueError says what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("its reranker is not described")
        numbers = ("tree_weight", "reranker_weight", "intercept", "threshold")
        counts = ("layers_trained", "rescored", "max_length")
        if not all(isinstance(data.get(name), int | float) and math.isfinite(data[name]) for name in numbers):
            raise ValueError("its reranker's weights or threshold are missing")
        if not all(isinstance(data.get(name), int) and data[name] > 0 for name in counts):
            raise ValueError("its reranker's sizes are missing")
        if not 0.0 < data["threshold"] < 1.0:
            raise ValueError("its reranker's threshold is out of range")
        weights, digest = data.get("weights"), data.get("weights_sha256")
        if not isinstance(weights, str) or not isinstance(digest, str) or "/" in weights or "\\" in weights:
            raise ValueError("its reranker's weights must be a file beside it, with a checksum")
        return cls(
            weights,
            digest,
            data["layers_trained"],
            data["rescored"],
            data["max_length"],
            float(data["tree_weight"]),
            float(data["reranker_weight"]),
            float(data["intercept"]),
            float(data["threshold"]),
            dict(data.get("trained_on") or {}),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "weights": self.weights,
            "weights_sha256": self.weights_sha256,
            "layers_trained": self.layers_trained,
            "rescored": self.rescored,
            "max_length": self.max_length,
            "tree_weight": self.tree_weight,
            "reranker_weight": self.reranker_weight,
            "intercept": self.intercept,
            "threshold": self.threshold,
            "trained_on": self.trained_on,
        }

    def probability(self, tree_probabilities: np.ndarray, reranker_scores: np.ndarray) -> np.ndarray:
        """How likely each sentence is to answer, from the trees' probability and the reranker's score."""
        p = np.clip(np.asarray(tree_probabilities, dtype=np.float64), 1e-6, 1 - 1e-6)
        z = self.tree_weight * np.log(p / (1 - p)) + self.reranker_weight * reranker_scores + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


class SentenceReranker:
    """The cross-encoder: ``scores(question, sentences)`` gives one score per sentence (a
    logit: higher means likelier to answer). It is the embedding model at ``base`` with the
    trained layers of ``weights`` loaded over it, and their linear head."""

    def __init__(self, base: str, weights: dict[str, Any], max_length: int, saved: bytes = b"") -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        # Its "Loading weights" bar would land in the server's log at every start.
        transformers_logging.disable_progress_bar()
        self._torch = torch
        self.max_length = max_length
        self.saved = saved  # the safetensors file it was loaded from, for AnswerScorer.save
        self.tokenizer = AutoTokenizer.from_pretrained(base)
        self.encoder = AutoModel.from_pretrained(base)
        head = {name.removeprefix("head."): value for name, value in weights.items() if name.startswith("head.")}
        layers = {name: value for name, value in weights.items() if not name.startswith("head.")}
        known = self.encoder.state_dict()
        strange = sorted(
            name for name, value in layers.items() if name not in known or known[name].shape != value.shape
        )
        if strange or set(head) != {"weight", "bias"}:
            raise RerankerError(f"the reranker's weights do not fit the model at {base} ({(strange or ['head'])[0]})")
        self.encoder.load_state_dict(layers, strict=False)
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)
        self.head.load_state_dict(head)
        self.encoder.eval()
        self.head.eval()
        # Tokenizers are not safe to call from two threads at once; the page answers in threads.
        self._lock = threading.Lock()

    def scores(self, question: str, sentences: list[str]) -> np.ndarray:
        if not sentences:
            return np.zeros(0)
        torch = self._torch
        with self._lock, torch.inference_mode():
            batch = self.tokenizer(
                [question] * len(sentences),
                sentences,
                truncation="longest_first",
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )
            hidden = self.encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            return np.asarray(self.head(pooled).squeeze(-1).numpy(), dtype=np.float64)

    @classmethod
    def load(cls, base: str, data: bytes, sha256: str, where: str, max_length: int) -> SentenceReranker:
        """The reranker whose trained layers are ``data`` (safetensors, checked against ``sha256``)."""
        if hashlib.sha256(data).hexdigest() != sha256:
            raise RerankerError(f"the reranker's weights {where} are damaged (checksum differs); reinstall or retrain")
        from safetensors import SafetensorError
        from safetensors.torch import load

        try:
            weights = load(data)
        except (SafetensorError, ValueError) as error:
            raise RerankerError(f"the reranker's weights {where} are damaged ({error})") from None
        # Stored in float16 (half the size); computed in float32, as the embedding model is.
        return cls(base, {name: value.float() for name, value in weights.items()}, max_length, data)
