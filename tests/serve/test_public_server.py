"""Hostile requests against the whole public server, over real HTTP on loopback.

The battery from issue 18, kept so that a maintainer can rerun it: every request here is
one an anonymous client can send to `sendsearch serve`. The server is the real one
(``ui.create_app`` + ``api.create_server`` under uvicorn), with and without an admin
password, on an index of the five seed pages built with the fake embedder.
"""

from __future__ import annotations

import html
import json
import logging
import re
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from sendsearch.limits import MAX_CONVERSATION_BYTES, MAX_QUERY_CHARS
from sendsearch.serve import admin
from sendsearch.serve.admin import SESSION_COOKIE, AdminGuard
from sendsearch.serve.server import RefusalLog, ServerLimits, create_server

from ..serving import serving

PASSWORD = "public-server-admin-password"
# Generous: a reply that does not come in this long means the server froze.
PATIENCE = 60.0
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}

# Each test starts the whole server (Gradio app, uvicorn) on loopback: about a second each,
# so `make test` runs them and `make check` does not.
pytestmark = pytest.mark.slow


def file_data(path: str) -> dict[str, Any]:
    """A Gradio FileData reference to a path on the server, as an attacker writes it."""
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


def _page(index, guard):
    from sendsearch.serve.ui import create_app

    blocks = create_app(index, guard=guard)
    blocks.queue(default_concurrency_limit=4)
    return blocks


@contextmanager
def _serving_site(index, tmp_path: Path, monkeypatch, password: str | None) -> Iterator[SimpleNamespace]:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "unused"))  # restored after the test
    folder = admin.use_private_gradio_temp_dir(parent=tmp_path)
    guard = AdminGuard(password)
    from sendsearch.serve.ui import status_line

    app = create_server(
        _page(index, guard), index, guard=guard, upload_folder=folder, upload_status=lambda: status_line(index)
    )
    with serving(app) as url:
        config = httpx.get(url + "config", timeout=PATIENCE).json()
        events = {d["api_name"]: d["id"] for d in config["dependencies"] if d.get("api_name")}
        yield SimpleNamespace(url=url, folder=folder, guard=guard, password=password, events=events)


@pytest.fixture(params=["no password", "password"])
def site(request, seed_index, tmp_path, monkeypatch):
    """The real page, REST API and MCP server, with adding answers off or on."""
    password = PASSWORD if request.param == "password" else None
    with _serving_site(seed_index, tmp_path, monkeypatch, password) as served:
        yield served


@pytest.fixture
def open_site(seed_index, tmp_path, monkeypatch):
    """The real server as most run it: no admin password."""
    with _serving_site(seed_index, tmp_path, monkeypatch, None) as served:
        yield served


def stored_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def still_answers(url: str) -> None:
    """The server still searches and serves its page."""
    found = httpx.get(url + "api/search", params={"q": "EHC plan timescales", "k": 2}, timeout=PATIENCE)
    assert found.status_code == 200
    assert len(found.json()["passages"]) == 2
    assert httpx.get(url, timeout=PATIENCE).status_code == 200


def post_json(url: str, body: Any, cookies: dict | None = None, headers: dict | None = None) -> httpx.Response:
    """POST JSON as most clients write it: ASCII, with escapes (so a lone surrogate such as
    "\\ud800" can be sent, as it cannot be in UTF-8)."""
    headers = {"content-type": "application/json", **(headers or {})}
    return httpx.post(url, content=json.dumps(body), headers=headers, cookies=cookies, timeout=PATIENCE)


def call(url: str, api_name: str, data: list[Any], cookies: dict | None = None) -> tuple[int, str]:
    """Gradio's simple API (``/gradio_api/call/NAME``): the status of the POST and, when it
    was accepted, the text of the event stream that carries the result."""
    posted = post_json(url + f"gradio_api/call/{api_name}", {"data": data}, cookies=cookies)
    if posted.status_code != 200:
        return posted.status_code, posted.text
    event_id = posted.json()["event_id"]
    return 200, httpx.get(url + f"gradio_api/call/{api_name}/{event_id}", cookies=cookies, timeout=PATIENCE).text


