"""Reading files into Documents, chosen by file type, with bad files skipped and explained.

A document's id is its path relative to the folder it was found in (``001_96ab...txt``);
a written-question record's id is ``str(record["id"])``. Whatever a file holds, reading it
ends in documents and skipped inputs with reasons, never in an exception that would cost
the other files: sizes, depth and line lengths are bounded (``limits.py``), and symbolic
links inside a folder are not followed unless asked.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

from ..limits import MAX_DOCUMENT_BYTES, MAX_RECORDS_BYTES, MAX_SKIP_REASONS
from ..schema import Document, Skipped
from .cleaning import html_address, html_title, html_to_text, replace_surrogates, text_address
from .pages import parse_page
from .parliament import iter_records
from .places import tag_places

__all__ = [
    "DOCUMENT_SUFFIXES",
    "MAX_DOCUMENT_BYTES",
    "RECORD_SUFFIXES",
    "SUPPORTED_SUFFIXES",
    "ReadReport",
    "SkipLog",
    "printable_path",
    "read_paths",
]

RECORD_SUFFIXES = (".jsonl.gz", ".json.gz", ".jsonl", ".json")
DOCUMENT_SUFFIXES = (".txt", ".html", ".htm", ".md", ".markdown", ".pdf")
SUPPORTED_SUFFIXES = RECORD_SUFFIXES + DOCUMENT_SUFFIXES


class SkipLog(Sequence[Skipped]):
    """Skipped inputs: every one counted (``total``), at most ``MAX_SKIP_REASONS`` kept with
    their reasons (the first ones, and any about a whole file). As a sequence it holds the
    kept ones, so a million bad lines cost a number, not a million messages in memory and
    in the reply."""

    def __init__(self, limit: int = MAX_SKIP_REASONS) -> None:
        self._kept: list[Skipped] = []
        self._limit = limit
        self.total = 0

    def append(self, item: Skipped) -> None:
        self.total += 1
        if len(self._kept) < self._limit:
            self._kept.append(item)
            return
        # A reason about a whole file (no line: unreadable, or reading stopped) says more
        # than one about a single line, so it takes the place of the latest line reason.
        if item.line is None:
            for index in range(len(self._kept) - 1, -1, -1):
                if self._kept[index].line is not None:
                    del self._kept[index]
                    self._kept.append(item)
                    return

    @property
    def more(self) -> int:
        """How many were counted beyond the reasons kept."""
        return self.total - len(self._kept)

    @overload
    def __getitem__(self, index: int) -> Skipped: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Skipped]: ...
    def __getitem__(self, index: int | slice) -> Skipped | Sequence[Skipped]:
        return self._kept[index]

    def __len__(self) -> int:
        return len(self._kept)

    def __repr__(self) -> str:
        return f"SkipLog(total={self.total}, kept={self._kept!r})"


@dataclass
class ReadReport:
    """What reading the inputs found, for the build summary."""

    files: int = 0
    documents: int = 0
    skipped: SkipLog = field(default_factory=SkipLog)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in SUPPORTED_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


_LINK_REASON = "a symbolic link, not followed (use --follow-links to read what it points to)"


def _iter_files(root: Path, follow_links: bool) -> Iterator[tuple[Path, str | None]]:
    """Files under a folder in a stable order, leaving out hidden files and folders, each
    with the reason it is not read (a symbolic link when links are not followed), if any.

    Followed links are walked once each, so a link to a parent folder cannot loop."""
    seen: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(root, followlinks=follow_links):
        info = os.stat(folder)
        if (info.st_dev, info.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        visible = sorted(d for d in dirs if not d.startswith("."))
        links = [d for d in visible if os.path.islink(os.path.join(folder, d))]
        dirs[:] = visible if follow_links else [d for d in visible if d not in links]
        names = sorted([n for n in files if not n.startswith(".")] + ([] if follow_links else links))
        for name in names:
            path = Path(folder) / name
            yield path, (_LINK_REASON if not follow_links and path.is_symlink() else None)


def printable_path(path: Path | str) -> str:
    """A path as text that can be printed and stored: bytes of a file name that are not
    UTF-8 are shown as ``\\xNN`` escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _decode(data: bytes) -> str:
    """Bytes to text: UTF-8 (with or without BOM) or UTF-16 with BOM, else refuse."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:8192]:
        raise ValueError("binary content (NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        # Guessing a legacy encoding silently garbles text, so say what is wrong instead.
        raise ValueError(
            f"not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}); save it as UTF-8"
        ) from None


def _read_pdf(path: Path) -> tuple[str, str | None]:
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise ValueError("PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except ValueError:
        raise
    except LimitReachedError as error:
        # pypdf's own bounds (a FlateDecode bomb, a huge declared /Length) held.
        raise ValueError(f"PDF is over pypdf's safety limits: {error}") from None
    except Exception as error:  # noqa: BLE001
        # pypdf raises many kinds of exception on a malformed file (KeyError, IndexError,
        # RecursionError, ...); any of them means this one file cannot be read.
        raise ValueError(f"unreadable PDF ({type(error).__name__}: {error})") from None
    text = replace_surrogates("\n\n".join(pages))
    if not text.strip():
        raise ValueError("PDF has no extractable text (a scanned image?)")
    return text, (replace_surrogates(str(title)).strip() or None) if title else None


def _markdown_to_html(text: str) -> str:
    from markdown_it import MarkdownIt

    # Raw HTML in Markdown is kept as text, never passed through as markup.
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def _read_document(path: Path, doc_id: str, source: str, suffix: str) -> Document:
    """One text-like file (txt, html, md, pdf) as a Document; ValueError if unusable."""
    address = None  # the page's own web address, when it gives one
    if suffix == ".pdf":
        text, title = _read_pdf(path)
    else:
        raw = _decode(path.read_bytes())
        if suffix in (".html", ".htm"):
            text, title, address = html_to_text(raw, full_page=True), html_title(raw), html_address(raw)
        elif suffix in (".md", ".markdown"):
            markup = _markdown_to_html(raw)
            text, title, address = html_to_text(markup), html_title(markup), text_address(raw)
        else:
            text, title, address = raw, None, text_address(raw)
    if not text.strip():
        raise ValueError("no text after cleaning")
    page = parse_page(text, fallback_title=title or path.stem)
    if not page.body.strip():
        raise ValueError("no body text after removing page furniture")
    citation = page.citation
    if title and citation.kind != "written_answer":
        citation = dataclasses.replace(citation, title=title, heading=title)
    return Document(doc_id, page.body, dataclasses.replace(citation, source=address or source))


def _read_file(path: Path, doc_id: str, display: str, source: str) -> Iterator[Document | Skipped]:
    suffix = _suffix(path)
    if suffix not in SUPPORTED_SUFFIXES:
        yield Skipped(display, f"unsupported file type '{suffix or path.name}'")
        return
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        yield Skipped(display, "not a regular file")
        return
    size = info.st_size
    if size == 0:
        yield Skipped(display, "empty file")
        return
    limit = MAX_RECORDS_BYTES if suffix in RECORD_SUFFIXES else MAX_DOCUMENT_BYTES
    if size > limit:
        yield Skipped(display, f"file is {size / 1e6:,.0f} MB, over the {limit / 1e6:,.0f} MB limit")
        return
    if suffix in RECORD_SUFFIXES:
        yield from iter_records(path, display)
        return
    try:
        yield _read_document(path, doc_id, source, suffix)
    except (ValueError, OSError) as error:
        yield Skipped(display, str(error))


def read_paths(
    paths: Iterable[str | Path],
    report: ReadReport | None = None,
    *,
    source_prefix: str = "",
    follow_links: bool = False,
) -> Iterator[Document]:
    """Documents from files and folders (searched recursively), in a stable order.

    A file is cited by its path relative to the folder given (its name, for a file given
    on its own), after ``source_prefix`` ("uploaded/" for files added from the page), never
    by a path on the server. Skipped inputs are recorded in ``report`` under the path as
    given (under the prefixed name when there is a prefix). Symbolic links inside a
    folder are skipped unless ``follow_links``; a path given by name is read wherever it
    points.
    """
    report = report if report is not None else ReadReport()
    for given in paths:
        given = Path(given)
        if given.is_dir():
            root, files = given, _iter_files(given, follow_links)
        else:
            root, files = given.parent, iter([(given, None)])
        for path, reason in files:
            report.files += 1
            doc_id = path.relative_to(root).as_posix()
            # Uploads sit in a private temporary folder whose name means nothing to the
            # person who sent them: they are named as they will be cited.
            display = printable_path(source_prefix + doc_id if source_prefix else path.as_posix())
            if reason is None and not _is_utf8(doc_id):
                reason = "the file name is not valid UTF-8; rename it"
            if reason is not None:
                report.skipped.append(Skipped(display, reason))
                continue
            try:
                for item in _read_file(path, doc_id, display, source_prefix + doc_id):
                    if isinstance(item, Skipped):
                        report.skipped.append(item)
                        continue
                    report.documents += 1
                    yield tag_places(item)
            except OSError as error:
                report.skipped.append(Skipped(display, f"cannot read: {error.strerror or error}"))
