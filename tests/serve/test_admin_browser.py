"""The admin flow in a real Chromium, on a page wired as ``admin.py``'s docstring shows:
a wrong password is refused, adding is refused until signing in, and after signing in the
chosen files go to ``/admin/upload`` in one request (carrying the session cookie) and are
added, the outcome shown as text in the tab and the status line updated."""

from __future__ import annotations

import gradio as gr
import pytest

from sendsearch.serve import admin
from sendsearch.serve.server import create_server

from ..browser import CHROMIUM, NO_CHROMIUM, chromium
from ..serving import serving

PASSWORD = "browser-admin-password"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM),
]


STATUS = "Index: updated after the add"


def _page():
    with gr.Blocks(delete_cache=admin.GRADIO_DELETE_CACHE) as blocks:
        password = gr.Textbox(type="password", label="Admin password", elem_id="password")
        message = gr.Markdown(elem_id="message")
        status = gr.Markdown("Index: before", elem_id="status")
        gr.Button("Sign in", elem_id="sign-in").click(None, [password], [message, password], js=admin.SIGN_IN_JS)
        gr.HTML(admin.UPLOAD_FORM, elem_id="files", js_on_load=None)
        gr.Button("Add", elem_id="add").click(None, [status], [status], js=admin.UPLOAD_JS)
        gr.HTML(admin.UPLOAD_RESULT, js_on_load=None)
    return blocks


def _text(page, selector: str, text: str) -> str:
    page.wait_for_function(
        f"(document.querySelector({selector!r}) || {{innerText: ''}}).innerText.includes({text!r})", timeout=60_000
    )
    return page.inner_text(selector)


def _upload_route(response) -> bool:
    return response.url.split("?")[0].endswith("/admin/upload") and response.request.method == "POST"


def test_sign_in_then_upload_and_add(seed_index, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "unused"))
    folder = admin.use_private_gradio_temp_dir(parent=tmp_path)
    guard = admin.AdminGuard(PASSWORD)
    upload = tmp_path / "portage-trafford.txt"
    upload.write_text("Portage in Trafford\n\nPortage home visiting supports pre-school children with SEND.")
    documents = seed_index.info().documents
    app = create_server(_page(), seed_index, guard=guard, upload_folder=folder, upload_status=lambda: STATUS)
    with serving(app) as url, chromium() as browser:
        page = browser.new_page()
        page.goto(url, wait_until="load")
        page.wait_for_selector("#sign-in")
        # The file input has its label, and the result is a polite live region.
        assert page.get_by_label("Files to add").count() == 1
        assert page.get_attribute("#upload-result", "aria-live") == "polite"

        page.fill("#password input", "wrong")
        page.click("#sign-in")
        assert "not right" in _text(page, "#message", "not right")
        assert page.input_value("#password input") == ""  # the box is emptied after every try

        page.click("#add")  # nothing chosen yet
        assert _text(page, "#upload-result", "Choose") == "Choose one or more files first."

        page.set_input_files("#upload-files-input", str(upload))  # before signing in
        with page.expect_response(_upload_route) as refused:
            page.click("#add")
        assert refused.value.status == 401
        assert "Sign in with the admin password first" in _text(page, "#upload-result", "Sign in")
        assert seed_index.info().documents == documents

        page.fill("#password input", PASSWORD)
        page.click("#sign-in")
        assert "Signed in" in _text(page, "#message", "Signed in")
        with page.expect_response(_upload_route) as stored:
            page.click("#add")
        assert stored.value.status == 200
        shown = _text(page, "#upload-result", "added")
        assert shown.startswith("1 added, 0 replaced, 0 unchanged, 0 skipped")  # as text: no Markdown marks
        assert _text(page, "#status", STATUS) == STATUS
        assert page.input_value("#upload-files-input") == ""  # emptied: a second click adds nothing twice
        assert page.locator("#upload-result b, #upload-result strong").count() == 0
    [hit] = seed_index.search("Portage home visiting Trafford", k=1)
    assert hit.citation.source == "uploaded/portage-trafford.txt"
    # Nothing went through Gradio's upload folder.
    assert [p for p in folder.rglob("*") if p.is_file()] == []
