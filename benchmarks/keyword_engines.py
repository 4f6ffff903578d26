"""The keyword side two ways: bm25s (what sendsearch uses) against SQLite FTS5, same chunks.

    python benchmarks/keyword_engines.py --index benchmarks/results/work/all/index

FTS5 indexes each chunk's text with its document's heading and question (as sendsearch's
BM25 does) using the porter tokenizer, in a temporary database; a question is its terms OR-ed
together, ranked by FTS5's bm25(), top 100. bm25s: `KeywordIndex.search` on the index's own
keyword arrays, top 100, with sendsearch's analyzer. Times are per question, warm, over the
264 questions of bench.py.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np
from bench import questions

from sendsearch.search.index import Index
from sendsearch.text.analysis import Analyzer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    args = parser.parse_args()
    snapshot = Index.open(args.index).snapshot()
    rows = snapshot.backend.store.db.execute(
        "SELECT c.chunk_id, coalesce(d.title, '') || ' ' || coalesce(d.question, '') || ' ' || "
        "substr(d.text, c.start + 1, c.end - c.start) "
        "FROM chunks c JOIN documents d USING (doc_id)"
    ).fetchall()
    asked = questions()
    with tempfile.TemporaryDirectory() as folder:
        db = sqlite3.connect(Path(folder) / "fts.sqlite")
        db.execute("CREATE VIRTUAL TABLE chunks USING fts5(text, tokenize='porter unicode61')")
        began = time.perf_counter()
        db.executemany("INSERT INTO chunks(rowid, text) VALUES (?, ?)", rows)
        db.commit()
        print(f"FTS5: indexed {len(rows):,} chunks in {time.perf_counter() - began:.1f} s")
        fts_times = []
        for q in asked:
            words = [w for w in re.findall(r"[A-Za-z0-9]+", q) if len(w) > 2]
            match = " OR ".join(f'"{w}"' for w in words)
            began = time.perf_counter()
            db.execute(
                "SELECT rowid, bm25(chunks) FROM chunks WHERE chunks MATCH ? ORDER BY bm25(chunks) LIMIT 100", (match,)
            ).fetchall()
            fts_times.append(time.perf_counter() - began)
    analyzer = Analyzer()
    bm25s_times = []
    for q in asked:
        terms = dict.fromkeys(analyzer.terms(q), 1.0)
        began = time.perf_counter()
        snapshot.backend.keyword.search(terms, {}, 100)
        bm25s_times.append(time.perf_counter() - began)
    for name, times in (("FTS5", fts_times), ("bm25s", bm25s_times)):
        ms = np.array(times) * 1000
        print(
            f"{name}: p50 {np.percentile(ms, 50):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms per question "
            f"({len(ms)} questions)"
        )


if __name__ == "__main__":
    main()