def join(
    url: str, fn_index: int, data: list[Any], cookies: dict | None = None, session: str | None = None
) -> tuple[int, dict]:
    """The page's own way to run an event (``/gradio_api/queue/join``, then the session's
    event stream): the status of the join and the final message of the stream."""
    session = session or uuid.uuid4().hex[:10]
    body = {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None}
    joined = post_json(url + "gradio_api/queue/join", body, cookies=cookies)
    if joined.status_code != 200:
        return joined.status_code, {"text": joined.text}
    params = {"session_hash": session}
    with httpx.stream("GET", url + "gradio_api/queue/data", params=params, cookies=cookies, timeout=PATIENCE) as feed:
        for line in feed.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return 200, message
    pytest.fail("the event stream ended without a result")


def run_event(
    url: str, fn_index: int, data: list[Any], cookies: dict | None = None, session: str | None = None
) -> tuple[int, dict]:
    """The page's way to run an event that skips the queue (``queue=False``): one POST to
    ``/gradio_api/run/predict`` answered in its reply. The status and the reply in the shape
    of ``join``'s final message."""
    session = session or uuid.uuid4().hex[:10]
    body = {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None}
    posted = post_json(url + "gradio_api/run/predict", body, cookies=cookies)
    try:
        reply = posted.json()
    except ValueError:
        return posted.status_code, {"text": posted.text}
    if posted.status_code == 200:
        return 200, {"success": True, "output": reply}
    if "output" not in reply and "error" in reply and posted.status_code == 500:
        return posted.status_code, {"success": False, "output": {"error": reply["error"]}}
    return posted.status_code, {"text": reply.get("error", posted.text)}


def refused_message(status: int, reply: Any) -> str:
    """What the client was told when its request was refused (by the gate in front, or by
    the event itself), in lower case."""
    if isinstance(reply, dict):
        if "output" in reply:
            assert reply.get("success") is False, reply
            return str(reply["output"].get("error")).lower()
        return str(reply.get("text")).lower()
    assert status != 200 or "event: error" in reply, reply
    return reply.lower()


def chat_inputs(first: Any) -> list[Any]:
    """The Ask event's inputs: the question, the conversation token, the filters, the
    passages shown and the order."""
    return [
        first,
        "",
        "",
        "",
        "Any department",
        "Any",
        "Any council",
        False,
        "",
        "",
        "Both",
        "Any party",
        False,
        3,
        "Best match first",
    ]


# -- finding 1: no anonymous request reads or copies a server-side path -------------------------------
def test_the_search_endpoints_read_no_server_file(site):
    for api_name in ("search", "search_send_answers"):
        for path in ("/etc/hosts", "/proc/self/environ"):
            status, reply = call(
                site.url,
                api_name,
                [file_data(path), 5, "", "", "", "", "", False, "", "", "", "", False, "relevance", False],
            )
            assert "file" in refused_message(status, reply), (api_name, path)
            assert stored_files(site.folder) == [], (api_name, path)
    still_answers(site.url)


def test_the_chat_reads_no_server_file(site):
    status, reply = run_event(site.url, site.events["respond"], chat_inputs(file_data("/etc/hosts")))
    assert "file" in refused_message(status, reply)
    # A file reference hidden in a filter or the turns is refused the same way.
    status, reply = join(
        site.url, site.events["respond"], ["EHC", [[file_data("/etc/hosts"), "x"]], *chat_inputs("")[2:]]
    )
    assert "file" in refused_message(status, reply)
    assert stored_files(site.folder) == []


def test_dev_zero_does_not_freeze_the_server(site):
    call(
        site.url,
        "search",
        [file_data("/dev/zero"), 5, "", "", "", "", "", False, "", "", "", "", False, "relevance", False],
    )
    run_event(site.url, site.events["respond"], chat_inputs(file_data("/dev/zero")))
    still_answers(site.url)
    assert stored_files(site.folder) == []


