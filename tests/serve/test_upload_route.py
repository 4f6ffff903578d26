"""``POST /admin/upload`` over real HTTP: the page's one-request add, on whichever instance.

Refused without a session, over the bounds (files, bytes) and while another add runs, with
nothing added and nothing left behind; a bad file is skipped by name while good ones are
added; a hostile file name never becomes a path."""

from __future__ import annotations

import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import gradio as gr
import httpx
import pytest

from sendsearch.limits import MAX_UPLOAD_BYTES, MAX_UPLOAD_FILES
from sendsearch.serve import admin
from sendsearch.serve.admin import SESSION_COOKIE, AdminGuard
from sendsearch.serve.server import create_server

from ..serving import serving

pytestmark = pytest.mark.slow

PASSWORD = "upload-route-password"
PATIENCE = 120.0
PORTAGE = b"Portage in Trafford\n\nPortage home visiting supports pre-school children with SEND."
STATUS = "Index: status line"


@pytest.fixture
def site(seed_index, tmp_path: Path, monkeypatch) -> Iterator[SimpleNamespace]:
    """A server with adding on, whose temporary files (the route's folder, the spooled
    parts, add_uploads' folder) all go under ``scratch``, so a test sees what is left."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "unused"))
    folder = admin.use_private_gradio_temp_dir(parent=tmp_path)
    guard = AdminGuard(PASSWORD)
    with gr.Blocks() as blocks:
        gr.Markdown("page")
    app = create_server(blocks, seed_index, guard=guard, upload_folder=folder, upload_status=lambda: STATUS)
    with serving(app) as url:
        yield SimpleNamespace(url=url, index=seed_index, scratch=scratch, guard=guard, documents=_count(seed_index))


def _count(index) -> int:
    return int(index.info().documents)


def _cookies(site: SimpleNamespace) -> dict[str, str]:
    return {SESSION_COOKIE: site.guard.open_session()}


def _post(site: SimpleNamespace, files: list[tuple[str, bytes]], cookies: dict | None = None) -> httpx.Response:
    parts = [("files", (name, content, "application/octet-stream")) for name, content in files]
    return httpx.post(site.url + "admin/upload", files=parts, cookies=cookies, timeout=PATIENCE)


def _left(site: SimpleNamespace) -> list[Path]:
    return list(site.scratch.rglob("*"))


def test_signed_out_is_refused_and_nothing_added(site):
    reply = _post(site, [("portage.txt", PORTAGE)])
    assert reply.status_code == 401
    assert reply.json()["text"] == "Sign in with the admin password first; nothing was added."
    assert _count(site.index) == site.documents
    forged = _post(site, [("portage.txt", PORTAGE)], cookies={SESSION_COOKIE: "9999999999.x.bad"})
    assert forged.status_code == 401
    assert _left(site) == []


def test_a_signed_in_upload_is_added_with_the_message_and_status(site):
    reply = _post(site, [("portage-trafford.txt", PORTAGE), ("notes.exe", b"MZ")], _cookies(site))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["ok"]
    assert (body["added"], body["skipped"]) == (1, 1)
    assert body["message"].startswith("**1 added, 0 replaced, 0 unchanged, 1 skipped**")
    assert body["text"].startswith("1 added, 0 replaced, 0 unchanged, 1 skipped")
    assert "notes.exe: not a supported file type" in body["text"]  # the bad file, by name and reason
    assert body["status"] == STATUS
    [hit] = site.index.search("Portage home visiting Trafford", k=1)
    assert hit.citation.source == "uploaded/portage-trafford.txt"
    assert _left(site) == []


def test_a_bad_record_is_skipped_by_name_while_good_files_are_added(site):
    reply = _post(site, [("broken.json", b"{not json"), ("portage-trafford.txt", PORTAGE)], _cookies(site))
    body = reply.json()
    assert body["ok"], body
    assert (body["added"], body["skipped"]) == (1, 1)
    assert "broken.json" in body["text"]
    assert _left(site) == []


def test_too_many_files_are_refused_and_nothing_is_left(site):
    files = [(f"page-{n}.txt", PORTAGE) for n in range(MAX_UPLOAD_FILES + 1)]
    reply = _post(site, files, _cookies(site))
    assert reply.status_code == 400
    assert "nothing was added" in reply.json()["text"]
    assert "Too many files" in reply.json()["text"]
    assert _count(site.index) == site.documents
    assert [p for p in _left(site) if p.is_file()] == []
    assert _left(site) == []


def test_a_file_over_the_size_bound_is_refused_and_nothing_is_left(site):
    big = b"x" * (MAX_UPLOAD_BYTES + 1)
    reply = _post(site, [("portage-trafford.txt", PORTAGE), ("big.txt", big)], _cookies(site))
    assert reply.status_code == 413
    assert reply.json()["text"] == f"big.txt is over {MAX_UPLOAD_BYTES // 2**20} MB; nothing was added."
    assert _count(site.index) == site.documents
    assert _left(site) == []


def test_a_body_declared_over_the_total_bound_is_refused_before_it_is_read(site):
    # Only the headers are sent: the refusal comes without the server waiting for a byte of body.
    address = urlsplit(site.url)
    cookie = f"{SESSION_COOKIE}={site.guard.open_session()}"
    with socket.create_connection((address.hostname, address.port), timeout=PATIENCE) as connection:
        connection.sendall(
            (
                "POST /admin/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                f"Content-Length: {10**12}\r\nCookie: {cookie}\r\n\r\n"
            ).encode()
        )
        reply = b""
        while b"nothing was added" not in reply:  # until the JSON body has come (or the server closed)
            chunk = connection.recv(65536)
            if not chunk:
                break
            reply += chunk
    text = reply.decode("latin-1")
    assert text.startswith("HTTP/1.1 413"), text
    assert "At most 20 files of 20 MB at a time; nothing was added." in text
    assert _left(site) == []


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd.txt", "..\\..\\windows\\evil.txt", "a" * 300 + ".txt", "nul\x00byte.txt", "/tmp/abs.txt"],
)
def test_a_hostile_file_name_never_becomes_a_path(site, tmp_path, name):
    reply = _post(site, [(name, PORTAGE)], _cookies(site))
    assert reply.status_code == 200, reply.text
    assert reply.json()["added"] == 1, reply.json()
    [hit] = site.index.search("Portage home visiting Trafford", k=1)
    source = hit.citation.source.removeprefix("uploaded/")
    assert not any(part in source for part in ("/", "\\", "\x00", "..")), source
    assert len(source) <= 120
    assert not Path("/tmp/abs.txt").exists() or Path("/tmp/abs.txt").read_bytes() != PORTAGE
    assert not (tmp_path.parent / "etc").exists()
    assert _left(site) == []


def test_a_name_too_long_for_a_part_header_is_refused_in_one_line(site):
    # python-multipart bounds a part's headers: a name of thousands of characters is not parsed.
    reply = _post(site, [("a" * 5000 + ".txt", PORTAGE)], _cookies(site))
    assert reply.status_code == 400
    assert reply.json()["text"] == "Invalid multipart data; nothing was added."
    assert _count(site.index) == site.documents
    assert _left(site) == []


def test_no_files_is_a_clear_message(site):
    reply = httpx.post(
        site.url + "admin/upload", data={"other": "x"}, files=[], cookies=_cookies(site), timeout=PATIENCE
    )
    assert reply.json()["text"] == "Choose one or more files first."
    assert _left(site) == []


def test_a_second_add_while_one_runs_is_told_to_wait(site, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    add = site.index.add

    def slow_add(*args, **kwargs):
        entered.set()
        assert release.wait(PATIENCE)
        return add(*args, **kwargs)

    monkeypatch.setattr(site.index, "add", slow_add)
    first: list[httpx.Response] = []
    thread = threading.Thread(
        target=lambda: first.append(_post(site, [("portage-trafford.txt", PORTAGE)], _cookies(site)))
    )
    thread.start()
    try:
        assert entered.wait(PATIENCE)
        second = _post(site, [("other.txt", PORTAGE)], _cookies(site))
        assert second.status_code == 409
        assert second.json()["text"] == admin.UPLOAD_BUSY
        assert second.headers["retry-after"] == "10"
    finally:
        release.set()
        thread.join(PATIENCE)
    assert first[0].json()["added"] == 1
    assert _left(site) == []


def test_a_body_that_does_not_arrive_is_given_up_on_and_nothing_is_left(seed_index, tmp_path, monkeypatch):
    from fastapi import FastAPI

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    guard = AdminGuard(PASSWORD)
    app = FastAPI()
    app.include_router(admin.upload_router(seed_index, guard, body_seconds=0.5))
    with serving(app) as url:
        address = urlsplit(url)
        with socket.create_connection((address.hostname, address.port), timeout=PATIENCE) as connection:
            connection.sendall(
                (
                    "POST /admin/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                    f"Content-Length: 1000\r\nCookie: {SESSION_COOKIE}={guard.open_session()}\r\n\r\n--b\r\n"
                ).encode()
            )  # and then nothing more: the server gives up and answers
            reply = b""
            while b"nothing was added" not in reply:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                reply += chunk
    assert reply.startswith(b"HTTP/1.1 408"), reply
    assert b"The files took over 0.5 s to arrive; nothing was added." in reply
    assert list(scratch.rglob("*")) == []
