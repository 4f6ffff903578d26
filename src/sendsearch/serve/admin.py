"""The admin side of a public server: the password, who may upload, and where uploads go.

Adding answers from the page is the one thing a visitor can do that changes the server, so:

- the password is compared in constant time, and wrong guesses are limited per client
  (free tries, then an exponential delay, then a lockout window; ``AttemptLimiter``), and
  for requests that came through a trusted proxy (``server.ForwardedClients``), also in
  total per proxy: clients behind it that each claim a new address share that bound;
- a correct password opens a session (an HttpOnly cookie) through ``session_router``'s
  ``POST /admin/session``; the password goes in the request body, never in a URL or a log;
  the cookie is a token signed with HMAC-SHA256 (its expiry, a random part, the signature),
  so any instance holding the same secret (``SENDSEARCH_SESSION_SECRET``) and password
  accepts it: serve instances behind a load balancer keep no sessions of their own;
- ``upload_router``'s ``POST /admin/upload`` is how the page adds files: one multipart
  request from a signed-in browser, its files bounded (count, bytes each, bytes in all)
  before and while they are read, written under sanitised names into a private folder,
  added by ``add_uploads`` and removed, the outcome in the reply. Nothing waits on one
  instance between requests, so any instance behind a load balancer can take it;
- ``UploadGate`` refuses Gradio's own upload route (``/gradio_api/upload``, which the page
  no longer uses) to anyone without a session, before a byte is stored, and while Gradio's
  upload folder is over its bound;
- ``guard_file_inputs`` makes sure no event reads a file it was not meant to: Gradio copies
  any file an event's inputs name (``{"path": ..., "meta": {"_type": "gradio.FileData"}}``)
  into its folder before the handler runs, so events that take no files refuse file
  references, events that take files need a session, and Gradio's own "was this file
  uploaded?" check is switched on (``mount_gradio_app`` leaves it off);
- Gradio's upload folder is a private one this process owns (``use_private_gradio_temp_dir``)
  and is emptied of old files (``GRADIO_DELETE_CACHE``); ``add_uploads`` copies the files
  it indexes into another private folder, removes it after indexing and deletes Gradio's
  copies too.

Integration (``server.create_server`` does the routing half; the page does the rest)::

    folder = admin.use_private_gradio_temp_dir()   # before gradio makes the Blocks
    guard = admin.AdminGuard(settings.admin_password())

    with gr.Blocks(delete_cache=admin.GRADIO_DELETE_CACHE) as blocks:
        password = gr.Textbox(type="password")
        message = gr.Markdown()
        status = gr.Markdown()
        gr.Button("Sign in").click(None, [password], [message, password], js=admin.SIGN_IN_JS)
        gr.HTML(admin.UPLOAD_FORM, js_on_load=None)   # the file input
        gr.Button("Add").click(None, [status], [status], js=admin.UPLOAD_JS)
        gr.HTML(admin.UPLOAD_RESULT, js_on_load=None)  # the outcome, as text
    server.serve(server.create_server(blocks, index, guard=guard, upload_folder=folder), host, port)
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import html
import inspect
import json
import logging
import math
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..chat.render import escape
from ..errors import SendSearchError
from ..limits import (
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_FILES,
    MAX_UPLOAD_FOLDER_BYTES,
    PROXY_FREE_GUESSES,
    PROXY_LOCKOUT_AFTER,
)
from ..search.index import Index
from ..sources.readers import SUPPORTED_SUFFIXES, SkipLog

__all__ = [
    "GRADIO_DELETE_CACHE",
    "PROXY_SCOPE_KEY",
    "SESSION_COOKIE",
    "SIGN_IN_JS",
    "UPLOAD_FORM",
    "UPLOAD_JS",
    "UPLOAD_RESULT",
    "UPLOAD_ROUTE",
    "AdminGuard",
    "AttemptLimiter",
    "Check",
    "RequestLike",
    "UploadGate",
    "UploadOutcome",
    "add_uploads",
    "client_of",
    "file_references",
    "gradio_upload_folder",
    "guard_file_inputs",
    "names_a_file",
    "proxy_of",
    "session_router",
    "sign",
    "signature_matches",
    "upload_router",
    "use_private_gradio_temp_dir",
]

SESSION_COOKIE = "sendsearch_admin"
# Where server.ForwardedClients leaves the trusted proxy's address on a request it forwarded.
PROXY_SCOPE_KEY = "sendsearch.proxy"
# Gradio's Blocks(delete_cache=...): every 10 minutes, delete files it stored over an hour ago.
GRADIO_DELETE_CACHE = (600, 3600)
# For the page's "Sign in" button (fn=None, inputs [password], outputs [message, password]):
# the browser posts the password to the session route, which sets the cookie that lets
# its uploads through; the password box is emptied. The URL is relative to the page.
SIGN_IN_JS = """async (password) => {
  try {
    const response = await fetch("admin/session", {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify({password: password || ""})});
    const reply = await response.json();
    return [reply.message || reply.error || "The server gave no answer.", ""];
  } catch (error) {
    return ["The server could not be reached.", ""];
  }
}"""
_MAX_BODY = 4096  # a password and its JSON, at most
# Where the page posts its files (multipart/form-data, field "files"): one request, answered
# with the outcome, so any instance can take it (``upload_router``). Relative to the page.
UPLOAD_ROUTE = "/admin/upload"
_UPLOAD_FIELD = "files"
_UPLOAD_INPUT_ID = "upload-files-input"
_UPLOAD_RESULT_ID = "upload-result"
# The page's file input, with its label.
# Inline styles: a 44 px tap target (the focus ring is in page_assets.PAGE_CSS).
UPLOAD_FORM = f"""<div class="upload-form">
<label for="{_UPLOAD_INPUT_ID}" style="display:block;font-weight:600;margin-bottom:4px">Files to add</label>
<input type="file" id="{_UPLOAD_INPUT_ID}" name="{_UPLOAD_FIELD}" multiple
  accept="{",".join(SUPPORTED_SUFFIXES)}"
  style="min-height:44px;padding:8px;border:1px solid #6b7280;border-radius:6px;width:100%;box-sizing:border-box">
