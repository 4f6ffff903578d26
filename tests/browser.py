"""Debian's Chromium driven by Playwright's Python package, as every browser test starts it
(never ``playwright install``: nothing is downloaded at run time)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NO_CHROMIUM = "Debian's chromium is not installed (.ci/run installs it)"
# What the chat page shows once it is whole. Gradio renders each kind of component when its
# script has loaded, so on a busy machine the question box can be there before the example
# buttons (a test that counted them straight after the box found none).
PAGE_READY = ("#question textarea", "#ask", "#example-4", "#new-conversation", "#status")


def wait_until_ready(page: Any, timeout_ms: float = 60_000) -> None:
    """Wait until the chat page shows its question box, examples and controls."""
    for selector in PAGE_READY:
        page.wait_for_selector(selector, timeout=timeout_ms)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``), closed afterwards; the test is skipped
    when Playwright's package is missing."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
