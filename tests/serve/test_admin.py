"""The admin side: password guessing limited, uploads only after signing in, upload folders bounded and removed.

The HTTP tests run the real server (``api.create_server``) with a small page of their own
under uvicorn, and talk to it with httpx as a browser or a script would.
"""

from __future__ import annotations

import html
import logging
import os
import tempfile
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from sendsearch.limits import PROXY_FREE_GUESSES, PROXY_LOCKOUT_AFTER
from sendsearch.serve import admin
from sendsearch.serve.admin import SESSION_COOKIE, AdminGuard, AttemptLimiter, add_uploads
from sendsearch.serve.server import ServerLimits, create_server

from ..serving import serving

PASSWORD = "correct horse battery staple"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- guessing --------------------------------------------------------------------------------------
def test_wrong_guesses_cost_exponentially_more_time_then_lock_out():
    clock = Clock()
    limiter = AttemptLimiter(free=3, base_delay=1, max_delay=60, lockout_after=10, lockout=900, clock=clock)
    delays = [limiter.failed("1.2.3.4") for _ in range(10)]
    assert delays == [0, 0, 0, 1, 2, 4, 8, 16, 32, 900]
    assert limiter.wait("1.2.3.4") == 900
    assert limiter.wait("5.6.7.8") == 0  # per client
    clock.now += 899
    assert limiter.wait("1.2.3.4") == pytest.approx(1)
    clock.now += 2
    assert limiter.wait("1.2.3.4") == 0  # the lockout is over: the client starts afresh
    assert limiter.failed("1.2.3.4") == 0
    assert [limiter.failed("9.9.9.9") for _ in range(4)][-1] == 1
    limiter.succeeded("9.9.9.9")  # the right password clears the count
    assert limiter.wait("9.9.9.9") == 0


def test_the_limiter_forgets_quiet_clients_and_bounds_how_many_it_remembers():
    clock = Clock()
    limiter = AttemptLimiter(free=0, base_delay=1, lockout=60, max_clients=3, clock=clock)
    for client in "abcd":
        limiter.failed(client)
    assert limiter.wait("a") == 0  # the oldest was dropped to keep three
    assert limiter.wait("d") == 1
    clock.now += 120
    assert limiter.wait("d") == 0
    assert "d" not in limiter._state


def test_twenty_wrong_passwords_in_a_row_are_slowed_then_refused():
    clock = Clock()
    guard = AdminGuard(PASSWORD, AttemptLimiter(clock=clock), clock=clock)
    answers = []
    for number in range(20):
        answers.append(guard.check("attacker", f"guess-{number}"))
        clock.now += 0.05  # 20 tries a second
    assert [a.status for a in answers[:4]] == [401, 401, 401, 401]
    assert all(a.status == 429 for a in answers[4:])  # refused without looking at the password
    assert answers[3].retry_after == 1
    # Even the right password waits its turn: guessing gains nothing by being right late.
    assert guard.check("attacker", PASSWORD).status == 429
    assert guard.check("admin", PASSWORD).ok  # another client is not locked out


def test_an_empty_password_tells_nothing_and_costs_nothing():
    guard = AdminGuard(PASSWORD)
    for _ in range(10):
        check = guard.check("me", "")
        assert (check.ok, check.status, check.message) == (False, 400, "Enter the admin password.")
    assert guard.limiter.wait("me") == 0
    assert guard.check("me", PASSWORD).ok


def test_the_password_never_shows_in_a_repr_and_adding_can_be_off():
    guard = AdminGuard(PASSWORD)
    assert PASSWORD not in repr(guard)
    off = AdminGuard(None)
    assert off.check("me", "anything").status == 403
    assert not off.session_valid(off.open_session())


def test_sessions_expire_and_close():
    clock = Clock()
    guard = AdminGuard(PASSWORD, session_seconds=60, clock=clock)
    token = guard.open_session()
    assert guard.session_valid(token)
    assert not guard.session_valid(token + "x")
    clock.now += 61
    assert not guard.session_valid(token)
    token = guard.open_session()
    guard.close_session(token)
    assert not guard.session_valid(token)


