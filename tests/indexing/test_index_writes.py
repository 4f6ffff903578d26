"""Writing an index when things go wrong: interruptions, a read-only folder, a full disk,
arguments that are not text.

Ctrl-C (SIGINT) and SIGTERM at every named moment of `build`, `add` and `remove` leave a
usable index, the old one or the new one, whole, and the command says which. The moments
are the ``manifest.step`` calls: a signal is sent to the writing process when it reaches one
(a real signal: in this process for SIGINT, from outside for SIGTERM), then the folder is
opened and searched. Until the manifest's rename the old index must be there; from the
rename on, the new one.

A read-only folder and a full disk are real ones where the machine allows (a read-only bind
mount and a small tmpfs, in user and mount namespaces of their own); a file size limit
(RLIMIT_FSIZE) cuts writes short everywhere. Each is one line, and the index stays as it was.
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sendsearch import Index
from sendsearch.cli import main
from sendsearch.indexing import manifest
from sendsearch.indexing.manifest import read_manifest

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tests" / "cli_driver.py"

BUILD_STEPS = ["read", "embedded", "keyword saved", "files recorded", "manifest flushed"]
UPDATE_STEPS = ["read", "store copied", "embedded", "keyword saved", "files recorded", "manifest flushed"]
# From the manifest's rename on, the new index is the published one.
AFTER_STEPS = ["manifest renamed", "published", "old generations removed"]
CASES = (
    [("build", step, "old") for step in BUILD_STEPS]
    + [(command, step, "old") for command in ("add", "remove") for step in UPDATE_STEPS]
    + [(command, step, "new") for command in ("build", "add", "remove") for step in AFTER_STEPS]
)


@pytest.fixture(scope="module")
def built(tmp_path_factory, request) -> Path:
    """The five seed pages indexed once; each test works on a copy."""
    from ..conftest import SEED_PAGES, FakeEmbedder

    folder = tmp_path_factory.mktemp("interrupts")
    corpus = folder / "corpus"
    corpus.mkdir()
    for page in SEED_PAGES:
        shutil.copy(page, corpus / page.name)
    from sendsearch.indexing.builder import build_index

    build_index([corpus], folder / "ix", FakeEmbedder())
    return folder


@pytest.fixture
def setting(built, tmp_path) -> Path:
    shutil.copytree(built, tmp_path, dirs_exist_ok=True)
    (tmp_path / "extra.html").write_text(
        "<h1>Short breaks</h1><p>Short breaks for disabled children in Stockport.</p>", encoding="utf-8"
    )
    return tmp_path


def _arguments(command: str, folder: Path) -> list[str]:
    index = str(folder / "ix")
    if command == "build":
        return ["build", str(folder / "corpus"), str(folder / "extra.html"), "--index", index, "-q"]
    if command == "add":
        return ["add", str(folder / "extra.html"), "--index", index, "-q"]
    return ["remove", "001_96ab44ec7aed3ea8.txt", "--index", index]


def _documents_after(command: str, outcome: str) -> int:
    if outcome == "old":
        return 5
    return {"build": 6, "add": 6, "remove": 4}[command]


def _check_left(folder: Path, old: str, command: str, outcome: str, message: str, fake_embedder) -> None:
    """The folder holds the old or the new index, as the message says, whole and searchable."""
    index_dir = folder / "ix"
    current = read_manifest(index_dir).generation
    if outcome == "old":
        assert current == old
        assert f"{index_dir} still holds the previous index, unchanged." in message
    else:
        assert current != old
        assert f"The new index was published before it stopped: {index_dir} holds the new one." in message
    index = Index.open(index_dir, embedder=fake_embedder)
    assert index.info().documents == _documents_after(command, outcome)
    assert index.search("Stockport consultation", k=3)
    # Nothing half-made is left: the current generation, perhaps the previous, no other.
    assert {p.name for p in index_dir.glob("gen-*")} <= {current, old}
    assert not list(index_dir.glob(".manifest.json.*.tmp"))


# The moments either side of the manifest's rename run with the fast tests; every other with the slow ones.
FAST = {("add", "manifest flushed"), ("add", "manifest renamed"), ("build", "published"), ("remove", "files recorded")}
MARKED = [pytest.param(*case, marks=() if case[:2] in FAST else pytest.mark.slow, id="-".join(case)) for case in CASES]


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt, as in a terminal, even where the suite itself was
    started as a background job (a shell starts those with SIGINT ignored, and Python then
    keeps it ignored)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.parametrize(("command", "step", "outcome"), MARKED)
def test_ctrl_c_at_each_step_leaves_the_old_or_the_new_index_and_says_which(
    setting, use_fake_embedder, monkeypatch, ctrl_c_raises, command, step, outcome
):
    old = read_manifest(setting / "ix").generation
    reached: list[str] = []

    def interrupt_at(name: str) -> None:
        if name == step:
            reached.append(name)
            os.kill(os.getpid(), signal.SIGINT)  # Python raises KeyboardInterrupt here

    monkeypatch.setattr(manifest, "step", interrupt_at)
    result = CliRunner().invoke(main, _arguments(command, setting))
    monkeypatch.undo()
    assert reached == [step]
    assert result.exit_code == 130, result.output
    assert "Traceback" not in result.output
    _check_left(setting, old, command, outcome, result.output, use_fake_embedder)


def test_sigterm_in_this_process_just_after_an_add_is_published(setting, use_fake_embedder, monkeypatch):
    """SIGTERM raises where Ctrl-C would while a command runs (Python's default would end the
    process, and this test run, at once); the processes of their own are in the slow tests."""
    import signal as signals

    old = read_manifest(setting / "ix").generation
    before = signals.getsignal(signals.SIGTERM)

    def terminate_at(name: str) -> None:
        if name == "published":
            os.kill(os.getpid(), signals.SIGTERM)

    monkeypatch.setattr(manifest, "step", terminate_at)
    result = CliRunner().invoke(main, _arguments("add", setting))
    monkeypatch.undo()
    assert signals.getsignal(signals.SIGTERM) == before  # put back when the command ends
    assert result.exit_code == 128 + signals.SIGTERM, result.output
    _check_left(setting, old, "add", "new", result.output, use_fake_embedder)


def _terminate_at(folder: Path, command: str, step: str, outcome: str, fake_embedder) -> None:
    old = read_manifest(folder / "ix").generation
    process = subprocess.Popen(
        [sys.executable, str(DRIVER), *_arguments(command, folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SENDSEARCH_STOP_AT": step},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"at {step}"
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM, errors
    assert "Traceback" not in errors
    [line] = [text for text in errors.splitlines() if text.strip()]
    assert line.startswith("Interrupted. ")
    _check_left(folder, old, command, outcome, line, fake_embedder)


@pytest.mark.slow  # a process per case
@pytest.mark.parametrize(("command", "step", "outcome"), CASES)
def test_sigterm_at_each_step_leaves_the_old_or_the_new_index_and_says_which(
    setting, fake_embedder, command, step, outcome
):
    _terminate_at(setting, command, step, outcome, fake_embedder)


@pytest.mark.slow  # processes of their own
@pytest.mark.parametrize(("step", "outcome"), [("files recorded", "old"), ("published", "new")])
def test_sigterm_just_before_and_after_an_add_is_published(setting, fake_embedder, step, outcome):
    """The issue's case (the signal just after the manifest's rename) and the moment before
    it, in every run of the fast tests; the slow ones cover every step."""
    _terminate_at(setting, "add", step, outcome, fake_embedder)


# -- a folder that cannot be written -------------------------------------------------------------
def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True, check=False).returncode == 0


needs_namespaces = pytest.mark.skipif(
    not _namespaces_work(),
    reason="unshare -rm (user and mount namespaces, for a real read-only or full disk) fails here",
)


def _driver(*arguments: str | Path) -> str:
    return shlex.join([sys.executable, str(DRIVER), *map(str, arguments)])


def _one_error_line(errors: str) -> str:
    assert "Traceback" not in errors
    [line] = [text for text in errors.splitlines() if text.strip()]
    assert line.startswith("Error: ")
    return line


def _unchanged(folder: Path, old: str, fake_embedder) -> None:
    index_dir = folder / "ix"
    assert read_manifest(index_dir).generation == old
    assert {p.name for p in index_dir.glob("gen-*")} == {old}
    index = Index.open(index_dir, embedder=fake_embedder)
    assert index.info().documents == 5
    assert index.search("Stockport consultation", k=3)


@pytest.mark.slow  # processes of their own
@needs_namespaces
@pytest.mark.parametrize("command", ["build", "add", "remove"])
def test_a_read_only_index_folder_is_one_line_and_changes_nothing(setting, fake_embedder, command):
    index_dir = setting / "ix"
    old = read_manifest(index_dir).generation
    script = f"mount --bind -o ro {shlex.quote(str(index_dir))} {shlex.quote(str(index_dir))} && " + _driver(
        *_arguments(command, setting)
    )
    result = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    line = _one_error_line(result.stderr)
    assert line == f"Error: cannot write to {index_dir}: Read-only file system; the index there is unchanged"
    _unchanged(setting, old, fake_embedder)


def test_a_folder_that_refuses_writes_is_one_line_in_process(setting, use_fake_embedder, monkeypatch):
    """The same seam without namespaces: the lock file cannot be opened for writing."""
    import errno

    import sendsearch.indexing.builder as builder

    old = read_manifest(setting / "ix").generation

    def refuse(path, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(builder, "exclusive", refuse)  # the lock file (durable.exclusive) cannot be made
    result = CliRunner().invoke(main, _arguments("add", setting))
    monkeypatch.undo()
    assert result.exit_code == 1
    assert _one_error_line(result.output).endswith("Read-only file system; the index there is unchanged")
    _unchanged(setting, old, use_fake_embedder)


def _used_kilobytes(folder: Path) -> int:
    return sum(-(-p.stat().st_size // 4096) * 4 for p in folder.rglob("*") if p.is_file())


@pytest.mark.slow  # processes of their own
@needs_namespaces
@pytest.mark.parametrize("room_kb", [0, 48, 96])
def test_a_full_disk_is_one_line_and_leaves_the_index_as_it_was(setting, fake_embedder, room_kb):
    """A tmpfs with the index and ``room_kb`` to spare: the new generation runs out of room
    at a different file each time (the store's copy, the vectors, the keyword arrays)."""
    disk, out = setting / "disk", setting / "out"
    disk.mkdir()
    out.mkdir()  # what the commands print goes beside the full disk, not onto it
    size = _used_kilobytes(setting / "ix") + 64 + room_kb
    index_dir = disk / "ix"
    steps = [
        f"mount -t tmpfs -o size={size}k tmpfs {shlex.quote(str(disk))}",
        f"cp -a {shlex.quote(str(setting / 'ix'))} {shlex.quote(str(index_dir))}",
        f"{{ {_driver('add', setting / 'extra.html', setting / 'corpus', '--index', index_dir, '-q')} "
        f"2>{out}/add.err; echo $? > {out}/add.rc; }}",
        f"{_driver('info', '--index', index_dir, '--json')} > {out}/info.json",
        f"{_driver('search', 'Stockport consultation', '--index', index_dir, '--json')} > {out}/search.json",
        f"ls -a {index_dir} > {out}/listing",
    ]
    result = subprocess.run(["unshare", "-rm", "sh", "-c", " && ".join(steps)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (out / "add.rc").read_text().strip() == "1"
    line = _one_error_line((out / "add.err").read_text())
    assert line.startswith(f"Error: could not write the new index in {index_dir}: ")
    assert "the disk is full" in line or "(is the disk full?)" in line  # SQLite says "disk I/O error"
    assert line.endswith("; the index there is unchanged")
    details = json.loads((out / "info.json").read_text())
    assert details["documents"] == 5
    listing = (out / "listing").read_text().split()
    assert [name for name in listing if name.startswith("gen-")] == [details["generation"]]
    assert json.loads((out / "search.json").read_text())["passages"]


@pytest.mark.slow  # processes of their own
def test_a_write_cut_short_is_one_line_and_leaves_the_index_as_it_was(setting, fake_embedder):
    """A file size limit below the store's size: its copy stops part-way (EFBIG), as on a full disk."""
    old = read_manifest(setting / "ix").generation
    limit = (setting / "ix" / old / "store.sqlite").stat().st_size // 2

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, str(DRIVER), *_arguments("add", setting)],
        capture_output=True,
        text=True,
        preexec_fn=limited,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    line = _one_error_line(result.stderr)
    assert line.startswith(f"Error: could not write the new index in {setting / 'ix'}: the disk is full")
    assert line.endswith("; the index there is unchanged")
    _unchanged(setting, old, fake_embedder)


# -- arguments that are not text -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["search", "caf\udce9 EHC plans"], "the question"),
        (["search", "EHC plans", "--department", "Department for Educ\udce9tion"], "--department"),
        (["search", "EHC plans", "--from", "2024-01-0\udcff"], "--from"),
        (["remove", "001_96ab44ec7aed3ea8.tx\udcff"], "a document id"),
    ],
)
def test_a_byte_that_is_not_utf8_in_an_argument_is_one_line(setting, use_fake_embedder, arguments, named):
    old = read_manifest(setting / "ix").generation
    result = CliRunner().invoke(main, [*arguments, "--index", str(setting / "ix")])
    assert result.exit_code == 1
    line = _one_error_line(result.output)
    assert line == f"Error: {named} holds a byte that is not valid text (not UTF-8); nothing was done"
    _unchanged(setting, old, use_fake_embedder)


@pytest.mark.slow  # processes of their own
def test_a_non_utf8_question_from_a_real_command_line_is_one_line(setting):
    result = subprocess.run(
        [sys.executable, str(DRIVER), "search", b"caf\xe9 EHC plans", "--index", str(setting / "ix")],
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 1
    errors = result.stderr.decode("utf-8", "replace")
    assert _one_error_line(errors) == (
        "Error: the question holds a byte that is not valid text (not UTF-8); nothing was done"
    )


def test_the_library_refuses_a_lone_surrogate_naming_the_field(setting, fake_embedder):
    from sendsearch import QueryError
    from sendsearch.filters import FIELD_LABELS

    index = Index.open(setting / "ix", embedder=fake_embedder)
    with pytest.raises(QueryError) as caught:
        index.search("caf\ud800", k=3)
    assert caught.value.field == "query"
    with pytest.raises(QueryError) as caught:
        index.search("EHC", department="Educ\udce9tion")
    assert caught.value.field == "department"
    assert caught.value.worded(FIELD_LABELS["page"]).startswith("Department holds a byte or character")