def test_no_event_takes_files_and_the_upload_route_needs_a_session(site):
    """Files come in only through ``POST /admin/upload`` (one request, signed in): no event
    of the page takes a file, and the route refuses anyone without a session."""
    assert "upload" not in site.events
    environ = file_data("/proc/self/environ")
    reply = httpx.post(site.url + "admin/upload", json=environ, timeout=PATIENCE)
    if site.password is None:
        assert reply.status_code == 403
        assert reply.json()["text"] == "Adding answers is turned off on this server."
    else:
        assert reply.status_code == 401
        assert reply.json()["text"] == "Sign in with the admin password first; nothing was added."
    assert stored_files(site.folder) == []
    # Nothing to fetch back either: the password is in no file the server offers.
    for path in ("/proc/self/environ", str(site.folder / "environ")):
        served = httpx.get(site.url + f"gradio_api/file={path}", timeout=PATIENCE)
        assert PASSWORD not in served.text


def test_a_signed_in_admin_still_cannot_name_a_server_file(site):
    """Even with a session, events that take no files take none."""
    if site.password is None:
        pytest.skip("adding answers is off")
    cookies = {SESSION_COOKIE: site.guard.open_session()}
    status, answer = call(
        site.url,
        "search",
        [file_data("/etc/hosts"), 5, "", "", "", "", "", False, "", "", "", "", False, "relevance", False],
        cookies=cookies,
    )
    assert "file" in refused_message(status, answer)
    assert stored_files(site.folder) == []


def test_gradios_own_upload_check_is_on_when_mounted(seed_index, tmp_path, monkeypatch):
    """``mount_gradio_app`` leaves Gradio's "was this file uploaded?" check off
    (``has_launched``); the server switches it on, as the wall behind its own checks."""
    from gradio import processing_utils
    from gradio.context import LocalContext
    from gradio.exceptions import InvalidPathError

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "unused"))
    admin.use_private_gradio_temp_dir(parent=tmp_path)
    guard = AdminGuard(PASSWORD)
    blocks = _page(seed_index, guard)
    create_server(blocks, seed_index, guard=guard)
    LocalContext.blocks.set(blocks)
    with pytest.raises(InvalidPathError, match="not uploaded by a user"):
        processing_utils._check_allowed("/etc/hosts", check_in_upload_folder=True)


def test_mcp_reads_no_server_file(site):
    from sendsearch.serve.mcp import MCP_TOOL

    arguments = {"question": file_data("/etc/hosts"), "k": 3}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": MCP_TOOL, "arguments": arguments}}
    reply = httpx.post(site.url + "gradio_api/mcp/", json=body, headers=MCP_HEADERS, timeout=PATIENCE)
    assert reply.status_code == 403
    assert "files are taken only from a signed-in administrator" in reply.json()["error"].lower()
    assert stored_files(site.folder) == []
    still_answers(site.url)


def test_an_admin_upload_still_goes_through(site):
    """The one way files come in: signed in, one POST to /admin/upload."""
    if site.password is None:
        pytest.skip("adding answers is off")
    cookies = {SESSION_COOKIE: site.guard.open_session()}
    page = b"Portage in Trafford\n\nPortage home visiting supports pre-school children with SEND."
    reply = httpx.post(
        site.url + "admin/upload",
        files=[("files", ("portage.txt", page, "text/plain"))],
        cookies=cookies,
        timeout=PATIENCE,
    )
    assert reply.status_code == 200
    assert reply.json()["text"].startswith("1 added")
    assert reply.json()["status"].startswith("Index: **6** documents")  # the page's status line, updated
    assert stored_files(site.folder) == []


# -- finding 3: bodies, chat messages and chat history are bounded --------------------------------------
def test_a_five_million_character_question_is_refused_before_it_is_read(open_site):
    question = "x" * 5_000_000
    for route in ("gradio_api/call/search", "gradio_api/queue/join", "gradio_api/run/predict", "gradio_api/mcp/"):
        body = {"data": chat_inputs(question), "fn_index": open_site.events["respond"], "session_hash": "s"}
        reply = httpx.post(open_site.url + route, json=body, headers=MCP_HEADERS, timeout=PATIENCE)
        assert reply.status_code == 413, route
        assert reply.json()["error"] == "The request is over 64 KB: nothing was read."
    # Without a declared length (chunked), the body is cut off at the bound all the same.
    chunks = (b"x" * 65536 for _ in range(80))
    reply = httpx.post(open_site.url + "gradio_api/queue/join", content=chunks, timeout=PATIENCE)
    assert reply.status_code == 413
    still_answers(open_site.url)


