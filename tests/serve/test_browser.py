"""The chat page in a real Chromium (Debian's, driven by Playwright), its API, and load.

A server runs `sendsearch serve` in a subprocess over the seed corpus plus a hostile page
and a few written answers about short breaks (three questions given one answer, and a long
answer), built with the real model. Every page test runs at a desktop and a phone size; axe-core
checks the landing page, a reply, the filters and the upload tab. Screenshots of the main
states go to test-artifacts/.
"""

from __future__ import annotations

import csv
import json
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

from ..browser import CHROMIUM, NO_CHROMIUM, chromium, wait_until_ready
from ..conftest import ROOT, SEED_PAGES

# axe-core from npm (tests/axe/package.json), injected into the page.
AXE = ROOT / "tests" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# A desktop and a phone (the sizes).
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "test-admin-password"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM),
]

# A page carrying every way scraped text might try to run code or inject markup.
HOSTILE_PAGE = """Hostile test page about SEND transport

Hostile transport test: <script>window.__xss = "script"</script> and
<img src=x onerror="window.__xss = 'img'"> and a <a href="javascript:window.__xss='link'">javascript link</a>
and [markdown link](javascript:window.__xss='md') and ![image](x" onerror="window.__xss='mdimg')
and <iframe src="javascript:window.__xss='frame'"></iframe> about school transport for SEND pupils.
"""


# Written answers on a topic of their own (short breaks), so the seed pages still answer the
# other tests' questions: one answer given to three questions, and one long enough to be cut
# into passages (so "Show the full answer" appears).
SHORT_BREAKS = (
    "Short breaks give disabled children and young people enriching experiences away from their families, and "
    "give their parents and carers a break from caring. Local authorities must provide a range of short breaks "
    "services and publish a short breaks services statement setting out what is available locally and how "
    "families can get it."
)
LONG_ANSWER = " ".join(
    f"Part {n}: Rotherham's short breaks offer includes holiday clubs, overnight stays and help at home for "
    "disabled children, and parents can ask the council for a carer's assessment at any time to find out which "
    "short breaks their family can use and how the council decides who is eligible for each of them."
    for n in range(1, 9)
)
ANSWERS = [
    ("90001", "2024-05-03", "Rotherham", SHORT_BREAKS),
    ("90002", "2024-05-03", "Doncaster", SHORT_BREAKS),
    ("90003", "2024-05-07", "Barnsley", SHORT_BREAKS),
    ("90004", "2024-05-08", "Rotherham, and how families are assessed for them", LONG_ANSWER),
]
PUBLIC_PAGE = "https://questions-statements.parliament.uk/written-questions/detail/{date}/{uin}"


def written_answers() -> str:
    return "\n".join(
        json.dumps(
            {
                "id": int(uin) + 1_000_000,
                "uin": uin,
                "house": "Commons",
                "heading": "Special Educational Needs: Short Breaks",
                "dateTabled": f"{tabled}T00:00:00",
                "dateAnswered": None,
                "answeringBodyName": "Department for Education",
                "questionText": f"To ask the Secretary of State for Education, what short breaks are available for "
                f"disabled children in {place}.",
                "answerText": f"<p>{answer}</p>",
            }
        )
        for uin, tabled, place, answer in ANSWERS
    )


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
    (corpus / "short-breaks.jsonl").write_text(written_answers(), encoding="utf-8")
    Index.build([corpus], folder / "index", embedder=real_embedder)
    port = _free_port()
    # Analytics are left to the app to turn off (the test of other hosts checks it does).
    # The hand-tuned key points ("rules"): these tests are about how key points, passages and
    # copies render on a page, on questions the rules answer; which sentences the learned answer
    # scorer picks, and the reply without key points, are tested in tests/chat/test_answers.py
    # and tests/test_real_model.py.
    env = {**os.environ, "SENDSEARCH_ADMIN_PASSWORD": PASSWORD, "SENDSEARCH_ANSWER_SCORER": "rules"}
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
    with chromium() as launched:
        yield launched


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
    wait_until_ready(page)
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
    assert "10 documents" in page.inner_text("#status")
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
    # The EHC team question's answer comes first: the saved page (002), cited by its title
    # and as a saved copy, never by its file name.
    cited = latest(page).locator(".citation p").first.inner_text()
    assert cited.startswith("[1] Special Educational Needs: Stockport Metropolitan Borough Council, answered by")
    assert cited.endswith("a saved copy of a page, no web address recorded")
    # The examples make way for the reply, and no empty line stays where they were (the
    # notice line above the replies held 20 px with nothing in it).
    page.wait_for_selector("#examples", state="hidden")
    gap = page.evaluate(
        "document.querySelector('#chat').getBoundingClientRect().top"
        " - document.querySelector('#filters').getBoundingClientRect().bottom"
    )
    assert gap <= 24, gap
    # ... and shows as soon as it holds a notice (as the server's "busy" line would put there).
    page.evaluate(
        "document.querySelector('#chat-notice').insertAdjacentHTML('afterbegin',"
        ' \'<p class="notice" role="status">The server is busy</p>\')'
    )
    assert page.locator("#chat-notice .notice").is_visible()


