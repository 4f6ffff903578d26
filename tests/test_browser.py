"""The chat page in a real Chromium (Debian's, driven by Playwright), its API, and load.

A server runs `sendsearch serve` in a subprocess over the seed corpus plus a hostile page,
built with the real model. Every page test runs at a desktop and a phone size; axe-core
checks the landing page, a reply, the filters and the upload tab. Screenshots of the main
states go to test-artifacts/.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .conftest import ROOT, SEED_PAGES

CHROMIUM = Path("/usr/bin/chromium")
# axe-core from npm (tests/axe/package.json), injected into the page.
AXE = ROOT / "tests" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# A desktop and a phone (the sizes).
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}
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


SERVER_LOG: Path | None = None


def server_log() -> str:
    return SERVER_LOG.read_text() if SERVER_LOG else ""


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
    # Analytics are left to the app to turn off (the test of other hosts checks it does).
    env = {**os.environ, "SENDSEARCH_ADMIN_PASSWORD": PASSWORD}
    env.pop("GRADIO_ANALYTICS_ENABLED", None)
    global SERVER_LOG
    SERVER_LOG = folder / "server.log"
    with open(SERVER_LOG, "w") as log:
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


@pytest.fixture(params=list(SIZES))
def page(request, browser, server):
    width, height = SIZES[request.param]
    context = browser.new_context(
        viewport={"width": width, "height": height}, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    page.size_name = request.param
    page.dialogs = []
    page.hosts = set()
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: page.hosts.add(urlsplit(request.url).netloc))
    page.goto(server, wait_until="load")
    page.wait_for_selector("#question textarea", timeout=60_000)
    yield page
    context.close()


def shot(page, name: str, *, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{page.size_name}.png"), full_page=full_page)


def ask(page, question: str) -> str:
    """Ask a question and return the text of the new reply (the newest turn comes first)."""
    before = page.locator("#chat .turn").count()
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function(f"document.querySelectorAll('#chat .turn').length > {before}", timeout=90_000)
    page.wait_for_timeout(300)
    return latest(page).inner_text()


def latest(page):
    return page.locator("#chat .turn").first


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def on_first_screen(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"]


def axe_violations(page) -> list[str]:
    """Serious and critical axe-core violations on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => ['serious', 'critical'].includes(v.impact))
            .map(v => `${v.impact} ${v.id}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)"""
    )
    return list(found)


def test_the_landing_page_puts_the_question_first(page):
    assert "sendsearch" in page.title()
    assert "6 documents" in page.inner_text("#status")
    assert on_first_screen(page, "#question textarea")
    assert on_first_screen(page, "#ask")
    assert on_first_screen(page, "#example-0")
    assert not page.locator("#date-from").is_visible()  # filters closed
    assert no_sideways_scroll(page)
    shot(page, "01-start")


def test_a_reply_opens_with_key_points_then_three_passages(page):
    reply = ask(page, "How much does Stockport spend on SEND?")
    turn = latest(page)
    assert reply.startswith("You asked: How much does Stockport spend on SEND?")
    points = turn.locator(".key-points li").all_inner_texts()
    assert points
    assert any("£32m" in point for point in points)
    assert all(re.search(r"\[\d+\]$", point) for point in points)
    headings = turn.locator("h3").all_inner_texts()
    assert headings[0].startswith("[1] Have your say on the aspects of SEND services in Stockport")
    found = turn.locator("h3").count()
    assert turn.locator("h3:visible").count() == min(3, found)  # the rest behind "more"
    if found > 3:
        turn.locator("details.more > summary").click()
        assert turn.locator("h3:visible").count() == found
    first = turn.locator("mark").first.inner_text()
    assert "£32m" in first  # the best-matching sentence is highlighted
    assert turn.locator(".citation").first.inner_text().startswith("[1] Have your say")
    citation = turn.locator(".citation p").first
    assert citation.evaluate("e => e.scrollWidth <= e.clientWidth")  # wraps, no sideways scroll
    assert no_sideways_scroll(page)
    assert page.locator("#chat .turn").first.evaluate("e => getComputedStyle(e).overflowY") == "visible"
    shot(page, "02-answer")
    shot(page, "02-answer-full", full_page=True)


def test_an_example_is_asked_in_one_click(page):
    page.click("#example-1")
    page.wait_for_selector("#chat .turn", timeout=90_000)
    # The EHC team question's answer comes first.
    assert "002_30c036443f88d855.txt" in latest(page).locator(".citation p").first.inner_text()


def test_a_follow_up_is_read_in_context_and_can_be_searched_on_its_own(page):
    ask(page, "How much high needs funding does Stockport get?")
    separate = ask(page, "Are there enough special school places being built?")
    assert "Read as a follow-up" not in separate  # "there" does not point back
    reply = ask(page, "and what about in Stockport?")
    assert 'Read as a follow-up to "Are there enough special school places being built?"' in reply
    assert "in Stockport enough special school places" in reply
    standalone = page.locator("#standalone")
    assert standalone.is_visible()
    shot(page, "03-follow-up")
    standalone.click()
    page.wait_for_function("document.querySelectorAll('#chat .turn').length > 3", timeout=90_000)
    again = latest(page).inner_text()
    assert again.startswith("You asked: and what about in Stockport?")
    assert "Read as a follow-up" not in again
    assert not standalone.is_visible()


def test_a_filter_changes_the_results(page):
    ask(page, "Stockport SEND provision")
    unfiltered = latest(page).locator(".citation p").all_inner_texts()
    assert any("answered by" in line for line in unfiltered)  # written answers among them
    page.locator("#filters").get_by_text("Filters:").first.click()
    page.locator("#kind label", has_text="Web pages").click()
    reply = ask(page, "Stockport SEND provision")
    assert "Filters: web pages." in reply
    filtered = latest(page).locator(".citation p").all_inner_texts()
    assert filtered
    assert all("answered by" not in line for line in filtered)
    assert filtered != unfiltered
    shot(page, "04-filtered")


def test_copy_gives_plain_text(page):
    ask(page, "How much high needs funding does Stockport get?")
    turn = latest(page)
    turn.get_by_role("button", name="Copy reply as text").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("Key points\n- ")
    assert "£42.8 million" in copied
    assert "\nCitation: [1] " in copied
    assert not re.search(r"&#?\w+;|<mark>|<strong>|\*\*\[", copied)
    turn.get_by_role("button", name="Copy citation 1").click()
    line = page.evaluate("navigator.clipboard.readText()")
    assert line == turn.locator(".citation p").first.inner_text()
    assert line.startswith("[1] ")


def test_nothing_relevant_is_said_plainly(page):
    reply = ask(page, "What is the best pizza in Rome?")
    assert "Nothing in this index answers that" in reply
    assert "SENDIASS" in reply
    assert latest(page).locator("a[href='https://www.ipsea.org.uk/']").count() == 1
    assert latest(page).locator("h3").count() == 0


def test_hostile_page_stays_inert_in_passages_key_points_and_copies(page):
    reply = ask(page, "Hostile transport test page about SEND school transport")
    assert "Hostile test page about SEND transport" in reply
    chat = page.locator("#chat")
    assert "<script>" in reply
    assert "onerror" in reply
    assert any(
        "<script>" in point or "onerror" in point for point in latest(page).locator(".key-points li").all_inner_texts()
    )
    chat.get_by_text("javascript link").first.click()  # where the link would have been
    assert chat.locator("script").count() == 0
    assert chat.locator("img[src='x']").count() == 0
    assert chat.locator("iframe").count() == 0
    assert chat.locator("a[href^='javascript']").count() == 0
    latest(page).get_by_role("button", name="Copy reply as text").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert '<script>window.__xss = "script"</script>' in copied  # the text itself, as text
    page.wait_for_timeout(500)
    assert page.evaluate("window.__xss") is None
    assert page.dialogs == []
    shot(page, "05-hostile")


def test_the_page_asks_no_other_host(page):
    ask(page, "How long does a council have to complete an EHC needs assessment?")
    assert page.hosts == {urlsplit(page.url).netloc}
    assert page.evaluate("window.gradio_config.analytics_enabled") is False


def test_the_api_docs_render_with_nothing_from_another_host(page, server):
    page.hosts.clear()
    page.goto(server + "api/docs", wait_until="load")
    page.wait_for_selector(".swagger-ui .opblock-summary-path", timeout=60_000)  # built from openapi.json
    assert "sendsearch" in page.inner_text(".swagger-ui .info .title")
    assert "/search" in page.inner_text(".swagger-ui .opblock-summary-path")
    assert page.hosts == {urlsplit(server).netloc}


def test_axe_finds_no_serious_violation(page, tmp_path):
    if not AXE.exists():
        pytest.skip("axe-core is not installed: `npm install --prefix tests/axe` (make setup and .ci/run do it)")
    problems = {"landing": axe_violations(page)}
    ask(page, "How much high needs funding does Stockport get?")
    for summary in latest(page).locator("summary").all():
        summary.click()  # open "more", the questions asked and the full answers
    problems["reply"] = axe_violations(page)
    page.locator("#filters").get_by_text("Filters:").first.click()
    page.wait_for_timeout(300)
    problems["filters"] = axe_violations(page)
    page.get_by_role("tab", name="Add answers").click()
    page.wait_for_timeout(300)
    problems["upload"] = axe_violations(page)
    assert problems == {"landing": [], "reply": [], "filters": [], "upload": []}


def test_an_upload_with_the_password_is_searchable_at_once(page, tmp_path):
    # One council per size: two near-identical uploads would be shown as one passage.
    place = {"desktop": "Trafford", "phone": "Wigan"}[page.size_name]
    name = f"portage-{place.lower()}.txt"
    upload = tmp_path / name
    upload.write_text(
        f"Portage in {place}\n\n{place} runs a Portage home visiting service for pre-school children with SEND.",
        encoding="utf-8",
    )
    page.get_by_role("tab", name="Add answers").click()
    page.fill("#upload-password input", PASSWORD)
    page.click("#sign-in")
    page.wait_for_function("document.querySelector('#sign-in-result').innerText.length > 0", timeout=30_000)
    page.set_input_files("#upload-files input[type=file]", str(upload))
    page.click("#upload-button")
    page.wait_for_function("document.querySelector('#upload-result').innerText.includes('added')", timeout=120_000)
    assert "1 added" in page.inner_text("#upload-result")
    assert no_sideways_scroll(page)
    shot(page, "06-upload")
    page.get_by_role("tab", name="Ask").click()
    ask(page, f"Portage home visiting in {place}")
    assert f"uploaded/{name}" in latest(page).locator(".citation p").first.inner_text()


def test_the_search_api_answers_through_gradio_client(server):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(server, verbose=False)
    passages = client.predict("How much does Stockport spend on SEND?", 3, "", "", "", "", api_name="/search")
    assert len(passages) == 3
    assert passages[0]["doc_id"] == "001_96ab44ec7aed3ea8.txt"
    assert {"text", "citation", "source", "date_answered", "answered_by", "weak_match"} <= passages[0].keys()
    assert passages[0]["weak_match"] is False
    assert all(p["weak_match"] for p in client.predict("What is the best pizza in Rome?", 3, api_name="/search"))
    filtered = client.predict("Stockport SEND", 5, "", "", "", "web_page", api_name="/search")
    assert filtered
    assert all(p["kind"] == "web_page" for p in filtered)
    with pytest.raises(AppError, match="empty"):
        client.predict("   ", 3, "", "", "", "", api_name="/search")
    with pytest.raises(AppError, match="must be a date"):
        client.predict("EHC plans", 3, "2024-13-40", "", "", "", api_name="/search")
    log = server_log()
    assert "search API: " in log
    assert "must be a date" in log
    assert "Traceback" not in log


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