def test_a_long_message_is_cut_and_the_conversation_is_bounded(open_site):
    """Each question carries the conversation token of the reply before it, and no two share
    a session: the server keeps nothing; the token the page holds stays within its bound."""
    long_question = "zebra " * 10_000  # 60,000 characters: under the body bound, over the question's
    _, reply = run_event(open_site.url, open_site.events["respond"], chat_inputs(long_question))
    assert reply["success"] is True, reply
    _, fresh, token = reply["output"]["data"][:3]
    # The reply shows the message (you asked, searched for, nothing found) three times at
    # most, each cut at the question's bound: not the 10,000 words sent.
    assert 0 < fresh["html"].count("zebra") <= 3 * (MAX_QUERY_CHARS // len("zebra ") + 1)
    assert len(token) <= MAX_CONVERSATION_BYTES
    for question in ("How long does an EHC needs assessment take?", "and in Stockport?"):
        _, reply = run_event(open_site.url, open_site.events["respond"], [question, token, *chat_inputs("")[2:]])
        assert reply["success"] is True, reply
        _, fresh, token = reply["output"]["data"][:3]
        assert fresh["html"].count('<article class="turn') == 1  # the page keeps the others
        assert len(token) <= MAX_CONVERSATION_BYTES
    assert 'Read as a follow-up to "How long does an EHC needs assessment take?"' in html.unescape(fresh["html"])


def test_a_forged_conversation_is_a_new_one_said_in_one_line(open_site, capfd, caplog):
    _, reply = run_event(open_site.url, open_site.events["respond"], chat_inputs("EHC plan timescales"))
    token = reply["output"]["data"][2]
    body, _, signature = token.rpartition(".")
    for forged in (f"{body}x.{signature}", "c1.e30.0000", "x" * (MAX_CONVERSATION_BYTES + 10), ["c1", "x"], 12):
        status, reply = run_event(
            open_site.url, open_site.events["respond"], ["EHC plans", forged, *chat_inputs("")[2:]]
        )
        assert status == 200, reply
        notice, fresh = reply["output"]["data"][:2]
        assert "could not be checked, so this question starts a new one" in html.unescape(notice)
        assert fresh["reset"] is True  # the page drops the replies it shows
        assert fresh["html"].count('<article class="turn') == 1
    refusals = [r for r in caplog.records if "refused a conversation sent back by a page" in r.getMessage()]
    assert len(refusals) == 5
    assert all(r.exc_info is None for r in refusals)
    assert "Traceback" not in "".join(capfd.readouterr())


def test_a_shared_link_previews_as_sendsearch(open_site):
    """Chat apps and social sites show a link by the page's first Open Graph tags: Gradio's
    template put its own ("Gradio", an image on GitHub) before the app's."""
    page = httpx.get(open_site.url, timeout=PATIENCE)
    assert page.status_code == 200
    assert int(page.headers["content-length"]) == len(page.content)
    tags = re.findall(r'<meta\s+(?:property="og:|name="twitter:)[^>]*>', page.text)
    titles = [t for t in tags if "og:title" in t]
    assert titles == ['<meta property="og:title" content="sendsearch: SEND support and funding, with sources" />']
    assert "Gradio" not in "".join(tags)
    assert "githubusercontent" not in page.text
    assert '<meta name="description" content="Ask about SEND' in page.text
    assert "window.gradio_config" in page.text  # the page itself is whole


def test_the_search_api_also_answers_in_one_request(open_site):
    """``/search`` without the queue (``/gradio_api/run/search``, which Gradio serves): one
    request, one reply, within the same bound as the chat's answers."""
    data = ["EHC plan timescales", 2, "", "", "", "", "", False, "", "", "", "", False, "relevance", False]
    reply = post_json(open_site.url + "gradio_api/run/search", {"data": data})
    assert reply.status_code == 200, reply.text
    [passages] = reply.json()["data"]
    assert len(passages) == 2


# -- finding 8: a caller's mistake is a one-line message, never a traceback or a blank error ----------------
SEARCH_MISTAKES: list[tuple[list[Any], str]] = [
    (
        ["\ud800", 5, "", "", "", "", "", False, "", "", "", "", False, "relevance", False],
        "not valid unicode (a lone surrogate",
    ),
    (
        ["EHC", 5, "\ud800", "", "", "", "", False, "", "", "", "", False, "relevance", False],
        "not valid unicode (a lone surrogate",
    ),
    (
        ["EHC", 5, 20240101, "", "", "", "", False, "", "", "", "", False, "relevance", False],
        "from must be text, not 20240101",
    ),
    (["EHC", 5, "", "", {"a": 1}, "", "", False, "", "", "", "", False, "relevance", False], "department must be text"),
    (
        ["EHC", "abc", "", "", "", "", "", False, "", "", "", "", False, "relevance", False],
        "k must be a whole number from 1 to 100",
    ),
    (["EHC", 5, "", "", "", "podcast", "", False, "", "", "", "", False, "relevance", False], "kind must be"),
    ([None, 5, "", "", "", "", "", False, "", "", "", "", False, "relevance", False], "must be text"),
    (
        [
            {"path": "x", "meta": "not an object"},
            5,
            "",
            "",
            "",
            "",
            "",
            False,
            "",
            "",
            "",
            "",
            False,
            "relevance",
            False,
        ],
        "files are taken only",
    ),
    (
        ["EHC", 5, "", "", "", "", "Narnia", False, "", "", "", "", False, "relevance", False],
        "council: no local authority called 'narnia'",
    ),
]


def _one_line(message: str) -> str:
    assert message
    assert message != "none"
    assert "\n" not in message.strip()
    return message


def test_search_endpoint_mistakes_are_one_line(open_site, capfd):
    for api_name in ("search", "search_send_answers"):
        for data, expected in SEARCH_MISTAKES:
            status, reply = call(open_site.url, api_name, data)
            assert status in (200, 400, 403), (api_name, data)
            text = json.loads(reply.split("data:", 1)[1])["error"] if status == 200 else json.loads(reply)["error"]
            assert expected in _one_line(text).lower(), (api_name, data)
    assert "Traceback" not in "".join(capfd.readouterr())


PAGE_MISTAKES: list[tuple[list[Any], str]] = [
    (
        [
            "EHC",
            "",
            "",
            "",
            "Any department",
            "Nope",
            "Any council",
            False,
            "",
            "",
            "Both",
            "Any party",
            False,
            3,
            "Best match first",
        ],
        "kind of document must be one of: any, written",
    ),
    (
        [
            "EHC",
            "",
            "",
            "",
            "Any department",
            "Any",
            "Any council",
            False,
            "",
            "",
            "Both",
            "Any party",
            False,
            "abc",
            "Best match first",
        ],
        "passages shown before “more” must be one of",
    ),
    (
        [
            "EHC",
            "",
            "",
            "",
            {"x": 1},
            "Any",
            "Any council",
            False,
            "",
            "",
            "Both",
            "Any party",
            False,
            3,
            "Best match first",
        ],
        "department must be one of: any department",
    ),
    (["EHC"], "/respond takes 15 values; it was sent 1"),
    (chat_inputs("\ud800"), "not valid unicode"),
]


def test_page_event_mistakes_are_one_line(open_site, capfd):
    for data, expected in PAGE_MISTAKES:
        status, reply = run_event(open_site.url, open_site.events["respond"], data)
        assert expected in _one_line(refused_message(status, reply)), data
    assert "Traceback" not in "".join(capfd.readouterr())


def test_mcp_and_rest_mistakes_are_one_line(open_site, capfd):
    from sendsearch.serve.mcp import MCP_TOOL

    call_tool = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
    body = call_tool | {"params": {"name": MCP_TOOL, "arguments": {"question": "EHC \ud800"}}}
    reply = post_json(open_site.url + "gradio_api/mcp/", body, headers=MCP_HEADERS)
    assert reply.status_code == 400
    assert "not valid unicode" in _one_line(reply.json()["error"]).lower()
    # Bytes that are not UTF-8 in a REST question are read as replacement characters.
    assert httpx.get(open_site.url + "api/search?q=%ff%fe+EHC", timeout=PATIENCE).status_code == 200
    reply = httpx.get(open_site.url + "api/search", params={"q": "EHC", "from": "\x00"}, timeout=PATIENCE)
    assert reply.status_code == 400
    _one_line(reply.json()["error"])
    assert "Traceback" not in "".join(capfd.readouterr())


# -- finding 2: slow and piled-up connections are capped; others are still answered -----------------------
PARTIAL_REQUEST = b"GET /api/search?q=EHC HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # the headers never end


@contextmanager
def _bounded_site(index, tmp_path: Path, monkeypatch, limits: ServerLimits) -> Iterator[str]:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "unused"))
    folder = admin.use_private_gradio_temp_dir(parent=tmp_path)
    guard = AdminGuard(None)
    with serving(create_server(_page(index, guard), index, guard=guard, upload_folder=folder), limits) as url:
        yield url


