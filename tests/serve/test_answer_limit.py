"""At most four chat answers at once per instance, a bounded number waiting, and "busy" beyond.

The answers are the page's real handler (``ui.ChatHandlers.respond``) with the search
replaced by one that waits on a ``threading.Event``: nothing sleeps, nothing is timed.
"""

from __future__ import annotations

import asyncio
import html
import threading
from typing import Any

import pytest

from sendsearch.serve import ui
from sendsearch.serve.admin import AdminGuard
from sendsearch.serve.answer_limit import BUSY, AnswerLimit, Busy
from sendsearch.serve.conversation_state import ConversationSigner

# Generous: only a frozen test waits this long.
PATIENCE = 60.0
CONTROLS = ("", "", "Any department", "Any", "Any council", False, "", "", "Both", "Any party", False, 3, "relevance")


async def _until(condition: Any) -> None:
    """Wait (yielding to the loop) until ``condition()`` holds."""
    async with asyncio.timeout(PATIENCE):
        while not condition():
            await asyncio.sleep(0)


def test_the_limit_lets_four_run_keeps_the_waiting_bounded_and_refuses_the_rest():
    async def scenario() -> None:
        limit = AnswerLimit(at_once=4, waiting=2)
        release = asyncio.Event()
        entered = 0

        async def work() -> None:
            nonlocal entered
            async with limit.slot():
                entered += 1
                await release.wait()

        tasks = [asyncio.create_task(work()) for _ in range(6)]
        await _until(lambda: limit.running == 4 and limit.waiting == 2)
        assert entered == 4
        with pytest.raises(Busy):
            async with limit.slot():
                pass
        release.set()
        await asyncio.gather(*tasks)
        assert entered == 6
        assert (limit.running, limit.waiting) == (0, 0)

    asyncio.run(scenario())


def test_the_chat_handler_computes_four_answers_at_once_and_says_when_it_is_busy(seed_index, monkeypatch):
    gate = threading.Event()
    started = threading.Semaphore(0)
    running = 0
    most = 0
    lock = threading.Lock()
    real_answer = ui.answer

    def blocked_answer(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        started.release()
        try:
            assert gate.wait(PATIENCE)
            return real_answer(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(ui, "answer", blocked_answer)
    limit = AnswerLimit(at_once=4, waiting=1)
    handlers = ui.ChatHandlers(seed_index, ConversationSigner(AdminGuard(None).key_for("conversation")), limit)

    async def scenario() -> None:
        asks = [asyncio.create_task(handlers.respond(f"EHC plan question {n}", "", *CONTROLS)) for n in range(5)]
        # Four are in the search (each holding a worker thread), the fifth waits without one.
        for _ in range(4):
            assert await asyncio.to_thread(started.acquire, True, PATIENCE)
        await _until(lambda: limit.waiting == 1)
        assert running == 4
        # The waiting places are full: the next question is told at once, its box kept.
        import gradio as gr

        notice, fresh, token, box, *_ = await handlers.respond("one too many", "", *CONTROLS)
        assert BUSY in html.unescape(notice)
        # Nothing new shown, the conversation unchanged, the question left in the box.
        assert fresh == token == box == gr.skip()
        gate.set()
        replies = await asyncio.gather(*asks)
        assert all("EHC plan question" in reply[1]["html"] for reply in replies)
        assert all(reply[2].startswith("c1.") for reply in replies)

    asyncio.run(scenario())
    assert most == 4