def test_a_session_holds_on_every_instance_sharing_the_secret_and_password():
    """Serve instances behind a load balancer: a sign-in on one is a sign-in on all of them."""
    clock = Clock()
    secret = b"s" * 32
    first = AdminGuard(PASSWORD, clock=clock, secret=secret)
    token = first.open_session()
    assert AdminGuard(PASSWORD, clock=clock, secret=secret).session_valid(token)
    assert not AdminGuard(PASSWORD, clock=clock, secret=b"t" * 32).session_valid(token)
    assert not AdminGuard(PASSWORD + "2", clock=clock, secret=secret).session_valid(token)  # password changed
    assert not AdminGuard(PASSWORD, clock=clock).session_valid(token)  # a secret of its own
    expiry, rest = token.split(".", 1)
    assert not first.session_valid(f"{int(expiry) + 3600}.{rest}")  # a later expiry, the old signature
    clock.now += first.session_seconds + 1
    assert not AdminGuard(PASSWORD, clock=clock, secret=secret).session_valid(token)


# -- over HTTP: sign in, then upload ---------------------------------------------------------------
def _page():
    import gradio as gr

    with gr.Blocks(delete_cache=admin.GRADIO_DELETE_CACHE) as blocks:
        gr.File(file_count="multiple", label="Files")
    blocks.queue()
    return blocks


@pytest.fixture
def gradio_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "unused"))  # restored after the test
    folder = admin.use_private_gradio_temp_dir(parent=tmp_path)
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    return folder


@pytest.fixture
def site(seed_index, gradio_folder):
    # The server's clock stands still unless a test moves it: waits and lockouts last
    # exactly as long as the test says, however slowly a busy machine answers.
    clock = Clock()
    guard = AdminGuard(PASSWORD, AttemptLimiter(clock=clock), clock=clock)
    app = create_server(_page(), seed_index, guard=guard, upload_folder=gradio_folder)
    with serving(app) as url:
        yield SimpleNamespace(url=url, guard=guard, folder=gradio_folder, clock=clock)


