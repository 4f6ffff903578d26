"""Nothing leaves the machine when sendsearch runs the model (marked slow: processes of their own
that convert the model, and quantise it to int8, in a fresh cache: about three minutes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROBE = """
import multiprocessing, os, socket, sys
attempts = []
def connect(self, address):
    attempts.append(str(address))
    raise OSError("no network in this test")
def start(self):
    attempts.append("child process " + getattr(getattr(self, "_target", None), "__name__", "?"))
socket.socket.connect = connect
multiprocessing.Process.start = start
if sys.argv[1] == "openvino alone":
    import openvino
else:
    from sendsearch.indexing.embedding import SentenceTransformerEmbedder
    # One question (the latency path) and a bulk batch (the converter's path on a first start).
    embedder = SentenceTransformerEmbedder(precision=sys.argv[1])
    embedder.encode(["EHC plans"])
    embedder.encode(["EHC plans", "and a second text"] * 9)
    if "nncf" in sys.modules:  # int8: NNCF quantised the model, and its telemetry is its stub
        import nncf.telemetry.wrapper
        assert type(nncf.telemetry.wrapper.telemetry).__name__ == "MagicMock", "NNCF's telemetry is live"
print(attempts, os.path.exists(os.path.expanduser("~/intel")), flush=True)
# Out without the interpreter's teardown: OpenVINO's bulk (async) models sometimes abort there
# ("terminate called without an active exception"; seen on main too), which is not what this checks.
os._exit(0)
"""


def probe(run: str, home: Path) -> tuple[str, str]:
    """The network attempts and child processes of one run, and whether it wrote ~/intel."""
    environment = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / "cache"), "CI": ""}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, run], env=environment, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    attempts, wrote_home = done.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    return attempts, wrote_home


def test_openvino_alone_would_send_an_event(tmp_path):
    """The check sees the attempt: OpenVINO imported on its own, with a fresh home (no opt-out
    file in ~/intel), starts a child process to send a usage event and writes ~/intel."""
    attempts, wrote_home = probe("openvino alone", tmp_path)
    assert "child process _send_func" in attempts
    assert wrote_home == "True"


def test_sendsearch_sends_nothing_converting_or_loading_the_model(tmp_path):
    """openvino-telemetry (imported by OpenVINO's model converter) is blocked: no socket, no
    child process, nothing under ~/intel, neither on a first start (a fresh cache: the model is
    converted) nor on the next (the converted model loaded)."""
    assert probe("fp32", tmp_path) == ("[]", "False")
    assert any((tmp_path / "cache").rglob("model.xml"))
    assert probe("fp32", tmp_path) == ("[]", "False")


def test_quantising_to_int8_sends_nothing(tmp_path):
    """NNCF starts openvino-telemetry too; a first int8 start converts and quantises the model
    (a fresh cache), the next loads both from the cache."""
    assert probe("int8", tmp_path) == ("[]", "False")
    assert any((tmp_path / "cache").rglob("int8-nncf*/model.xml"))
    assert probe("int8", tmp_path) == ("[]", "False")
