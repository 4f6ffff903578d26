"""A new process answers a question without loading PyTorch or sentence-transformers, with
the same vectors (issue 12: fast from the first question). Timings are in
benchmarks/cold_start.py, not here."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow

QUESTIONS = [
    "How long does a council have to complete an EHC needs assessment?",
    "Stockport high needs",
    "word " * 400,  # longer than the model takes: cut the same way
]


def test_questions_are_encoded_without_pytorch_and_with_the_same_vectors(real_embedder):
    from sendsearch.indexing.embedding import SentenceTransformerEmbedder

    real_embedder.encode(["converts and caches the model if this machine has not yet"])
    probe = (
        "import sys\n"
        "from sendsearch.indexing.embedding import SentenceTransformerEmbedder\n"
        "embedder = SentenceTransformerEmbedder()\n"
        f"vectors = embedder.encode({QUESTIONS!r})\n"
        "print(embedder.backend, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
        "sys.stdout.flush()\n"
        "import numpy; numpy.save(sys.argv[1], vectors)\n"
    )
    out = ROOT / "test-artifacts" / "question-vectors.npy"
    out.parent.mkdir(exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", probe, str(out)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.stdout.split() == ["openvino", "False", "False"]
    light = np.load(out)
    torch_run = SentenceTransformerEmbedder(backend="torch", precision="fp32").encode(QUESTIONS)
    assert np.allclose((light * torch_run).sum(axis=1), 1.0, atol=1e-4)
