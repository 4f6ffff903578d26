"""Shared fixtures. All state lives under pytest's tmp_path; nothing touches index/."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from sendsearch.search.folder import FolderBackend

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
# The five seed pages at the top of the bundled corpus (the written answers are in corpus/parliament/).
SEED_PAGES = sorted(CORPUS.glob("*.txt"))
SHARED = ROOT.parent / "shared"
SEND_ANSWERS = SHARED / "data" / "send-written-answers.jsonl"
ALL_ANSWERS = SHARED / "data" / "commons-written-answers.jsonl.gz"
EVAL = SHARED / "eval"

needs_shared = pytest.mark.skipif(
    not (SEND_ANSWERS.exists() and EVAL.exists()), reason="../shared (data and eval) is not present on this machine"
)


@pytest.fixture(autouse=True, scope="session")
def _one_tls_context_for_httpx() -> Iterator[None]:
    """``httpx.get`` builds a new TLS context for every call, reading certifi's bundle (about
    35 ms each, seconds over the suite); the tests speak plain HTTP on loopback, so the
    default context is built once and shared."""
    import functools

    import httpx._transports.default as transports

    build = transports.create_ssl_context
    shared = functools.cache(lambda: build())

    def create_ssl_context(verify: object = True, cert: object = None, trust_env: bool = True) -> object:
        if verify is True and cert is None and trust_env:
            return shared()
        return build(verify=verify, cert=cert, trust_env=trust_env)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transports, "create_ssl_context", create_ssl_context)
        yield


class FakeEmbedder:
    """A deterministic bag-of-words embedder: similar words give similar vectors.

    Each lower-cased word (and its 5-letter prefix, a crude stem) is hashed to a signed
    coordinate. It records every text it encodes, so tests can check what was embedded.
    """

    def __init__(self, dimension: int = 64, name: str = "fake-hash-64") -> None:
        self.name = name
        self.dimension = dimension
        self.max_tokens = 254
        self.precision = "fp32"
        # The weak-match cosines of the model it stands in for (all-MiniLM-L6-v2's).
        self.relevance = {"floor": 0.30, "term_check_below": 0.45}
        self.encoded: list[str] = []

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in re.findall(r"[a-z0-9£]+", text.lower()):
            for feature in (word, word[:5]):
                digest = hashlib.md5(feature.encode(), usedforsecurity=False).digest()
                vector[digest[0] % self.dimension] += 1.0 if digest[1] % 2 else -1.0
        norm = np.linalg.norm(vector)
        if norm == 0:
            vector[0] = 1.0
            return vector
        return vector / norm

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        self.encoded.extend(texts)
        return np.vstack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)

    def encode_document(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        return self.encode(texts, batch_size=batch_size)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) * 4 // 3 + 1 for t in texts]


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def use_fake_embedder(monkeypatch: pytest.MonkeyPatch, fake_embedder: FakeEmbedder) -> Iterator[FakeEmbedder]:
    """Register the fake embedder under its name and make it the configured model, so every
    command (the CLI included) builds and searches with it, through the public hook."""
    from sendsearch import register_embedder, unregister_embedder

    register_embedder(fake_embedder.name, lambda: fake_embedder)
    monkeypatch.setenv("SENDSEARCH_MODEL", fake_embedder.name)
    yield fake_embedder
    unregister_embedder(fake_embedder.name)


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private copy of the bundled corpus's five seed pages."""
    target = tmp_path / "corpus"
    target.mkdir()
    for page in SEED_PAGES:
        shutil.copy(page, target / page.name)
    return target


@pytest.fixture(scope="session")
def built_seed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five seed documents indexed once per session with the fake embedder."""
    from sendsearch.indexing.builder import build_index

    folder = tmp_path_factory.mktemp("seed")
    corpus = folder / "corpus"
    corpus.mkdir()
    for page in SEED_PAGES:
        shutil.copy(page, corpus / page.name)
    build_index([corpus], folder / "index", FakeEmbedder())
    return folder / "index"


@pytest.fixture
def seed_index(tmp_path: Path, corpus_copy: Path, fake_embedder: FakeEmbedder, built_seed_index: Path):
    """An index of the five seed documents built with the fake embedder: a private copy of
    the session's, made as if built here (its recorded source is this test's corpus)."""
    import dataclasses

    from sendsearch import Index
    from sendsearch.indexing.manifest import read_manifest, write_manifest

    directory = tmp_path / "index"
    shutil.copytree(built_seed_index, directory)
    manifest = read_manifest(directory)
    write_manifest(directory, dataclasses.replace(manifest, sources=[str(corpus_copy.absolute())]))
    return Index.open(directory, embedder=fake_embedder)


@pytest.fixture(scope="session")
def real_embedder():
    """The real all-MiniLM-L6-v2, loaded once per test session."""
    from sendsearch.indexing.embedding import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def eval_index(tmp_path_factory: pytest.TempPathFactory, real_embedder):
    """The bundled corpus indexed with the real model: the five seeds and the 721 SEND
    written answers, which is also the evaluation corpus of ../shared/eval."""
    from sendsearch import Index

    index, _report = Index.build([CORPUS], tmp_path_factory.mktemp("eval") / "index", embedder=real_embedder)
    return index


def folder_of(index) -> FolderBackend:
    """The folder store behind an index (the tests that reach into its files need it)."""
    from sendsearch.search.folder import FolderBackend

    backend = index.snapshot().backend
    assert isinstance(backend, FolderBackend)
    return backend


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """A throwaway PostgreSQL 18 with pgvector for the session (tests/postgres_server.py);
    the tests that need it skip, saying why, only where it cannot start."""
    from tests.postgres_server import LocalPostgres, why_unavailable

    reason = why_unavailable()
    if reason is not None:
        pytest.skip(f"no PostgreSQL for these tests: {reason}")
    server = LocalPostgres.create()
    server.start()
    try:
        yield server
    finally:
        server.remove()


_databases = iter(range(1, 1_000_000))


@pytest.fixture
def postgres_dsn(postgres_server) -> str:
    """A new empty database with the ``vector`` extension on the session's server: its DSN."""
    import psycopg

    name = f"test_{next(_databases)}"
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    dsn = postgres_server.dsn(name)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return str(dsn)
