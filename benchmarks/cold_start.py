"""How fast the first answer comes: `sendsearch serve` and a cold `sendsearch search`, per source tree.

    git archive f563345 | tar -x -C /tmp/before
    python benchmarks/cold_start.py --tree before=/tmp/before/src --tree after=src \\
        --index /tmp/bench/index --out benchmarks/results/cold_start.json

Every tree is measured the same way, one after the other, in one run:

- cold search: `python -m sendsearch.cli search QUESTION` in a new process, ``--runs`` times
  (wall time, the process's own start included), and where the time goes in one more
  process: importing the CLI, opening the index, loading the model, the first and a second
  search, which heavy libraries each step loaded, and OpenVINO's read/convert/compile
  calls; plus ``python -X importtime`` of the same search for the biggest imports;
- serve: `python -m sendsearch.cli serve` in a new process; the time until the page
  answers HTTP, then each of the example questions asked on the page in Chromium (Debian's,
  through Playwright; a fresh tab each), timed from the click to the reply appearing: the
  first reply and the later ones;
- reply length: the words a person sees in each reply (``innerText``: collapsed parts
  excluded) and its height in pixels, at 1366x900 and at 390x844.

The index must exist (build it once with any tree: the format is the same). Results are
printed as a table and written as JSON with the machine's CPU model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
# The README's questions: the page's examples and the question of its screenshot.
QUESTIONS = [
    "How much high needs funding does Stockport get?",
    "How much does Stockport spend on SEND?",
    "Who pays for the council team that carries out EHC needs assessments?",
    "How much high needs funding is Stockport getting?",
    "What is the Delivering Better Value programme?",
    "How long does a council have to complete an EHC needs assessment?",
]
SEARCH_QUESTION = "How long does a council have to complete an EHC needs assessment?"
HEAVY = (
    "torch",
    "sentence_transformers",
    "transformers",
    "openvino",
    "faiss",
    "bm25s",
    "gradio",
    "numpy",
    "tokenizers",
)
# A reply on the page, before (Gradio's chatbot) and after (the page's own replies).
REPLIES = "#chat [data-testid='bot'], #chat .reply"

# Run in a child process: the phases of one `sendsearch search`, timed from inside.
PROBE = r"""
import json, sys, time
marks = {}
def loaded():
    return sorted(name for name in HEAVY if name in sys.modules)
HEAVY = %(heavy)r
start = time.perf_counter()
import sendsearch.cli
marks["import sendsearch.cli"] = (time.perf_counter() - start, loaded())
ov_calls = {"read_model": 0.0, "convert_model": 0.0, "compile_model": 0.0}
# OpenVINO is imported here, before the model loads, so its calls can be timed (patching
# it from an import hook would catch it half-initialised).
t = time.perf_counter()
import openvino
marks["import openvino"] = (time.perf_counter() - t, loaded())
for owner, name in ((openvino.Core, "read_model"), (openvino.Core, "compile_model"), (openvino, "convert_model")):
    original = getattr(owner, name)
    def timed(*args, __original=original, __name=name, **kwargs):
        t = time.perf_counter()
        try:
            return __original(*args, **kwargs)
        finally:
            ov_calls[__name] += time.perf_counter() - t
    setattr(owner, name, timed)
t = time.perf_counter()
from sendsearch.search.index import Index
index = Index.open(%(index)r)
marks["open the index"] = (time.perf_counter() - t, loaded())
t = time.perf_counter()
embedder = index.embedder
marks["load the model"] = (time.perf_counter() - t, loaded())
t = time.perf_counter()
index.search(%(question)r, 5)
marks["first search"] = (time.perf_counter() - t, loaded())
t = time.perf_counter()
index.search("Who pays for EHC needs assessments?", 5)
marks["second search"] = (time.perf_counter() - t, loaded())
print(json.dumps({"marks": marks, "openvino": ov_calls, "backend": embedder.backend,
                  "total": time.perf_counter() - start}))
