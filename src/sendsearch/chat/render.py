"""Replies as the page shows them (HTML) and as they are copied (plain text).

Answer text is HTML at the source and scraped pages can carry anything, so corpus text
never reaches the page as markup: every string from the corpus is escaped here, in one
place, HTML and Markdown characters alike. The only markup in a reply is the markup this
module writes (headings, lists, ``<mark>``, ``<strong>``, ``<details>``, copy buttons,
links to http(s) sources, the key points' links to their passages, whose ids this module
makes from letters and digits only, and links to members' pages, made from their numeric
ids). The plain text of a reply and of each citation rides along in the copy buttons'
``data-copy`` attributes (attribute-escaped), so what is copied is the text itself:
sentences, numbers and citation lines, never markup or entities.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from ..members import member_label
from ..schema import Citation, Passage
from ..text.patterns import FIGURES
from .chart import timeline_html

if TYPE_CHECKING:
    from ..search.scope import Elsewhere
    from .keypoints import KeyPoint
    from .replies import Reply, ShownPassage

__all__ = [
    "citation_text",
    "escape",
    "format_passage_text",
    "member_link",
    "render_reply",
    "render_turn",
    "reply_text",
    "safe_link",
]

# HTML's special characters as named entities, and characters that mean something to
# Markdown (or start an autolink, ":") as numeric ones: shown as themselves, never syntax.
_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
    | {c: f"&#{ord(c)};" for c in "\\`*_{}[]()#+-.!|~$:"}
)
_URL = re.compile(r"https?://[^\s<>\"'\]\[]+[^\s<>\"'\]\[.,;:!?)]")


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
        for match in FIGURES.finditer(segment):
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
    # Paragraph breaks survive as line breaks.
    return "".join(pieces).replace("\n\n", "<br><br>").replace("\n", "<br>")


# Where parents get free, independent advice on their rights, named when the index has no answer.
ADVICE = (
    "For advice on your child's rights, contact your local SENDIASS (SEND Information, Advice and "
    "Support Service; every council area has one) or IPSEA"
)
IPSEA = "https://www.ipsea.org.uk/"
# Said first when passages were found but none of their sentences answers the question well
# enough to be a key point (``Reply.answered``).
NO_DIRECT_ANSWER = "Nothing here answers that directly"
CLOSEST = "The passages below are the closest the index has; they may not answer your question."
# Said instead when the likeliest sentence came close to being a key point (``Reply.may_answer``):
# about half the time one of the passages does answer, so the reader is told to read them.
MAY_ANSWER = "No clear answer, but the passages below may help"
CLOSE_TO_IT = "They come close to your question and one of them may answer it: read them before relying on them."


def _silence(reply: Reply) -> tuple[str, str]:
    """What a reply without key points says first, and then of its passages."""
    return (MAY_ANSWER, CLOSE_TO_IT) if reply.may_answer else (NO_DIRECT_ANSWER, CLOSEST)


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


def _copy_button(text: str, label: str, described: str) -> str:
    """A button that copies ``text`` as it is (the page's script reads ``data-copy``)."""
    return (
        f'<button type="button" class="copy" data-copy="{html.escape(text, quote=True)}" '
        f'aria-label="{html.escape(described, quote=True)}">{escape(label)}</button>'
    )


def _title(passage: Passage) -> str:
    return passage.citation.title or passage.doc_id


def _anchor(turn: str, number: int) -> str:
    """The id of passage ``number`` in one turn: unique on the page, where every reply has a [1]."""
    return f"{turn}-passage-{number}"


def _others(shown: ShownPassage) -> str:
    """The other questions given the same answer, each named and linked to its own page."""
    count = max(shown.others_count, len(shown.others))
    if not count:
        return ""
    items = "".join(f"<li>{_link(o.source or '', o.label) or escape(o.label)}</li>" for o in shown.others)
    extra = f"<li>and {count - len(shown.others)} more</li>" if count > len(shown.others) else ""
    noun = "question" if count == 1 else "questions"
    return (
        f'<p class="meta">The same answer was given to {count} other {noun}:</p><ul class="others">{items}{extra}</ul>'
    )


def _citation_box(passage: Passage, number: int) -> str:
    """The citation line as it is copied, its web address the passage's one link."""
    line = citation_text(passage, number)
    source = passage.citation.source or ""
    link = _link(source) if source and line.endswith(source) else None
    shown = escape(line[: -len(source)]) + link if link else escape(line)
    return f'<div class="citation"><p>{shown}</p>{_copy_button(line, "Copy citation", f"Copy citation {number}")}</div>'


# Why a passage's citation has no public page to link to.
_NO_PAGE = {
    "Parliament data record": "No public page is recorded for this answer: the link is to Parliament's data record.",
    "File": "A saved copy of a page: no web address was recorded.",
}


def member_link(member_id: int | None, name: str) -> str:
    """``name`` escaped, as a link to the member's page (``/members/{id}``, relative to the
    page, in a new tab so the reply stays put) where the records give their id."""
    if member_id is None:
        return escape(name)
    return (
        f'<a class="member" href="members/{int(member_id)}" target="_blank" rel="noopener noreferrer">'
        f"{escape(name)}</a>"
    )


def _meta(citation: Citation) -> str:
    """The line under a passage's title (``Citation.summary``), with who asked after the kind
    and each of the asker and the answerer linked to their page."""
    parts = [escape(part) for part in citation.summary]
    if citation.answered_by and citation.answerer:
        said = escape(f"answered by {citation.answerer}")
        linked = member_link(citation.answering_member_id, citation.answered_by)
        parts = [
            "answered by " + linked + escape(citation.answerer[len(citation.answered_by) :]) if p == said else p
            for p in parts
        ]
    if citation.asked_by:
        parts.insert(1, "asked by " + member_link(citation.asking_member_id, citation.asked_by))
    return " · ".join(parts)


def _render_passage(shown: ShownPassage, turn: str) -> str:
    passage, number = shown.passage, shown.number
    citation = passage.citation
    parts = [
        f'<section class="passage" id="{_anchor(turn, number)}" tabindex="-1">',
        f"<h3>[{number}] {escape(_title(passage))}</h3>",
        f'<p class="meta">{_meta(citation)}</p>',
    ]
    if citation.details_from:
        parts.append(
            f'<p class="meta">Answerer and date from {escape(citation.details_from_name or "another record")}, '
            "which carries the same answer.</p>"
        )
    if citation.question:
        parts.append(
            f'<details class="asked-question"><summary>Question asked</summary><p>{escape(citation.question)}</p>'
            "</details>"
        )
    highlights = [(s - passage.start, e - passage.start) for s, e in passage.highlights]
    parts.append(f'<p class="passage-text">{format_passage_text(passage.text, highlights)}</p>')
    if shown.full_text and shown.full_text.strip() != passage.text.strip():
        parts.append(
            '<details class="full-answer"><summary>Show the full answer</summary>'
            f"<p>{format_passage_text(shown.full_text)}</p></details>"
        )
    parts.append(_others(shown))
    if citation.source_label in _NO_PAGE:
        parts.append(f'<p class="meta">{_NO_PAGE[citation.source_label]}</p>')
    parts.append(_citation_box(passage, number))
    parts.append("</section>")
    return "".join(parts)


def _notes(reply: Reply) -> list[str]:
    """What the reply says before its answer."""
    notes = []
    if reply.reading.note:
        notes.append(reply.reading.note)
    if reply.filters:
        notes.append(f"Filters: {reply.filters}.")
    if reply.undated_left_out:
        count = reply.undated_left_out
        were = "s without a date were" if count != 1 else " without a date was"
        notes.append(f"{count} passage{were} left out by the dates; tick “Include undated documents” to keep them.")
    return notes


def _facets(reply: Reply) -> list[str]:
    """Which councils the passages are about and who asked them, as HTML: after the passages,
    so the answer comes first (shown on the page, left out of the text a person copies). Each
    asker's name links to their page."""
    lines = [escape(f"{reply.councils}.")] if reply.councils else []
    if reply.asker_counts:
        named = (f"{member_link(i, member_label(i))} ({count})" for i, count in reply.asker_counts)
        lines.append("Who asked these: " + ", ".join(named) + ".")
    elif reply.askers:
        lines.append(escape(f"{reply.askers}."))
    return lines


def _lead(reply: Reply) -> str:
    """What was found, in a sentence."""
    count = len(reply.passages)
    lead = f"{count} passage{'s' if count != 1 else ''} found, {'newest' if reply.newest_first else 'best'} first"
    if reply.more:
        lead += f"; the first {len(reply.shown)} shown"
    lead += "."
    if reply.weak:
        lead += f" {reply.weak} weaker match{'es' if reply.weak != 1 else ''} left out."
    return lead


def _elsewhere_note(place: Elsewhere) -> str:
    return (
        f"sendsearch holds UK Parliament answers and council pages about SEND in England, and the "
        f"system in {place.name} is different, so nothing here answers this. For advice there: {place.advice}."
    )


def _key_point(point: KeyPoint, turn: str) -> str:
    number = point.number
    ref = (
        f'<a class="ref" href="#{_anchor(turn, number)}" aria-label="[{number}], go to passage {number}">[{number}]</a>'
    )
    return f"<li>{format_passage_text(point.text)} {ref}</li>"


def render_reply(reply: Reply, turn: str | None = None, download: str | None = None) -> str:
    """A reply as HTML: notes, key points, the first passages, the rest behind "more", a copy button.

    ``turn`` (letters, digits and hyphens) prefixes the passages' ids, which the key points'
    [n] link to; by default a random one, so replies on one page never share an id.
    ``download`` is the address of the reply's passages as CSV, for a download link."""
    turn = turn or f"r{secrets.token_hex(4)}"
    parts = ['<section class="reply" aria-label="Reply">']
    parts += [f'<p class="note">{escape(note)}</p>' for note in _notes(reply)]
    if reply.error is not None:
        parts.append(f"<h2>I couldn't search for that</h2><p>{escape(reply.error)}</p>")
    elif reply.nothing_close and reply.elsewhere is not None:
        parts.append(f"<h2>This covers England only</h2><p>{escape(_elsewhere_note(reply.elsewhere))}</p>")
    elif reply.nothing_close:
        parts.append(
            "<h2>Nothing in this index answers that</h2>"
            f"<p>I found nothing close enough to “{escape(reply.message)}” to be an answer. Try naming the topic "
            "(for example “EHC plan”, “high needs funding”, “tribunal”) or a council, or use fewer filters.</p>"
            f'<p class="advice">{escape(ADVICE)} ({_link(IPSEA)}).</p>'
        )
    else:
        if reply.key_points:
            parts.append("<h2>Key points</h2>")
            items = "".join(_key_point(point, turn) for point in reply.key_points)
            parts.append(f'<ul class="key-points">{items}</ul>')
        elif not reply.answered:
            heading, said = _silence(reply)
            parts.append(
                f"<h2>{escape(heading)}</h2>"
                f'<p class="key-points advice">{escape(said)} {escape(ADVICE)} ({_link(IPSEA)}).</p>'
            )
        else:
            parts.append("<h2>Key points</h2>")
            parts.append('<p class="key-points">The passages below are the closest the index has.</p>')
        parts.append(f'<p class="lead">{escape(_lead(reply))}</p>')
        parts += [_render_passage(shown, turn) for shown in reply.shown]
        if reply.more:
            count = len(reply.more)
            parts.append(
                f'<details class="more"><summary>Show {count} more passage{"s" if count != 1 else ""}</summary>'
                + "".join(_render_passage(shown, turn) for shown in reply.more)
                + "</details>"
            )
        parts.append(timeline_html(reply.timeline, f"{turn}-timeline"))
        parts += [f'<p class="note">{line}</p>' for line in _facets(reply)]
    copy = _copy_button(reply_text(reply), "Copy reply as text", "Copy reply as text")
    if download and reply.passages:
        copy += f' <a class="download" href="{escape(download)}" download>Download these passages (CSV)</a>'
    parts.append(f'<p class="reply-actions">{copy}</p>')
    parts.append("</section>")
    return "".join(parts)


def _passage_text(shown: ShownPassage) -> str:
    passage = shown.passage
    lines = [f"[{shown.number}] {_title(passage)}", " · ".join(passage.citation.summary)]
    if passage.citation.question:
        lines.append(f"Question asked: {' '.join(passage.citation.question.split())}")
    lines.append(" ".join(passage.text.split()))
    lines.append(f"Citation: {citation_text(passage, shown.number)}")
    return "\n".join(lines)


def reply_text(reply: Reply) -> str:
    """A reply as plain text: notes, key points with their [n], passages and citation lines."""
    notes = _notes(reply)
    blocks = ["\n".join(notes)] if notes else []
    if reply.error is not None:
        blocks.append(f"I couldn't search for that: {reply.error}")
    elif reply.nothing_close and reply.elsewhere is not None:
        blocks.append(_elsewhere_note(reply.elsewhere))
    elif reply.nothing_close:
        blocks.append(f"Nothing in this index answers “{reply.message}”.\n{ADVICE} ({IPSEA}).")
    else:
        if reply.key_points:
            blocks.append(
                "Key points\n" + "\n".join(f"- {' '.join(p.text.split())} [{p.number}]" for p in reply.key_points)
            )
        elif not reply.answered:
            heading, said = _silence(reply)
            blocks.append(f"{heading}.\n{said} {ADVICE} ({IPSEA}).")
        blocks += [_passage_text(shown) for shown in reply.passages]
    return "\n\n".join(blocks)


def render_turn(reply: Reply, turn: str | None = None, download: str | None = None) -> str:
    """One exchange: what was asked, then the reply (``turn`` and ``download`` as for ``render_reply``)."""
    return (
        f'<article class="turn"><p class="asked"><span class="who">You asked:</span> {escape(reply.message)}</p>'
        f"{render_reply(reply, turn, download)}</article>"
    )