def _slow_client(url: str, source: str, first: bytes = PARTIAL_REQUEST) -> socket.socket:
    """A connection from the loopback address ``source`` that sends ``first`` and stops."""
    host, port = urlsplit(url)[1].split(":")
    client = socket.create_connection((host, int(port)), timeout=PATIENCE, source_address=(source, 0))
    if first:
        client.sendall(first)
    return client


def _closed_with(client: socket.socket) -> bytes:
    """What the server sent before it closed the connection (waits until it does)."""
    received = b""
    try:
        while chunk := client.recv(4096):
            received += chunk
    except ConnectionResetError:
        # Closed with the client's bytes unread: the kernel resets, and may drop the reply.
        received += b"(reset)"
    client.close()
    return received


def _refused(client: socket.socket) -> bool:
    reply = _closed_with(client)
    return reply.startswith(b"HTTP/1.1 503") or reply == b"(reset)"


def _answered(client: socket.socket) -> bytes:
    """End the request's headers and read the first bytes of the reply."""
    client.sendall(b"Connection: close\r\n\r\n")
    return _closed_with(client)


def _get_until_answered(url: str) -> httpx.Response:
    """A normal request, tried again while the server is still counting connections it has
    just seen closed (it learns of a close a moment after the client makes it)."""
    for _ in range(200):
        try:
            reply = httpx.get(url + "api/search", params={"q": "EHC plan timescales", "k": 1}, timeout=PATIENCE)
        except httpx.TransportError:
            continue
        if reply.status_code != 503:
            return reply
    pytest.fail("the server never answered")