</div>"""
# Where UPLOAD_JS writes the outcome: a polite live region, put after the button.
UPLOAD_RESULT = f'<p id="{_UPLOAD_RESULT_ID}" role="status" aria-live="polite" style="white-space:pre-line"></p>'
# For the page's "Add to the index" button (fn=None, inputs [status], outputs [status]): the
# browser posts the chosen files to UPLOAD_ROUTE and writes the reply's message into the live
# region as text (never as HTML); the status line comes back with it. The file input is
# emptied after an add, so the same files are not added twice by a second click.
UPLOAD_JS = f"""async (status) => {{
  const input = document.getElementById("{_UPLOAD_INPUT_ID}");
  const result = document.getElementById("{_UPLOAD_RESULT_ID}");
  const say = (text) => {{ if (result) result.textContent = text; }};
  if (!input || !input.files || input.files.length === 0) {{
    say("Choose one or more files first.");
    return [status];
  }}
  const form = new FormData();
  for (const file of input.files) form.append("{_UPLOAD_FIELD}", file, file.name);
  say("Adding " + input.files.length + " file(s)...");
  try {{
    const response = await fetch("{UPLOAD_ROUTE.lstrip("/")}",
      {{method: "POST", credentials: "same-origin", body: form}});
    let reply = null;
    try {{ reply = await response.json(); }} catch (error) {{ reply = null; }}
    if (!reply) {{
      say("The server refused the upload (HTTP " + response.status + "): nothing was added.");
      return [status];
    }}
    say(reply.text || reply.message || reply.error || "The server gave no answer.");
    if (reply.ok) input.value = "";
    return [reply.status || status];
  }} catch (error) {{
    say("The server could not be reached: nothing was added.");
    return [status];
  }}
}}"""
UPLOAD_BUSY = "Another add is running on this server: try again when it has finished. Nothing was added."
# The longest a signed-in upload's body may take to arrive (RequestGate's 30 s is for a
# question; this is up to 400 MB): past it, the add is refused and its files removed.
UPLOAD_BODY_SECONDS = 600.0
# How Gradio marks a file reference in an event's data (client_utils.is_file_obj_with_meta).
_GRADIO_FILE = "gradio.FileData"
NOT_A_FILE_INPUT = "This takes text, not files: nothing was read."
SIGN_IN_FOR_FILES = "Sign in with the admin password before adding files: nothing was read."
NOT_UPLOADED = "Only files uploaded through this page can be added: nothing was read."
LIMITS_UNAVAILABLE = "Signing in is not possible right now (the server cannot check its limits): try again later."
LIMITS_RETRY_AFTER = 30.0
# Sign-in checks running at once, each in a thread of its own (a shared limiter waits on its database).
_CONCURRENT_CHECKS = 4

log = logging.getLogger("sendsearch.server")


class AttemptLimiter:
    """Wrong guesses per client: ``free`` of them cost nothing, each one after that makes
    the client wait ``base_delay`` x 2^n seconds (at most ``max_delay``) before its next
    try, and ``lockout_after`` wrong guesses lock it out for ``lockout`` seconds.

    A try while waiting is refused at once, without looking at the password, and costs the
    server nothing (no thread sleeps). Clients are forgotten once their wait is over and
    they have not failed for ``lockout`` seconds; at most ``max_clients`` are remembered.
    """

    def __init__(
        self,
        *,
        free: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        lockout_after: int = 10,
        lockout: float = 900.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free, self.base_delay, self.max_delay = free, base_delay, max_delay
        self.lockout_after, self.lockout = lockout_after, lockout
        self._max_clients = max_clients
        self._clock = clock
        self._state: OrderedDict[str, tuple[int, float, float]] = OrderedDict()  # failures, until, last
        self._lock = threading.Lock()

    def delay_after(self, failures: int) -> float:
        """The wait that the ``failures``-th wrong guess in a row earns."""
        if failures >= self.lockout_after:
            return self.lockout
        if failures > self.free:
            return min(self.max_delay, self.base_delay * 2 ** (failures - self.free - 1))
        return 0.0

    def forgotten(self, until: float, last: float, now: float) -> bool:
        """Whether a client whose wait ends at ``until`` and who last failed at ``last`` starts afresh."""
        return until <= now and now - last > self.lockout

    def wait(self, client: str) -> float:
        """Seconds before ``client`` may try again (0 when it may try now)."""
        now = self._clock()
        with self._lock:
            state = self._state.get(client)
            if state is None:
                return 0.0
            _, until, last = state
            if self.forgotten(until, last, now):
                del self._state[client]
                return 0.0
            return max(0.0, until - now)

    def failed(self, client: str) -> float:
        """Record a wrong guess; returns the seconds the client must now wait."""
        now = self._clock()
        with self._lock:
            failures = self._state.pop(client, (0, 0.0, 0.0))[0] + 1
            delay = self.delay_after(failures)
            self._state[client] = (failures, now + delay, now)
            while len(self._state) > self._max_clients:
                self._state.popitem(last=False)
            return delay

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._state.pop(client, None)


@dataclass(frozen=True)
class Check:
    """The answer to a password attempt: whether it opened, the message for the person,
    and how long to wait before the next try (for an HTTP Retry-After)."""

    ok: bool
    message: str
    status: int = 200
    retry_after: float = 0.0


class RequestLike(Protocol):
    """What ``AdminGuard`` reads from a request: a Starlette request or a ``gr.Request``."""

    @property
    def cookies(self) -> Any: ...

    @property
    def client(self) -> Any: ...


def client_of(request: RequestLike) -> str:
    """The client's address, the key its wrong guesses are counted under."""
    client = getattr(request, "client", None)
    host = getattr(client, "host", None) if client is not None else None
    return str(host or "unknown")


