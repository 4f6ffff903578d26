"""The chat page in a real Chromium (Debian's, driven by Playwright), its API, and load.

A server runs `sendsearch serve` in a subprocess over the seed corpus plus a hostile page,
built with the real model. Screenshots of the main states go to test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, SEED_PAGES

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "test-admin-password"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)"),
]

# A page carrying every way scraped text might try to run code or inject markup.
HOSTILE_PAGE = """Hostile test page about SEND transport

Hostile transport test: <script>window.__xss = "script"</script> and
<img src=x onerror="window.__xss = 'img'"> and a <a href="javascript:window.__xss='link'">javascript link</a>
and [markdown link](javascript:window.__xss='md') and ![image](x" onerror="window.__xss='mdimg')
and <iframe src="javascript:window.__xss='frame'"></iframe> about school transport for SEND pupils.
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, real_embedder):
    from sendsearch import Index

    folder = tmp_path_factory.mktemp("browser")
    corpus = folder / "corpus"
    corpus.mkdir()
    for page in SEED_PAGES:
        shutil.copy(page, corpus / page.name)
    (corpus / "hostile.txt").write_text(HOSTILE_PAGE, encoding="utf-8")
    Index.build([corpus], folder / "index", embedder=real_embedder)
    port = _free_port()
    env = {**os.environ, "SENDSEARCH_ADMIN_PASSWORD": PASSWORD, "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(folder / "server.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sendsearch.cli", "serve", "--index", str(folder / "index"), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        url = f"http://127.0.0.1:{port}/"
        deadline = time.time() + 180
        while time.time() < deadline:
            if process.poll() is not None:
                pytest.fail("server exited: " + (folder / "server.log").read_text())
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            process.kill()
            pytest.fail("server did not start: " + (folder / "server.log").read_text())
        yield url
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(server, wait_until="load")
    page.wait_for_selector("#question textarea", timeout=60_000)
    yield page
    context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def ask(page, question: str) -> str:
    """Ask a question and return the text of the new reply."""
    before = page.locator("#chat [data-testid='bot']").count()
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function(
        f"document.querySelectorAll(\"#chat [data-testid='bot']\").length > {before}", timeout=90_000
    )
    page.wait_for_timeout(300)
    return page.locator("#chat [data-testid='bot']").nth(before).inner_text()


def sources(page) -> list[str]:
    return [line for line in page.input_value("#sources textarea").splitlines() if line.strip()]


def test_page_loads_with_status_and_examples(page):
    assert "sendsearch" in page.title()
    assert "6 documents" in page.inner_text("#status")
    assert page.locator("#example-0").is_visible()
    shot(page, "01-start")


def test_a_seed_question_gets_a_numbered_cited_reply(page):
    reply = ask(page, "How much does Stockport spend on SEND?")
    assert reply.startswith("Found")
    assert "[1] Have your say on the aspects of SEND services in Stockport" in reply
    assert "001_96ab44ec7aed3ea8.txt" in reply
    assert "£32m" in reply
    first = page.locator("#chat [data-testid='bot'] mark").first.inner_text()
    assert "£32m" in first  # the best-matching sentence is highlighted
    assert page.locator("#chat [data-testid='bot'] strong", has_text="£32m").count() >= 1
    assert sources(page)[0].startswith("[1] Have your say")
    assert "001_96ab44ec7aed3ea8.txt" in sources(page)[0]
    page.locator("#chat summary").first.click()
    assert page.locator("#chat details[open]").count() == 1
    shot(page, "02-answer")


def test_an_example_is_asked_in_one_click(page):
    page.click("#example-1")
    page.wait_for_selector("#chat [data-testid='bot']", timeout=90_000)
    reply = page.locator("#chat [data-testid='bot']").first.inner_text()
    assert "002_30c036443f88d855.txt" in reply.split("[2]")[0]  # the EHC team question's answer comes first


def test_a_follow_up_is_read_in_context(page):
    ask(page, "How much high needs funding does Stockport get?")
    reply = ask(page, "and what about EHC plan assessments?")
    assert 'Read as a follow-up to "How much high needs funding does Stockport get?"' in reply
    assert "EHC plan assessments Stockport" in reply
    assert "002_30c036443f88d855.txt" in reply.split("[2]")[0]
    shot(page, "03-follow-up")


def test_a_filter_changes_the_results(page):
    ask(page, "Stockport SEND provision")
    unfiltered = sources(page)
    assert any("answered by" in line for line in unfiltered)  # written answers among them
    page.locator("#kind label", has_text="Web pages").click()
    reply = ask(page, "Stockport SEND provision")
    assert "Filters: web pages." in reply
    filtered = sources(page)
    assert filtered
    assert all("answered by" not in line for line in filtered)
    assert filtered != unfiltered
    shot(page, "04-filtered")


def test_nothing_relevant_is_said_plainly(page):
    reply = ask(page, "What is the best pizza in Rome?")
    assert reply.startswith("I found nothing in this index that answers")
    assert sources(page) == []


def test_hostile_page_stays_inert_and_shows_as_text(page):
    reply = ask(page, "Hostile transport test page about SEND school transport")
    assert "Hostile test page about SEND transport" in reply
    chat = page.locator("#chat")
    assert "<script>" in reply
    assert "onerror" in reply
    chat.get_by_text("javascript link").first.click()  # where the link would have been
    assert chat.locator("script").count() == 0
    assert chat.locator("img[src='x']").count() == 0
    assert chat.locator("iframe").count() == 0
    assert chat.locator("a[href^='javascript']").count() == 0
    page.wait_for_timeout(500)
    assert page.evaluate("window.__xss") is None
    assert page.dialogs == []
    shot(page, "05-hostile")


def test_an_upload_with_the_password_is_searchable_at_once(page, tmp_path):
    upload = tmp_path / "portage-trafford.txt"
    upload.write_text(
        "Portage in Trafford\n\nTrafford runs a Portage home visiting service for pre-school children with SEND.",
        encoding="utf-8",
    )
    page.get_by_role("tab", name="Add answers").click()
    page.set_input_files("#upload-files input[type=file]", str(upload))
    page.fill("#upload-password input", PASSWORD)
    page.click("#upload-button")
    page.wait_for_function("document.querySelector('#upload-result').innerText.includes('added')", timeout=120_000)
    assert "1 added" in page.inner_text("#upload-result")
    assert "7 documents" in page.inner_text("#status")
    shot(page, "06-upload")
    page.get_by_role("tab", name="Ask").click()
    reply = ask(page, "Portage home visiting in Trafford")
    assert "uploaded/portage-trafford.txt" in reply.split("[2]")[0]


def test_the_search_api_answers_through_gradio_client(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    passages = client.predict("How much does Stockport spend on SEND?", 3, "", "", "", "", api_name="/search")
    assert len(passages) == 3
    assert passages[0]["doc_id"] == "001_96ab44ec7aed3ea8.txt"
    assert {"text", "citation", "source", "date_answered", "answered_by"} <= passages[0].keys()
    filtered = client.predict("Stockport SEND", 5, "", "", "", "web_page", api_name="/search")
    assert filtered
    assert all(p["kind"] == "web_page" for p in filtered)
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="empty"):
        client.predict("   ", 3, "", "", "", "", api_name="/search")


def test_twenty_concurrent_clients_all_get_correct_answers(server):
    from benchmarks.load_test import run_load

    result = run_load(server, clients=20, rounds=10)
    print(
        f"\nload: {len(result.latencies)} replies, "
        f"p50 {result.percentile(0.5):.3f} s, p95 {result.percentile(0.95):.3f} s"
    )
    assert result.errors == []
    assert result.wrong == []
    assert len(result.latencies) == 200
