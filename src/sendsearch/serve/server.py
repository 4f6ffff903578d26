"""The HTTP server under the page, the REST API and MCP: uvicorn, with the bounds a public server needs.

- ``ServerLimits`` holds them (defaults in ``limits.py``);
- connections: at most ``max_connections`` open at once and ``max_per_client`` from one
  address (a trusted proxy is held to the total only); a connection past either is
  answered 503 and closed at once, so thousands of half-open connections from one
  client cannot take the file descriptors others need. When the total is reached, the
  connection that has waited longest for its request headers is closed to make room
  (a browser sends its headers at once; only a slow client is ever waiting), so many
  slow clients together cannot lock others out either;
- a header timeout: a request's headers must arrive within ``header_timeout`` seconds of
  its first byte (or of connecting), or the connection is closed (408): uvicorn has no such
  timeout, and a client trickling headers held a connection for ever. It is a small
  subclass of uvicorn's h11 protocol (``BoundedH11Protocol``), chosen with uvicorn's
  ``http=`` setting;
- every refused client is one log line (``RefusalLog``: per client at most once a
  minute, and at most ``RefusalLog.max_lines`` lines a minute in all), never a traceback;
  asyncio's own "out of file descriptors" error is cut to one line the same way;
- the soft open-file limit is raised (up to the hard limit) so the connection bound fits
  under it, and the bound is lowered if it does not;
- forwarded headers: ``X-Forwarded-For`` names the client only on requests that come from
  a configured trusted proxy (``ForwardedClients``; none by default, so a client cannot
  claim another address); the proxy's own address stays on the request for the password
  limiter (``admin.proxy_of``);
- stopping (``Server``): Ctrl-C or SIGTERM stops listening, gives requests in progress
  ``shutdown_grace`` seconds, then closes the connections still open (an open page's
  event streams never end by themselves), so their handlers see the client leave rather
  than being cancelled (uvicorn waited 5 s, then cancelled them: a traceback each). The
  signal is not raised again afterwards, as uvicorn does: the process ends normally, so
  its clean-up (the private upload folder) runs on SIGTERM too; ``exit_now`` then skips
  the interpreter's teardown of the model runtime (OpenVINO's, 1.3 s of native code);
- ``uvicorn_config(app, host, port, limits)`` is the one uvicorn configuration, used by
  ``run`` and by the tests, so the tests exercise what is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import sys
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..limits import (
    HEADER_TIMEOUT_SECONDS,
    MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_CLIENT,
    MAX_UPLOAD_BYTES,
    SHUTDOWN_GRACE_SECONDS,
)
from ..search.index import Index
from .admin import (
    PROXY_SCOPE_KEY,
    UPLOAD_ROUTE,
    AdminGuard,
    UploadGate,
    guard_file_inputs,
    session_router,
    upload_router,
)
from .api import rest_app
from .feeds import feeds_app
from .gate import RequestGate
from .link_preview import LinkPreview
from .mcp import offer_one_mcp_tool
from .member_page import members_app
from .page_assets import PAGE_DESCRIPTION, PAGE_TITLE

__all__ = [
    "BoundedH11Protocol",
    "ConnectionGuard",
    "ForwardedClients",
    "OneLineAcceptErrors",
    "RefusalLog",
    "Server",
    "ServerLimits",
    "create_server",
    "exit_now",
    "fit_to_open_files",
    "raise_open_file_limit",
    "run",
    "serve",
    "sigterm_ends_cleanly",
    "uvicorn_config",
]

log = logging.getLogger("sendsearch.server")
# File descriptors kept free beside the connections: the index, the model, Gradio's files,
# the MCP client's loopback connections.
FD_RESERVE = 256


@dataclass(frozen=True)
class ServerLimits:
    """What the server allows: ``trusted_proxies`` are addresses or networks (as
    ``settings.parse_trusted_proxies`` returns them) whose ``X-Forwarded-For`` is believed."""

    max_connections: int = MAX_CONNECTIONS
    max_per_client: int = MAX_CONNECTIONS_PER_CLIENT
    header_timeout: float = HEADER_TIMEOUT_SECONDS
    trusted_proxies: tuple[str, ...] = ()
    shutdown_grace: float = SHUTDOWN_GRACE_SECONDS

    def __post_init__(self) -> None:
        if self.max_connections < 1 or self.max_per_client < 1 or self.header_timeout <= 0:
            raise ValueError("connection bounds and the header timeout must be positive")


def _networks(addresses: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(address, strict=False) for address in addresses)


class RefusalLog:
    """One log line per refused client: the first refusal is logged at once, later ones are
    counted and reported with the client's next line, at most once per ``every`` seconds;
    at most ``max_lines`` lines in any such period in all (the rest are summed up in the
    next line that is written). Memory is bounded by ``max_clients``."""

    max_lines = 50

    def __init__(
        self, every: float = 60.0, *, max_clients: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every = every
        self._clock = clock
        self._max_clients = max_clients
        self._clients: OrderedDict[str, tuple[float, int]] = OrderedDict()  # last line, refused since
        self._window = (clock(), 0)  # start of the period, lines written in it
        self._unlogged = 0  # refusals past the period's line budget

    def refused(self, client: str, reason: str) -> None:
        now = self._clock()
        start, lines = self._window
        if now - start >= self.every:
            start, lines = now, 0
        last, since = self._clients.pop(client, (-float("inf"), 0))
        since += 1
        if now - last < self.every or lines >= self.max_lines:
            self._clients[client] = (last, since)
            if lines >= self.max_lines and now - last >= self.every:
                self._unlogged += 1
        else:
            more = f" ({since - 1:,} more refused since the last line)" if since > 1 else ""
            others = f"; {self._unlogged:,} refusals of other clients went unlogged" if self._unlogged else ""
            log.warning("refused a connection from %s: %s%s%s", client, reason, more, others)
            self._unlogged = 0
            self._clients[client] = (now, 0)
            lines += 1
        self._window = (start, lines)
        while len(self._clients) > self._max_clients:
            self._clients.popitem(last=False)


class ConnectionGuard:
    """Counts open connections, in all and per client address, for one server."""

    def __init__(self, limits: ServerLimits, refusals: RefusalLog | None = None) -> None:
        self.limits = limits
        self.refusals = refusals or RefusalLog()
        self._proxies = _networks(limits.trusted_proxies)
        self._open: Counter[str] = Counter()
        self.total = 0
        # Connections waiting for request headers, oldest first: the first to go when full.
        self._waiting: OrderedDict[BoundedH11Protocol, None] = OrderedDict()

    def _is_proxy(self, client: str) -> bool:
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        return any(address in network for network in self._proxies)

    def admit(self, client: str) -> bool:
        """Count a new connection from ``client``, or refuse it (logged) when over a bound."""
        if self.total >= self.limits.max_connections and self._waiting:
            slowest, _ = self._waiting.popitem(last=False)
            slowest.cut_off(f"it was the slowest to send its headers of {self.total:,} open connections")
        if self.total >= self.limits.max_connections:
            reason = f"the server has {self.limits.max_connections:,} connections open"
        elif self._open[client] >= self.limits.max_per_client and not self._is_proxy(client):
            reason = f"it has {self.limits.max_per_client:,} connections open"
        else:
            self._open[client] += 1
            self.total += 1
            return True
        self.refusals.refused(client, reason)
        return False

    def release(self, client: str) -> None:
        self.total -= 1
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]

    def waiting(self, connection: BoundedH11Protocol, waits: bool) -> None:
        """Note whether ``connection`` is waiting for request headers."""
        if waits:
            self._waiting[connection] = None
        else:
            self._waiting.pop(connection, None)


_REFUSED = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
_TOO_SLOW = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the connection bounds and the header timeout of
    ``ConnectionGuard``; ``bounded_protocol`` makes one subclass per server."""

    guard: ClassVar[ConnectionGuard]

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._peer = self.client[0] if self.client else "unknown"
        self._admitted = self.guard.admit(self._peer)
        self._header_timer: Any = None
        if not self._admitted:
            transport.write(_REFUSED)
            transport.close()
            return
        self._start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        self._release()
        super().connection_lost(exc)

    def _release(self) -> None:
        if getattr(self, "_admitted", False):
            self._admitted = False
            self.guard.release(self._peer)

    def cut_off(self, reason: str) -> None:
        """Close this connection (not yet answered) at once, logged as a refusal."""
        self._stop_header_timer()
        self._release()  # counted out now: the room is for the connection being admitted
        self.guard.refusals.refused(self._peer, reason)
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_TOO_SLOW)
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        # Bytes of a new request: its headers are on the clock from now (a connection
        # idling between requests is uvicorn's keep-alive timeout's business).
        if self._header_timer is None and self.conn.their_state is h11.IDLE:
            self._start_header_timer()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._stop_header_timer()

    def _start_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.guard.limits.header_timeout, self._headers_too_slow)
        self.guard.waiting(self, True)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
            self.guard.waiting(self, False)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        self.guard.waiting(self, False)
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        self.cut_off(f"its request headers took over {self.guard.limits.header_timeout:g} s")


