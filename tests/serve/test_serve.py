"""`sendsearch serve`: a mistyped index, a busy port or a bad address is one line, not a traceback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from click.testing import CliRunner

from sendsearch.cli import main
from sendsearch.serve import ui

from ..serving import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def launches(monkeypatch, use_fake_embedder):
    """What `serve` would launch, without launching it."""
    calls: list[dict] = []
    monkeypatch.setattr(ui, "launch", lambda index, **kwargs: calls.append({"index": index, **kwargs}))
    return calls


def _serve(*args: str):
    return CliRunner().invoke(main, ["serve", *args])


def test_a_missing_index_is_an_error_not_a_surprise_corpus(launches, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _serve("--index", "my-idex", "--port", str(free_port()))
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: no index at my-idex; create one with `sendsearch build PATHS... --index my-idex`"
    )
    assert not (tmp_path / "my-idex").exists()
    assert launches == []


def test_an_index_is_served_with_its_mcp_tool_unless_turned_off(launches, seed_index):
    port = free_port()
    assert _serve("--index", str(seed_index.directory), "--port", str(port)).exit_code == 0
    assert _serve("--index", str(seed_index.directory), "--port", str(port), "--no-mcp").exit_code == 0
    assert [(c["port"], c["mcp_server"]) for c in launches] == [(port, True), (port, False)]
    assert launches[0]["index"].manifest.documents == 5


def test_a_busy_port_is_one_line(launches, seed_index):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _serve("--index", str(seed_index.directory), "--port", str(port))
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: cannot serve on 127.0.0.1:{port}: Address already in use (is another server using that port?)"
    )
    assert launches == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "192.0.2.1"], "Error: cannot serve on 192.0.2.1:"),  # an address this machine does not have
        (["--port", "99999"], "99999 is not in the range 1<=x<=65535"),
    ],
)
def test_a_bad_address_is_one_line(launches, seed_index, args, message):
    result = _serve("--index", str(seed_index.directory), *args)
    assert result.exit_code in (1, 2)
    assert message in result.output
    assert "Traceback" not in result.output
    assert launches == []


@pytest.mark.slow  # starts `sendsearch serve` in a process of its own
def test_serve_answers_the_page_rest_and_mcp_for_real(seed_index, tmp_path):
    """The real `sendsearch serve` in a subprocess: the page, /api/search and MCP answer."""
    port = free_port()
    script = tmp_path / "serve.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.conftest import FakeEmbedder\n"
        "from sendsearch import register_embedder\n"
        "register_embedder('fake-hash-64', FakeEmbedder)\n"
        "from sendsearch.cli import main\n"
        f"main(['serve', '--index', {str(seed_index.directory)!r}, '--port', '{port}'])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "GRADIO_ANALYTICS_ENABLED": "False"}
    log = tmp_path / "server.log"
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, str(script)], stdout=output, stderr=subprocess.STDOUT, env=env)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail(log.read_text())
        page = httpx.get(url + "gradio_api/mcp/", timeout=10)
        assert page.status_code == 200
        assert "MCP" in page.text
        found = httpx.get(url + "api/search", params={"q": "EHC plan timescales", "k": 3}, timeout=10)
        assert found.status_code == 200
        assert len(found.json()["passages"]) == 3
        refused = httpx.get(url + "api/search", params={"q": "EHC plan timescales", "k": 20000}, timeout=10)
        assert refused.status_code == 400
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in log.read_text()


def test_trusted_proxies_come_from_the_option_or_the_environment(launches, seed_index, monkeypatch):
    index = ["--index", str(seed_index.directory), "--port", str(free_port())]
    assert _serve(*index).exit_code == 0
    monkeypatch.setenv("SENDSEARCH_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    assert _serve(*index).exit_code == 0
    assert _serve(*index, "--trusted-proxy", "::1", "--trusted-proxy", "192.0.2.10").exit_code == 0
    assert [c["trusted_proxies"] for c in launches] == [(), ("127.0.0.1", "10.0.0.0/8"), ("::1", "192.0.2.10")]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--trusted-proxy", "nginx"], "", "Error: --trusted-proxy must list IP addresses or networks"),
        ([], "10.0.0.0/33", "Error: SENDSEARCH_TRUSTED_PROXIES must list IP addresses or networks"),
    ],
)
def test_a_bad_trusted_proxy_is_one_line(launches, seed_index, monkeypatch, args, env, message):
    monkeypatch.setenv("SENDSEARCH_TRUSTED_PROXIES", env)
    result = _serve("--index", str(seed_index.directory), "--port", str(free_port()), *args)
    assert result.exit_code == 1
    assert result.output.startswith(message)
    assert len(result.output.strip().splitlines()) == 1
    assert launches == []


# -- stopping: SIGTERM and Ctrl-C, with pages open -----------------------------------------------------
@contextmanager
def _served_in_a_process(seed_index, tmp_path: Path) -> Iterator[SimpleNamespace]:
    """`sendsearch serve` in a process of its own (the fake embedder registered through the
    public hook), with its temporary folder under ``tmp_path``; yields once it answers."""
    port = free_port()
    script = tmp_path / "serve.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.conftest import FakeEmbedder\n"
        "from sendsearch import register_embedder\n"
        "register_embedder('fake-hash-64', FakeEmbedder)\n"
        "from sendsearch.cli import main\n"
        f"main(['serve', '--index', {str(seed_index.directory)!r}, '--port', '{port}'])\n"
    )
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TMPDIR": str(temporary), "SENDSEARCH_ADMIN_PASSWORD": "x"}
    log = tmp_path / "server.log"
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, str(script)], stdout=output, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        started = time.monotonic()
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=5).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() - started > 180:
                pytest.fail(log.read_text())
            time.sleep(0.3)
        yield SimpleNamespace(url=url, process=process, log=log, temporary=temporary, port=port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _open_page_streams(url: str, port: int) -> list[socket.socket]:
    """What two open pages hold: their heartbeat streams, which never end by themselves."""
    streams = []
    for path in ("gradio_api/heartbeat/page-1", "gradio_api/heartbeat/page-2"):
        stream = socket.create_connection(("127.0.0.1", port), timeout=60)
        stream.sendall(f"GET /{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
        assert stream.recv(12) == b"HTTP/1.1 200"
        streams.append(stream)
    return streams


@pytest.mark.slow  # starts `sendsearch serve` in a process of its own
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_server_with_one_line_and_its_folder_removed(seed_index, tmp_path, stop):
    with _served_in_a_process(seed_index, tmp_path) as served:
        [folder] = served.temporary.glob("sendsearch-gradio-*")
        streams = _open_page_streams(served.url, served.port)
        assert httpx.get(served.url + "api/search", params={"q": "EHC"}, timeout=60).status_code == 200
        before = served.log.read_text()
        served.process.send_signal(stop)
        code = served.process.wait(timeout=120)  # generous: the check is that it stops, not how fast
        for stream in streams:
            stream.close()
    said = served.log.read_text()[len(before) :]
    assert code == 0
    assert "Traceback" not in said
    assert "CancelledError" not in said
    assert [line for line in said.splitlines() if line.strip()] == ["sendsearch: stopped."]
    assert not folder.exists()
    assert list(served.temporary.glob("sendsearch-*")) == []