def test_a_new_conversation_brings_back_the_question_box(page):
    """After two replies "New conversation" sits far down a phone's page; once pressed, the
    empty page must not leave the reader looking at the examples with the box above them."""
    ask(page, "How much high needs funding does Stockport get?")
    ask(page, "Are there enough special school places being built?")
    page.locator("#new-conversation").scroll_into_view_if_needed()
    page.click("#new-conversation")
    page.wait_for_function("document.querySelectorAll('#chat .turn').length === 0", timeout=90_000)
    page.wait_for_function(
        "(() => { const r = document.querySelector('#question textarea').getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= window.innerHeight; })()",
        timeout=30_000,
    )
    assert page.evaluate("document.activeElement === document.querySelector('#question textarea')")


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


def test_the_page_keeps_its_replies_within_the_bounds(browser):
    """``ADD_REPLY`` (the browser's half of the conversation): the new reply first, then
    those shown, at most MAX_CHAT_TURNS and MAX_CHAT_HISTORY_CHARS of them (the newest
    always); a reset drops them; nothing new leaves the chat as it is."""
    from sendsearch.limits import MAX_CHAT_HISTORY_CHARS, MAX_CHAT_TURNS
    from sendsearch.serve.ui import ADD_REPLY, EMPTY_CONVERSATION

    page = browser.new_page()
    try:
        add = f"([fresh, chat]) => ({ADD_REPLY})(fresh, chat)"

        def turn(n: int, size: int = 10) -> str:
            return f'<article class="turn" data-n="{n}">{"x" * size}</article>'

        chat = EMPTY_CONVERSATION
        for n in range(MAX_CHAT_TURNS + 3):
            chat, fresh = page.evaluate(add, [{"html": turn(n), "reset": False}, chat])
            assert fresh is None
        numbers = [int(n) for n in re.findall(r'data-n="(\d+)"', chat)]
        assert numbers == list(range(MAX_CHAT_TURNS + 2, 2, -1))  # the newest 20, newest first
        assert "placeholder" not in chat
        big = turn(99, MAX_CHAT_HISTORY_CHARS // 2 - 100)
        chat, _ = page.evaluate(add, [{"html": big, "reset": False}, chat])
        chat, _ = page.evaluate(add, [{"html": turn(100, MAX_CHAT_HISTORY_CHARS // 2 - 100), "reset": False}, chat])
        kept = re.findall(r'data-n="(\d+)"', chat)
        assert kept[:2] == ["100", "99"]
        assert len(chat) <= MAX_CHAT_HISTORY_CHARS
        assert len(kept) < MAX_CHAT_TURNS  # the older small ones that fit, no more
        huge = turn(101, MAX_CHAT_HISTORY_CHARS * 2)
        chat, _ = page.evaluate(add, [{"html": huge, "reset": False}, chat])
        assert chat == huge  # the newest is always kept
        assert page.evaluate(add, [None, chat]) == [chat, None]
        assert page.evaluate(add, [{"html": turn(7), "reset": True}, chat])[0] == turn(7)
    finally:
        page.close()


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


def test_the_council_filter_takes_any_spelling_and_the_reply_counts_councils(page):
    page.locator("#filters").get_by_text("Filters:").first.click()
    box = page.locator("#council input")
    box.click()
    box.fill("")  # it shows "Any council"
    box.press_sequentially("Stockp")
    # The type-ahead narrows the councils' names as one types.
    page.get_by_role("option", name="Stockport", exact=True).wait_for(timeout=10_000)
    assert page.get_by_role("option", name="Kent", exact=True).count() == 0
    box.press_sequentially("ort MBC")  # a spelling the list does not hold: resolved when asked
    box.press("Enter")
    page.wait_for_timeout(300)
    reply = ask(page, "How much does Stockport spend on SEND?")
    assert "Filters: about Stockport." in reply
    assert "Councils in these results: Stockport (" in reply
    assert "CC-BY-4.0" in page.inner_text("#credits")
    assert "local authority" in page.inner_text("#credits")
    shot(page, "09-council-filter")


def test_a_reply_charts_its_matches_by_month_and_can_put_the_newest_first(page):
    ask(page, SHORT_BREAKS_QUESTION)
    chart = latest(page).locator("svg.timeline-chart")
    chart.wait_for(timeout=10_000)
    box = chart.bounding_box()
    assert box is not None
    assert box["width"] <= page.viewport_size["width"]
    assert box["height"] >= 60  # readable: it scales with the width, never to a sliver
    assert no_sideways_scroll(page)
    assert chart.get_attribute("role") == "img"
    assert "good matches" in (latest(page).locator("svg.timeline-chart desc").text_content() or "")
    labels = latest(page).locator("svg.timeline-chart text.label").all()
    assert all(float(t.evaluate("e => getComputedStyle(e).fontSize").removesuffix("px")) >= 12 for t in labels)
    latest(page).get_by_text("Matching answers by month, as a table").click()
    assert "May 2024" in latest(page).locator(".timeline table").inner_text()
    shot(page, "10-timeline")
    page.locator("#filters").get_by_text("Filters:").first.click()
    page.locator("#order label", has_text="Newest first").click()
    ask(page, SHORT_BREAKS_QUESTION)
    reply = latest(page).inner_text()
    assert "passages found, newest first" in reply
    # The newest answer comes first, then the one before it, whatever their relevance.
    assert reply.index("asked 8 May 2024") < reply.index("asked 7 May 2024") < reply.index("answered 18 April 2024")


def test_a_reply_downloads_its_passages_as_csv_from_the_server_itself(page, tmp_path):
    ask(page, "How much does Stockport spend on SEND?")
    link = latest(page).locator("a.download")
    assert link.inner_text() == "Download these passages (CSV)"
    assert urlsplit(link.evaluate("a => a.href")).netloc == urlsplit(page.url).netloc
    with page.expect_download() as waiting:
        link.click()
    saved = tmp_path / "passages.csv"
    waiting.value.save_as(saved)
    assert waiting.value.suggested_filename == "sendsearch-passages.csv"
    rows = list(csv.DictReader(saved.open(encoding="utf-8")))
    assert rows
    assert rows[0]["doc_id"] == "001_96ab44ec7aed3ea8.txt"
    assert too_small(sizes(latest(page), "a.download")) == []


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
    # The advice link is a 44 px target like every other (it was 19 px high on a phone).
    assert too_small(sizes(latest(page), "a, button, summary"), text=14) == []


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
    ask(page, SHORT_BREAKS_QUESTION)  # other questions linked, a long answer, [n] links
    for summary in latest(page).locator("summary").all():
        summary.click()
    problems["grouped"] = axe_violations(page)
    page.locator("#filters").get_by_text("Filters:").first.click()
    page.wait_for_timeout(300)
    problems["filters"] = axe_violations(page)
    page.get_by_role("tab", name="Add answers").click()
    page.wait_for_timeout(300)
    problems["upload"] = axe_violations(page)
    assert problems == {"landing": [], "reply": [], "grouped": [], "filters": [], "upload": []}


SHORT_BREAKS_QUESTION = "What short breaks are there for disabled children in Rotherham?"
TAP = 44  # px, WCAG 2.5.5


def sizes(where, selector: str) -> list[tuple[str, int, int, float]]:
    """Each visible element's text, width, height (px) and font size (px), in a page or a locator."""
    return where.locator(selector).evaluate_all(
        """els => els.filter(e => e.getClientRects().length).map(e => {
            const r = e.getBoundingClientRect();
            return [e.innerText.trim().slice(0, 40), Math.round(r.width), Math.round(r.height),
                    parseFloat(getComputedStyle(e).fontSize)];
        })""",
    )


def too_small(found: list[tuple[str, int, int, float]], *, text: float = 16) -> list:
    return [f for f in found if f[1] < TAP or f[2] < TAP or f[3] < text]


def test_every_tap_target_is_44_px_with_readable_text(page):
    examples = sizes(page, "#examples button")
    assert len(examples) == 5
    assert too_small(examples) == []
    assert too_small(sizes(page, "[role=tab], #filters > button")) == []
    page.locator("#filters").get_by_text("Filters:").first.click()
    page.locator("#shown label", has_text="1").first.click()  # one passage first: the rest behind "more"
    choices = sizes(page, "#filters label:has(input[type=radio]), #filters label:has(input[type=checkbox])")
    assert any(name.startswith("Include undated documents") for name, *_ in choices)
    assert too_small(choices, text=14) == []
    ask(page, SHORT_BREAKS_QUESTION)
    turn = latest(page)
    toggles = sizes(turn, "summary")
    names = {name.split(" (")[0] for name, *_ in toggles}
    assert {"Question asked", "Show the full answer"} <= names
    assert any(re.fullmatch(r"Show \d+ more passages?", name) for name in names)
    assert too_small(toggles) == []
    assert too_small(sizes(turn, "button.copy, a.ref") + sizes(page, "#new-conversation")) == []
    # Every link and button of a reply, at the size of its text (passage lines are 14.7 px).
    assert too_small(sizes(turn, "a, button, summary"), text=14) == []
    shot(page, "07-tap-targets")


def test_the_question_box_shows_its_whole_example(page):
    def fits() -> list:
        """Lines the example needs, and whether the empty box shows them all.

        Gradio sizes the box to its text's scrollHeight. Chromium counts the placeholder in
        it, Firefox and Safari do not (there the empty box is one line, and a two-line
        example is cut in half): the box is sized here as they size it."""
        return page.eval_on_selector(
            "#question textarea",
            """box => {
                const style = getComputedStyle(box);
                const [top, bottom, line] = [style.paddingTop, style.paddingBottom, style.lineHeight].map(parseFloat);
                const [value, example, height] = [box.value, box.placeholder, box.style.height];
                box.value = example;
                box.style.height = '1px';
                const lines = Math.round((box.scrollHeight - top - bottom) / line);
                box.value = '';
                box.placeholder = '';
                box.style.height = '1px';
                box.style.height = `${box.scrollHeight}px`;
                const fits = top + lines * line <= box.clientHeight;
                [box.value, box.placeholder, box.style.height] = [value, example, height];
                return [lines, fits];
            }""",
        )

    assert page.get_attribute("#question textarea", "placeholder").startswith("e.g. ")
    lines, whole = fits()
    assert whole, f"the example takes {lines} lines"
    ask(page, "How much does Stockport spend on SEND?")
    assert fits()[1]  # the box emptied after a question too


def test_each_passage_links_to_its_source_once_and_names_the_other_questions(page):
    ask(page, SHORT_BREAKS_QUESTION)
    turn = latest(page)
    if turn.locator("details.more").count():
        turn.locator("details.more > summary").click()
    linked = 0
    for section in turn.locator("section.passage").all():
        assert "Read it on" not in section.inner_text()
        if "no web address recorded" in section.locator(".citation").inner_text():
            continue  # a saved page: no web address, no link
        assert section.locator(".citation a").count() == 1
        source = section.locator(".citation a").get_attribute("href")
        assert section.locator(f'a[href="{source}"]').count() == 1
        linked += 1
    assert linked >= 2  # the short-breaks answers
    grouped = turn.locator("section.passage", has=page.locator("ul.others")).first
    assert "The same answer was given to 2 other questions:" in grouped.inner_text()
    shown = grouped.locator(".citation a").get_attribute("href")
    expected = {
        PUBLIC_PAGE.format(date=tabled, uin=uin): f"Question {uin} (tabled {int(tabled[-2:])} May 2024)"
        for uin, tabled, _, answer in ANSWERS
        if answer == SHORT_BREAKS
    }
    del expected[shown]
    links = grouped.locator("ul.others a")
    assert {links.nth(n).get_attribute("href"): links.nth(n).inner_text() for n in range(links.count())} == expected
    assert no_sideways_scroll(page)
    shot(page, "08-grouped")


def test_a_key_points_number_takes_you_to_its_passage(page):
    ask(page, SHORT_BREAKS_QUESTION)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    ref = latest(page).locator(".key-points a.ref").first
    number = ref.inner_text().strip("[]")
    target = ref.get_attribute("href")[1:]
    ref.click()
    passage = page.locator(f"[id='{target}']")
    assert passage.locator("h3").inner_text().startswith(f"[{number}] ")
    page.wait_for_function(f"document.activeElement.id === {target!r}")
    box = passage.bounding_box()
    assert 0 <= box["y"] < page.viewport_size["height"] / 2


def test_a_key_points_number_opens_more_when_its_passage_is_behind_it(browser):
    """The script on its own, over a rendered reply whose [2] points behind "Show 1 more"."""
    from sendsearch.chat.conversation import Reading
    from sendsearch.chat.keypoints import KeyPoint
    from sendsearch.chat.render import render_turn
    from sendsearch.chat.replies import Reply, ShownPassage
    from sendsearch.schema import Citation, Passage
    from sendsearch.serve.page_assets import COPY_SCRIPT, PAGE_CSS

    def passage(number: int) -> ShownPassage:
        text = f"Answer {number}. " + "Short breaks are set out in the council's statement. " * 30
        return ShownPassage(number, Passage(str(number), text, 1.0, number, 0, len(text), Citation(title=f"T{number}")))

    message = "short breaks"
    reply = Reply(
        message,
        Reading(message, message=message),
        key_points=(KeyPoint("Answer 2.", 2),),
        shown=(passage(1),),
        more=(passage(2),),
    )
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.set_content(f"<style>{PAGE_CSS}</style><main><div id='chat'>{render_turn(reply, 'r1')}</div></main>")
    page.evaluate(f"(() => {{ const element = document.querySelector('#chat'); {COPY_SCRIPT} }})()")
    assert not page.is_visible("#r1-passage-2")
    page.click("a.ref")
    assert page.evaluate("document.querySelector('details.more').open")
    assert page.evaluate("document.activeElement.id") == "r1-passage-2"
    assert 0 <= page.locator("#r1-passage-2").bounding_box()["y"] < 100
    page.close()


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
    page.set_input_files("#upload-files-input", str(upload))
    page.click("#upload-button")
    page.wait_for_function("document.querySelector('#upload-result').innerText.includes('added')", timeout=120_000)
    assert "1 added" in page.inner_text("#upload-result")
    assert no_sideways_scroll(page)
    shot(page, "06-upload")
    page.get_by_role("tab", name="Ask").click()
    ask(page, f"Portage home visiting in {place}")
    # Cited by its title as a saved page; its file name (uploaded/...) stays in the API's
    # source field, not in what a reader copies.
    cited = latest(page).locator(".citation p").first.inner_text()
    assert cited == f"[1] Portage in {place}, a saved copy of a page, no web address recorded"


def test_the_search_api_answers_through_gradio_client(server):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    # httpx's default 5 s would fail a reply that a busy machine is still computing.
    client = Client(server, verbose=False, httpx_kwargs={"timeout": 300})
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