def test_one_client_cannot_hold_more_than_its_share_of_connections(seed_index, tmp_path, monkeypatch, caplog, capfd):
    caplog.set_level(logging.WARNING, logger="sendsearch.server")
    limits = ServerLimits(max_connections=50, max_per_client=4, header_timeout=PATIENCE * 10)
    with _bounded_site(seed_index, tmp_path, monkeypatch, limits) as url:
        held = [_slow_client(url, "127.0.0.2") for _ in range(10)]
        # The first four are held open; the other six are refused and closed at once.
        for client in held[4:]:
            assert _refused(client)
        # Another client is answered while they are held ...
        assert httpx.get(url + "api/search", params={"q": "EHC", "k": 1}, timeout=PATIENCE).status_code == 200
        # ... and so are the held ones, once their headers end.
        for client in held[:4]:
            assert _answered(client).startswith(b"HTTP/1.1 200")
    lines = [r.getMessage() for r in caplog.records if "127.0.0.2" in r.getMessage()]
    assert len(lines) == 1  # six refusals, one line
    assert "refused a connection from 127.0.0.2: it has 4 connections open" in lines[0]
    assert "Traceback" not in "".join(capfd.readouterr())


def test_the_server_caps_its_connections_in_all(seed_index, tmp_path, monkeypatch):
    limits = ServerLimits(max_connections=6, max_per_client=6, header_timeout=PATIENCE * 10)
    with _bounded_site(seed_index, tmp_path, monkeypatch, limits) as url:
        # Full of slow clients: a newcomer takes the place of the one that has waited
        # longest for its headers.
        held = [_slow_client(url, f"127.0.0.{number}") for number in range(2, 8)]
        assert httpx.get(url + "api/search", params={"q": "EHC", "k": 1}, timeout=PATIENCE).status_code == 200
        assert _closed_with(held[0]).startswith((b"HTTP/1.1 408", b"(reset)"))
        for client in held[1:]:
            client.close()
        # Full of requests in progress (event streams that never end): a newcomer is refused.
        streams: list[socket.socket] = []
        for number in range(2, 8):
            request = f"GET /gradio_api/heartbeat/s{number} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
            streams.append(_slow_client(url, f"127.0.0.{number}", first=request))
            assert streams[-1].recv(12) == b"HTTP/1.1 200"
        assert _refused(_slow_client(url, "127.0.0.9"))
        for stream in streams:
            stream.close()
        assert _get_until_answered(url).status_code == 200


