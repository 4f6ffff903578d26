"""Which English local authorities a document is about, recorded on its citation when it is read.

An authority is tagged when its name (any spelling in the shipped table, ``authorities.py``)
is in the heading, the question or the text, and, for a written question, when the asking
member's constituency at the time bears an authority's name ("Stockport", "Bury North").
Each tag says how it was found (``places_found``: "SKP heading", "DUR text ambiguous",
"SKP constituency"). Sure tags go to ``places``, the filter's field; tags only ever found by
an ambiguous name or by the constituency go to ``places_uncertain``, used by the filter only
when asked: an MP may ask about anywhere, and "Durham" may be the city.
"""

from __future__ import annotations

import dataclasses
import functools
import re

from ..authorities import authorities, find_authorities
from ..members import lookup_member
from ..schema import Citation, Document

__all__ = ["constituency_authority", "tag_places"]

# "Bury North" and "Stockport" name the authority; "Cheadle" or "Hazel Grove" do not.
_POINT = re.compile(r"\s+(north|south|east|west|central|north east|north west|south east|south west)$")


@functools.cache
def _by_name() -> dict[str, str]:
    """Each authority's name as a constituency would carry it -> its code, for names no two share."""
    seen: dict[str, set[str]] = {}
    for authority in authorities().values():
        if not authority.end:
            seen.setdefault(authority.nice_name.lower(), set()).add(authority.code)
    return {name: next(iter(codes)) for name, codes in seen.items() if len(codes) == 1}


def constituency_authority(constituency: str | None) -> str | None:
    """The authority a constituency is named after, when its name is an authority's, alone or
    with a compass point; None otherwise (most constituencies)."""
    if not constituency:
        return None
    name = " ".join(constituency.lower().replace("-", " ").split())
    return _by_name().get(name) or _by_name().get(_POINT.sub("", name))


def tag_places(document: Document) -> Document:
    """The document with its citation's ``places``, ``places_uncertain`` and ``places_found`` set."""
    citation = document.citation
    how: dict[str, set[str]] = {}
    sure: set[str] = set()
    for where, text in (("heading", citation.heading), ("question", citation.question), ("text", document.text)):
        for found in find_authorities(text or ""):
            how.setdefault(found.code, set()).add(where if found.sure else f"{where} ambiguous")
            if found.sure:
                sure.add(found.code)
    seat = _constituency(citation)
    if seat:
        how.setdefault(seat, set()).add("constituency")
    tagged = dataclasses.replace(
        citation,
        places=tuple(sorted(sure)),
        places_uncertain=tuple(sorted(how.keys() - sure)),
        places_found=tuple(sorted(f"{code} {way}" for code, ways in how.items() for way in ways)),
    )
    return dataclasses.replace(document, citation=tagged)


def _constituency(citation: Citation) -> str | None:
    if citation.asking_member_id is None or citation.house != "Commons":
        return None
    member = lookup_member(citation.asking_member_id, citation.date_asked or citation.date_answered)
    return constituency_authority(member.constituency if member else None)
