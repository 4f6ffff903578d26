"""The chat page behind a load balancer with no session affinity: two `sendsearch serve`
instances on one PostgreSQL store, a real HAProxy sending requests to them in turn, and a
real Chromium asking a question and then a follow-up that needs it.

The page's events are plain requests (``queue=False``) and the conversation travels with
them as a signed token, so a follow-up answered by the other instance still reads as a
follow-up. Adding a file from the "Add answers" tab is one POST to ``/admin/upload``
(the sign-in a signed cookie), so it too works whichever instance each request reaches.
Each test runs behind HAProxy (round robin) and behind nginx with the README's own
configuration ("Serving from many machines", only its addresses changed), so the example a
newcomer copies is the one tested; the balancer names the instance that answered each
request in a response header.
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
from tests.browser import CHROMIUM, NO_CHROMIUM, chromium, wait_until_ready
from tests.conftest import ROOT, SEED_PAGES, FakeEmbedder
from tests.serving import free_port

from .test_replicas import _instances

HAPROXY = Path("/usr/sbin/haproxy")
NGINX = Path("/usr/sbin/nginx")
# Generous: a reply that does not come in this long means something froze.
PATIENCE_MS = 90_000
FIRST = "Are there enough special school places being built?"
FOLLOW_UP = "and what about in Stockport?"
READ_AS_FOLLOW_UP = f'Read as a follow-up to "{FIRST}"'

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM),
    pytest.mark.skipif(not HAPROXY.exists(), reason="haproxy is not installed"),
]
BALANCERS = [
    "haproxy",
    pytest.param("nginx", marks=pytest.mark.skipif(not NGINX.exists(), reason="nginx is not installed")),
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
    with _running([str(HAPROXY), "-f", str(config), "-db"], port, folder / "haproxy.log") as url:
        yield url


def readme_nginx_block() -> str:
    """The nginx configuration README.md gives under "Serving from many machines"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Serving from many machines") :]
    start = section.index("```nginx\n") + len("```nginx\n")
    return section[start : section.index("```", start)]


@contextmanager
def nginx_from_readme(urls: list[str], folder: Path) -> Iterator[str]:
    """nginx on a free loopback port with the README's configuration, its two example
    addresses replaced by ``urls``; ``X-Served-By`` names the instance that answered."""
    port = free_port()
    block = readme_nginx_block()
    addresses = [url.removeprefix("http://").rstrip("/") for url in urls]
    for example, address in zip(("10.0.0.11:7860", "10.0.0.12:7860"), addresses, strict=True):
        assert example in block, f"the README's nginx example no longer names {example}"
        block = block.replace(example, address)
    assert "listen 80;" in block
    block = block.replace("listen 80;", f"listen 127.0.0.1:{port};")
    names = "\n".join(f"    {address} instance-{n};" for n, address in enumerate(addresses))
    config = folder / "nginx.conf"
    config.write_text(
        f"""daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {folder}/body;
  proxy_temp_path {folder}/proxy;
  fastcgi_temp_path {folder}/fastcgi;
  uwsgi_temp_path {folder}/uwsgi;
  scgi_temp_path {folder}/scgi;
  map $upstream_addr $served_by {{
    default "?";
{names}
  }}
  add_header X-Served-By $served_by always;
{block}
}}
""",
        encoding="utf-8",
    )
    with _running([str(NGINX), "-c", str(config), "-p", str(folder)], port, folder / "nginx.log") as url:
        yield url


@contextmanager
def _running(command: list[str], port: int, log: Path) -> Iterator[str]:
    """A load balancer started with ``command`` (its output in ``log``), once it answers on
    ``port``; stopped afterwards."""
    name = Path(command[0]).name
    with open(log, "w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(600):  # until it listens: a minute at most
            try:
                httpx.get(url + "api/search", params={"q": "EHC"}, timeout=5)
                break
            except httpx.HTTPError:
                pass
            # Waits on the balancer's exit (a bad configuration), a tenth of a second between tries.
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.1)
                pytest.fail(f"{name} exited: " + log.read_text())
        else:
            pytest.fail(f"{name} did not start: " + log.read_text())
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def balancer(kind: str, urls: list[str], folder: Path) -> contextlib.AbstractContextManager[str]:
    return haproxy(urls, folder) if kind == "haproxy" else nginx_from_readme(urls, folder)


@pytest.mark.parametrize("kind", BALANCERS)
def test_a_follow_up_reads_in_context_whichever_instance_answers_it(
    postgres_dsn: str, tmp_path: Path, kind: str
) -> None:
    from sendsearch import Index

    pages = tmp_path / "pages"
    pages.mkdir()
    for seed in SEED_PAGES:
        shutil.copy(seed, pages / seed.name)
    Index.build([pages], postgres_dsn, embedder=FakeEmbedder())
    with _instances(postgres_dsn, tmp_path, 2) as urls, balancer(kind, urls, tmp_path) as url, chromium() as browser:
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
        wait_until_ready(page, PATIENCE_MS)

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


UPLOADED = "ferries-testisle.txt"


@pytest.mark.parametrize("kind", BALANCERS)
def test_a_file_added_from_the_page_is_found_by_both_instances(postgres_dsn: str, tmp_path: Path, kind: str) -> None:
    """Sign in and add a file from the "Add answers" tab behind round-robin HAProxy: the
    sign-in, the add (one POST to /admin/upload) and the searches after it may each reach
    either instance, and the new document is found by both."""
    from sendsearch import Index

    from .test_replicas import PASSWORD

    pages = tmp_path / "pages"
    pages.mkdir()
    for seed in SEED_PAGES:
        shutil.copy(seed, pages / seed.name)
    Index.build([pages], postgres_dsn, embedder=FakeEmbedder())
    upload = tmp_path / UPLOADED
    upload.write_text("Ferry passes in Testisle\n\nFerry passes for pupils with SEND on Testisle.", encoding="utf-8")
    with _instances(postgres_dsn, tmp_path, 2) as urls, balancer(kind, urls, tmp_path) as url, chromium() as browser:
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
        # Searches balanced in turn: each instance answers some, and every answer finds the file.
        answered = set()
        for _ in range(4):
            found = httpx.get(url + "api/search", params={"q": "ferry passes Testisle", "k": 1}, timeout=60)
            answered.add(found.headers["x-served-by"])
            assert found.json()["passages"][0]["source"] == f"uploaded/{UPLOADED}", found.json()
        assert answered == {"instance-0", "instance-1"}
