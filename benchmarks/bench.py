"""sendsearch against plain sentence-transformers + FAISS, at 1k, 10k and all 49,450 answers.

    python benchmarks/bench.py --sizes 1000,10000,all --out benchmarks/results/bench.json

For each size, on the first N records of ../shared/data/commons-written-answers.jsonl.gz:

- build: `build_index` into a fresh folder with an empty embedding cache (wall time, chunks/s,
  peak RSS of the process);
- baseline: the same chunk texts through `SentenceTransformer.encode` with its defaults
  (PyTorch, fp32, batch 32) into `faiss.IndexFlatIP`; chunks/s and the ratio;
- queries: 264 SEND questions (the 24 dev questions and 240 taken from SEND written
  questions), warm, k=10, hybrid through `Index.search` end to end and with the question
  vectors precomputed (search only); the baseline's dense-only search likewise;
- memory: RSS of a fresh process after loading the model, and after opening the index and
  answering the questions (the difference per 1,000 chunks); index size on disk;
- at the largest size: `add` of 100 new answers, replacing 100 and deleting 100.

Each step runs in its own child process so timings and peak memory are its own. Model
loading is left out of every timing, on both sides. sendsearch's precision is the setting's:
`SENDSEARCH_PRECISION=int8 python benchmarks/bench.py --sizes 1000` measures int8.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
EVAL = ROOT.parent / "shared" / "eval"
ALL = DATA / "commons-written-answers.jsonl.gz"


# -- questions ------------------------------------------------------------------------------


def questions() -> list[str]:
    """24 dev questions and 240 questions from SEND written questions, formula removed."""
    found = [
        json.loads(line)["query"] for line in (EVAL / "dev-queries.jsonl").read_text().splitlines() if line.strip()
    ]
    for line in (DATA / "send-written-answers.jsonl").read_text().splitlines():
        text = json.loads(line)["questionText"]
        text = re.sub(r"^To ask the .*?,\s*", "", text).split(";")[0].strip()
        if len(text) > 200:
            text = text[:200].rsplit(" ", 1)[0]
        if len(text) >= 30 and text not in found:
            found.append(text[0].upper() + text[1:])
        if len(found) >= 264:
            break
    return found


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50_ms": at(0.50) * 1000, "p95_ms": at(0.95) * 1000, "p99_ms": at(0.99) * 1000, "n": len(ordered)}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- child steps (each run as `bench.py _step ...`) -------------------------------------------


def step_build(corpus: str, index: str) -> dict:
    from sendsearch import Index
    from sendsearch.indexing.embedding import load_embedder

    embedder = load_embedder()
    started = time.perf_counter()
    _, report = Index.build([corpus], index, embedder=embedder)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "documents": report.documents,
        "chunks": report.chunks,
        "embedded": report.embedded,
        "reused": report.reused,
        "chunks_per_s": report.chunks / seconds,
        "backend": embedder.backend,
        "precision": embedder.precision,
    }


def _chunk_texts(index: str) -> list[str]:
    from sendsearch.search.index import Index

    snapshot = Index.open(index).snapshot()
    rows = snapshot.backend.store.db.execute(
        "SELECT substr(d.text, c.start + 1, c.end - c.start) "
        "FROM chunks c JOIN documents d USING (doc_id) ORDER BY c.chunk_id"
    )
    return [row[0] for row in rows]


def step_baseline(index: str) -> dict:
    import faiss
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from sendsearch.indexing.embedding import DEFAULT_MODEL, resolve_model

    texts = _chunk_texts(index)
    model = SentenceTransformer(resolve_model(DEFAULT_MODEL), device="cpu")
    started = time.perf_counter()
    vectors = model.encode(texts)  # the defaults: batch 32, fp32, no normalisation
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
    seconds = time.perf_counter() - started
    asked = questions()
    for q in asked[:20]:
        flat.search(model.encode([q]), 10)
    end_to_end, search_only = [], []
    encoded = model.encode(asked)
    for q, vector in zip(asked, encoded, strict=False):
        began = time.perf_counter()
        flat.search(model.encode([q]), 10)
        end_to_end.append(time.perf_counter() - began)
        began = time.perf_counter()
        flat.search(vector.reshape(1, -1), 10)
        search_only.append(time.perf_counter() - began)
    return {
        "seconds": seconds,
        "chunks": len(texts),
        "chunks_per_s": len(texts) / seconds,
        "query_end_to_end": percentiles(end_to_end),
        "query_search_only": percentiles(search_only),
    }


def step_serve(index: str) -> dict:
    from sendsearch.indexing.embedding import load_embedder
    from sendsearch.search.index import Index

    embedder = load_embedder()
    embedder.encode(["warm up"])
    before = rss_mb()
    opened = Index.open(index, embedder=embedder)
    asked = questions()
    for q in asked[:20]:
        opened.search(q, 10)
    end_to_end = []
    for q in asked:
        began = time.perf_counter()
        opened.search(q, 10)
        end_to_end.append(time.perf_counter() - began)
    from sendsearch.text.analysis import clean_query

    class Precomputed:
        """The same model's vectors, computed before timing: the model's time left out."""

        name, dimension, max_tokens = embedder.name, embedder.dimension, embedder.max_tokens
        precision = embedder.precision  # an int8 index accepts only int8 question vectors

        def __init__(self, vectors: dict) -> None:
            self.vectors = vectors

        def encode_query(self, texts):
            return self.vectors[texts[0]]

    precomputed = Precomputed({clean_query(q): embedder.encode_query([clean_query(q)]) for q in asked})
    opened = Index.open(index, embedder=precomputed)
    search_only = []
    for q in asked:
        began = time.perf_counter()
        opened.search(q, 10)
        search_only.append(time.perf_counter() - began)
    after = rss_mb()
    manifest = opened.manifest
    generation = Path(index) / manifest.generation
    size = sum(p.stat().st_size for p in generation.rglob("*") if p.is_file())
    return {
        "query_end_to_end": percentiles(end_to_end),
        "query_search_only": percentiles(search_only),
        "rss_model_mb": before,
        "rss_serving_mb": after,
        "chunks": manifest.chunks,
        "vectors": manifest.vectors["kind"],
        "serving_mb_per_1k_chunks": (after - before) / manifest.chunks * 1000,
        "disk_mb": size / 1e6,
        "disk_mb_per_1k_chunks": size / 1e6 / manifest.chunks * 1000,
    }


def step_update(index: str, records: str) -> dict:
    from sendsearch import Index
    from sendsearch.indexing.embedding import load_embedder

    opened = Index.open(index, embedder=load_embedder())
    lines = Path(records).read_text().splitlines()
    new, changed = Path(records).with_name("new.jsonl"), Path(records).with_name("changed.jsonl")
    new.write_text("\n".join(lines[:100]))
    changed.write_text("\n".join(lines[100:200]))
    timings = {}
    for name, kwargs in (
        ("add_100", {"add": [new]}),
        ("replace_100", {"add": [changed]}),
        ("delete_100", {"remove": [json.loads(line)["id"] for line in lines[:100]]}),
    ):
        began = time.perf_counter()
        report = (
            opened.add([str(x) for x in kwargs["add"]])
            if "add" in kwargs
            else opened.remove([str(x) for x in kwargs["remove"]])
        )
        timings[name] = {
            "seconds": time.perf_counter() - began,
            "added": report.added,
            "replaced": report.replaced,
            "removed": report.removed,
            "embedded": report.embedded,
            "documents": report.documents,
        }
    return timings


STEPS = {"build": step_build, "baseline": step_baseline, "serve": step_serve, "update": step_update}


def run_step(name: str, *args: str) -> dict:
    """Run a step in a child process (which reports its own peak RSS); add its wall time."""
    started = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "_step", name, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"step {name} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = time.perf_counter() - started
    return result


# -- driver -----------------------------------------------------------------------------------


def _edited(record: dict, note: str) -> dict:
    """The record with `note` at the end of every paragraph, so no chunk text is cached."""
    text = record.get("answerText") or ""
    text = re.sub(r"</p>", f" ({note})</p>", text) if "</p>" in text else f"{text} ({note})"
    return {**record, "answerText": text}


def subset(n: int | None, folder: Path, stamp: str = "") -> tuple[Path, Path]:
    """The first n records (all when None) as the corpus, and 200 update records: 100 new
    answers (answered records under new ids) and 100 edits of indexed answers, each with
    every paragraph changed so that nothing is cached for them."""
    with gzip.open(ALL, "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    chosen = lines if n is None else lines[:n]
    corpus = folder / f"corpus-{n or 'all'}.jsonl"
    corpus.write_text("\n".join(chosen))
    answered = [json.loads(line) for line in (lines[::-1] if n is None else lines[n:])]
    answered = [r for r in answered if len(re.sub(r"<[^>]+>", "", r.get("answerText") or "")) > 200][:100]
    updates = [json.dumps(_edited({**r, "id": 900_000_000 + r["id"]}, f"benchmark copy{stamp}")) for r in answered]
    updates += [json.dumps(_edited(json.loads(line), f"benchmark edit{stamp}")) for line in chosen[100:200]]
    (folder / "updates.jsonl").write_text("\n".join(updates))
    return corpus, folder / "updates.jsonl"


def machine() -> dict:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    rows = lscpu.splitlines()
    model = next((row.split(":", 1)[1].strip() for row in rows if row.startswith("Model name")), platform.processor())
    flags = next((row for row in rows if row.startswith("Flags")), "")
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "avx512_bf16": "avx512_bf16" in flags,
        "python": platform.python_version(),
    }


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "_step":
        result = STEPS[sys.argv[2]](*sys.argv[3:])
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,all")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "results" / "work")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench.json")
    parser.add_argument(
        "--only",
        nargs=2,
        metavar=("STEP", "SIZE"),
        help="rerun one step of an earlier run at SIZE: build (a fresh index; the ratio uses that run's baseline), "
        "serve or update, e.g. --only serve all",
    )
    args = parser.parse_args()
    import shutil

    if args.only:
        step, size = args.only
        folder = args.work / size
        index = folder / "index"
        results = json.loads(args.out.read_text())
        entry = results["sizes"][size]
        if step == "build":  # a fresh index and cache from the same corpus file
            shutil.rmtree(index, ignore_errors=True)
            rerun = run_step("build", str(folder / f"corpus-{size}.jsonl"), str(index))
            entry["throughput_ratio"] = rerun["chunks_per_s"] / entry["baseline"]["chunks_per_s"]
        elif step == "update":  # fresh edits, so nothing of the last run is cached
            rerun = run_step(
                "update",
                str(index),
                str(subset(None if size == "all" else int(size), folder, stamp=f" {time.time():.0f}")[1]),
            )
        elif step == "serve":
            rerun = run_step("serve", str(index))
        else:
            parser.error("--only reruns build, serve or update")
        rerun["command"] = " ".join(["python", "benchmarks/bench.py", *sys.argv[1:]])
        entry[step] = rerun
        args.out.write_text(json.dumps(results, indent=2))
        print(size, step, rerun, flush=True)
        return

    results = {"machine": machine(), "command": " ".join(["python", "benchmarks/bench.py", *sys.argv[1:]]), "sizes": {}}
    for size in args.sizes.split(","):
        n = None if size == "all" else int(size)
        folder = args.work / size
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        corpus, updates = subset(n, folder)
        index = str(folder / "index")
        entry = {"build": run_step("build", str(corpus), index)}
        print(size, "build", entry["build"], flush=True)
        entry["baseline"] = run_step("baseline", index)
        entry["throughput_ratio"] = entry["build"]["chunks_per_s"] / entry["baseline"]["chunks_per_s"]
        print(size, "baseline", entry["baseline"], flush=True)
        entry["serve"] = run_step("serve", index)
        print(size, "serve", entry["serve"], flush=True)
        if size == args.sizes.split(",")[-1]:
            entry["update"] = run_step("update", index, str(updates))
            print(size, "update", entry["update"], flush=True)
        results["sizes"][size] = entry
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
