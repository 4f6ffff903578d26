"""The member view and saving a search, on the real page in a real Chromium (Debian's, driven by
Playwright), at a phone's and a desktop's size.

The server is the page `sendsearch serve` makes (``ui.create_app`` under ``server.create_server``,
with its theme and CSS) on a real uvicorn in this process, over the seed pages and a few written
answers with members' ids, one of them asked by a member the members table does not know whose
name and text carry markup. The index is built with the fake embedder: what is tested is the
page, not the model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from ..browser import CHROMIUM, NO_CHROMIUM, chromium, wait_until_ready
from ..conftest import SEED_PAGES, FakeEmbedder
from ..serving import serving
from .test_browser import (
    ARTIFACTS,
    AXE,
    SIZES,
    axe_violations,
    no_sideways_scroll,
    sizes,
    too_small,
)
from .test_member_page import FOY, HOSTILE_NAME, MCKINNELL, RECORDS, STRANGER

PASSWORD = "members-browser-password"
QUESTION = "When must EHC plans be issued?"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The page's URL and its index."""
    folder = tmp_path_factory.mktemp("members-browser")
    corpus = folder / "corpus"
    corpus.mkdir()
    for page in SEED_PAGES:
        shutil.copy(page, corpus / page.name)
    (corpus / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        # The hand-written key points: which sentences the learned scorer picks is not tested here.
        patch.setenv("SENDSEARCH_ANSWER_SCORER", "rules")
        patch.setenv("GRADIO_TEMP_DIR", str(folder / "unused"))
        from sendsearch import Index
        from sendsearch.serve import admin
        from sendsearch.serve.page_assets import PAGE_CSS
        from sendsearch.serve.server import create_server
        from sendsearch.serve.ui import create_app, theme

        uploads = admin.use_private_gradio_temp_dir(parent=folder)
        index, _ = Index.build([corpus], folder / "index", embedder=FakeEmbedder())
        guard = admin.AdminGuard(PASSWORD)
        blocks = create_app(index, guard=guard)
        blocks.queue()
        app = create_server(blocks, index, guard=guard, upload_folder=uploads, theme=theme(), css=PAGE_CSS)
        with serving(app) as url:
            yield url, index


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture(params=list(SIZES))
def context(request, browser, site):
    width, height = SIZES[request.param]
    # The member page forbids every script (its Content-Security-Policy); bypassing it here lets
    # axe-core in, and shows that escaping alone keeps the records' markup inert.
    made = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    made.size_name = request.param
    made.hosts = set()
    made.on("request", lambda r: made.hosts.add(urlsplit(r.url).netloc))
    yield made
    made.close()


def open_page(context, url: str):
    page = context.new_page()
    page.goto(url, wait_until="load")
    wait_until_ready(page)
    return page


def ask(page, question: str):
    """Ask, wait for the new reply (the newest turn comes first) and return it."""
    before = page.locator("#chat .turn").count()
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function(f"document.querySelectorAll('#chat .turn').length > {before}", timeout=90_000)
    return page.locator("#chat .turn").first


def no_script_ran(page) -> bool:
    return page.evaluate("window.__xss === undefined")


def test_a_name_in_a_reply_leads_to_the_members_questions_and_back(context, site):
    url, _ = site
    page = open_page(context, url)
    turn = ask(page, QUESTION)
    # The asker in a passage's line and in "Who asked these", each a link; names as text.
    asker = turn.locator(f".passage .meta a.member[href='members/{FOY}']").first
    assert asker.inner_text() == "Mary Foy (Labour, City of Durham)"
    assert turn.locator(f".passage .meta a.member[href='members/{MCKINNELL}']").first.inner_text() == (
        "Catherine McKinnell"
    )
    counts = turn.locator("p.note", has_text="Who asked these")
    assert counts.locator(f"a.member[href='members/{FOY}']").inner_text() == "Mary Foy (Labour, City of Durham)"
    more = turn.locator("details.more > summary")
    if more.count():
        more.click()  # the hostile record may be among the rest
    assert HOSTILE_NAME in turn.locator(f"a.member[href='members/{STRANGER}']").first.inner_text()
    assert turn.locator("script, img").count() == 0
    assert too_small(sizes(turn, "a.member"), text=14) == []
    ARTIFACTS.mkdir(exist_ok=True)
    turn.locator(".passage").first.screenshot(path=str(ARTIFACTS / f"12-member-links-{context.size_name}.png"))
    if AXE.exists():
        assert axe_violations(page) == []
    assert no_script_ran(page)

    # The name opens the member's page in a new tab: the reply stays in this one.
    with context.expect_page() as opened:
        asker.click()
    member = opened.value
    member.wait_for_load_state()
    assert member.url == url + f"members/{FOY}"
    assert member.inner_text("h1") == "Mary Foy"
    # Her party, house and seat, and her service unbroken since 2019 (the table has a row a Parliament).
    who = member.inner_text(".who")
    assert who == "Labour MP for City of Durham · House of Commons · member since 13 December 2019"
    assert member.locator("main > p").nth(1).inner_text().startswith("2 questions asked and no answers given")
    entries = member.locator("ol > li")
    assert entries.count() == 2
    dates = [entries.nth(i).locator(".meta").first.inner_text() for i in range(2)]
    assert dates == ["Answered 10 March 2025, asked 10 March 2025", "Answered 10 January 2025, asked 10 January 2025"]
    for i in range(2):
        assert (
            entries.nth(i)
            .locator("a.title")
            .get_attribute("href")
            .startswith("https://questions-statements.parliament.uk/written-questions/detail/2025-")
        )
    assert "Answered by Catherine McKinnell (Labour)" in entries.first.inner_text()
    assert too_small(sizes(member, "a, summary")) == []
    assert no_sideways_scroll(member)
    ARTIFACTS.mkdir(exist_ok=True)
    member.screenshot(path=str(ARTIFACTS / f"12-member-page-{context.size_name}.png"), full_page=True)
    if AXE.exists():
        assert axe_violations(member) == []
    # The way back: the search page, ready for a question.
    member.locator("a.back", has_text="Back to sendsearch").click()
    wait_until_ready(member)
    assert page.locator("#chat .turn").count() == 1  # the reply is still where it was
    assert context.hosts == {urlsplit(url).netloc}


def test_a_name_and_text_with_markup_stay_text_on_the_members_page(context, site):
    url, _ = site
    page = context.new_page()
    page.goto(url + f"members/{STRANGER}", wait_until="load")
    assert HOSTILE_NAME in page.inner_text("h1")
    page.locator("details summary").first.click()  # the question asked, with its markup as text
    assert "<script>" in page.locator("details p").first.inner_text()
    assert page.locator("script, img, iframe").count() == 0
    assert no_script_ran(page)
    assert too_small(sizes(page, "a, summary")) == []
    if AXE.exists():
        assert axe_violations(page) == []
    assert context.hosts == {urlsplit(url).netloc}


def _saved_result(page, text: str) -> str:
    page.wait_for_function(f"document.querySelector('#save-result').innerText.includes({text!r})", timeout=60_000)
    return page.inner_text("#save-result")


def test_a_signed_in_admin_saves_a_search_with_a_filter_and_a_visitor_cannot(context, site):
    url, index = site
    from sendsearch.search.saved import SavedSearches

    name = f"ehc-{context.size_name}"
    store = SavedSearches(index.directory)
    # A visitor who has not signed in: refused, nothing stored.
    visitor = open_page(context, url)
    visitor.get_by_role("tab", name="Add answers").click()
    visitor.fill("#save-name :is(input, textarea)", name)
    visitor.fill("#save-question :is(input, textarea)", QUESTION)
    visitor.click("#save-button")
    assert "Sign in with the admin password first; nothing was saved." in _saved_result(visitor, "nothing was saved")
    assert store.get(name) is None

    # Signed in, with the House filter chosen on the Ask tab.
    visitor.fill("#upload-password input", PASSWORD)
    visitor.click("#sign-in")
    visitor.wait_for_function(
        "document.querySelector('#sign-in-result').innerText.includes('Signed in')", timeout=30_000
    )
    visitor.get_by_role("tab", name="Ask").click()
    visitor.locator("#filters").get_by_text("Filters:").first.click()
    visitor.locator("#house label", has_text="Commons").click()
    visitor.get_by_role("tab", name="Add answers").click()
    visitor.click("#save-button")
    said = _saved_result(visitor, "Saved")
    assert said.startswith(f"Saved {name}: “{QUESTION}”")
    assert f"/feeds/saved/{name}.atom" in said
    saved = store.get(name)
    assert saved is not None
    assert (saved.request.question, saved.request.filters.house) == (QUESTION, "Commons")
    listed = subprocess.run(
        [sys.executable, "-m", "sendsearch.cli", "watch", "list", "--index", str(index.directory)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    ).stdout
    assert any(line.startswith(f"{name}: “{QUESTION}”") and "Commons" in line for line in listed.splitlines())
    assert context.hosts == {urlsplit(url).netloc}