def test_headers_that_never_end_are_cut_off(seed_index, tmp_path, monkeypatch, caplog, capfd):
    caplog.set_level(logging.WARNING, logger="sendsearch.server")
    limits = ServerLimits(header_timeout=0.5)
    with _bounded_site(seed_index, tmp_path, monkeypatch, limits) as url:
        trickling = _slow_client(url, "127.0.0.3")
        silent = _slow_client(url, "127.0.0.4", first=b"")
        assert _closed_with(trickling).startswith(b"HTTP/1.1 408")
        assert _closed_with(silent).startswith(b"HTTP/1.1 408")
        assert httpx.get(url + "api/search", params={"q": "EHC", "k": 1}, timeout=PATIENCE).status_code == 200
    assert any("127.0.0.3: its request headers took over 0.5 s" in r.getMessage() for r in caplog.records)
    assert "Traceback" not in "".join(capfd.readouterr())


def test_refusals_are_logged_once_a_minute_per_client_and_bounded_in_all(caplog):
    caplog.set_level(logging.WARNING, logger="sendsearch.server")
    clock = SimpleNamespace(now=0.0)
    refusals = RefusalLog(every=60, clock=lambda: clock.now)
    for _ in range(1000):
        refusals.refused("192.0.2.1", "it has 64 connections open")
    clock.now = 61
    refusals.refused("192.0.2.1", "it has 64 connections open")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "(999 more refused since the last line)" in lines[1]
    caplog.clear()
    for number in range(RefusalLog.max_lines + 30):  # many clients at once: the log is bounded too
        refusals.refused(f"198.51.100.{number}", "the server has 1,024 connections open")
    assert len(caplog.records) == RefusalLog.max_lines - 1  # 192.0.2.1's line counted in this minute
    clock.now = 200
    refusals.refused("203.0.113.1", "the server has 1,024 connections open")
    assert "31 refusals of other clients went unlogged" in caplog.records[-1].getMessage()


# Odd requests to Gradio's own routes, each of which once left a traceback in the log.
ODD_REQUESTS = [
    ("GET", "gradio_api/queue/data?session_hash=nobody", None, 404),
    ("GET", "gradio_api/call/search/no-such-event", None, 404),
    ("GET", "gradio_api/call/v2/search/no-such-event", None, 404),
    ("POST", "gradio_api/call/v2/search", {}, 400),
    ("POST", "gradio_api/call/v2/search", {"question": "EHC", "nonsense": 1}, 400),
]


def test_odd_requests_to_gradio_routes_are_refused_in_one_line(open_site, capfd):
    for method, path, body, status in ODD_REQUESTS:
        reply = httpx.request(method, open_site.url + path, json=body, timeout=PATIENCE)
        assert reply.status_code == status, path
        _one_line(reply.json()["error"])
    assert "Traceback" not in "".join(capfd.readouterr())


def test_the_page_s_own_way_of_reading_results_still_works(open_site):
    status, reply = call(
        open_site.url,
        "search",
        ["EHC plan timescales", 2, "", "", "", "", "", False, "", "", "", "", False, "relevance", False],
    )
    assert status == 200
    assert reply.startswith("event: complete")
    posted = post_json(open_site.url + "gradio_api/call/v2/search", {"question": "EHC plan timescales", "k": 2})
    result = httpx.get(open_site.url + f"gradio_api/call/v2/search/{posted.json()['event_id']}", timeout=PATIENCE)
    assert result.text.startswith("event: complete")


