"""fp32 against int8 (NNCF's post-training quantisation) through OpenVINO, interleaved in one
process on the same texts, so that other work on the machine weighs on both alike.

    python benchmarks/int8.py [--texts 2000] [--questions 200] [--rounds 2]

Texts: the chunk texts of the first Commons written answers
(../shared/data/commons-written-answers.jsonl.gz), chunked as a build chunks them. Questions:
those of benchmarks/bench.py (24 dev questions, then SEND written questions). Printed: bulk
texts/s per round (fp32, int8, fp32, int8, ...), one-question latency (p50 and p90, the two
precisions alternating question by question) and the cosine between the two precisions'
vectors of the same texts and questions.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from bench import DATA, machine, questions

from sendsearch.indexing.chunking import ChunkingConfig, chunk_documents
from sendsearch.indexing.embedding import SentenceTransformerEmbedder
from sendsearch.schema import Document
from sendsearch.sources.parliament import iter_records


def commons_chunks(count: int, embedder: SentenceTransformerEmbedder) -> list[str]:
    """The first ``count`` chunk texts of the Commons answers, in the file's order."""
    documents: list[Document] = []
    texts: list[str] = []
    config = ChunkingConfig().within(embedder.max_tokens)
    records = iter_records(Path(DATA / "commons-written-answers.jsonl.gz"), "commons")
    for item in records:
        if isinstance(item, Document):
            documents.append(item)
        if len(documents) == 200:
            chunks = chunk_documents(documents, embedder.count_tokens, config)
            texts.extend(c.text for document_chunks in chunks for c in document_chunks)
            documents = []
            if len(texts) >= count:
                break
    return texts[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    embedders = {p: SentenceTransformerEmbedder(precision=p, backend="openvino") for p in ("fp32", "int8")}
    texts = commons_chunks(args.texts, embedders["fp32"])
    asked = questions()[: args.questions]
    vectors: dict[str, np.ndarray] = {}
    for embedder in embedders.values():  # warm up: both compile their bulk and one-question models
        embedder.encode(texts[:64])
        embedder.encode([asked[0]])
    bulk: dict[str, list[float]] = {name: [] for name in embedders}
    for round_number in range(args.rounds):
        for name, embedder in embedders.items():
            began = time.perf_counter()
            vectors[name] = embedder.encode(texts)
            bulk[name].append(len(texts) / (time.perf_counter() - began))
            print(json.dumps({"round": round_number, "precision": name, "texts_per_s": bulk[name][-1]}), flush=True)
    latency: dict[str, list[float]] = {name: [] for name in embedders}
    question_vectors: dict[str, list[np.ndarray]] = {name: [] for name in embedders}
    for question in asked:
        for name, embedder in embedders.items():
            began = time.perf_counter()
            question_vectors[name].append(embedder.encode([question])[0])
            latency[name].append((time.perf_counter() - began) * 1000)
    chunk_cosines = np.sum(vectors["fp32"] * vectors["int8"], axis=1)
    question_cosines = np.sum(np.array(question_vectors["fp32"]) * np.array(question_vectors["int8"]), axis=1)
    result = {
        "machine": machine(),
        "texts": len(texts),
        "questions": len(asked),
        "bulk_texts_per_s": bulk,
        "bulk_ratio": float(np.mean(bulk["int8"]) / np.mean(bulk["fp32"])),
        "question_ms": {
            name: {"p50": float(np.percentile(values, 50)), "p90": float(np.percentile(values, 90))}
            for name, values in latency.items()
        },
        "question_p50_ratio": float(np.percentile(latency["fp32"], 50) / np.percentile(latency["int8"], 50)),
        "chunk_cosine": {"mean": float(chunk_cosines.mean()), "min": float(chunk_cosines.min())},
        "question_cosine": {"mean": float(question_cosines.mean()), "min": float(question_cosines.min())},
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
