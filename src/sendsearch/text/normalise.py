"""Text helpers shared by readers, chunking and search: normalisation, sentences, dates."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

__all__ = [
    "find_date",
    "map_strings",
    "normalise",
    "normalise_for_match",
    "paragraph_spans",
    "parse_date",
    "sentence_spans",
    "strip_controls",
]

_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


# Terminal escape sequences (CSI "ESC [ ... m", OSC "ESC ] 0 ; title BEL", two-character
# ones) and any other C0 or C1 control character but tab and newline: text from elsewhere
# must not move the cursor, retitle the terminal or hide what follows when printed.
_CONTROLS = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def strip_controls(text: str) -> str:
    """``text`` without terminal escape sequences and control characters (tab and newline stay)."""
    return _CONTROLS.sub("", text) if not text.isprintable() else text


def normalise(text: str) -> str:
    """NFKC-normalise and tidy whitespace, keeping paragraph breaks as one blank line.

    NFKC turns the non-breaking spaces the scraped pages carry into plain spaces. Curly
    quotes and dashes are left alone: they are content, and NFKC keeps them.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _ZERO_WIDTH.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    return _BLANK_LINES.sub("\n\n", text).strip()


def normalise_for_match(text: str) -> str:
    """NFKC plus collapsed whitespace and case-folding: for comparing answers and facts."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def paragraph_spans(text: str) -> Iterator[tuple[int, int]]:
    """Character spans of the paragraphs (separated by blank lines) of normalised text."""
    for match in re.finditer(r"[^\n]+(?:\n[^\n]+)*", text):
        yield match.start(), match.end()


# Abbreviations after which a full stop does not end a sentence.
_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "st",
    "no",
    "nos",
    "vol",
    "para",
    "paras",
    "cllr",
    "hon",
    "rt",
    "e.g",
    "i.e",
    "etc",
    "cf",
    "approx",
    "dept",
    "govt",
    "sec",
    "fig",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
}
# A candidate boundary: terminal punctuation, optional closing quote/bracket, then space
# and something that can start a sentence. Decimal points ("£2.6") never match because
# the next character is not a space.
_BOUNDARY = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9£•])")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into sentences; returns absolute character spans.

    Line breaks also end sentences: the corpus is made of paragraphs and bullet lists
    where each line stands alone. A rule-based splitter keeps exact offsets and handles
    the whole 56-million-character corpus in seconds.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        line_start = start + line.start()
        line_text = line.group()
        cursor = 0
        for boundary in _BOUNDARY.finditer(line_text):
            word = re.search(r"(\S+)$", line_text[cursor : boundary.start()])
            if word and word.group(1).rstrip(".").lower().lstrip("(") in _ABBREVIATIONS:
                continue
            if word and re.fullmatch(r"[A-Z]", word.group(1)):  # an initial: "J. Smith"
                continue
            stop = boundary.start() + len(boundary.group().rstrip())
            spans.append((line_start + cursor, line_start + stop))
            cursor = boundary.end()
        if cursor < len(line_text):
            spans.append((line_start + cursor, line_start + len(line_text.rstrip())))
    return [(s, e) for s, e in spans if e > s]


_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+({_MONTHS})\s+(\d{{4}})\b", re.IGNORECASE)


def parse_date(value: str | None) -> date | None:
    """Parse an ISO date or date-time ("2024-09-10T00:00:00") or "24th May 2022"."""
    if not value:
        return None
    value = value.strip()
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        return find_date(value)


def find_date(text: str) -> date | None:
    """The first "24th May 2022"-style date in ``text``, or None."""
    match = _DAY_MONTH_YEAR.search(text)
    if not match:
        return None
    day, month, year = match.groups()
    try:
        return datetime.strptime(f"{day} {month.title()} {year}", "%d %B %Y").date()
    except ValueError:
        return None


def map_strings(value: Any, change: Callable[[str], str], *, keys: bool = False) -> Any:
    """Parsed JSON with ``change`` applied to every string in it (and to object keys with
    ``keys``), walked without recursion (however deep it nests), lists and objects changed
    in place."""
    if isinstance(value, str):
        return change(value)
    root = [value]
    stack: list[list[Any] | dict[str, Any]] = [root]
    while stack:
        container = stack.pop()
        places = range(len(container)) if isinstance(container, list) else list(container)
        for place in places:
            item = container[place]  # type: ignore[index]
            if isinstance(item, str):
                container[place] = change(item)  # type: ignore[index]
            elif isinstance(item, list | dict):
                stack.append(item)
        if keys and isinstance(container, dict) and any(change(k) != k for k in container):
            changed = {change(k): v for k, v in container.items()}
            container.clear()
            container.update(changed)
    return root[0]
