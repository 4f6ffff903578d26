"""How many chat answers one instance computes at once, now that the page's events skip Gradio's queue.

The queue used to bound them (``default_concurrency_limit=4``) and to hold the rest. The
page's events are now plain requests (``queue=False``), so the handler keeps the bound
itself: ``at_once`` answers run, up to ``waiting`` more wait for a turn without holding a
thread (they wait on the event loop; only a running answer has a worker thread), and any
beyond are told at once that the server is busy. Nothing grows with the load.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..limits import MAX_CHAT_ANSWERS, MAX_WAITING_CHAT_ANSWERS

__all__ = ["BUSY", "AnswerLimit", "Busy"]

BUSY = "The server is busy answering other questions: try again in a moment."


class Busy(Exception):
    """Every answer slot is taken and as many questions as may wait are waiting."""


class AnswerLimit:
    """``at_once`` answers at a time, at most ``waiting`` more waiting; used from one event
    loop (the server's), so the counts need no lock."""

    def __init__(self, at_once: int = MAX_CHAT_ANSWERS, waiting: int = MAX_WAITING_CHAT_ANSWERS) -> None:
        self.at_once = at_once
        self.max_waiting = waiting
        # Made when first used, on the loop that uses it (a Semaphore binds to its loop then).
        self._slots: asyncio.Semaphore | None = None
        self.running = 0
        self.waiting = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one answer slot for the ``async with`` body; raises ``Busy`` at once when the
        slots and the waiting places are all taken."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.at_once)
        slots = self._slots
        if slots.locked():
            if self.waiting >= self.max_waiting:
                raise Busy
            self.waiting += 1
            try:
                await slots.acquire()
            finally:
                self.waiting -= 1
        else:
            await slots.acquire()
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            slots.release()
