"""The admin flow in a real Chromium, on a page wired as ``admin.py``'s docstring shows:
a wrong password is refused, uploads are refused until signing in, and after signing in
the files go through Gradio's upload route (carrying the session cookie) and are added."""

from __future__ import annotations

from pathlib import Path

import gradio as gr  # at module level: Gradio resolves the handler's `gr.Request` hint here
import pytest

from sendsearch.serve import admin
from sendsearch.serve.server import create_server

from ..serving import serving

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "browser-admin-password"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)"),
]


def _page(index, guard):
    def add(files: list[str] | None, request: gr.Request) -> str:
        return admin.add_uploads(index, files, guard, request).message

    with gr.Blocks(delete_cache=admin.GRADIO_DELETE_CACHE) as blocks:
        password = gr.Textbox(type="password", label="Admin password", elem_id="password")
        message = gr.Markdown(elem_id="message")
        gr.Button("Sign in", elem_id="sign-in").click(None, [password], [message, password], js=admin.SIGN_IN_JS)
        files = gr.File(file_count="multiple", label="Files", elem_id="files")
        gr.Button("Add", elem_id="add").click(add, [files], [message], api_visibility="private")
    blocks.queue()
    return blocks


def _message(page, text: str) -> str:
    page.wait_for_function(f"document.querySelector('#message').innerText.includes({text!r})", timeout=60_000)
    return page.inner_text("#message")


def _upload_route(response) -> bool:
    # Waiting for the upload's own reply, not for a fixed time, keeps a busy machine from
    # clicking "Add" before the file is stored (or checking the folder before a refusal).
    return response.url.split("?")[0].endswith("/gradio_api/upload") and response.request.method == "POST"


def test_sign_in_then_upload_and_add(seed_index, tmp_path, monkeypatch):
    playwright = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "unused"))
    folder = admin.use_private_gradio_temp_dir(parent=tmp_path)
    guard = admin.AdminGuard(PASSWORD)
    upload = tmp_path / "portage-trafford.txt"
    upload.write_text("Portage in Trafford\n\nPortage home visiting supports pre-school children with SEND.")
    app = create_server(_page(seed_index, guard), seed_index, guard=guard, upload_folder=folder)
    with serving(app) as url, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless=new", "--no-sandbox"])
        page = browser.new_page()
        page.goto(url, wait_until="load")
        page.wait_for_selector("#sign-in")

        page.fill("#password input", "wrong")
        page.click("#sign-in")
        assert "not right" in _message(page, "not right")
        assert page.input_value("#password input") == ""  # the box is emptied after every try

        with page.expect_response(_upload_route) as refused:
            page.set_input_files("#files input[type=file]", str(upload))  # before signing in
        assert refused.value.status == 401
        assert not any(p.is_file() for p in folder.rglob("*"))  # refused: nothing stored

        page.fill("#password input", PASSWORD)
        page.click("#sign-in")
        assert "Signed in" in _message(page, "Signed in")
        page.set_input_files("#files input[type=file]", [])
        with page.expect_response(_upload_route) as stored:
            page.set_input_files("#files input[type=file]", str(upload))
        assert stored.value.status == 200
        page.wait_for_selector("#files a", timeout=60_000)  # the page shows the stored file
        page.click("#add")
        assert "1 added" in _message(page, "added")
        browser.close()
    [hit] = seed_index.search("Portage home visiting Trafford", k=1)
    assert hit.citation.source == "uploaded/portage-trafford.txt"
    # Gradio's copy is removed after indexing (Gradio may leave an empty temporary file,
    # which its delete_cache sweep removes).
    assert [p for p in folder.rglob("*") if p.is_dir() or p.stat().st_size] == []
