"""Reading a file of JSON records in bounded memory: JSON lines, a JSON list, or one object.

Everything here reads a records file in bounded memory: the decompressed size, each line
or list item, a whole-file object and the nesting depth are all limited (limits.py), and a
file that stops making sense stops being read, with the reason, keeping what came before.
``json_items`` yields (line number, parsed JSON or ``Skipped``) for each unit that may hold
records; ``parliament.iter_records`` turns them into documents.

A JSON list is scanned here, item by item, rather than by a streaming parser such as
ijson: a streaming parser gives no positions (each skipped item is named by its line) and
cannot go on after a malformed item or bytes that are not UTF-8, which would lose every
record after it (tests/sources/test_hostile_input.py shows the difference).
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..limits import (
    MAX_BAD_RUN,
    MAX_EXPANSION,
    MAX_EXPANSION_GRACE_BYTES,
    MAX_JSON_DEPTH,
    MAX_LINE_CHARS,
    MAX_RECORDS_BYTES,
    MAX_WHOLE_JSON_CHARS,
)
from ..schema import Skipped
from ..text.normalise import map_strings
from .cleaning import replace_surrogates

__all__ = ["Stop", "json_items", "nested_too_deep", "open_text"]


class Stop(Exception):
    """Reading a file stops here; the message says why, for the person who gave it."""


class _Bounded(io.RawIOBase):
    """A byte stream that stops at the decompressed-size and expansion limits.

    ``compressed`` is the file under a decompressing stream: its position says how much of
    the file was read, so a small file that inflates without end is stopped early.
    """

    def __init__(self, stream: io.BufferedIOBase, compressed: io.BufferedIOBase | None) -> None:
        self._stream = stream
        self._compressed = compressed
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._stream.readinto(buffer)
        self.total += count
        if self.total > MAX_RECORDS_BYTES:
            raise Stop(f"over {MAX_RECORDS_BYTES / 1e9:,.1f} GB of text, the most one file may hold")
        if (
            self._compressed is not None
            and self.total > MAX_EXPANSION_GRACE_BYTES
            and self.total > MAX_EXPANSION * self._compressed.tell()
        ):
            raise Stop(
                f"it expands to over {MAX_EXPANSION} times its compressed size (a compression bomb?), "
                f"after {self.total / 1e6:,.0f} MB"
            )
        return count


@contextmanager
def open_text(path: Path) -> Iterator[io.TextIOBase]:
    """The file as text, gunzipped when its name ends in .gz, within the size limits.

    Bytes that are not UTF-8 come through as lone surrogates (``surrogateescape``) so that
    the line holding them is skipped with its number, not the rest of the file.
    """
    with open(path, "rb") as raw:
        if path.name.lower().endswith(".gz"):
            bounded = _Bounded(gzip.GzipFile(fileobj=raw, mode="rb"), compressed=raw)
        else:
            bounded = _Bounded(raw, compressed=None)
        yield io.TextIOWrapper(io.BufferedReader(bounded), encoding="utf-8-sig", errors="surrogateescape")


def json_items(handle: io.TextIOBase) -> Iterator[tuple[int | None, Any]]:
    """(line number or None, parsed JSON or Skipped) for each record-bearing unit."""
    ahead, blank_lines = "", 0  # leading blank space is counted, never held
    while not ahead.strip():
        blank_lines += ahead.count("\n")
        ahead = handle.read(_PEEK_CHARS)
        if not ahead:
            return
    start = len(ahead) - len(ahead.lstrip())
    if ahead[start] == "[":
        # A list is streamed item by item, however it is laid out over lines.
        stream = _Rewound(ahead[start + 1 :], handle)
        after, line = yield from _list_items(stream, 1 + blank_lines + ahead.count("\n", 0, start))
        if after is not None:  # more after the list: JSON lines whose first line was a list
            yield from _jsonl(_lines(_Rewound(after, stream), first=line))
        return
    yield from _lines_or_object(_Rewound(ahead, handle), 1 + blank_lines)


def _lines_or_object(stream: _Rewound, first_line: int) -> Iterator[tuple[int | None, Any]]:
    """JSON lines, or one object over several lines (a results page, a pretty-printed record)."""
    lines = _lines(stream, first=first_line)
    number, first = 0, ""
    for number, text in lines:
        if text is None:
            yield number, Skipped("", f"line is over {MAX_LINE_CHARS:,} characters")
            continue
        if text.strip():
            first = text
            break
    if not first:
        return
    try:
        yield number, _parse(first)
    except _Malformed as error:
        if not error.incomplete:
            yield number, Skipped("", str(error))
            yield from _jsonl(lines)
            return
    else:
        yield from _jsonl(lines)
        return
    # Either one object over several lines, or JSONL whose first line is broken: read on
    # (as text, not lines) as far as a whole object may go, and fall back to lines if it
    # is not one. ``lines`` has read nothing past the first line.
    chunks, size = [first], len(first)
    while size <= MAX_WHOLE_JSON_CHARS and (more := stream.read(_READ_CHARS)):
        chunks.append(more)
        size += len(more)
    text = "".join(chunks)
    del chunks
    if size <= MAX_WHOLE_JSON_CHARS:  # the whole file
        try:
            whole = _parse(text)
        except _Malformed:
            pass
        else:
            if isinstance(whole, dict | list):
                yield None, whole
                return
    yield from _jsonl(_lines(_Rewound(text, stream), first=number))


class _Rewound:
    """A text stream with the text already read ahead of it put back in front."""

    def __init__(self, ahead: str, stream: io.TextIOBase | _Rewound) -> None:
        self._ahead = ahead
        self._stream = stream

    def readline(self, size: int) -> str:
        if not self._ahead:
            return self._stream.readline(size)
        cut = self._ahead.find("\n")
        take = min(size, len(self._ahead) if cut < 0 else cut + 1)
        text, self._ahead = self._ahead[:take], self._ahead[take:]
        if text.endswith("\n") or len(text) == size or self._ahead:
            return text
        return text + self._stream.readline(size - len(text))

    def read(self, size: int) -> str:
        if not self._ahead:
            return self._stream.read(size)
        text, self._ahead = self._ahead[:size], self._ahead[size:]
        return text


def _lines(handle: _Rewound, first: int = 1) -> Iterator[tuple[int, str | None]]:
    """(number, line) for each line from number ``first``, holding at most ``MAX_LINE_CHARS``
    of one; a longer line is read past in pieces and given as None."""
    number = first - 1
    while True:
        text = handle.readline(MAX_LINE_CHARS + 1)
        if not text:
            return
        number += 1
        if len(text) > MAX_LINE_CHARS and not text.endswith("\n"):
            while (rest := handle.readline(_READ_CHARS)) and not rest.endswith("\n"):
                pass
            yield number, None
            continue
        yield number, text


def _jsonl(lines: Iterable[tuple[int, str | None]]) -> Iterator[tuple[int | None, Any]]:
    blank_run = 0
    for number, text in lines:
        if text is None:
            yield number, Skipped("", f"line is over {MAX_LINE_CHARS:,} characters")
            continue
        if not text.strip():
            blank_run += 1
            if blank_run >= MAX_BAD_RUN:
                raise Stop(f"{MAX_BAD_RUN:,} blank lines in a row (not a records file?)")
            continue
        blank_run = 0
        try:
            yield number, _parse(text)
        except _Malformed as error:
            yield number, Skipped("", str(error))


class _Malformed(ValueError):
    """A unit of JSON that cannot be used; ``incomplete`` if it broke off at its end."""

    def __init__(self, reason: str, incomplete: bool = False) -> None:
        super().__init__(reason)
        self.incomplete = incomplete


# A JSON string (escapes included), an unterminated one (a lone quote), or a bracket.
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_STRUCTURE = re.compile(_STRING + r'|"|[\[\]{}]', re.DOTALL)
_STRING_TOKEN = re.compile(_STRING, re.DOTALL)
_SCALAR_END = re.compile(r"[,\]}\s]")
_SPACE = re.compile(r"\s*")
# Bytes that were not UTF-8 (decoded with surrogateescape), and lone surrogates that a
# JSON "\ud800" escape can make: neither can be stored or shown.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_READ_CHARS = 1 << 20
_PEEK_CHARS = 4096


def nested_too_deep(text: str, start: int = 0, end: int | None = None) -> bool:
    """Whether JSON text nests deeper than ``MAX_JSON_DEPTH``, counted without recursion."""
    if text.count("[", start, end) + text.count("{", start, end) <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for match in _STRUCTURE.finditer(text, start, len(text) if end is None else end):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif token in ("]", "}"):
            depth -= 1
    return False


def _parse(text: str) -> Any:
    """One unit of JSON text, checked for bad bytes and depth before it is parsed."""
    if not text.isascii() and _UNDECODABLE.search(text):
        raise _Malformed("not valid UTF-8 text")
    if nested_too_deep(text):
        raise _Malformed(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise _Malformed(f"malformed JSON: {error.msg}", incomplete=error.pos >= len(text.rstrip())) from None
    if _SURROGATE_ESCAPE.search(text):
        value = map_strings(value, replace_surrogates, keys=True)
    return value


def _list_items(stream: _Rewound, line: int) -> Generator[tuple[int | None, Any], None, tuple[str | None, int]]:
    """The items of a JSON list (``stream`` starts just after its "["), one at a time: each
    is found by scanning strings and brackets, so its depth is known before it is parsed.

    Returns what follows the list's "]" when it is more than blank space (None if the
    list broke off), and the line it starts on."""
    buffer, position, counted = "", 0, 0  # ``line`` is the line of buffer[counted]
    expect_item, eof = True, False
    while True:
        position = _SPACE.match(buffer, position).end()  # type: ignore[union-attr]
        found = _list_step(buffer, position, expect_item, eof)
        if found is None:  # the buffer ends inside the next item: read more
            pending = len(buffer) - position
            if pending > MAX_LINE_CHARS:
                yield line, Skipped("", f"a list item is over {MAX_LINE_CHARS:,} characters; stopped reading here")
                return None, line
            # Reading at least as much again as is pending keeps rescanning linear.
            more = stream.read(max(_READ_CHARS, pending))
            eof = not more
            line += buffer.count("\n", counted, position)
            buffer, position, counted = buffer[position:] + more, 0, 0
            continue
        kind, end = found
        line += buffer.count("\n", counted, position)
        counted = position
        if kind == "end":
            rest = buffer[end:]
            while not rest.strip():  # blank space after the list is dropped as it is read
                line += rest.count("\n")
                rest = stream.read(_PEEK_CHARS)
                if not rest:
                    return None, line
            return rest, line
        if kind == "malformed":
            yield line, Skipped("", "malformed JSON: the list is broken or cut off here; stopped reading")
            return None, line
        if kind == "separator":
            expect_item = True
        elif kind == "deep":
            expect_item = False
            yield line, Skipped("", f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
        else:
            expect_item = False
            try:
                yield line, _parse(buffer[position:end])
            except _Malformed as error:
                yield line, Skipped("", str(error))
        position = end


def _list_step(buffer: str, position: int, expect_item: bool, eof: bool) -> tuple[str, int] | None:
    """What comes next in a list: ("item" | "deep" | "separator" | "end" | "malformed", end),
    or None when the buffer ends before it does."""
    if position >= len(buffer):
        return ("malformed", position) if eof else None
    char = buffer[position]
    if char == "]":
        return "end", position + 1
    if not expect_item:
        return ("separator", position + 1) if char == "," else ("malformed", position)
    if char == '"':
        match = _STRING_TOKEN.match(buffer, position)
        if match:
            return "item", match.end()
    elif char not in "[{":
        scalar = _SCALAR_END.search(buffer, position)
        if scalar:
            return "item", scalar.start()
    else:
        depth = deepest = 0
        for match in _STRUCTURE.finditer(buffer, position):
            token = match.group()
            if token == '"':  # noqa: S105 - a JSON token, not a password
                break  # a string runs past the buffer
            if token in ("[", "{"):
                depth += 1
                deepest = max(deepest, depth)
            elif token in ("]", "}"):
                depth -= 1
                if depth == 0:
                    return ("deep" if deepest > MAX_JSON_DEPTH else "item"), match.end()
    return ("malformed", position) if eof else None