def bounded_protocol(guard: ConnectionGuard) -> type[BoundedH11Protocol]:
    """A protocol class for uvicorn's ``http=`` setting, counting against ``guard``."""
    return type("BoundedH11Protocol", (BoundedH11Protocol,), {"guard": guard})


def raise_open_file_limit(wanted: int) -> int:
    """Raise this process's soft open-file limit towards ``wanted`` (never past the hard
    limit, never lowering it); returns the soft limit in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # not allowed here: the connection bound is fitted under the soft limit
    return int(soft) if soft != resource.RLIM_INFINITY else wanted


class OneLineAcceptErrors(logging.Filter):
    """asyncio logs "socket.accept() out of system resource" with a traceback each time it
    retries (when the process is out of file descriptors): once at most every ``every``
    seconds, in one line. Other records pass untouched."""

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every = every
        self._clock = clock
        self._last = -float("inf")

    def filter(self, record: logging.LogRecord) -> bool:
        first_line = str(record.msg).split("\n", 1)[0]
        if "out of system resource" not in first_line:
            return True
        now = self._clock()
        if now - self._last < self.every:
            return False
        self._last = now
        reason = record.exc_info[1] if record.exc_info else None
        record.msg = f"{first_line}: {reason}" if reason else first_line
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        return True


class ForwardedClients:
    """ASGI middleware: on a request from a trusted proxy, the client is the address its
    ``X-Forwarded-For`` names (uvicorn's own rules: the nearest address that is not itself a
    trusted proxy), and the proxy's address is kept under ``PROXY_SCOPE_KEY``. Requests
    from anywhere else keep the address they came from, whatever headers they carry."""

    def __init__(self, app: Any, trusted_proxies: tuple[str, ...]) -> None:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        self.app = app
        self.forwarded: Any = ProxyHeadersMiddleware(app, trusted_hosts=list(trusted_proxies))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket") or not self._through_proxy(scope):
            await self.app(scope, receive, send)
            return
        scope[PROXY_SCOPE_KEY] = scope["client"][0]
        await self.forwarded(scope, receive, send)

    def _through_proxy(self, scope: dict[str, Any]) -> bool:
        client = scope.get("client")
        return (
            client is not None
            and client[0] in self.forwarded.trusted_hosts
            and any(name == b"x-forwarded-for" for name, _ in scope.get("headers", []))
        )


def uvicorn_config(app: Any, host: str, port: int, limits: ServerLimits | None = None, **options: Any) -> Any:
    """The uvicorn configuration for ``app`` with ``limits``: uvicorn's own forwarded-header
    handling is off (it trusts 127.0.0.1 by default), ``ForwardedClients`` does it instead."""
    limits = limits or ServerLimits()
    if limits.trusted_proxies:
        app = ForwardedClients(app, limits.trusted_proxies)
    settings: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "http": bounded_protocol(ConnectionGuard(limits)),
        "proxy_headers": False,
        # Gradio and MCP speak plain HTTP and server-sent events; nothing here needs WebSockets.
        "ws": "none",
        "timeout_graceful_shutdown": limits.shutdown_grace,
        **options,
    }
    return uvicorn.Config(app, **settings)


class Server(uvicorn.Server):
    """uvicorn's server, stopping quickly and quietly (see the module's notes)."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.stopped_by: str | None = None

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.stopped_by = signal.Signals(sig).name
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    async def shutdown(self, sockets: Any = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # idle ones close now; busy ones after their reply
        grace = self.config.timeout_graceful_shutdown or 0
        await self._tasks_done(grace)
        for connection in list(self.server_state.connections):
            connection.transport.close()  # streams still open: their handlers see the client go
        await self._tasks_done(grace)
        for task in list(self.server_state.tasks):
            task.cancel()  # nothing left that the client is waiting for
        if not self.force_exit:
            await self.lifespan.shutdown()

    async def _tasks_done(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self.server_state.tasks and loop.time() < deadline and not self.force_exit:
            await asyncio.sleep(0.05)


@contextlib.contextmanager
def sigterm_ends_cleanly() -> Iterator[None]:
    """While setting up, SIGTERM ends the process as Ctrl-C does (clean-up runs) rather
    than killing it outright; ``Server`` takes both signals over once it serves."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(sig: int, frame: Any) -> None:
        raise KeyboardInterrupt

    original = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, original)


def fit_to_open_files(limits: ServerLimits) -> ServerLimits:
    """``limits`` with the connection bound under the open-file limit, raised first if it may be."""
    soft = raise_open_file_limit(limits.max_connections + FD_RESERVE)
    fitting = max(1, soft - FD_RESERVE)
    if fitting >= limits.max_connections:
        return limits
    print(f"sendsearch: the open-file limit ({soft:,}) allows {fitting:,} connections at once", flush=True)
    return replace(limits, max_connections=fitting, max_per_client=min(limits.max_per_client, fitting))


def run(app: Any, host: str, port: int, limits: ServerLimits | None = None) -> str | None:
    """Serve ``app`` until Ctrl-C or SIGTERM; returns the signal's name that stopped it."""
    logging.getLogger("asyncio").addFilter(OneLineAcceptErrors())
    limits = fit_to_open_files(limits or ServerLimits())
    server = Server(uvicorn_config(app, host, port, limits))
    server.run()
    return server.stopped_by


def exit_now(code: int = 0) -> NoReturn:
    """End the process at once, after serving and its clean-up: what is left is the
    interpreter unloading the model runtime, which takes longer than the whole stop."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


# -- one server for the page, the API and the admin side --------------------------------------
def create_server(
    blocks: Any,
    index: Index,
    *,
    guard: AdminGuard | None = None,
    mcp: bool = True,
    upload_folder: Path | None = None,
    max_file_size: int = MAX_UPLOAD_BYTES,
    concurrency: int = 4,
    upload_status: Callable[[], str] | None = None,
    **page: Any,
) -> Any:
    """A FastAPI app serving the REST API at ``/api``, the feeds at ``/feeds``, the members'
    pages at ``/members``, the admin session and upload routes (when a ``guard`` is given;
    ``upload_status`` makes the status line an upload's reply carries), the upload gate
    (which, without a guard, refuses every upload), and the Gradio ``blocks`` at ``/``
    with its MCP server when ``mcp``; the page's link preview names sendsearch
    (``link_preview``).

    ``upload_folder`` is Gradio's upload folder (from ``admin.use_private_gradio_temp_dir``)
    whose size the gate bounds. Call ``blocks.queue(...)`` before this, as for ``launch``.
    ``page`` goes to Gradio's ``mount_gradio_app`` (``theme``, ``css``).
    """
    import gradio as gr
    from fastapi import FastAPI

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.mount("/api", rest_app(index, concurrency=concurrency))
    app.mount("/feeds", feeds_app(index, concurrency=concurrency))
    app.mount("/members", members_app(index, concurrency=concurrency))
    if guard is not None:
        app.include_router(session_router(guard))
        app.include_router(upload_router(index, guard, status=upload_status))
    # A shared link's preview names sendsearch, not Gradio (link_preview).
    app.add_middleware(LinkPreview, title=PAGE_TITLE, description=PAGE_DESCRIPTION)
    app.add_middleware(UploadGate, guard=guard, upload_folder=upload_folder)
    # Outermost: every body is bounded and checked for file references before anything reads
    # it; the two upload routes bound their own (from the headers, and only for a session).
    app.add_middleware(RequestGate, guard=guard, blocks=blocks, exempt=("/gradio_api/upload", UPLOAD_ROUTE))
    mounted = gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        mcp_server=mcp,
        max_file_size=max_file_size,
        footer_links=["api"],
        show_error=False,
        **page,
    )
    guard_file_inputs(blocks, guard)
    offer_one_mcp_tool(blocks)
    return mounted


def serve(app: Any, host: str, port: int, limits: ServerLimits | None = None) -> str | None:
    """Serve ``create_server``'s app until Ctrl-C or SIGTERM, within ``limits``, and say so
    in one line when it starts and when it stops; returns the name of the signal that
    stopped it (check the address first: ``cli.serve`` does)."""
    print(
        f"sendsearch: http://{host}:{port}/ (REST: /api/search, its docs: /api/docs, MCP: /gradio_api/mcp/)",
        flush=True,
    )
    stopped_by = run(app, host, port, limits)
    print("sendsearch: stopped.", flush=True)
    return stopped_by
