"""Passages as chat text: Markdown in which every string from the corpus is escaped.

Answer text is HTML at the source and scraped pages can carry anything, so corpus text
never reaches the page as markup: it is HTML-escaped and its Markdown characters are
backslash-escaped here, in one place. The only markup in a reply is the markup this module
writes (``<mark>``, ``<strong>``, ``<details>``, links to http(s) sources).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from urllib.parse import urlparse

from .schema import Passage

__all__ = ["citation_text", "escape", "format_passage_text", "render_passages", "safe_link"]

# HTML's special characters as named entities, and characters that mean something to
# Markdown (or start an autolink, ":") as numeric ones: shown as themselves, never syntax.
_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
    | {c: f"&#{ord(c)};" for c in "\\`*_{}[]()#+-.!|~$:"}
)
_URL = re.compile(r"https?://[^\s<>\"'\]\[]+[^\s<>\"'\]\[.,;:!?)]")

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
# Money, dates, financial years and timescales: what SEND questions are mostly about.
_FIGURES = re.compile(
    r"£\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:billion|million|thousand|bn|m|k)\b)?"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\s+\d{{4}}\b"
    rf"|\b(?:{_MONTHS})\s+\d{{4}}\b"
    r"|\b(?:19|20)\d{2}(?:\s?(?:-|–|/|to)\s?)(?:19|20)?\d{2}\b"
    r"|\b\d+(?:\.\d+)?\s?%"
    r"|\b\d+\s(?:weeks?|months?|working days|days|years?)\b"
)


def escape(text: str) -> str:
    """Corpus text made inert: HTML and Markdown characters replaced by entities."""
    return text.translate(_ESCAPES)


def safe_link(url: str | None) -> str | None:
    """The URL if it is plain http(s) with a host, else None (no javascript: or data:)."""
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https") and parsed.netloc and not re.search(r"[\s<>\"'()]", url):
        return url
    return None


def format_passage_text(text: str, highlights: Sequence[tuple[int, int]] = ()) -> str:
    """Escaped text with highlighted spans in ``<mark>`` and figures in ``<strong>``.

    ``highlights`` are character spans relative to ``text``.
    """
    marks = sorted((s, e) for s, e in highlights if 0 <= s < e <= len(text))
    pieces: list[str] = []
    cursor = 0

    def plain(segment: str) -> str:
        out, last = [], 0
        for match in _FIGURES.finditer(segment):
            out.append(escape(segment[last : match.start()]))
            out.append(f"<strong>{escape(match.group())}</strong>")
            last = match.end()
        out.append(escape(segment[last:]))
        return "".join(out)

    def figures(segment: str) -> str:
        """Emphasised figures, and web addresses as links (http and https only)."""
        out, last = [], 0
        for match in _URL.finditer(segment):
            out.append(plain(segment[last : match.start()]))
            out.append(_link(match.group()) or escape(match.group()))
            last = match.end()
        out.append(plain(segment[last:]))
        return "".join(out)

    for start, end in marks:
        if start < cursor:
            continue
        pieces.append(figures(text[cursor:start]))
        pieces.append(f"<mark>{figures(text[start:end])}</mark>")
        cursor = end
    pieces.append(figures(text[cursor:]))
    # Paragraph breaks survive as Markdown line breaks.
    return "".join(pieces).replace("\n\n", "<br><br>").replace("\n", "<br>")


def citation_text(passage: Passage, number: int) -> str:
    """One plain-text line to paste into a letter or an email."""
    return f"[{number}] {passage.citation_line}"


def _link(url: str, label: str | None = None) -> str | None:
    """An anchor for a safe http(s) URL, opening in a new tab; None for anything else."""
    link = safe_link(url)
    if not link:
        return None
    href = html.escape(link, quote=True)
    return f'<a href="{href}" target="_blank" rel="noopener noreferrer">{escape(label or link)}</a>'


def _source_line(passage: Passage) -> str:
    source = passage.citation.source or passage.doc_id
    link = _link(source, re.sub(r"^https?://", "", source))
    return f"Source: {link}" if link else f"Source file: {escape(source)}"


def render_passage(passage: Passage, number: int, full_text: str | None = None) -> str:
    """One numbered passage with its citation, question, highlighted text and full answer."""
    citation = passage.citation
    meta = [citation.kind_label]
    if citation.answerer:
        meta.append(f"answered by {escape(citation.answerer)}")
    if citation.department:
        meta.append(escape(citation.department))
    if citation.dates:
        meta.append(escape(citation.dates))
    lines = [f"**[{number}] {escape(citation.title or passage.doc_id)}**  ", " · ".join(meta) + "  "]
    if citation.details_from:
        lines.append(
            f"<small>Answerer and date from {escape(citation.details_from)}, which carries the same answer.</small>  "
        )
    if citation.question:
        lines.append(f"<em>Asked: {escape(citation.question)}</em>  ")
    highlights = [(s - passage.start, e - passage.start) for s, e in passage.highlights]
    lines.append("")
    lines.append(format_passage_text(passage.text, highlights))
    lines.append("")
    if full_text and full_text.strip() != passage.text.strip():
        # Blank lines around the body make it Markdown (escaped), not a raw HTML block.
        lines += [
            "<details><summary>Show the full answer</summary>",
            "",
            format_passage_text(full_text),
            "",
            "</details>",
            "",
        ]
    if passage.same_answer_as:
        shown = ", ".join(escape(d) for d in passage.same_answer_as[:10])
        more = f" and {len(passage.same_answer_as) - 10} more" if len(passage.same_answer_as) > 10 else ""
        lines.append(f"Same answer given to {len(passage.same_answer_as)} other question(s): {shown}{more}  ")
    lines.append(_source_line(passage))
    lines.append("")
    # A fenced block: shown as plain text, with the chat's copy button on it.
    line = " ".join(citation_text(passage, number).split()).replace("`", "'")
    lines.append("```text\n" + line + "\n```")
    return "\n".join(lines)


def render_passages(passages: Sequence[Passage], full_texts: dict[str, str] | None = None) -> str:
    """All passages of a reply, separated by rules."""
    full_texts = full_texts or {}
    return "\n\n---\n\n".join(render_passage(p, n, full_texts.get(p.doc_id)) for n, p in enumerate(passages, start=1))