"""


def _env(src: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src), "GRADIO_ANALYTICS_ENABLED": "False"}


def cold_search(src: Path, index: Path, runs: int) -> dict:
    """Wall time of `sendsearch search` in new processes, and its phases from inside one more."""
    command = [sys.executable, "-m", "sendsearch.cli", "search", SEARCH_QUESTION, "--index", str(index)]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, env=_env(src), cwd=src.parent, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"search failed in {src}: {done.stderr}")
    probe = PROBE % {"heavy": HEAVY, "index": str(index), "question": SEARCH_QUESTION}
    phases = json.loads(
        subprocess.run(
            [sys.executable, "-c", probe], env=_env(src), cwd=src.parent, capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    traced = subprocess.run(
        [sys.executable, "-X", "importtime", *command[1:]],
        env=_env(src),
        cwd=src.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    imports = {}
    for line in traced.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S+)$", line)
        if match and match.group(2) in HEAVY:
            imports[match.group(2)] = int(match.group(1)) / 1e6
    return {"runs": times, "phases": phases, "imports": imports}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ask(page, question: str) -> float:
    before = page.locator(REPLIES).count()
    page.fill("#question textarea", question)
    start = time.perf_counter()
    # Enter, not a click on Ask: before, the filters panel covered Ask on a phone.
    page.press("#question textarea", "Enter")
    page.wait_for_function(f'document.querySelectorAll("{REPLIES}").length > {before}', timeout=180_000)
    return time.perf_counter() - start


def _reply_size(page) -> tuple[int, int]:
    """Words a person sees in the last reply, and its full height in pixels (not the box's)."""
    page.wait_for_timeout(500)
    reply = page.locator(REPLIES).last
    words = len(reply.inner_text().split())
    height = int(reply.evaluate("e => e.scrollHeight"))
    return words, height


def serve(src: Path, index: Path) -> dict:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "sendsearch.cli", "serve", "--index", str(index), "--port", str(port)]
    log = open(Path(index).parent / f"serve-{port}.log", "w")  # noqa: SIM115 - closed below
    start = time.perf_counter()
    process = subprocess.Popen(command, env=_env(src), cwd=src.parent, stdout=log, stderr=subprocess.STDOUT)
    result: dict = {}
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"server exited: {Path(log.name).read_text()}")
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        result["ready_seconds"] = time.perf_counter() - start
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless=new", "--no-sandbox"])
            for name, viewport in (("desktop", (1366, 900)), ("phone", (390, 844))):
                sizes = []
                for question in QUESTIONS:
                    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
                    page = context.new_page()
                    page.goto(url, wait_until="load")
                    page.wait_for_selector("#question textarea", timeout=60_000)
                    seconds = _ask(page, question)
                    if name == "desktop":
                        result.setdefault("reply_seconds", []).append(seconds)
                    words, height = _reply_size(page)
                    sizes.append({"question": question, "words": words, "height_px": height})
                    context.close()
                result[f"replies_{name}"] = sizes
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", required=True, help="LABEL=PATH of a src/ folder")
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "cold_start.json")
    args = parser.parse_args()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    report: dict = {"machine": {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}, "trees": {}}
    for spec in args.tree:
        label, path = spec.split("=", 1)
        src = Path(path).resolve()
        print(f"[{label}] cold search x{args.runs} ...", flush=True)
        measured = {"src": str(src), "cold_search": cold_search(src, args.index, args.runs)}
        print(f"[{label}] serve ...", flush=True)
        measured["serve"] = serve(src, args.index)
        report["trees"][label] = measured
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print_report(report)


def print_report(report: dict) -> None:
    print(f"\nmachine: {report['machine']['cpu']}, {report['machine']['cores']} cores")
    for label, measured in report["trees"].items():
        cold, served = measured["cold_search"], measured["serve"]
        runs = cold["runs"]
        print(f"\n== {label} ({measured['src']})")
        print(
            f"cold `sendsearch search`: median {statistics.median(runs):.2f} s "
            f"(min {min(runs):.2f}, max {max(runs):.2f}; runs {', '.join(f'{r:.2f}' for r in runs)})"
        )
        for phase, (seconds, loaded) in cold["phases"]["marks"].items():
            print(f"  {phase:<24}{seconds:7.2f} s   loaded: {', '.join(loaded) or '-'}")
        ov = cold["phases"]["openvino"]
        print(f"  backend: {cold['phases']['backend']}")
        print("  openvino calls: " + ", ".join(f"{k} {v:.2f} s" for k, v in ov.items()))
        print("  imports (cumulative): " + ", ".join(f"{k} {v:.2f} s" for k, v in cold["imports"].items()))
        replies = served["reply_seconds"]
        print(
            f"serve: page answers after {served['ready_seconds']:.1f} s; first reply {replies[0]:.2f} s, "
            f"later replies median {statistics.median(replies[1:]):.2f} s "
            f"({', '.join(f'{r:.2f}' for r in replies[1:])})"
        )
        for size in ("desktop", "phone"):
            print(f"  replies at {size}:")
            for reply in served[f"replies_{size}"]:
                print(f"    {reply['words']:>5} words {reply['height_px']:>6} px  {reply['question']}")


if __name__ == "__main__":
    main()