def test_mcp_calls_are_not_sent_where_a_header_points(open_site):
    """Gradio calls a queued MCP tool through a client it points at the first caller's
    X-Forwarded-Host; the search tool is not queued, so a caller cannot redirect it."""
    import asyncio

    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    from sendsearch.serve.mcp import MCP_TOOL

    async def ask(headers: dict[str, str]) -> Any:
        async with (
            httpx.AsyncClient(headers=headers) as client,
            streamable_http_client(open_site.url + "gradio_api/mcp/", http_client=client) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await session.call_tool(MCP_TOOL, {"question": "EHC plan timescales", "k": 2})

    for headers in ({"X-Forwarded-Host": "127.0.0.1:1"}, {"X-Gradio-Server": "http://127.0.0.1:1"}, {}):
        result = asyncio.run(ask(headers))
        assert not result.isError, result.content[0].text
        assert len(json.loads(result.content[0].text)["passages"]) == 2


def test_asyncio_out_of_descriptors_errors_are_one_line_a_minute():
    from sendsearch.serve.server import OneLineAcceptErrors

    clock = SimpleNamespace(now=0.0)
    errors = OneLineAcceptErrors(every=60, clock=lambda: clock.now)

    def record() -> logging.LogRecord:
        # As asyncio's default exception handler writes it.
        error = OSError(24, "Too many open files")
        message = "socket.accept() out of system resource\nsocket: <socket fd=7>"
        return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, message, (), (OSError, error, None))

    first = record()
    assert errors.filter(first)
    assert first.getMessage() == "socket.accept() out of system resource: [Errno 24] Too many open files"
    assert first.exc_info is None
    assert not errors.filter(record())  # again within the minute: not logged
    clock.now = 61
    assert errors.filter(record())
    other = logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "something else", (), None)
    assert errors.filter(other)
    assert other.getMessage() == "something else"


def test_the_connection_bound_fits_under_the_open_file_limit():
    import resource

    from sendsearch.serve.server import FD_RESERVE, fit_to_open_files

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = ServerLimits(max_connections=2048)
    fitted = fit_to_open_files(wanted)
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard >= 2048 + FD_RESERVE:
        assert soft >= 2048 + FD_RESERVE  # raised where allowed
        assert fitted == wanted
    huge = 10**9 if hard == resource.RLIM_INFINITY else hard * 2
    fitted = fit_to_open_files(ServerLimits(max_connections=huge))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert fitted.max_connections <= soft - FD_RESERVE
    assert fitted.max_per_client <= fitted.max_connections


def test_a_body_that_never_ends_is_cut_off(seed_index, tmp_path, monkeypatch):
    from sendsearch.serve.gate import RequestGate

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "unused"))
    folder = admin.use_private_gradio_temp_dir(parent=tmp_path)
    guard = AdminGuard(None)
    app = create_server(_page(seed_index, guard), seed_index, guard=guard, upload_folder=folder)
    for middleware in app.user_middleware:  # a small bound, read when the server starts
        if middleware.cls is RequestGate:
            middleware.kwargs["body_timeout"] = 0.5
    with serving(app) as url:
        headers = b"POST /gradio_api/queue/join HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        trickling = _slow_client(url, "127.0.0.2", headers + b'Content-Length: 1000\r\n\r\n{"data": [')
        assert _closed_with(trickling).startswith((b"HTTP/1.1 408", b"(reset)"))
        assert httpx.get(url + "api/search", params={"q": "EHC", "k": 1}, timeout=PATIENCE).status_code == 200


def test_every_event_of_the_page_still_answers(open_site):
    """The page's own events, as the browser sends them, pass every check above: the box,
    the Ask button, an example button (whose value is its label) and the new conversation."""
    from sendsearch.serve.ui import EXAMPLES

    session = uuid.uuid4().hex[:10]
    for event, question in (("respond", "EHC plan timescales"), ("respond_1", "EHC"), ("respond_3", EXAMPLES[1])):
        _, reply = run_event(open_site.url, open_site.events[event], chat_inputs(question), session=session)
        assert reply["success"] is True, (event, reply)
        assert question in reply["output"]["data"][1]["html"]
    _, reply = run_event(open_site.url, open_site.events["restart"], [], session=session)
    assert reply["success"] is True, reply
