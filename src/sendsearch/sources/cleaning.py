"""Cleaning: HTML to plain text with paragraph breaks, and removal of page furniture."""

from __future__ import annotations

import re

from lxml import etree
from lxml import html as lxml_html

from ..text.normalise import normalise

__all__ = [
    "MAX_HTML_DEPTH",
    "html_address",
    "html_title",
    "html_to_text",
    "replace_surrogates",
    "strip_furniture",
    "text_address",
]

# Elements whose content is never document text.
_DROP = {
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "iframe",
    "object",
    "embed",
    "head",
    "button",
    "select",
    "input",
    "textarea",
    "form",
}
# Elements that are navigation or chrome on a full web page.
_PAGE_CHROME = {"nav", "header", "footer", "aside"}
_BLOCK = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "blockquote",
    "pre",
    "ul",
    "ol",
    "dl",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "figure",
    "figcaption",
    "address",
    "hr",
    "details",
    "summary",
    "caption",
}
_LINE = {"tr", "dt", "dd"}
_CELL = {"td", "th"}
_EMPTY_LINE = re.compile(r"[•|\s]+")


# libxml2 stops building the tree past 256 open tags (2,048 with huge_tree) and keeps only
# what came before, so a deeper answer would lose its text without a word: past this
# depth html_to_text refuses it instead, and the reader says why.
MAX_HTML_DEPTH = 2048
_SURROGATES = re.compile("[\ud800-\udfff]")


def replace_surrogates(text: str) -> str:
    """Text with lone surrogates (from a JSON "\\ud800" or a broken PDF) replaced by U+FFFD:
    they cannot be stored as UTF-8, and lxml stops reading at the first one."""
    return text if text.isascii() else _SURROGATES.sub("\ufffd", text)


def _parse(markup: str, *, strict: bool = False) -> etree._Element | None:
    """The parsed page; None if it cannot be parsed. ``strict`` raises ValueError where
    libxml2 would silently drop what lies deeper than ``MAX_HTML_DEPTH``."""
    parser = lxml_html.HTMLParser(huge_tree=True)
    try:
        root = lxml_html.document_fromstring(replace_surrogates(markup), parser=parser)
    except (etree.ParserError, ValueError):
        return None
    if strict and any("depth" in entry.message.lower() for entry in parser.error_log):
        raise ValueError(f"the HTML is nested more than {MAX_HTML_DEPTH:,} tags deep")
    return root


def html_to_text(markup: str, *, full_page: bool = False) -> str:
    """Visible text of an HTML fragment or page, with paragraphs separated by blank lines.

    Tables keep one row per line with cells joined by " | ", list items become "• " lines.
    Scripts, styles and (for full pages) navigation, headers and footers are dropped.
    Nothing is evaluated: the text comes out as text, never as markup.
    """
    if not markup or not markup.strip():
        return ""
    root = _parse(markup, strict=True)
    if root is None:
        return ""
    drop = _DROP | (_PAGE_CHROME if full_page else set())
    body = root.find("body")
    pieces = _visible_pieces(body if body is not None else root, drop)
    text = normalise("".join(pieces))
    # A "•" line left by an empty <li>, or a row of only cell separators, is noise.
    text = "\n".join(line for line in text.split("\n") if not _EMPTY_LINE.fullmatch(line))
    return normalise(text)


def _visible_pieces(start: etree._Element, drop: set[str] | frozenset[str]) -> list[str]:
    """The text of an element and its descendants, with the breaks their tags make, in order."""
    pieces: list[str] = []
    # Depth-first without recursion (the tree may be MAX_HTML_DEPTH deep): an element is
    # visited on the way in (True) and again on the way out (False).
    stack: list[tuple[etree._Element, bool]] = [(start, True)]
    while stack:
        element, entering = stack.pop()
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if not entering:
            if tag in _BLOCK:
                pieces.append("\n\n")
            if element.tail:
                pieces.append(element.tail)
            continue
        if tag in drop or not tag:  # comments and processing instructions have no str tag
            if element.tail:
                pieces.append(element.tail)
            continue
        pieces.append(_opening(element, tag))
        if element.text:
            pieces.append(element.text)
        stack.append((element, False))
        stack.extend((child, True) for child in reversed(element))
    return pieces


def _opening(element: etree._Element, tag: str) -> str:
    """What an element's start puts in the text: a paragraph break, a line break, a bullet or a cell separator."""
    if tag in _BLOCK:
        return "\n\n"
    if tag in _LINE or tag == "br":
        return "\n"
    if tag == "li":
        return "\n• "
    if tag in _CELL and element.getprevious() is not None:
        return " | "
    return ""


def html_title(markup: str) -> str | None:
    """The page's main heading: the first <h1>, else <title>."""
    root = _parse(markup)
    if root is None:
        return None
    for path in (".//h1", ".//title"):
        element = root.find(path)
        if element is not None:
            title = normalise(element.text_content())
            if title:
                return title
    return None


def html_address(markup: str) -> str | None:
    """The page's own web address, when it states one (``<link rel="canonical">`` or ``og:url``)."""
    root = _parse(markup)
    if root is None:
        return None
    for element in root.iter("link", "meta"):
        rel = (element.get("rel") or "").lower()
        prop = (element.get("property") or "").lower()
        value = element.get("href") if rel == "canonical" else element.get("content") if prop == "og:url" else None
        if value and value.strip().startswith(("http://", "https://")):
            return value.strip()
    return None


# A scraped text page may say where it came from in its first lines: "Source: https://...".
_ADDRESS_LINE = re.compile(r"^(?:source|url|original|address|web address|page)\s*:\s*(https?://\S+)\s*$", re.I)


def text_address(text: str) -> str | None:
    """The address a text page gives for itself in its first ten lines, if any."""
    for line in text.splitlines()[:10]:
        match = _ADDRESS_LINE.match(line.strip())
        if match:
            return match.group(1)
    return None


# Lines that are site chrome on the pages the corpus was scraped from (UK Parliament's
# written-question pages as republished, and council news pages), never content.
_FURNITURE_LINES = [
    r"skip to (main )?content",
    r"view source",
    r"read more news",
    r"reticulating splines",
    r"add to calendar",
    r"back to top",
    r"share (this|on) .{0,30}",
    r"print (this )?page",
    r"cookies? (settings|policy|preferences)",
    r"to match an exact phrase, use quotation marks.*",
    r"keep yourself up-to-date with the latest developments.*",
]
_FURNITURE = re.compile(r"^(?:" + "|".join(_FURNITURE_LINES) + r")$", re.IGNORECASE)
_TRAILING_VIEW_SOURCE = re.compile(r"\s*-\s*View Source\s*$", re.IGNORECASE)


def strip_furniture(text: str) -> str:
    """Remove site chrome lines and the " - View Source" suffix from a scraped page."""
    kept = []
    for line in text.split("\n"):
        line = _TRAILING_VIEW_SOURCE.sub("", line)
        if _FURNITURE.match(line.strip()):
            continue
        kept.append(line)
    return normalise("\n".join(kept))
