"""Train the answer scorer's sentence reranker (src/sendsearch/chat/reranker.py).

Called by ``train_answer_scorer.py`` with the rows it computed (candidate sentences, their
features, labels and texts). The training questions are split by source document, as the
trees' own split, into three parts:

- part A (three fifths): the cross-encoder is trained on its (question, sentence) pairs -
  every answering sentence and up to three others per question - for one epoch, MiniLM's top
  ``LAYERS_TRAINED`` layers and a linear head (binary cross-entropy); trees are fitted on it
  too, for the next step;
- part B (a fifth): the A-trees' ``RESCORED`` likeliest sentences of each question are read
  by the cross-encoder, and a logistic model fitted there combines its score with the trees'
  probability (log-odds); the threshold is chosen there: the one at which most replies open
  rightly (the trees' rule) among those at which at least 90% of the questions with no
  answering candidate get no key points;
- part H (the trees' held-out fifth): the combination is measured against the trees alone,
  each at the threshold chosen without H.

Torch runs on two threads with fixed seeds: the same rows give the same weights on the same
machine and library versions (floating-point sums differ across CPUs and thread counts).
"""

from __future__ import annotations

import hashlib
import random
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from sendsearch.chat.reranker import SentenceRerankerSpec

LAYERS_TRAINED = 4
RESCORED = 5
MAX_LENGTH = 128
# A reply with nothing answering among its candidates should say so at least this often.
SILENT_WHEN_NONE = 0.9
BATCH = 32
# Where the weights go beside the scorer's JSON (AnswerScorer.save names them so too).
WEIGHTS = "answer-scorer.reranker.safetensors"
Openings = Callable[[np.ndarray, dict[str, np.ndarray], float], tuple[float, float, float, int]]


