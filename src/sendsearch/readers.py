"""Reading files into Documents, chosen by file type, with bad files skipped and explained.

A document's id is its path relative to the folder it was found in (``001_96ab...txt``);
a written-question record's id is ``str(record["id"])``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .cleaning import html_address, html_title, html_to_text, text_address
from .pages import parse_page
from .parliament import iter_records
from .schema import Document, Skipped

__all__ = [
    "DOCUMENT_SUFFIXES",
    "MAX_DOCUMENT_BYTES",
    "RECORD_SUFFIXES",
    "SUPPORTED_SUFFIXES",
    "ReadReport",
    "read_paths",
]

RECORD_SUFFIXES = (".jsonl.gz", ".json.gz", ".jsonl", ".json")
DOCUMENT_SUFFIXES = (".txt", ".html", ".htm", ".md", ".markdown", ".pdf")
SUPPORTED_SUFFIXES = RECORD_SUFFIXES + DOCUMENT_SUFFIXES
# A single page or report larger than this is almost certainly not a document people
# wrote by hand (a log, a dump); records files may be larger since they are streamed.
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
MAX_RECORDS_BYTES = 4 * 1024 * 1024 * 1024


@dataclass
class ReadReport:
    """What reading the inputs found, for the build summary."""

    files: int = 0
    documents: int = 0
    skipped: list[Skipped] = field(default_factory=list)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in SUPPORTED_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def _iter_files(root: Path) -> Iterator[Path]:
    """Files under a folder in a stable order, leaving out hidden files and folders."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name


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
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise ValueError("PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except (PdfReadError, OSError, KeyError, TypeError) as error:
        raise ValueError(f"unreadable PDF: {error}") from None
    text = "\n\n".join(pages)
    if not text.strip():
        raise ValueError("PDF has no extractable text (a scanned image?)")
    return text, (str(title).strip() or None) if title else None


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
    size = path.stat().st_size
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
    paths: Iterable[str | Path], report: ReadReport | None = None, *, source_prefix: str = ""
) -> Iterator[Document]:
    """Documents from files and folders (searched recursively), in a stable order.

    A file is cited by its path relative to the folder given (its name, for a file given
    on its own), after ``source_prefix`` ("uploaded/" for files added from the page), never
    by a path on the server. Skipped inputs are recorded in ``report`` under the path as given.
    """
    report = report if report is not None else ReadReport()
    for given in paths:
        given = Path(given)
        if given.is_dir():
            root, files = given, list(_iter_files(given))
        else:
            root, files = given.parent, [given]
        for path in files:
            report.files += 1
            doc_id = path.relative_to(root).as_posix()
            display = path.as_posix()
            try:
                for item in _read_file(path, doc_id, display, source_prefix + doc_id):
                    if isinstance(item, Skipped):
                        report.skipped.append(item)
                        continue
                    report.documents += 1
                    yield item
            except OSError as error:
                report.skipped.append(Skipped(display, f"cannot read: {error.strerror or error}"))
