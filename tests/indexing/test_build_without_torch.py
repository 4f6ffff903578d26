"""With the converted model cached, `build`, `add` and `fetch` load neither PyTorch nor
sentence-transformers (issue 19: a build paid seconds of imports to count word pieces), and
their vectors and word-piece counts are those of the full model."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ..conftest import CORPUS, ROOT, SEED_PAGES, folder_of
from ..parliament_standin import ParliamentStandIn, synthetic_records

pytestmark = pytest.mark.slow

HEAVY = ("torch", "sentence_transformers", "transformers")
PROBE = """
import json, sys
from sendsearch.cli import main
for arguments in json.loads(sys.argv[1]):
    try:
        main(arguments, prog_name="sendsearch", standalone_mode=False)
    except SystemExit as stop:
        assert not stop.code, (arguments, stop.code)
print(json.dumps({name: name in sys.modules for name in %r}))
"""


def test_build_add_and_fetch_load_neither_torch_nor_sentence_transformers(real_embedder, tmp_path):
    real_embedder.encode(["converts and caches the model if this machine has not yet"])
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for page in SEED_PAGES[:3]:
        (corpus / page.name).write_bytes(page.read_bytes())
    extra = tmp_path / "extra.txt"
    extra.write_bytes(SEED_PAGES[3].read_bytes())
    with ParliamentStandIn(synthetic_records(count=24)) as server:
        runs = [
            ["build", str(corpus), "--index", str(tmp_path / "ix"), "-q"],
            ["add", str(extra), "--index", str(tmp_path / "ix"), "-q"],
            [
                "fetch",
                "--from",
                "2024-01-01",
                "--to",
                "2024-01-31",
                "--topic",
                "all",
                "--api",
                server.url,
                "--out",
                str(tmp_path / "records"),
                "--index",
                str(tmp_path / "ix"),
                "-q",
            ],
        ]
        done = subprocess.run(
            [sys.executable, "-c", PROBE % (HEAVY,), json.dumps(runs)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            timeout=600,
        )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == dict.fromkeys(HEAVY, False)
    assert "Updated" in done.stdout


def _texts() -> list[str]:
    """Questions and answers of the bundled corpus: short and long, some past 256 word pieces."""
    texts = []
    with gzip.open(CORPUS / "parliament" / "send-written-answers.jsonl.gz", "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            record = json.loads(line)
            texts += [record["questionText"], record["answerText"]]
            if number == 30:
                break
    return [*texts, "word " * 400, "EHC"]


def test_bulk_vectors_and_word_piece_counts_are_the_full_models(real_embedder):
    from sendsearch.indexing.embedding import SentenceTransformerEmbedder

    real_embedder.encode(["converts and caches the model if this machine has not yet"])
    light = SentenceTransformerEmbedder(precision="fp32")
    assert light._questions is not None, "the converted model is not cached"
    full = SentenceTransformerEmbedder(precision="fp32", backend="torch")
    texts = _texts()
    bulk = light.encode(texts)  # more than one batch: the asynchronous bulk path
    assert np.abs(bulk - full.encode(texts)).max() < 1e-5
    assert np.abs(light.encode(texts[:3]) - bulk[:3]).max() < 1e-5  # the one-question path agrees
    assert light.count_tokens(texts) == full.count_tokens(texts)
    assert max(light.count_tokens(texts)) > 256  # counts are not cut at the model's input length


def test_a_build_with_the_light_path_matches_one_with_the_full_model(real_embedder, tmp_path):
    """The same corpus built both ways gives the same chunks and vectors."""
    from sendsearch.indexing.builder import build_index
    from sendsearch.indexing.embedding import SentenceTransformerEmbedder
    from sendsearch.search.index import Index

    light = SentenceTransformerEmbedder(precision="fp32")
    full = SentenceTransformerEmbedder(precision="fp32", backend="torch")
    indexes = []
    for name, embedder in (("light", light), ("full", full)):
        build_index(list(SEED_PAGES), tmp_path / name, embedder)
        indexes.append(Index.open(tmp_path / name, embedder=embedder))
    assert indexes[0].manifest.chunks == indexes[1].manifest.chunks
    a, b = (folder_of(index).vectors for index in indexes)
    ids = a.ids()
    assert np.abs(a.vectors(ids) - b.vectors(ids)).max() < 1e-5