def parts(groups: np.ndarray, seed: int) -> np.ndarray:
    """ "H", "B" or "A" for each row, by its question's source document: H is the trees'
    held-out fifth (``train_answer_scorer.fit``), B the next fifth, A the rest."""
    order = sorted(set(groups.tolist()))
    random.Random(seed).shuffle(order)  # noqa: S311 - a reproducible split, not a secret
    n = len(order)
    held, second = set(order[: n // 5]), set(order[n // 5 : 2 * n // 5])
    return np.asarray(["H" if g in held else "B" if g in second else "A" for g in groups.tolist()])


def training_pairs(qids: np.ndarray, labels: np.ndarray, rows: np.ndarray, seed: int) -> list[int]:
    """Rows to train on: every answering sentence, and three others per question with one
    (two for a question with none), shuffled."""
    rng = random.Random(seed)  # noqa: S311
    by_question: dict[str, list[int]] = {}
    for i in rows.tolist():
        by_question.setdefault(str(qids[i]), []).append(i)
    chosen: list[int] = []
    for question in sorted(by_question):
        found = by_question[question]
        answering = [i for i in found if labels[i] > 0]
        others = [i for i in found if labels[i] <= 0]
        chosen += answering + rng.sample(others, min(len(others), 3 if answering else 2))
    rng.shuffle(chosen)
    return chosen


def likeliest(probabilities: np.ndarray, qids: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """The rows of each question in ``mask`` among its ``k`` likeliest by ``probabilities``."""
    found: list[int] = []
    rows = np.flatnonzero(mask)
    for question in np.unique(qids[rows]):
        mine = rows[qids[rows] == question]
        found.extend(mine[np.argsort(-probabilities[mine], kind="stable")[:k]].tolist())
    return np.asarray(sorted(found), dtype=int)


class CrossEncoder:
    """MiniLM reading a question and a sentence together, mean-pooled, with a linear head."""

    def __init__(self, base: str, layers_trained: int) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(base)
        self.encoder = AutoModel.from_pretrained(base)
        for parameter in self.encoder.parameters():
            parameter.requires_grad = False
        self.first = len(self.encoder.encoder.layer) - layers_trained
        for layer in self.encoder.encoder.layer[self.first :]:
            for parameter in layer.parameters():
                parameter.requires_grad = True
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

    def logits(self, questions: list[str], sentences: list[str]) -> Any:
        batch = self.tokenizer(
            questions, sentences, truncation="longest_first", max_length=MAX_LENGTH, padding=True, return_tensors="pt"
        )
        hidden = self.encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return self.head((hidden * mask).sum(1) / mask.sum(1)).squeeze(-1)

    def train(self, questions: list[str], sentences: list[str], labels: list[float]) -> None:
        torch = self.torch
        trained = [p for p in self.encoder.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(
            [{"params": trained, "lr": 3e-5}, {"params": self.head.parameters(), "lr": 1e-3}], weight_decay=0.01
        )
        loss = torch.nn.BCEWithLogitsLoss()
        self.encoder.train()
        started = time.monotonic()
        steps = len(labels) // BATCH
        for step in range(steps):
            at = slice(step * BATCH, (step + 1) * BATCH)
            value = loss(self.logits(questions[at], sentences[at]), torch.tensor(labels[at]))
            optimiser.zero_grad()
            value.backward()
            optimiser.step()
            if step % 50 == 0:
                print(
                    f"reranker step {step}/{steps}: loss {value.item():.3f}, {time.monotonic() - started:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
        self.encoder.eval()

    def scores(self, questions: list[str], sentences: list[str]) -> np.ndarray:
        torch = self.torch
        found = []
        with torch.inference_mode():
            for start in range(0, len(sentences), 128):
                at = slice(start, start + 128)
                found.append(self.logits(questions[at], sentences[at]).numpy())
        return np.concatenate(found) if found else np.zeros(0)

    def weights(self) -> bytes:
        """The trained layers and the head, as safetensors in float16: half the size in the
        repository (14 MB, not 28); the page computes in float32 (docs/quality.md gives the
        difference it makes to the scores)."""
        from safetensors.torch import save

        tensors = {
            f"encoder.layer.{self.first + k}.{name}": value.detach().half().contiguous()
            for k, layer in enumerate(self.encoder.encoder.layer[self.first :])
            for name, value in layer.state_dict().items()
        }
        head = self.head.state_dict()
        tensors.update({f"head.{name}": value.detach().half().contiguous() for name, value in head.items()})
        return save(tensors, metadata={"kind": "sendsearch.sentence_reranker"})


def _top1(probabilities: np.ndarray, data: dict[str, np.ndarray]) -> tuple[float, int]:
    """Among questions with an answering candidate: the share whose likeliest sentence answers."""
    hit = counted = 0
    for question in np.unique(data["qid"]):
        mine = data["qid"] == question
        if data["y"][mine].max() <= 0:
            continue
        counted += 1
        hit += int(data["y"][mine][int(np.argmax(probabilities[mine]))] > 0)
    return hit / max(1, counted), counted


def _best_threshold(probabilities: np.ndarray, data: dict[str, np.ndarray], openings: Openings) -> float:
    """The threshold at which most replies open rightly among those that stay silent for at
    least ``SILENT_WHEN_NONE`` of the questions nothing answers (the issue's target), or at
    which most open rightly when none does."""
    bars = [round(float(t), 2) for t in np.arange(0.05, 0.99, 0.01)]
    measured = {bar: openings(probabilities, data, bar) for bar in bars}
    silent_enough = [bar for bar in bars if measured[bar][2] >= SILENT_WHEN_NONE] or bars
    return max(silent_enough, key=lambda t: (measured[t][0], -t))


def fit(
    data: dict[str, np.ndarray],
    questions: dict[str, str],
    base: str,
    trees: Callable[[np.ndarray, np.ndarray], Any],
    openings: Openings,
    seed: int,
) -> tuple[SentenceRerankerSpec, bytes]:
    """The reranker's spec and weights from the trainer's rows (``data`` with ``text``),
    ``questions`` (id -> text), the embedding model at ``base``; ``trees(x, y)`` fits trees as
    the shipped ones are fitted, ``openings`` is the trainer's measure of replies and ``seed``
    its seed (the split is then the trees' own)."""
    import torch
    from sklearn.linear_model import LogisticRegression

    if "text" not in data:
        raise SystemExit("the features cache has no sentence texts: compute the features again (no --features-cache)")
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    part = parts(data["group"], seed)
    in_a, in_b, in_h = part == "A", part == "B", part == "H"
    texts = [str(t) for t in data["text"]]
    asked = [questions[str(q)] for q in data["qid"]]

    first_trees = trees(data["x"][in_a], data["y"][in_a])
    tree_p = first_trees.predict_proba(data["x"])[:, 1]

    model = CrossEncoder(base, LAYERS_TRAINED)
    pairs = training_pairs(data["qid"], data["y"], np.flatnonzero(in_a), seed)
    print(f"reranker: {len(pairs)} pairs from {len(np.unique(data['qid'][in_a]))} questions", file=sys.stderr)
    model.train([asked[i] for i in pairs], [texts[i] for i in pairs], [float(data["y"][i] > 0) for i in pairs])

    rescored = likeliest(tree_p, data["qid"], in_b | in_h, RESCORED)
    scores = np.zeros(len(texts))
    scores[rescored] = model.scores([asked[i] for i in rescored], [texts[i] for i in rescored])
    on_b = rescored[in_b[rescored]]
    features = np.column_stack([np.log(np.clip(tree_p, 1e-6, 1 - 1e-6) / np.clip(1 - tree_p, 1e-6, 1)), scores])
    combiner = LogisticRegression(C=1.0).fit(features[on_b], data["y"][on_b] > 0)
    spec = SentenceRerankerSpec(
        weights=WEIGHTS,
        weights_sha256="",
        layers_trained=LAYERS_TRAINED,
        rescored=RESCORED,
        max_length=MAX_LENGTH,
        tree_weight=round(float(combiner.coef_[0][0]), 6),
        reranker_weight=round(float(combiner.coef_[0][1]), 6),
        intercept=round(float(combiner.intercept_[0]), 6),
        threshold=0.5,
        trained_on={},
    )
    combined = np.zeros(len(texts))
    combined[rescored] = spec.probability(tree_p[rescored], scores[rescored])

    def rows(mask: np.ndarray) -> dict[str, np.ndarray]:
        return {"qid": data["qid"][mask], "y": data["y"][mask]}

    threshold = _best_threshold(combined[in_b], rows(in_b), openings)
    tree_threshold = _best_threshold(tree_p[in_b], rows(in_b), openings)
    held = rows(in_h)
    with_reranker = openings(combined[in_h], held, threshold)
    trees_alone = openings(tree_p[in_h], held, tree_threshold)
    top_with, answerable = _top1(combined[in_h], held)
    top_alone, _ = _top1(tree_p[in_h], held)

    def described(measured: tuple[float, float, float, int], top1: float) -> dict[str, float | int]:
        rightly, precision, silent, spoke = measured
        return {
            "open_rightly": round(rightly, 3),
            "first_point_precision": round(precision, 3),
            "silent_when_none": round(silent, 3),
            "replies_with_key_points": spoke,
            "likeliest_answers": round(top1, 3),
        }

    weights = model.weights()
    trained_on = {
        "pairs": len(pairs),
        "questions": {name: len(np.unique(data["qid"][m])) for name, m in (("A", in_a), ("B", in_b), ("H", in_h))},
        "held_out_with_an_answer": answerable,
        "held_out_with_reranker": described(with_reranker, top_with),
        "held_out_trees_alone": {**described(trees_alone, top_alone), "threshold": tree_threshold},
    }
    print(f"reranker on the held-out part: {trained_on}", file=sys.stderr)
    spec = SentenceRerankerSpec(
        **{
            **spec.to_json(),
            "weights_sha256": hashlib.sha256(weights).hexdigest(),
            "threshold": threshold,
            "trained_on": trained_on,
        }
    )
    return spec, weights
