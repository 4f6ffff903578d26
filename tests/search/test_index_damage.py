"""A damaged index says so, in one line that says how to rebuild it from its own sources.

Damage is done to the real files on disk (SQLite, FAISS, NumPy, JSON) as a disk fault, a
half-finished copy or a hand edit would do it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from sendsearch import Index, IndexFormatError
from sendsearch.cli import main
from sendsearch.indexing.builder import build_index
from sendsearch.indexing.manifest import MANIFEST_NAME, read_manifest

ROOT = Path(__file__).resolve().parents[2]


def _generation(index: Index) -> Path:
    return index.directory / index.manifest.generation


def _garble(path: Path, start: int | None = None, length: int = 4096) -> None:
    """Overwrite bytes in the middle of a file, keeping its size."""
    data = bytearray(path.read_bytes())
    start = len(data) // 2 if start is None else start
    data[start : start + length] = bytes((b ^ 0x5A) for b in data[start : start + length])
    path.write_bytes(bytes(data))


def _edit_manifest(index: Index, **changes) -> None:
    path = index.directory / MANIFEST_NAME
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def _refused(directory: Path, *words: str) -> str:
    with pytest.raises(IndexFormatError) as caught:
        Index.open(directory)
    message = str(caught.value)
    for word in words:
        assert word in message
    assert "\n" not in message
    return message


def test_the_manifest_records_every_file_with_its_size_and_checksum(seed_index):
    generation = _generation(seed_index)
    recorded = seed_index.manifest.files
    on_disk = {p.relative_to(generation).as_posix() for p in generation.rglob("*") if p.is_file()}
    assert set(recorded) == on_disk - {MANIFEST_NAME}
    assert recorded["store.sqlite"]["size"] == (generation / "store.sqlite").stat().st_size
    assert len(recorded["vectors.faiss"]["sha256"]) == 64


@pytest.mark.parametrize(
    "part", ["store.sqlite", "vectors.faiss", "keyword/tokens.npy", "keyword/bm25s/data.csc.index.npy"]
)
def test_bytes_changed_inside_any_file_are_refused_at_open(seed_index, part):
    _garble(_generation(seed_index) / part, length=64)
    _refused(seed_index.directory, "is damaged", part, "does not match its recorded checksum", "rebuild it with")


def test_a_missing_or_emptied_file_is_refused(seed_index):
    generation = _generation(seed_index)
    (generation / "keyword" / "pair_codes.npy").unlink()
    _refused(seed_index.directory, "incomplete", "keyword/pair_codes.npy is missing")


def test_an_emptied_terms_file_is_refused(seed_index):
    generation = _generation(seed_index)
    (generation / "keyword" / "terms.json").write_text("[]")
    _refused(seed_index.directory, "damaged", "keyword/terms.json")


def test_an_index_whose_manifest_records_no_checksums_is_refused(seed_index):
    """An index from before checksums were recorded: its vectors or keyword arrays could be
    damaged in ways no structural check sees, so it is refused rather than served."""
    _edit_manifest(seed_index, files={})
    message = _refused(seed_index.directory, "records no checksums", "rebuild it with `sendsearch build")
    assert str(seed_index.directory) in message


def test_damage_found_in_the_middle_of_a_search_is_one_line(seed_index):
    """The index was sound when opened; its store is damaged while it serves."""
    store = seed_index.snapshot().backend.store.path
    data = store.read_bytes()
    store.write_bytes(data[:4096] + b"\xa5" * (len(data) - 4096))
    errors: list[BaseException] = []

    def search() -> None:  # a new thread opens its own connection, as a server's workers do
        try:
            seed_index.search("Stockport SEND spending")
        except Exception as error:  # noqa: BLE001 - whatever it is, the test reports it
            errors.append(error)

    worker = threading.Thread(target=search)
    worker.start()
    worker.join()
    [error] = errors
    assert isinstance(error, IndexFormatError)
    message = str(error)
    assert message.startswith(f"the index at {seed_index.directory} is damaged")
    assert "rebuild it with `sendsearch build" in message


def test_info_and_search_on_a_damaged_index_print_one_line(use_fake_embedder, corpus_copy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["build", str(corpus_copy), "--index", "ix", "-q"]).exit_code == 0
    _garble(next((tmp_path / "ix").glob("gen-*")) / "store.sqlite")
    for command in (["info", "--index", "ix"], ["search", "SEND", "--index", "ix"]):
        result = runner.invoke(main, command)
        assert result.exit_code == 1
        assert "Traceback" not in result.output
        [line] = result.output.strip().splitlines()
        assert line.startswith("Error: the index at ix is damaged")
        # The advice rebuilds from the index's own sources, not from corpus/.
        assert f"rebuild it with `sendsearch build {corpus_copy} --index ix`" in line


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"dimension": "64"}, ["'dimension' is str"]),
        ({"chunking": []}, ["'chunking' is list"]),
        ({"documents": True}, ["'documents' is bool"]),
        ({"generation": 5}, ["'generation' is int"]),
        ({"sources": [1, 2]}, ["'sources'"]),
        ({"vectors": {"kind": "magic"}}, ["vectors.kind"]),
        ({"chunking": {"max_tokens": 200}}, ["chunking.overlap_tokens"]),
        ({"chunking": {"max_tokens": 200, "overlap_tokens": 40, "colour": "red"}}, ["settings"]),
        ({"files": {"../../etc/passwd": {"size": 1, "sha256": "0" * 64}}}, ["outside the generation"]),
    ],
)
def test_manifest_fields_of_the_wrong_type_are_refused(seed_index, changes, words):
    _edit_manifest(seed_index, **changes)
    _refused(seed_index.directory, *words)


def test_a_generation_outside_the_index_folder_is_refused(seed_index, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    generation = _generation(seed_index)
    os.rename(generation, elsewhere / generation.name)
    _edit_manifest(seed_index, generation=f"../elsewhere/{generation.name}")
    _refused(seed_index.directory, "not a generation folder inside the index")
    # Nor through a link in the index folder.
    _edit_manifest(seed_index, generation=generation.name)
    generation.symlink_to(elsewhere / generation.name, target_is_directory=True)
    _refused(seed_index.directory, "not a folder inside it")


def test_an_open_index_keeps_serving_when_the_next_manifest_is_damaged(seed_index, monkeypatch):
    from sendsearch.search import index as index_module

    loads = []
    real = index_module._load_snapshot

    def counted(directory):
        loads.append(directory)
        return real(directory)

    monkeypatch.setattr(index_module, "_load_snapshot", counted)
    before = seed_index.search("Stockport consultation", k=1)
    generation = _generation(seed_index)
    damaged = generation.with_name("gen-20990101T000000-d4m4g3")
    shutil.copytree(generation, damaged)
    _garble(damaged / "vectors.faiss", length=64)
    _edit_manifest(seed_index, generation=damaged.name)  # a new manifest, naming a damaged generation
    for _ in range(3):
        assert seed_index.search("Stockport consultation", k=1) == before
    assert len(loads) == 1  # examined once, not re-checked by every search


# -- publishing -------------------------------------------------------------------------------------
def test_every_file_is_flushed_before_the_manifest_is_published(tmp_path, corpus_copy, fake_embedder, monkeypatch):
    flushed: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        flushed.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    build_index([corpus_copy], tmp_path / "ix", fake_embedder)
    generation = tmp_path / "ix" / read_manifest(tmp_path / "ix").generation
    published = next(i for i, path in enumerate(flushed) if Path(path).name.startswith(f".{MANIFEST_NAME}"))
    before = set(flushed[:published])
    files = {str(p) for p in generation.rglob("*") if p.is_file()}
    folders = {str(generation), str(generation / "keyword"), str(tmp_path / "ix")}
    assert files | folders <= before


@pytest.mark.slow  # a process of its own, killed
def test_a_writer_killed_while_publishing_leaves_the_old_index_and_no_debris(tmp_path, corpus_copy, fake_embedder):
    """kill -9 between writing the new manifest and renaming it: the previous index serves,
    and the next build clears the half-written manifest it left."""
    index_dir = tmp_path / "ix"
    build_index([corpus_copy], index_dir, fake_embedder)
    generation = read_manifest(index_dir).generation
    (corpus_copy / "extra.txt").write_text("Extra page\n\nNew text about Portage.", encoding="utf-8")
    script = tmp_path / "publish_and_hang.py"
    script.write_text(
        "import os, sys, time\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.conftest import FakeEmbedder\n"
        "from sendsearch.indexing.builder import build_index\n"
        "real = os.replace\n"
        "def hang(source, target):\n"
        "    if str(target).endswith('manifest.json'):\n"
        "        print('ready', flush=True)\n"
        "        time.sleep(600)\n"
        "    real(source, target)\n"
        "os.replace = hang\n"
        f"build_index([{str(corpus_copy)!r}], __import__('pathlib').Path({str(index_dir)!r}), FakeEmbedder())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        assert process.stdout.readline().strip() == b"ready", process.stderr.read().decode()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert list(index_dir.glob(f".{MANIFEST_NAME}.*.tmp"))  # the killed writer's leftover
    assert read_manifest(index_dir).generation == generation
    assert Index.open(index_dir, embedder=fake_embedder).search("Stockport consultation", k=1)
    started = time.perf_counter()
    report = build_index([corpus_copy], index_dir, fake_embedder)
    assert time.perf_counter() - started < 60
    assert report.documents == 6
    assert not list(index_dir.glob(f".{MANIFEST_NAME}.*.tmp"))


# -- damage while serving ---------------------------------------------------------------------------
def _flip_in_place(path: Path, needle: bytes) -> None:
    """Change the bytes of ``needle`` inside a file, in place (same inode, same size), as a
    disk fault or a stray write would."""
    with open(path, "r+b") as handle:
        data = handle.read()
        at = data.find(needle)
        assert at >= 0, needle
        handle.seek(at)
        handle.write(needle.swapcase())


def _served(index: Index, query: str = "How much does Stockport spend on SEND?") -> list[str]:
    return [passage.text for passage in index.search(query, k=3)]


def test_store_bytes_changed_while_serving_are_refused_not_served(seed_index, caplog):
    """The battery's case: text in a live store.sqlite changed under an open index (opened
    immutable, so SQLite would serve it)."""
    before = _served(seed_index)
    assert any("Stockport" in text for text in before)
    _flip_in_place(seed_index.snapshot().backend.store.path, b"Stockport")
    with caplog.at_level("ERROR", logger="sendsearch.index"):
        for _ in range(3):
            with pytest.raises(IndexFormatError) as caught:
                _served(seed_index)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"the index at {seed_index.directory} is damaged")
    assert "store.sqlite changed while it was being served" in message
    assert "rebuild it with `sendsearch build" in message
    assert [record.getMessage() for record in caplog.records] == [message]  # logged once, one line
    with pytest.raises(IndexFormatError):
        seed_index.document_text("001_96ab44ec7aed3ea8.txt")
    with pytest.raises(IndexFormatError):
        seed_index.info()


def test_keyword_arrays_changed_while_serving_are_refused(seed_index):
    """Memory-mapped keyword arrays see the change at once: the result must not be served."""
    _served(seed_index)
    path = _generation(seed_index) / "keyword" / "bm25s" / "data.csc.index.npy"
    data = path.read_bytes()
    with open(path, "r+b") as handle:
        handle.seek(len(data) - 64)
        handle.write(bytes(64))
    with pytest.raises(IndexFormatError, match=r"data\.csc\.index\.npy changed while it was being served"):
        _served(seed_index)


def test_a_repaired_generation_serves_again(seed_index):
    before = _served(seed_index)
    store = seed_index.snapshot().backend.store.path
    original = store.read_bytes()
    _flip_in_place(store, b"Stockport")
    with pytest.raises(IndexFormatError):
        _served(seed_index)
    store.write_bytes(original)  # put back as it was (a restore from a backup)
    assert _served(seed_index) == before


def test_a_file_touched_but_unchanged_keeps_serving(seed_index):
    before = _served(seed_index)
    store = seed_index.snapshot().backend.store.path
    os.utime(store, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert _served(seed_index) == before


def test_searches_on_an_unchanged_index_read_no_checksum(seed_index, monkeypatch):
    """The per-search check costs a stat per file; the files are hashed again only after a change."""
    import hashlib

    _served(seed_index)
    hashed: list[object] = []
    real = hashlib.file_digest

    def counted(*args, **kwargs):
        hashed.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "file_digest", counted)
    for _ in range(5):
        _served(seed_index)
    assert hashed == []


def test_a_damaged_live_index_is_a_503_over_http(seed_index, caplog):
    import httpx

    from sendsearch.serve.api import rest_app

    from ..serving import serving

    with serving(rest_app(seed_index)) as url, caplog.at_level("ERROR", logger="sendsearch.index"):
        params: dict[str, str | int] = {"q": "How much does Stockport spend on SEND?", "k": 3}
        assert httpx.get(url + "search", params=params).status_code == 200
        _flip_in_place(seed_index.snapshot().backend.store.path, b"Stockport")
        replies = [httpx.get(url + "search", params=params) for _ in range(4)]
    assert [reply.status_code for reply in replies] == [503] * 4
    error = replies[0].json()["error"]
    assert "changed while it was being served" in error
    assert "Stockport" not in json.dumps([reply.json() for reply in replies]).replace(str(seed_index.directory), "")
    assert len([r for r in caplog.records if r.name == "sendsearch.index"]) == 1
