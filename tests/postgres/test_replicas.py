"""Two `sendsearch serve` instances on one database, requests alternating between them.

Nothing a client depends on stays in one instance: REST searches, the admin sign-in (a
signed cookie, the secret shared through SENDSEARCH_SESSION_SECRET; wrong passwords
counted in the database) and MCP (stateless
streamable HTTP) answer alike whichever instance a request reaches, and an update
published by a writer elsewhere reaches both. A real PostgreSQL (tests/postgres_server.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, SEED_PAGES, FakeEmbedder
from tests.serving import free_port

pytestmark = pytest.mark.slow  # two servers in processes of their own

DRIVER = ROOT / "tests" / "cli_driver.py"
PASSWORD = "replica-password"
SECRET = "a-secret-every-instance-shares-0123456789"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@contextlib.contextmanager
def _instances(dsn: str, tmp_path: Path, count: int) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "SENDSEARCH_ADMIN_PASSWORD": PASSWORD,
        "SENDSEARCH_SESSION_SECRET": SECRET,
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    processes, urls, logs = [], [], []
    try:
        for i in range(count):
            port = free_port()
            log = tmp_path / f"serve-{i}.log"
            with open(log, "w") as output:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, str(DRIVER), "serve", "--store", dsn, "--port", str(port)],
                        stdout=output,
                        stderr=subprocess.STDOUT,
                        env=env,
                    )
                )
            urls.append(f"http://127.0.0.1:{port}/")
            logs.append(log)
        for url, process, log in zip(urls, processes, logs, strict=True):
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + "api/search", params={"q": "x"}, timeout=5).status_code == 200:
                        break
                if process.poll() is not None:
                    pytest.fail(log.read_text())
                time.sleep(0.3)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    for log in logs:
        assert "Traceback" not in log.read_text()


def _mcp(url: str, method: str, params: dict, number: int) -> dict:
    """One JSON-RPC request to an instance's MCP endpoint, with no session of its own."""
    reply = httpx.post(
        url + "gradio_api/mcp/",
        json={"jsonrpc": "2.0", "id": number, "method": method, "params": params},
        headers=MCP_HEADERS,
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    data = [line[5:].strip() for line in reply.text.splitlines() if line.startswith("data:")]
    return json.loads(data[-1] if data else reply.text)


def test_two_instances_answer_alike_whichever_a_request_reaches(postgres_dsn: str, tmp_path: Path) -> None:
    from sendsearch import Index

    pages = tmp_path / "pages"
    pages.mkdir()
    for page in SEED_PAGES[:4]:
        shutil.copy(page, pages / page.name)
    Index.build([pages], postgres_dsn, embedder=FakeEmbedder())
    with _instances(postgres_dsn, tmp_path, 2) as urls:
        # REST: every request to the other instance than the last, the same answers.
        answers = {
            json.dumps(httpx.get(urls[i % 2] + "api/search", params={"q": "EHC plan timescales", "k": 3}).json())
            for i in range(6)
        }
        assert len(answers) == 1
        # The admin sign-in on one instance holds on the other.
        signed = httpx.post(urls[0] + "admin/session", json={"password": PASSWORD})
        assert signed.status_code == 200
        cookies = dict(signed.cookies)
        assert httpx.get(urls[1] + "admin/session", cookies=cookies).json()["ok"] is True
        assert httpx.get(urls[1] + "admin/session").json()["ok"] is False
        # Wrong passwords alternating between the instances are counted together (in the
        # database): the fourth overall is the first paid one, though each instance saw two.
        wrong = [httpx.post(urls[i % 2] + "admin/session", json={"password": f"guess-{i}"}) for i in range(4)]
        assert [reply.status_code for reply in wrong] == [401] * 4
        assert [reply.headers.get("Retry-After") for reply in wrong] == [None, None, None, "1"]
        assert wrong[3].json()["message"] == "That password is not right. Wait 1 s before trying again."
        # MCP over stateless streamable HTTP: initialise on one, list and call on the other.
        hello = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
        assert "serverInfo" in _mcp(urls[0], "initialize", hello, 1)["result"]
        tools = _mcp(urls[1], "tools/list", {}, 2)["result"]["tools"]
        assert [tool["name"] for tool in tools] == ["search_send_answers"]
        called = [
            _mcp(
                urls[i % 2],
                "tools/call",
                {"name": "search_send_answers", "arguments": {"question": "EHC plan timescales", "k": 3}},
                3 + i,
            )
            for i in range(2)
        ]
        assert called[0]["result"] == called[1]["result"]
        assert not called[0]["result"].get("isError")
        # An update published by a writer elsewhere reaches both instances.
        extra = tmp_path / "extra"
        extra.mkdir()
        (extra / "ferries.txt").write_text("Ferry passes for pupils with SEND on Testisle.", encoding="utf-8")
        added = subprocess.run(
            [sys.executable, str(DRIVER), "add", str(extra), "--store", postgres_dsn, "-q"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert added.returncode == 0, added.stderr
        for url in urls:
            found = httpx.get(url + "api/search", params={"q": "ferry passes Testisle", "k": 1}).json()
            assert found["passages"][0]["doc_id"] == "ferries.txt"
