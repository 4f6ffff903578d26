"""What any request may send to the public server, decided before the page, the API or MCP see it.

``RequestGate`` is ASGI middleware in front of the whole app (``server.create_server`` adds it):

- a request body is read only up to ``MAX_REQUEST_BYTES`` (a declared longer one is refused
  before a byte is read), and only for ``BODY_TIMEOUT_SECONDS`` (a client trickling its body
  would hold its connection for ever): a question and its filters are a few KB, and Gradio
  would otherwise hold any amount in memory. Gradio's upload route is left to
  ``UploadGate``, which has its own bound and needs the admin session;
- JSON nested deeper than ``MAX_JSON_DEPTH`` is refused, so no parser or walker down the
  line (Gradio's are recursive) can overflow its stack on a request; so is JSON holding
  text that is not valid Unicode (a lone surrogate), which no reply could carry back;
- a body that names a file the way Gradio does (``"meta": {"_type": "gradio.FileData"}``)
  is refused unless it carries the admin session: only the admin's upload event takes
  files. This is the second wall; the first is in Gradio's own event handling
  (``admin.guard_file_inputs``).

Given the page (``blocks``), it also answers before Gradio does what Gradio answers with
a traceback in the log: a stream of results (``queue/data``, ``call/NAME/EVENT``) for a
session or event it holds nothing for (Gradio raises its 404 after the stream has begun),
and a ``call/v2/NAME`` without a required value (a 500).

A refusal is a JSON ``{"error": "..."}`` with its status, and one line in the log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..limits import BODY_TIMEOUT_SECONDS, MAX_JSON_DEPTH, MAX_REQUEST_BYTES
from .admin import AdminGuard, client_of, names_a_file

__all__ = ["BAD_TEXT", "FILES_NEED_A_SESSION", "RequestGate", "scan_json"]

FILES_NEED_A_SESSION = (
    "Files are taken only from a signed-in administrator's upload: nothing was read. Send the question as text."
)
BAD_TEXT = "The request holds text that is not valid Unicode (a lone surrogate such as \\ud800): nothing was searched."
NOTHING_WAITING = "Nothing is waiting for that session or event: join the queue first (or it was already read)."
_QUEUE_DATA = re.compile(r"/gradio_api/queue/data/?$")
_CALL_RESULT = re.compile(r"/gradio_api/call/(?:v2/)?[^/]+/([^/]+)/?$")
_CALL_V2 = re.compile(r"/gradio_api/call/v2/([^/]+)/?$")
log = logging.getLogger("sendsearch.server")


def _valid_text(text: str) -> bool:
    """Whether a string can be written out as UTF-8 (JSON's ``"\\ud800"`` escapes decode to
    lone surrogates, which no reply can carry)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def scan_json(value: Any) -> tuple[int, bool]:
    """How deeply lists and objects nest in parsed JSON, and whether every string in it (keys
    too) is valid text; walked without recursion."""
    deepest, valid = 0, True
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            valid = valid and _valid_text(item)
            continue
        if isinstance(item, dict):
            children: Any = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest, valid


class _Gone(Exception):
    """The client went away before sending its whole request: nobody to answer."""


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RequestGate:
    """ASGI middleware bounding every request body and refusing file references from
    anyone without an admin session (``guard`` None: from everyone)."""

    def __init__(
        self,
        app: Any,
        *,
        guard: AdminGuard | None,
        blocks: Any = None,
        max_body: int = MAX_REQUEST_BYTES,
        body_timeout: float = BODY_TIMEOUT_SECONDS,
        max_depth: int = MAX_JSON_DEPTH,
        exempt: tuple[str, ...] = ("/gradio_api/upload",),
    ) -> None:
        self.app = app
        self.guard = guard
        self.blocks = blocks
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.max_depth = max_depth
        self.exempt = exempt
        self._api_info: dict[str, Any] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/").endswith(self.exempt):
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
            self._check(scope, body)
        except _Gone:
            return
        except _Refused as refused:
            log.warning("refused a request from %s: %s", client_of(Request(scope)), refused.message)
            # The rest of the body is not read: the connection is closed after the reply.
            reply = JSONResponse(
                {"error": refused.message}, status_code=refused.status, headers={"Connection": "close"}
            )
            await reply(scope, receive, send)
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            # The body once, as read; after that the client's own messages (a disconnect
            # ends a stream of server-sent events).
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            message: dict[str, Any] = await receive()
            return message

        await self.app(scope, replay, send)

    async def _read(self, scope: dict[str, Any], receive: Any) -> bytes:
        try:
            async with asyncio.timeout(self.body_timeout):
                return await self._read_within_bound(scope, receive)
        except TimeoutError:
            raise _Refused(408, f"The request's body did not arrive within {self.body_timeout:g} s.") from None

    async def _read_within_bound(self, scope: dict[str, Any], receive: Any) -> bytes:
        too_large = _Refused(413, f"The request is over {self.max_body // 1024} KB: nothing was read.")
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body:
            raise too_large
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Gone
            part = message.get("body", b"")
            size += len(part)
            if size > self.max_body:
                raise too_large
            parts.append(part)
            if not message.get("more_body", False):
                return b"".join(parts)

    def _check(self, scope: dict[str, Any], body: bytes) -> None:
        data = self._check_json(scope, body)
        queue = getattr(self.blocks, "_queue", None)
        if queue is not None:
            self._check_gradio(scope, data, queue)

    def _check_gradio(self, scope: dict[str, Any], data: Any, queue: Any) -> None:
        path, method = scope["path"], scope["method"]
        if method == "GET" and (_QUEUE_DATA.search(path) or _CALL_RESULT.search(path)):
            if match := _CALL_RESULT.search(path):
                session = _session_of_event(queue, match[1])
            else:
                session = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_hash", [None])[0]
            if session is not None and session not in queue.pending_messages_per_session:
                raise _Refused(404, NOTHING_WAITING)
        elif method == "POST" and (match := _CALL_V2.search(path)) and isinstance(data, dict):
            from gradio_client.utils import construct_args

            if self._api_info is None:
                self._api_info = self.blocks.get_api_info()
            endpoint = (self._api_info or {}).get("named_endpoints", {}).get("/" + match[1])
            if endpoint is not None:
                try:
                    construct_args(endpoint["parameters"], (), dict(data))
                except (TypeError, ValueError) as error:
                    raise _Refused(400, str(error)) from None

    def _check_json(self, scope: dict[str, Any], body: bytes) -> Any:
        """The body's JSON (None when it is not JSON), refused when hostile."""
        if body.lstrip()[:1] not in (b"{", b"["):
            return None  # not JSON: the route answers for itself
        try:
            data = json.loads(body)
        except RecursionError:
            raise _Refused(400, f"The request nests more than {self.max_depth} levels deep.") from None
        except ValueError:
            return None  # broken JSON: the route refuses it with its own message
        depth, valid = scan_json(data)
        if depth > self.max_depth:
            raise _Refused(400, f"The request nests more than {self.max_depth} levels deep.")
        if not valid:
            raise _Refused(400, BAD_TEXT)
        if names_a_file(data) and not (self.guard is not None and self.guard.signed_in(Request(scope))):
            raise _Refused(403, FILES_NEED_A_SESSION)
        return data


def _session_of_event(queue: Any, event_id: str) -> str:
    """The session whose messages carry ``event_id``'s result, found as Gradio finds it."""
    event = queue.event_ids_to_events.get(event_id)
    if event is not None:
        return str(event.session_hash)
    for session, events in queue.pending_event_ids_session.items():
        if event_id in events:
            return str(session)
    return event_id