def _stored(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def _upload(url: str, cookies: dict | None = None, files: int = 1, size: int = 100) -> httpx.Response:
    parts = [("files", (f"f{i}.txt", b"x" * size, "text/plain")) for i in range(files)]
    return httpx.post(url + "gradio_api/upload", files=parts, cookies=cookies)


@pytest.mark.slow  # imports Gradio and builds its app: seconds
def test_uploads_without_signing_in_are_refused_before_anything_is_stored(site):
    reply = _upload(site.url, files=3, size=1_000_000)
    assert reply.status_code == 401
    assert "sign in" in reply.json()["error"]
    assert _stored(site.folder) == []


@pytest.mark.slow  # imports Gradio and builds its app: seconds
def test_signing_in_lets_uploads_through_and_bounds_them(site):
    wrong = httpx.post(site.url + "admin/session", json={"password": "nope"})
    assert wrong.status_code == 401
    assert SESSION_COOKIE not in wrong.cookies
    right = httpx.post(site.url + "admin/session", json={"password": PASSWORD})
    assert right.status_code == 200
    assert right.json()["ok"] is True
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    cookies = {SESSION_COOKIE: right.cookies[SESSION_COOKIE]}
    assert httpx.get(site.url + "admin/session", cookies=cookies).json()["ok"] is True

    reply = _upload(site.url, cookies)
    assert reply.status_code == 200
    [stored] = reply.json()
    assert Path(stored).is_relative_to(site.folder)
    assert Path(stored).read_bytes() == b"x" * 100

    assert _upload(site.url, cookies, files=1, size=21 * 1024 * 1024).status_code == 413  # per file
    recording = httpx.post(site.url + "gradio_api/process_recording", files=[("video", ("v.mp4", b"0" * 100))])
    assert recording.status_code == 403  # Gradio's other route that stores what it is sent
    assert httpx.delete(site.url + "admin/session", cookies=cookies).status_code == 200
    assert _upload(site.url, cookies).status_code == 401
    assert len(_stored(site.folder)) == 1


@pytest.mark.slow  # imports Gradio and builds its app: seconds
def test_twenty_wrong_passwords_over_http_are_refused_and_logged_nowhere(site, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    statuses = []
    for number in range(20):
        reply = httpx.post(site.url + "admin/session", json={"password": f"{PASSWORD}-{number}"})
        statuses.append(reply.status_code)
    assert statuses[:4] == [401] * 4
    assert set(statuses[4:]) == {429}
    assert int(reply.headers["retry-after"]) >= 1
    assert httpx.post(site.url + "admin/session", json={"password": PASSWORD}).status_code == 429
    site.clock.now += 1800  # the lockout is over: the right password opens at once
    assert httpx.post(site.url + "admin/session", json={"password": PASSWORD}).status_code == 200
    out, err = capfd.readouterr()
    assert PASSWORD not in out + err + caplog.text


@pytest.mark.slow  # imports Gradio and builds its app: seconds
def test_a_full_upload_folder_or_an_oversized_upload_is_refused(seed_index, gradio_folder):
    guard = AdminGuard(PASSWORD)
    cookies = {SESSION_COOKIE: guard.open_session()}
    app = create_server(_page(), seed_index, guard=guard, upload_folder=gradio_folder)
    for middleware in app.user_middleware:  # small bounds, read when the server starts
        if middleware.cls is admin.UploadGate:
            middleware.kwargs.update(max_folder_bytes=512, max_request_bytes=4096)
    with serving(app) as url:
        too_big = _upload(url, cookies, size=8192)
        assert too_big.status_code == 413
        assert _stored(gradio_folder) == []
        (gradio_folder / "earlier").write_bytes(b"\0" * 1024)
        full = _upload(url, cookies)
    assert full.status_code == 507
    assert "full" in full.json()["error"]


@pytest.mark.slow  # imports Gradio and builds its app: seconds
def test_without_a_password_every_upload_is_refused(seed_index, gradio_folder):
    with serving(create_server(_page(), seed_index, guard=None, upload_folder=gradio_folder)) as url:
        assert _upload(url).status_code == 403
        assert httpx.post(url + "admin/session", json={"password": "x"}).status_code in (404, 405)
    assert _stored(gradio_folder) == []


# -- adding what was uploaded ----------------------------------------------------------------------
def _request(guard: AdminGuard, signed_in: bool = True) -> SimpleNamespace:
    cookies = {SESSION_COOKIE: guard.open_session()} if signed_in else {}
    return SimpleNamespace(cookies=cookies, client=SimpleNamespace(host="127.0.0.1"))


@pytest.fixture
def uploaded(gradio_folder):
    """Files as Gradio leaves them: in its (private) upload folder, under a hashed folder."""

    def make(name: str, text: str) -> str:
        folder = gradio_folder / f"hash{len(list(gradio_folder.iterdir()))}"
        folder.mkdir()
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return make


def test_uploads_are_added_from_a_private_folder_that_is_removed(seed_index, uploaded, monkeypatch, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    good = uploaded("..%2F..%2Fportage page!.txt", "Portage in Trafford\n\nPortage home visiting for SEND.")
    bad = uploaded("answers.jsonl", '{"id": 15, "heading": 12345, "questionText": "q", "answerText": "<p>a</p>"}\n')
    other = uploaded("slides.pptx", "PK")
    guard = AdminGuard(PASSWORD)
    outcome = add_uploads(seed_index, [good, bad, other], guard, _request(guard))
    assert outcome.ok
    assert (outcome.added, outcome.skipped) == (1, 2)
    assert "1 added, 0 replaced, 0 unchanged, 2 skipped" in outcome.message
    assert "uploaded/answers.jsonl:1: record 15: 'heading' should be text" in html.unescape(outcome.message)
    assert "slides.pptx: not a supported file type" in html.unescape(outcome.message)
    assert "/tmp" not in outcome.message
    assert str(scratch) not in outcome.message
    [hit] = seed_index.search("Portage home visiting Trafford", k=1)
    assert hit.citation.source == f"uploaded/{hit.doc_id}"
    assert "/" not in hit.doc_id
    assert ".." not in hit.doc_id
    assert list(scratch.iterdir()) == []  # the private copy is gone
    assert not any(Path(p).exists() for p in (good, bad, other))  # and so are Gradio's


def test_uploads_need_a_session_and_are_removed_all_the_same(seed_index, uploaded):
    path = uploaded("page.txt", "A page\n\nAbout SEND.")
    guard = AdminGuard(PASSWORD)
    outcome = add_uploads(seed_index, [path], guard, _request(guard, signed_in=False))
    assert not outcome.ok
    assert "Sign in" in outcome.message
    assert not Path(path).exists()
    assert seed_index.manifest.documents == 5
    assert "turned off" in add_uploads(seed_index, [], AdminGuard(None), _request(guard)).message
    assert "Choose" in add_uploads(seed_index, [], guard, _request(guard)).message


def test_too_many_files_at_once_are_refused(seed_index, uploaded):
    paths = [uploaded(f"p{i}.txt", f"Page {i}\n\nText {i}.") for i in range(4)]
    guard = AdminGuard(PASSWORD)
    outcome = add_uploads(seed_index, paths, guard, _request(guard), max_files=3)
    assert not outcome.ok
    assert "At most 3 files" in outcome.message
    assert not any(os.path.exists(p) for p in paths)


def test_nothing_to_add_names_no_server_path(seed_index, uploaded):
    path = uploaded("empty.txt", "")
    guard = AdminGuard(PASSWORD)
    outcome = add_uploads(seed_index, [path], guard, _request(guard))
    assert not outcome.ok
    assert "nothing to add" in outcome.message
    assert "uploaded/empty.txt: empty file" in html.unescape(outcome.message)
    assert "sendsearch-upload" not in outcome.message
    assert tempfile.gettempdir() not in outcome.message


def test_a_handler_without_the_request_is_a_loud_bug(seed_index):
    with pytest.raises(TypeError, match=r"gr\.Request"):
        add_uploads(seed_index, [], AdminGuard(PASSWORD), None)  # type: ignore[arg-type]


# -- behind a reverse proxy ------------------------------------------------------------------------
def _guesses(url: str, forwarded_for: list[str], local_address: str = "127.0.0.1") -> list[int]:
    statuses = []
    with httpx.Client(transport=httpx.HTTPTransport(local_address=local_address)) as client:
        for number, address in enumerate(forwarded_for):
            reply = client.post(
                url + "admin/session", json={"password": f"guess-{number}"}, headers={"X-Forwarded-For": address}
            )
            statuses.append(reply.status_code)
    return statuses


def _fresh_addresses(count: int) -> list[str]:
    return [f"198.51.100.{number + 1}" if number < 250 else f"192.0.2.{number - 249}" for number in range(count)]


@pytest.fixture
def proxied_site(seed_index, gradio_folder, request):
    """The server with the injected clock, trusting the proxies the test names (none by default)."""
    clock = Clock()
    guard = AdminGuard(PASSWORD, AttemptLimiter(clock=clock), clock=clock)
    app = create_server(_page(), seed_index, guard=guard, upload_folder=gradio_folder)
    with serving(app, ServerLimits(trusted_proxies=getattr(request, "param", ()))) as url:
        yield SimpleNamespace(url=url, guard=guard, clock=clock)


@pytest.mark.slow  # imports Gradio and builds its app: seconds
def test_forwarded_addresses_are_ignored_unless_a_proxy_is_trusted(proxied_site):
    # Each guess claims a new address; none is believed, so they all count against 127.0.0.1.
    statuses = _guesses(proxied_site.url, _fresh_addresses(12))
    assert statuses == [401] * 4 + [429] * 8


@pytest.mark.slow  # imports Gradio and builds its app: seconds
@pytest.mark.parametrize("proxied_site", [("127.0.0.1",)], indirect=True)
def test_through_a_trusted_proxy_each_client_and_the_proxy_are_limited(proxied_site):
    # One client behind the proxy: its own limit, as if it were connected directly.
    assert _guesses(proxied_site.url, ["203.0.113.7"] * 6) == [401] * 4 + [429] * 2
    # Clients that each claim a new address share the proxy's bound.
    fresh = _fresh_addresses(PROXY_FREE_GUESSES + 10)
    statuses = _guesses(proxied_site.url, fresh)
    free = PROXY_FREE_GUESSES - 4  # the first client's four wrong guesses came through it too
    assert statuses == [401] * (free + 1) + [429] * (len(fresh) - free - 1)
    # A client that is not the proxy is not believed, and not held by the proxy's bound.
    assert _guesses(proxied_site.url, ["203.0.113.99"] * 5, local_address="127.0.0.2") == [401] * 4 + [429]
    proxied_site.clock.now += 3600  # both bounds wear off
    assert _guesses(proxied_site.url, ["203.0.113.200"]) == [401]


def test_the_proxy_bound_locks_out_after_its_limit():
    clock = Clock()
    guard = AdminGuard(PASSWORD, AttemptLimiter(clock=clock), clock=clock)
    waits = [0.0]
    for number in range(PROXY_LOCKOUT_AFTER):
        clock.now += waits[-1] + 0.001  # a patient guesser waits as long as it is told each time
        check = guard.check(f"198.51.100.{number}", "wrong", proxy="127.0.0.1")
        assert check.status == 401
        waits.append(check.retry_after)
    waits = waits[1:]
    assert waits[:PROXY_FREE_GUESSES] == [0] * PROXY_FREE_GUESSES
    assert waits[-1] == 900  # then the proxy is locked out
    assert guard.check("198.51.100.250", PASSWORD, proxy="127.0.0.1").status == 429
    assert guard.check("127.0.0.5", PASSWORD).ok  # a client that is not behind it is not
