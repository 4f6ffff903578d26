"""The HTTP server under the page, the REST API and MCP: uvicorn, with the bounds a public server needs.

- ``ServerLimits`` holds them (defaults in ``limits.py``);
- forwarded headers: ``X-Forwarded-For`` names the client only on requests that come from
  a configured trusted proxy (``ForwardedClients``; none by default, so a client cannot
  claim another address); the proxy's own address stays on the request for the password
  limiter (``admin.proxy_of``);
- ``uvicorn_config(app, host, port, limits)`` is the one uvicorn configuration, used by
  ``run`` and by the tests, so the tests exercise what is served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .admin import PROXY_SCOPE_KEY
from .limits import SHUTDOWN_GRACE_SECONDS

__all__ = ["ForwardedClients", "ServerLimits", "run", "uvicorn_config"]


@dataclass(frozen=True)
class ServerLimits:
    """What the server allows: ``trusted_proxies`` are addresses or networks (as
    ``settings.parse_trusted_proxies`` returns them) whose ``X-Forwarded-For`` is believed."""

    trusted_proxies: tuple[str, ...] = ()
    shutdown_grace: float = SHUTDOWN_GRACE_SECONDS


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
    import uvicorn

    limits = limits or ServerLimits()
    if limits.trusted_proxies:
        app = ForwardedClients(app, limits.trusted_proxies)
    settings: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "proxy_headers": False,
        # Gradio and MCP speak plain HTTP and server-sent events; nothing here needs WebSockets.
        "ws": "none",
        "timeout_graceful_shutdown": limits.shutdown_grace,
        **options,
    }
    return uvicorn.Config(app, **settings)


def run(app: Any, host: str, port: int, limits: ServerLimits | None = None) -> None:
    """Serve ``app`` until Ctrl-C or SIGTERM."""
    import uvicorn

    uvicorn.Server(uvicorn_config(app, host, port, limits)).run()
