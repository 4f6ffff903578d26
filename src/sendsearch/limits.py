"""Bounds on what one request may ask for, shared by the library, the CLI, the page and the API."""

from __future__ import annotations

__all__ = ["MAX_K", "MAX_QUERY_CHARS"]

# The most passages one search returns: enough for any reader or evaluation, and a bound
# on the work a single request can ask for.
MAX_K = 100
# Longer questions are cut, not refused: the model reads 256 word pieces at most anyway.
MAX_QUERY_CHARS = 1000
