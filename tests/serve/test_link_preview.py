"""A shared link to the page previews as sendsearch, not as Gradio's demo."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import gradio

from sendsearch.serve.link_preview import LinkPreview, preview_tags, with_preview

# Gradio's own page template: its preview tags are what a shared link showed.
TEMPLATE = (Path(gradio.__file__).parent / "templates" / "frontend" / "index.html").read_bytes()


def preview(page: bytes) -> list[bytes]:
    """The Open Graph and Twitter tags of ``page``, as written."""
    return re.findall(rb'<meta\s+(?:property="og:|name="twitter:)[^>]*>', page)


def test_gradio_s_preview_is_replaced_by_sendsearch_s():
    assert any(b"Gradio" in tag for tag in preview(TEMPLATE))  # what was served before
    page = with_preview(TEMPLATE, preview_tags("sendsearch: SEND <help>", "Answers & sources"))
    tags = preview(page)
    assert b"Gradio" not in b"".join(tags)
    assert b"githubusercontent" not in page
    assert b"gradio.app" not in b"".join(tags)
    assert tags.count(b'<meta property="og:title" content="sendsearch: SEND &lt;help&gt;" />') == 1
    assert b'<meta name="description" content="Answers &amp; sources" />' in page
    assert b"og:image" not in page
    assert b"og:url" not in page
    # Only the tags go: the rest of the template is as it was.
    assert page.count(b"<script") == TEMPLATE.count(b"<script")
    assert page.index(b"og:title") < page.index(b"</head>")


def serve(app: Any, path: str, method: str = "GET") -> tuple[dict[str, Any], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": []}
    asyncio.run(LinkPreview(app, "sendsearch", "SEND answers")(scope, receive, send))
    return sent[0], b"".join(m.get("body", b"") for m in sent[1:])


def page_app(content_type: bytes, body: bytes, parts: int = 2) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        step = len(body) // parts + 1
        for start in range(0, len(body), step):
            more = start + step < len(body)
            await send({"type": "http.response.body", "body": body[start : start + step], "more_body": more})

    return app


def test_the_page_is_rewritten_whole_with_its_length():
    start, body = serve(page_app(b"text/html; charset=utf-8", TEMPLATE, parts=5), "/")
    assert b'<meta property="og:title" content="sendsearch" />' in body
    assert b"Gradio" not in b"".join(preview(body))
    assert dict(start["headers"])[b"content-length"] == str(len(body)).encode()


def test_other_paths_and_other_content_pass_untouched():
    for path, content_type in (("/members/x", b"text/html"), ("/", b"application/json"), ("/config", b"text/html")):
        start, body = serve(page_app(content_type, TEMPLATE), path)
        assert body == TEMPLATE
        assert dict(start["headers"])[b"content-length"] == str(len(TEMPLATE)).encode()
