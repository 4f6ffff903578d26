"""The ``sendsearch`` command in a process of its own, with the tests' fake embedder.

    python tests/cli_driver.py ARGS...             # as `sendsearch ARGS...`
    SENDSEARCH_STOP_AT=published python tests/cli_driver.py add ...

With ``SENDSEARCH_STOP_AT`` naming a step of a build or update (``manifest.step``), the
command prints ``at <step>`` on stdout when it gets there and waits, for a test to send it a
signal at that moment.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sendsearch import register_embedder
from sendsearch.cli import main
from sendsearch.indexing import manifest
from tests.conftest import FakeEmbedder

embedder = FakeEmbedder()
register_embedder(embedder.name, lambda: embedder)
os.environ["SENDSEARCH_MODEL"] = embedder.name
stop_at = os.environ.get("SENDSEARCH_STOP_AT")
if stop_at:

    def step(name: str) -> None:
        if name == stop_at:
            print(f"at {name}", flush=True)
            time.sleep(600)

    manifest.step = step

main(sys.argv[1:], prog_name="sendsearch")
