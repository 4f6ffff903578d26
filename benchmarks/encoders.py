"""Encoding options on this CPU: throughput, one-question latency and agreement with fp32.

    python benchmarks/encoders.py --texts 400

Texts: the first N chunk texts of an index (default: the 10k benchmark index), the same for
every option. Each option embeds them once to warm up, then again timed. Agreement is the
cosine of each vector with sentence-transformers' own fp32 encode (the baseline).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from bench import _chunk_texts, machine, questions

from sendsearch.indexing.embedding import DEFAULT_MODEL, SentenceTransformerEmbedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default=str(Path(__file__).parent / "results" / "work" / "10000" / "index"))
    parser.add_argument("--texts", type=int, default=400)
    args = parser.parse_args()
    texts = _chunk_texts(args.index)[: args.texts]
    asked = questions()[:100]
    rows, reference = [], None
    for backend, precision in (("torch", "fp32"), ("torch", "bf16"), ("openvino", "fp32"), ("openvino", "bf16")):
        embedder = SentenceTransformerEmbedder(DEFAULT_MODEL, backend=backend, precision=precision)
        embedder.encode(texts[:64])
        began = time.perf_counter()
        vectors = embedder.encode(texts)
        seconds = time.perf_counter() - began
        latencies = []
        for q in asked:
            began = time.perf_counter()
            embedder.encode([q])
            latencies.append(time.perf_counter() - began)
        reference = vectors if reference is None else reference
        cosine = np.sum(vectors * reference, axis=1)
        rows.append(
            {
                "backend": backend,
                "precision": precision,
                "texts_per_s": len(texts) / seconds,
                "question_ms_p50": float(np.median(latencies) * 1000),
                "cosine_mean": float(cosine.mean()),
                "cosine_min": float(cosine.min()),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"machine": machine(), "texts": len(texts), "rows": rows}))


if __name__ == "__main__":
    main()
