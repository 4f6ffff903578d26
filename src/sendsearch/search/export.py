"""A result's passages for a spreadsheet (CSV) or a reading list (citations as plain text).

CSV has one row per passage: its place, score and whether it is a weak match, the ready-made
citation and the link, every citation field, then the passage text. A cell that a
spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return) gets a leading apostrophe: corpus text is not trusted (OWASP's advice on
CSV injection). RIS and BibTeX are not offered: the one well-kept RIS writer on PyPI
(``rispy``) would be a dependency for a format few of the people this serves use, and a
citation list pastes into anything.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date
from typing import Any

from ..schema import Citation, Passage
from .request import SearchResult

__all__ = ["EXPORT_FORMATS", "citation_list", "safe_cell", "to_csv"]

EXPORT_FORMATS = ("csv", "citations")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CITATION_FIELDS = [f.name for f in dataclasses.fields(Citation)]
HEADER = ["rank", "score", "weak_match", "doc_id", "citation", "link", *_CITATION_FIELDS, "text"]


def safe_cell(value: Any) -> str:
    """A value as a CSV cell a spreadsheet will show, not run."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, tuple | list):
        text = "; ".join(str(item) for item in value)
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _row(passage: Passage) -> list[str]:
    citation = passage.citation
    values: list[Any] = [
        passage.rank,
        f"{passage.score:.4f}",
        passage.weak_match,
        passage.doc_id,
        passage.citation_line,
        citation.source,
        *(getattr(citation, name) for name in _CITATION_FIELDS),
        " ".join(passage.text.split()),
    ]
    return [safe_cell(value) for value in values]


def to_csv(result: SearchResult) -> str:
    """The passages as CSV (a header, then one row per passage, best or newest first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(_row(passage) for passage in result.passages)
    return out.getvalue()


def citation_list(result: SearchResult) -> str:
    """The passages' citations, one numbered line each, weak matches left out."""
    lines = [
        f"[{number}] {passage.citation_line}"
        for number, passage in enumerate((p for p in result.passages if not p.weak_match), start=1)
    ]
    return "\n".join(lines) + ("\n" if lines else "")
