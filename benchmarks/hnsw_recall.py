"""Recall of the HNSW index against exact search, on an index's own vectors.

    python benchmarks/hnsw_recall.py --index benchmarks/results/work/all/index

Queries: the 264 SEND questions of bench.py, embedded with the index's model. For each
efSearch, recall@10 and recall@100 (the hybrid takes 100 candidates per side) against
IndexFlatIP over the same vectors, and the mean search time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import faiss
import numpy as np
from bench import questions

from sendsearch.indexing.embedding import load_embedder
from sendsearch.search.index import Index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", type=Path, required=True)
    args = parser.parse_args()
    index = Index.open(args.index)
    vectors = index.snapshot().backend.vectors
    assert vectors.kind == "hnsw", f"the index is {vectors.kind}, not hnsw"
    ids = vectors.ids()
    exact = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.dimension))
    exact.add_with_ids(vectors.vectors(ids), ids)
    queries = load_embedder(index.manifest.model).encode(questions())
    print(f"{len(ids):,} vectors, {len(queries)} questions")
    for k in (10, 100):
        _, truth = exact.search(queries, k)
        for ef in (64, 128, 256, 512):
            vectors.ef_search = ef
            began = time.perf_counter()
            found = np.vstack([vectors.search(q, k)[1] for q in queries])
            ms = (time.perf_counter() - began) / len(queries) * 1000
            recall = np.mean([len(set(t) & set(f)) / k for t, f in zip(truth, found, strict=False)])
            print(f"recall@{k} efSearch {ef}: {recall:.4f}  ({ms:.2f} ms per search)")
    began = time.perf_counter()
    for q in queries:
        exact.search(q.reshape(1, -1), 100)
    print(f"exact search: {(time.perf_counter() - began) / len(queries) * 1000:.2f} ms per search")


if __name__ == "__main__":
    main()
