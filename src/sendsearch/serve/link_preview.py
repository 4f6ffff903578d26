"""What a chat app or social site shows when someone shares the page's address.

Parents pass links around in messages and forums, and the app or site that shows the link
reads the page's Open Graph and Twitter tags for its preview. Gradio's page template starts
with its own ("Gradio", "Click to try out the app!", an image on raw.githubusercontent.com,
an address of gradio.app) before the ones it fills from the app's title, and previews take
the first they meet: a shared link to sendsearch showed up as Gradio's. ``LinkPreview``
takes every such tag out of the page at ``/`` and puts sendsearch's in their place: its
title and a one-line description, no image (nothing to fetch from anywhere), and no
address (the page cannot know the public one behind a proxy).
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = ["LinkPreview", "preview_tags", "with_preview"]

# One tag of a preview, as Gradio's template writes them (over several lines for long ones).
_PREVIEW_TAG = re.compile(rb'[ \t]*<meta\s+(?:property="og:[^"]*"|name="twitter:[^"]*")\s+content="[^"]*"\s*/?>\s*?\n?')
_CHARSET = re.compile(rb"<meta\s+charset=[^>]*>", re.IGNORECASE)


def preview_tags(title: str, description: str) -> str:
    """The page's description and its link preview, as HTML meta tags."""
    tags = [
        ("name", "description", description),
        ("property", "og:type", "website"),
        ("property", "og:title", title),
        ("property", "og:description", description),
        ("name", "twitter:card", "summary"),
        ("name", "twitter:title", title),
        ("name", "twitter:description", description),
    ]
    return "".join(f'<meta {kind}="{name}" content="{html.escape(value, quote=True)}" />' for kind, name, value in tags)


def with_preview(page: bytes, tags: str) -> bytes:
    """``page`` without its preview tags and with ``tags`` after its charset (or first in its head)."""
    stripped = _PREVIEW_TAG.sub(b"", page)
    found = _CHARSET.search(stripped)
    if found:
        return stripped[: found.end()] + tags.encode() + stripped[found.end() :]
    head = stripped.find(b"<head>")
    if head < 0:
        return stripped
    return stripped[: head + 6] + tags.encode() + stripped[head + 6 :]


class LinkPreview:
    """ASGI middleware: the HTML page served at ``/`` gets ``preview_tags(title,
    description)`` in place of Gradio's. Every other path and response passes untouched;
    a compressed page is left as it is (nothing here compresses it)."""

    def __init__(self, app: Any, title: str, description: str) -> None:
        self.app = app
        self.tags = preview_tags(title, description)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") != "/":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] | None = None
        rewrite = False
        body: list[bytes] = []

        async def relay(message: dict[str, Any]) -> None:
            nonlocal start, rewrite
            if message["type"] == "http.response.start":
                named = {name.lower(): value for name, value in message.get("headers", [])}
                rewrite = (
                    message.get("status") == 200
                    and named.get(b"content-type", b"").startswith(b"text/html")
                    and b"content-encoding" not in named
                )
                if rewrite:
                    start = message
                    return
            elif message["type"] == "http.response.body" and rewrite and start is not None:
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                page = with_preview(b"".join(body), self.tags)
                headers = [(n, v) for n, v in start.get("headers", []) if n.lower() != b"content-length"]
                headers.append((b"content-length", str(len(page)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": page})
                return
            await send(message)

        await self.app(scope, receive, relay)
