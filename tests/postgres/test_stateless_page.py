"""The chat page behind a load balancer with no session affinity: two `sendsearch serve`
instances on one PostgreSQL store, a real HAProxy sending requests to them in turn, and a
real Chromium asking a question and then a follow-up that needs it.

The page's events are plain requests (``queue=False``) and the conversation travels with
them as a signed token, so a follow-up answered by the other instance still reads as a
follow-up. Adding a file from the "Add answers" tab is one POST to ``/admin/upload``
(the sign-in a signed cookie), so it too works whichever instance each request reaches.
HAProxy names the instance that answered each request in a response header.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from sendsearch.serve.admin import SESSION_COOKIE
from tests.conftest import SEED_PAGES, FakeEmbedder
from tests.serve.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.serving import free_port

from .test_replicas import _instances

HAPROXY = Path("/usr/sbin/haproxy")
# Generous: a reply that does not come in this long means something froze.
PATIENCE_MS = 90_000
FIRST = "Are there enough special school places being built?"
FOLLOW_UP = "and what about in Stockport?"
READ_AS_FOLLOW_UP = f'Read as a follow-up to "{FIRST}"'

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
    pytest.mark.skipif(not HAPROXY.exists(), reason="haproxy is not installed"),
]


@contextmanager
def haproxy(urls: list[str], folder: Path) -> Iterator[str]:
    """HAProxy on a free loopback port, round robin over ``urls``, each request balanced on
    its own (no affinity of any kind); ``X-Served-By`` names the instance that answered."""
    port = free_port()
    servers = "\n".join(
        f"  server instance-{n} {url.removeprefix('http://').rstrip('/')}" for n, url in enumerate(urls)
    )
    config = folder / "haproxy.cfg"
    config.write_text(
        f"""global
  maxconn 256
defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout tunnel 1h
frontend page
  bind 127.0.0.1:{port}
  default_backend sendsearch
