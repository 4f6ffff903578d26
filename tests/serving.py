"""A real HTTP server for tests: an ASGI app under uvicorn on a free loopback port, in a thread,
configured as `sendsearch serve` configures it (``server.uvicorn_config``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sendsearch.serve.server import Server, ServerLimits, uvicorn_config

# Generous: only a server that cannot start at all waits this long.
STARTUP_PATIENCE = 120.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(app: Any, limits: ServerLimits | None = None) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 within ``limits`` and yield its base URL ("http://127.0.0.1:PORT/")."""
    port = free_port()
    server = Server(uvicorn_config(app, "127.0.0.1", port, limits, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = time.monotonic()
    while not server.started:
        if time.monotonic() - started > STARTUP_PATIENCE or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_PATIENCE)