def proxy_of(request: Any) -> str | None:
    """The trusted proxy a request came through, if it came through one."""
    scope = getattr(request, "scope", None) or {}
    proxy = scope.get(PROXY_SCOPE_KEY)
    return str(proxy) if proxy else None


@dataclass
class AdminGuard:
    """The admin password (None turns adding off), the limiter for guesses, and sessions."""

    password: str | None
    limiter: AttemptLimiter = field(default_factory=AttemptLimiter)
    session_seconds: float = 1800.0
    # Signed-out tokens this instance refuses until they expire (other instances see only
    # the cookie gone from the browser): at most this many, the oldest forgotten first.
    max_sessions: int = 100
    # Wall time, not monotonic: a session's expiry is read by other instances, on other machines.
    clock: Callable[[], float] = time.time
    # Signs session tokens: shared by every instance that must accept another's sign-in
    # (``settings.session_secret``); None makes one for this process alone.
    secret: bytes | None = None
    # Wrong guesses through one trusted proxy, from all the clients behind it together.
    proxy_limiter: AttemptLimiter | None = None

    def __post_init__(self) -> None:
        if self.proxy_limiter is None:
            self.proxy_limiter = AttemptLimiter(
                free=PROXY_FREE_GUESSES, lockout_after=PROXY_LOCKOUT_AFTER, clock=self.clock
            )
        self._expected = hashlib.sha256(self.password.encode()).digest() if self.password else None
        # The password is part of the signing key: changing it signs every session out.
        secret = self.secret or secrets.token_bytes(32)
        self._key = hmac.new(secret, self._expected or b"", hashlib.sha256).digest()
        self._closed: OrderedDict[bytes, float] = OrderedDict()  # token digest -> expiry
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the password, in a log or a traceback
        return f"AdminGuard(enabled={self.enabled})"

    @property
    def enabled(self) -> bool:
        return self._expected is not None

    def check(self, client: str, given: str | None, proxy: str | None = None) -> Check:
        """Try a password for ``client`` (behind the trusted ``proxy``, if any), within the limits.

        Limits that cannot be read or recorded (a shared table whose database is down) refuse
        the try, whatever the password: the same answer for a right and a wrong one, so an
        outage opens no unlimited guessing and tells nothing."""
        if self._expected is None:
            return Check(False, "Adding answers is turned off on this server.", 403)
        try:
            return self._limited_check(client, given, proxy, self._expected)
        except SendSearchError as error:
            log.warning("refused a sign-in from %s: the wrong-password limits could not be checked: %s", client, error)
            return Check(False, LIMITS_UNAVAILABLE, 503, LIMITS_RETRY_AFTER)

    def _limited_check(self, client: str, given: str | None, proxy: str | None, expected: bytes) -> Check:
        limiters = [(self.limiter, client)]
        if proxy is not None and self.proxy_limiter is not None:
            limiters.append((self.proxy_limiter, proxy))
        wait = max(limiter.wait(key) for limiter, key in limiters)
        if wait > 0:
            return Check(False, f"Too many wrong passwords: try again in {math.ceil(wait)} s.", 429, wait)
        if not given:
            # Nothing is compared, so an empty try tells nothing and costs nothing.
            return Check(False, "Enter the admin password.", 400)
        # Digests of equal length, compared in constant time: neither the password's
        # length nor how much of it matched shows in the time taken.
        if hmac.compare_digest(hashlib.sha256(given.encode("utf-8", "replace")).digest(), expected):
            self.limiter.succeeded(client)
            return Check(True, "Signed in: you can add answers now.")
        wait = max(limiter.failed(key) for limiter, key in limiters)
        later = f" Wait {math.ceil(wait)} s before trying again." if wait else ""
        return Check(False, "That password is not right." + later, 401, wait)

    def open_session(self) -> str:
        """A new session token for a client that gave the password: ``expiry.random.signature``,
        checked by signature and expiry alone, on whichever instance receives it."""
        body = f"{int(self.clock() + self.session_seconds)}.{secrets.token_urlsafe(16)}"
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        return sign(self._key, body)

    def key_for(self, purpose: str) -> bytes:
        """A key of its own for signing something other than sessions (the page's
        conversation), made from the sessions' key: the same secret and password on every
        instance give the same key, and nothing signed for one purpose passes for another."""
        return hmac.new(self._key, f"sendsearch {purpose}".encode(), hashlib.sha256).digest()

    def close_session(self, token: str | None) -> None:
        expiry = self._expiry(token)
        if token and expiry is not None:
            with self._lock:
                self._closed[_digest(token)] = expiry
                while len(self._closed) > self.max_sessions:
                    self._closed.popitem(last=False)

    def _expiry(self, token: str | None) -> float | None:
        """The expiry of a token this server signed, or None for anything else."""
        if not token or self._expected is None or len(token) > 200:
            return None
        body, _, signature = token.rpartition(".")
        expiry = body.split(".", 1)[0]
        if not expiry.isdigit() or not signature_matches(self._key, body, signature):
            return None
        return float(expiry)

    def session_valid(self, token: str | None) -> bool:
        expiry = self._expiry(token)
        if token is None or expiry is None or expiry < self.clock():
            return False
        with self._lock:
            return _digest(token) not in self._closed

    def signed_in(self, request: RequestLike) -> bool:
        """Whether a request (Starlette or ``gr.Request``) carries a live session cookie."""
        cookies = getattr(request, "cookies", None) or {}
        return self.session_valid(cookies.get(SESSION_COOKIE))


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def sign(key: bytes, body: str) -> str:
    """HMAC-SHA256 of ``body`` under ``key``, in hex: how sessions and the page's
    conversation are signed."""
    return hmac.new(key, body.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def signature_matches(key: bytes, body: str, signature: str) -> bool:
    """Whether ``signature`` is ``body``'s under ``key``, compared in constant time."""
    return hmac.compare_digest(sign(key, body), signature.encode("ascii", "replace").decode())


# -- HTTP: the session route and the upload gate ----------------------------------------------
def session_router(guard: AdminGuard) -> APIRouter:
    """FastAPI routes for signing in and out: ``POST /admin/session`` with a JSON body
    ``{"password": "..."}`` sets the session cookie; ``DELETE /admin/session`` clears it;
    ``GET /admin/session`` says whether the caller is signed in. Replies are JSON
    ``{"ok": bool, "message": str}``: 401 for a wrong password, 429 (with Retry-After)
    while the client must wait, 403 when adding is off, 400 for an empty or bad body."""
    router = APIRouter()
    checks: anyio.CapacityLimiter | None = None

    @router.post("/admin/session", include_in_schema=False)
    async def sign_in(request: Request) -> JSONResponse:
        body = b""
        async for part in request.stream():
            body += part
            if len(body) > _MAX_BODY:
                return JSONResponse({"ok": False, "message": "The request is too large."}, status_code=413)
        try:
            given = json.loads(body or b"{}").get("password")
        except (ValueError, AttributeError):
            given = None
        if given is not None and not isinstance(given, str):
            given = None
        nonlocal checks
        if checks is None:  # made here: anyio makes a limiter only inside the event loop
            checks = anyio.CapacityLimiter(_CONCURRENT_CHECKS)
        # In a thread: a limiter kept in the database must not hold up the event loop.
        check = await anyio.to_thread.run_sync(
            guard.check, client_of(request), given, proxy_of(request), limiter=checks
        )
        headers = {"Retry-After": str(math.ceil(check.retry_after))} if check.retry_after else {}
        response = JSONResponse({"ok": check.ok, "message": check.message}, status_code=check.status, headers=headers)
        if check.ok:
            response.set_cookie(
                SESSION_COOKIE,
                guard.open_session(),
                max_age=int(guard.session_seconds),
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
        return response

    @router.delete("/admin/session", include_in_schema=False)
    async def sign_out(request: Request) -> JSONResponse:
        guard.close_session(request.cookies.get(SESSION_COOKIE))
        response = JSONResponse({"ok": True, "message": "Signed out."})
        response.delete_cookie(SESSION_COOKIE)
        return response

    @router.get("/admin/session", include_in_schema=False)
    async def status(request: Request) -> JSONResponse:
        return JSONResponse({"ok": guard.signed_in(request), "message": ""})

    return router


def upload_router(
    index: Index,
    guard: AdminGuard,
    *,
    status: Callable[[], str] | None = None,
    max_files: int = MAX_UPLOAD_FILES,
    max_bytes: int = MAX_UPLOAD_BYTES,
    body_seconds: float = UPLOAD_BODY_SECONDS,
    parent: Path | None = None,
) -> APIRouter:
    """``POST /admin/upload``: files posted as multipart/form-data (field ``files``) by a
    signed-in administrator, added to ``index`` in one request, on whichever instance gets it.

    Refused before the body is read: adding turned off (403), no session (401), no
    Content-Length (411), a body over ``max_files`` files of ``max_bytes`` (413), another add
    running on this instance (409). The body is parsed by Starlette (python-multipart), at
    most ``max_files`` files (400 past that) and a few small fields; each file is spooled to
    an anonymous temporary file (at most 1 MB of it in memory), and one over ``max_bytes``
    refuses the whole upload (413). The files are then written under sanitised names into a
    private folder (``parent``, by default the system's) and added by ``add_uploads`` in a
    worker thread; the folder is removed whatever happens. The reply is JSON: ``ok``,
    ``message`` (Markdown, as the tab showed it), ``text`` (the same, plain), ``status``
    (``status()``, the page's status line) and the counts; a refusal is ``ok: false`` with
    ``message`` and ``text`` the one-line reason.
    """
    router = APIRouter()
    max_request = max_files * max_bytes + 1024 * 1024  # the files and their multipart framing
    busy = False  # one add at a time on this instance: read and set with no await between

    def refused(request: Request, status_code: int, message: str, **headers: str) -> JSONResponse:
        log.warning("refused an upload from %s: %s", client_of(request), message)
        body = {"ok": False, "message": message, "text": message, "status": ""}
        return JSONResponse(body, status_code=status_code, headers=headers or None)

    @router.post(UPLOAD_ROUTE, include_in_schema=False)
    async def upload(request: Request) -> JSONResponse:
        nonlocal busy
        if not guard.enabled:
            return refused(request, 403, "Adding answers is turned off on this server.")
        if not guard.signed_in(request):
            return refused(request, 401, "Sign in with the admin password first; nothing was added.")
        length = request.headers.get("content-length", "")
        if not length.isdigit():
            return refused(request, 411, "An upload must say how long it is (Content-Length); nothing was added.")
        if int(length) > max_request:
            return refused(
                request, 413, f"At most {max_files} files of {_megabytes(max_bytes)} at a time; nothing was added."
            )
        if busy:
            return refused(request, 409, UPLOAD_BUSY, **{"Retry-After": "10"})
        busy = True
        folder = Path(tempfile.mkdtemp(prefix="sendsearch-upload-in-", dir=parent))
        form: Any = None
        try:
            try:
                with anyio.fail_after(body_seconds):
                    form = await request.form(max_files=max_files, max_fields=8, max_part_size=4096)
            except TimeoutError:
                return refused(request, 408, f"The files took over {body_seconds:g} s to arrive; nothing was added.")
            except HTTPException as error:  # Starlette's answer to a malformed or over-full form
                return refused(request, 400, f"{str(error.detail).rstrip('.')}; nothing was added.")
            files = [item for item in form.getlist(_UPLOAD_FIELD) if not isinstance(item, str)]
            too_big = next((item for item in files if (item.size or 0) > max_bytes), None)
            if too_big is not None:
                name = _safe_name(too_big.filename or "")
                return refused(request, 413, f"{name} is over {_megabytes(max_bytes)}; nothing was added.")
            paths = await anyio.to_thread.run_sync(_store_uploads, files, folder)
            outcome = await anyio.to_thread.run_sync(
                lambda: add_uploads(index, paths, guard, request, max_files=max_files, max_bytes=max_bytes)
            )
            line = await anyio.to_thread.run_sync(status) if status is not None else ""
            return JSONResponse(
                {
                    "ok": outcome.ok,
                    "message": outcome.message,
                    "text": _plain(outcome.message),
                    "status": line,
                    "added": outcome.added,
                    "replaced": outcome.replaced,
                    "unchanged": outcome.unchanged,
                    "skipped": outcome.skipped,
                }
            )
        finally:
            busy = False
            if form is not None:
                await form.close()
            shutil.rmtree(folder, ignore_errors=True)

    return router


def _megabytes(size: int) -> str:
    # As the tab states the bound ("20 MB" for 20 x 2^20 bytes).
    return f"{size / 2**20:,.0f} MB"


def _store_uploads(files: Sequence[Any], folder: Path) -> list[str]:
    """Write Starlette's uploaded files into ``folder``, each in a numbered folder of its own
    under its sanitised name: the client's name never becomes a path, and two files of the
    same name do not overwrite each other before ``add_uploads`` reads them."""
    paths = []
    for number, item in enumerate(files):
        place = folder / str(number)
        place.mkdir()
        path = place / _safe_name(item.filename or "")
        item.file.seek(0)
        with open(path, "xb") as out:
            shutil.copyfileobj(item.file, out, 1024 * 1024)
        paths.append(str(path))
    return paths


def _plain(message: str) -> str:
    """An outcome's Markdown as the page shows it in text: no bold marks, one line a line,
    characters back from the entities ``escape`` made of them."""
    return html.unescape(message.replace("**", "").replace("  \n", "\n"))


def _folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:
            continue  # deleted while we looked
    return total


class UploadGate:
    """ASGI middleware in front of Gradio's upload route: no session, no upload.

    Without ``guard`` (or with adding off) every upload is refused; otherwise the request
    must carry a live session cookie, declare its length, stay within ``max_request_bytes``
    (the files of one upload), and find Gradio's ``upload_folder`` (by default the one
    Gradio uses) under ``max_folder_bytes``. Gradio's screen-recording route, which also
    stores what it is sent, is refused outright. All of this is decided from the headers, before the body is read,
    so a refused upload stores nothing. Uvicorn never delivers more than the declared length.
    """

    def __init__(
        self,
        app: Any,
        *,
        guard: AdminGuard | None,
        upload_folder: Path | None = None,
        max_request_bytes: int = MAX_UPLOAD_FILES * MAX_UPLOAD_BYTES + 1024 * 1024,
        max_folder_bytes: int = MAX_UPLOAD_FOLDER_BYTES,
    ) -> None:
        self.app = app
        self.guard = guard
        self.upload_folder = upload_folder or gradio_upload_folder()
        self.max_request_bytes = max_request_bytes
        self.max_folder_bytes = max_folder_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"].rstrip("/") if scope["type"] == "http" else ""
        if path.endswith("/gradio_api/process_recording"):
            # Gradio's screen-recording helper stores a video; the page has no use for it.
            refusal: tuple[int, str] | None = (403, "screen recordings are not taken on this server")
        elif path.endswith("/gradio_api/upload"):
            refusal = self._refusal(scope)
        else:
            await self.app(scope, receive, send)
            return
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, message = refusal
        await JSONResponse({"error": message}, status_code=status)(scope, receive, send)

    def _refusal(self, scope: dict[str, Any]) -> tuple[int, str] | None:
        request = Request(scope)
        if self.guard is None or not self.guard.enabled:
            return 403, "adding answers is turned off on this server"
        if not self.guard.signed_in(request):
            return 401, "sign in with the admin password before uploading"
        length = request.headers.get("content-length", "")
        if not length.isdigit():
            return 411, "an upload must say how long it is (Content-Length)"
        if int(length) > self.max_request_bytes:
            return 413, f"an upload may hold at most {self.max_request_bytes / 1e6:,.0f} MB"
        if _folder_bytes(self.upload_folder) > self.max_folder_bytes:
            return 507, "the server's upload folder is full; try again in a while"
        return None


# -- file references in events ---------------------------------------------------------------
def file_references(value: Any) -> list[Any]:
    """The paths of the Gradio file references in JSON data, however deep (walked without
    recursion, so no nesting can overflow the stack)."""
    found = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            meta = item.get("meta")
            # A "meta" that is not an object next to a "path" would crash Gradio's own check.
            if (isinstance(meta, dict) and meta.get("_type") == _GRADIO_FILE) or (
                "path" in item and "meta" in item and not isinstance(meta, dict)
            ):
                found.append(item.get("path"))
            else:
                stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


def names_a_file(value: Any) -> bool:
    """Whether JSON data holds a Gradio file reference anywhere."""
    return bool(file_references(value))


def guard_file_inputs(blocks: Any, guard: AdminGuard | None) -> None:
    """Let the mounted ``blocks`` read only files an administrator uploaded (and give a
    caller who sends too few values, or a value outside a filter's choices, a one-line
    message rather than a traceback in the log).

    Gradio prepares every event's inputs by copying each file they name into its cache,
    before the handler runs and whatever the component (a Textbox too). Its check that a
    file came through the upload route only runs once ``blocks.has_launched`` is set,
    which ``launch()`` does and ``mount_gradio_app`` does not: it is set here. On top of
    that check, ``blocks.process_api`` (the one door every route, the queue and MCP go
    through) refuses, before Gradio touches any file: a file reference in an input that
    takes no files, and any event that takes files from a request without a session.
    """
    import gradio as gr
    from gradio.blocks import Blocks
    from gradio.components import Component
    from gradio_client.utils import value_is_file

    blocks.has_launched = True
    signature = inspect.signature(Blocks.process_api)
    process_api = blocks.process_api

    def takes_files(block: Any) -> bool:
        if not isinstance(block, Component):
            return False
        try:
            info = block.api_info()
        except NotImplementedError:  # a Button (an example on the page): its value is its label
            return False
        return bool(value_is_file(info))

    def refusal(block_fn: Any, inputs: list[Any], request: Any, state: Any) -> str | None:
        if len(inputs) < len(block_fn.inputs):
            # Gradio's own message for this is a traceback and a blank error.
            name = f"/{block_fn.api_name}" if block_fn.api_name else block_fn.name  # as the caller named it
            return f"{name} takes {len(block_fn.inputs)} values; it was sent {len(inputs)}."
        for block, value in zip(block_fn.inputs, inputs, strict=False):
            # The session's copy, as Gradio reads it (an upload updates the departments).
            problem = _choice_problem(state[block._id] if state is not None and block._id in state else block, value)
            if problem is not None:
                return problem
        takes = [takes_files(block) for block in block_fn.inputs]
        if any(takes):
            requests = request if isinstance(request, list) else [request]
            if guard is None or not all(r is not None and guard.signed_in(r) for r in requests):
                return SIGN_IN_FOR_FILES
            # Gradio refuses these too once it has "launched", but with no message to show.
            folder = gradio_upload_folder()
            named = [path for value, ok in zip(inputs, takes, strict=False) if ok for path in file_references(value)]
            if not all(isinstance(path, str) and _inside(Path(path), folder) for path in named):
                return NOT_UPLOADED
        # Inputs past the event's own are ignored by Gradio, but looked at here all the same.
        extra = [False] * max(0, len(inputs) - len(takes))
        if any(names_a_file(value) for value, ok in zip(inputs, takes + extra, strict=False) if not ok):
            return NOT_A_FILE_INPUT
        return None

    async def guarded_process_api(*args: Any, **kwargs: Any) -> Any:
        call = signature.bind(blocks, *args, **kwargs).arguments
        block_fn = call["block_fn"]
        if isinstance(block_fn, int):
            block_fn = blocks.fns[block_fn]
        message = refusal(block_fn, list(call["inputs"] or []), call.get("request"), call.get("state"))
        if message is not None:
            log.warning("refused an event from %s: %s", _client_of_any(call.get("request")), message)
            raise gr.Error(message, print_exception=False)
        return await process_api(*args, **kwargs)

    blocks.process_api = guarded_process_api


def _choice_problem(block: Any, value: Any) -> str | None:
    """A value outside a Radio's or Dropdown's choices, named by the label the page shows
    (Gradio refuses it too, but logs a traceback for it)."""
    choices = getattr(block, "choices", None)
    if not choices or value is None or getattr(block, "allow_custom_value", False):
        return None
    allowed = [choice[1] if isinstance(choice, list | tuple) else choice for choice in choices]
    values = value if getattr(block, "multiselect", False) and isinstance(value, list) else [value]
    if all(any(item == choice and type(item) is type(choice) for choice in allowed) for item in values):
        return None
    named = ", ".join(str(choice) for choice in allowed[:12]) + (", ..." if len(allowed) > 12 else "")
    return f"{getattr(block, 'label', None) or 'That choice'} must be one of: {named}."


def _client_of_any(request: Any) -> str:
    first = request[0] if isinstance(request, list) and request else request
    return client_of(first) if first is not None else "unknown"


# -- where uploads go -------------------------------------------------------------------------
def gradio_upload_folder() -> Path:
    """Where Gradio keeps uploads: ``GRADIO_TEMP_DIR``, else its default (as Gradio decides)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")


def use_private_gradio_temp_dir(parent: Path | None = None) -> Path:
    """Make Gradio keep uploads in a fresh folder only this process can read (mode 0700),
    removed when the process exits, and return it (for ``UploadGate``'s bound).

    Sets ``GRADIO_TEMP_DIR``: call it before Gradio creates the Blocks (best, before
    ``import gradio``, which reads the variable for some of its own files at import)."""
    folder = Path(tempfile.mkdtemp(prefix="sendsearch-gradio-", dir=parent))
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


@dataclass(frozen=True)
class UploadOutcome:
    """What an upload did: counts for a program, ``message`` (Markdown, escaped) for a person."""

    ok: bool
    message: str
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    skipped: int = 0


def _safe_name(name: str) -> str:
    """A browser-supplied file name reduced to a plain name inside our folder."""
    stem = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)).strip("._") or "upload"
    # Shortened from the middle: the suffix says how the file is read.
    suffix = Path(stem).suffix[:16]
    return stem if len(stem) <= 120 else stem[: 120 - len(suffix)] + suffix


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def add_uploads(
    index: Index,
    files: Sequence[str] | None,
    guard: AdminGuard,
    request: RequestLike,
    *,
    max_files: int = MAX_UPLOAD_FILES,
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> UploadOutcome:
    """Add files uploaded through the page to ``index``, for a signed-in request only.

    At most ``max_files`` files of ``max_bytes`` each, of the supported types. They are
    copied into a private temporary folder, indexed with ``source_prefix="uploaded/"``,
    and the folder is removed whatever happens; Gradio's own copies (in its upload
    folder) are deleted too. The reply counts what was added, replaced, unchanged and
    skipped, with the first few dozen reasons.
    """
    if request is None:
        # Gradio passes None when it cannot resolve the handler's `gr.Request` hint (with
        # `from __future__ import annotations`, `gr` must be a module-level name).
        raise TypeError("add_uploads needs the request: annotate the handler's parameter as gr.Request")
    gradio_folder = gradio_upload_folder()
    given = [Path(f) for f in files or []]
    try:
        if not guard.enabled:
            return UploadOutcome(False, "Adding answers is turned off on this server.")
        if not guard.signed_in(request):
            return UploadOutcome(False, "Sign in with the admin password first; nothing was added.")
        if not given:
            return UploadOutcome(False, "Choose one or more files first.")
        if len(given) > max_files:
            return UploadOutcome(False, f"At most {max_files} files at a time; nothing was added.")
        return _index_uploads(index, given, max_bytes)
    finally:
        for path in given:  # Gradio's copies (each in a folder of its own): never left to fill the disk
            if _inside(path, gradio_folder):
                path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):  # not empty, or already gone
                    if path.parent != gradio_folder:
                        path.parent.rmdir()


def _index_uploads(index: Index, given: list[Path], max_bytes: int) -> UploadOutcome:
    folder = Path(tempfile.mkdtemp(prefix="sendsearch-upload-"))
    rejected: list[str] = []
    try:
        for path in given:
            name = _safe_name(path.name)
            if not name.lower().endswith(SUPPORTED_SUFFIXES):
                rejected.append(f"{escape(name)}: not a supported file type")
            elif not path.is_file() or path.stat().st_size > max_bytes:
                rejected.append(f"{escape(name)}: missing, or over {max_bytes / 1e6:,.0f} MB")
            else:
                shutil.copyfile(path, folder / name)
        if not any(folder.iterdir()):
            return UploadOutcome(False, "Nothing was added.  \n" + "  \n".join(rejected), skipped=len(rejected))
        report = index.add([folder], source_prefix="uploaded/")
    except SendSearchError as error:
        return UploadOutcome(False, f"Nothing was added: {escape(str(error))}", skipped=len(rejected))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    skipped: SkipLog = report.skipped
    total = skipped.total + len(rejected)
    lines = [
        f"**{report.added} added, {report.replaced} replaced, {report.unchanged} unchanged, {total} skipped** "
        f"in {report.seconds:.1f} s. The index now holds {report.documents:,} documents; new answers are "
        "searchable now."
    ]
    lines += [f"Skipped {escape(str(s))}" for s in skipped] + [f"Skipped {r}" for r in rejected]
    if skipped.more:
        lines.append(f"... and {skipped.more:,} more skipped.")
    return UploadOutcome(True, "  \n".join(lines), report.added, report.replaced, report.unchanged, total)