backend sendsearch
  balance roundrobin
  http-response set-header X-Served-By %[srv_name]
{servers}
""",
        encoding="utf-8",
    )
    log = folder / "haproxy.log"
    with open(log, "w") as output:
        process = subprocess.Popen([str(HAPROXY), "-f", str(config), "-db"], stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(600):  # until it listens: a minute at most
            try:
                httpx.get(url + "api/search", params={"q": "EHC"}, timeout=5)
                break
            except httpx.HTTPError:
                pass
            # Waits on haproxy's exit (a bad configuration), a tenth of a second between tries.
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.1)
                pytest.fail("haproxy exited: " + log.read_text())
        else:
            pytest.fail("haproxy did not start: " + log.read_text())
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_follow_up_reads_in_context_whichever_instance_answers_it(postgres_dsn: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from sendsearch import Index

    pages = tmp_path / "pages"
    pages.mkdir()
    for seed in SEED_PAGES:
        shutil.copy(seed, pages / seed.name)
    Index.build([pages], postgres_dsn, embedder=FakeEmbedder())
    with _instances(postgres_dsn, tmp_path, 2) as urls, haproxy(urls, tmp_path) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        # Which instance answered each of the page's events (the POST of each question).
        served: list[str] = []
        page.on(
            "response",
            lambda response: (
                served.append(response.headers.get("x-served-by", "?"))
                if response.request.method == "POST" and "/gradio_api/" in response.url
                else None
            ),
        )
        page.goto(url, wait_until="load")
        page.wait_for_selector("#question textarea", timeout=PATIENCE_MS)

        def ask(question: str) -> str:
            before = page.locator("#chat .turn").count()
            page.fill("#question textarea", question)
            page.click("#ask")
            page.wait_for_function(f"document.querySelectorAll('#chat .turn').length > {before}", timeout=PATIENCE_MS)
            return page.locator("#chat .turn").first.inner_text()

        # A question and a follow-up, twice: the POSTs alternate between the instances, so
        # one of the follow-ups is answered by the instance that did not answer its question.
        pairs = []
        for _ in range(2):
            first = ask(FIRST)
            answered_first = served[-1]
            reply = ask(FOLLOW_UP)
            pairs.append((answered_first, served[-1]))
            assert "Read as a follow-up" not in first
            assert READ_AS_FOLLOW_UP in reply, reply
            assert "in Stockport enough special school places" in reply
        # "on its own" asks the last message again without the conversation, wherever it lands.
        page.click("#standalone")
        page.wait_for_function("document.querySelectorAll('#chat .turn').length > 4", timeout=PATIENCE_MS)
        again = page.locator("#chat .turn").first.inner_text()
        assert again.startswith(f"You asked: {FOLLOW_UP}")
        assert "Read as a follow-up" not in again
        assert page.locator(".toast-body").count() == 0  # no error shown
        assert page.locator("#chat-notice .notice").count() == 0  # the conversation was trusted each time
        assert {"instance-0", "instance-1"} <= set(served)
        assert any(question != follow_up for question, follow_up in pairs), pairs
        browser.close()


UPLOADED = "ferries-testisle.txt"


def test_a_file_added_from_the_page_is_found_by_both_instances(postgres_dsn: str, tmp_path: Path) -> None:
    """Sign in and add a file from the "Add answers" tab behind round-robin HAProxy: the
    sign-in, the add (one POST to /admin/upload) and the searches after it may each reach
    either instance, and the new document is found by both."""
    from playwright.sync_api import sync_playwright

    from sendsearch import Index

    from .test_replicas import PASSWORD

    pages = tmp_path / "pages"
    pages.mkdir()
    for seed in SEED_PAGES:
        shutil.copy(seed, pages / seed.name)
    Index.build([pages], postgres_dsn, embedder=FakeEmbedder())
    upload = tmp_path / UPLOADED
    upload.write_text("Ferry passes in Testisle\n\nFerry passes for pupils with SEND on Testisle.", encoding="utf-8")
    with _instances(postgres_dsn, tmp_path, 2) as urls, haproxy(urls, tmp_path) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        # Which instance answered the sign-in and the add.
        served: dict[str, str] = {}
        page.on(
            "response",
            lambda response: (
                served.__setitem__(response.url.split("?")[0].rsplit("/", 1)[-1], response.headers["x-served-by"])
                if response.request.method == "POST" and "/admin/" in response.url
                else None
            ),
        )
        page.goto(url, wait_until="load")
        page.get_by_role("tab", name="Add answers").click()
        page.fill("#upload-password input", PASSWORD)
        page.click("#sign-in")
        page.wait_for_function(
            "document.querySelector('#sign-in-result').innerText.includes('Signed in')", timeout=PATIENCE_MS
        )
        page.set_input_files("#upload-files-input", str(upload))
        page.click("#upload-button")
        page.wait_for_function(
            "document.querySelector('#upload-result').innerText.includes('added')", timeout=PATIENCE_MS
        )
        assert page.inner_text("#upload-result").startswith("1 added"), page.inner_text("#upload-result")
        assert page.locator(".toast-body").count() == 0  # no error shown
        assert set(served) == {"session", "upload"}, served
        # The page's sign-in holds for an add on the other instance too, straight to it.
        [cookie] = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
        other = urls[1 - int(served["upload"].removeprefix("instance-"))]
        again = httpx.post(
            other + "admin/upload",
            files=[("files", (UPLOADED, upload.read_bytes(), "text/plain"))],
            cookies={SESSION_COOKIE: cookie["value"]},
            timeout=PATIENCE_MS / 1000,
        )
        assert again.json()["text"].startswith("0 added, 0 replaced, 1 unchanged"), again.json()
        browser.close()
        # Searches balanced in turn: each instance answers some, and every answer finds the file.
        answered = set()
        for _ in range(4):
            found = httpx.get(url + "api/search", params={"q": "ferry passes Testisle", "k": 1}, timeout=60)
            answered.add(found.headers["x-served-by"])
            assert found.json()["passages"][0]["source"] == f"uploaded/{UPLOADED}", found.json()
        assert answered == {"instance-0", "instance-1"}
