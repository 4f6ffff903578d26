"""What sendsearch covers: SEND in England. A question about another country's system is out of scope.

Scotland, Wales and Northern Ireland run their own systems (additional support for learning,
additional learning needs, special educational needs under their own law), and questions
from abroad (IEPs and school districts in the US, the NDIS in Australia) are answered by
nothing in a corpus of Westminster written answers and English council pages. A passage
that does not mention the place a question names is then not an answer, however close in
meaning it is; the reply says where people there get advice instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Elsewhere", "elsewhere_named", "mentions"]


@dataclass(frozen=True)
class Elsewhere:
    """A system outside England that a question can name, and where people there get advice."""

    name: str
    pattern: re.Pattern[str]
    advice: str


def _words(*forms: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(?:" + "|".join(forms) + r")(?![\w-])", re.I)


_ELSEWHERE = (
    Elsewhere(
        "Scotland",
        _words(
            r"scotland",
            r"scottish",
            r"glasgow",
            r"edinburgh",
            r"aberdeen",
            r"dundee",
            r"inverness",
            r"co-?ordinated support plans?",
            r"additional support needs tribunal",
        ),
        "Enquire, Scotland's advice service for additional support for learning (enquire.org.uk)",
    ),
    Elsewhere(
        "Wales",
        _words(
            r"wales",
            r"welsh",
            r"cardiff",
            r"swansea",
            r"ALN Act",
            r"additional learning needs",
            r"individual development plans?",
        ),
        "SNAP Cymru, the Welsh advice service for additional learning needs (snapcymru.org)",
    ),
    Elsewhere(
        "Northern Ireland",
        _words(r"northern ireland", r"belfast", r"derry", r"londonderry"),
        "SENAC, Northern Ireland's special educational needs advice centre (senac.co.uk)",
    ),
    Elsewhere(
        "the United States",
        _words(
            r"(?-i:US|USA)",
            r"united states",
            r"america",
            r"american",
            r"IEPs?",
            r"504 plans?",
            r"school districts?",
            r"IDEA act",
            r"individuals with disabilities education act",
        ),
        "your school district or your state's Parent Training and Information Center",
    ),
    Elsewhere(
        "Australia",
        _words(r"australia", r"australian", r"NDIS"),
        "your state's education department or the NDIS",
    ),
)


def elsewhere_named(question: str) -> Elsewhere | None:
    """The system outside England that a question names, if any."""
    for place in _ELSEWHERE:
        if place.pattern.search(question):
            return place
    return None


def mentions(text: str, place: Elsewhere) -> bool:
    """Whether a passage speaks of that place at all."""
    return bool(place.pattern.search(text))
