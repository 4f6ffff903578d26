"""The figures SEND questions are about, as patterns: money, dates, financial years, shares and timescales.

Defined once: the page emphasises them in passages (``chat.render``) and the key points
prefer sentences that carry the kind a question asks for (``chat.keypoints``).
"""

from __future__ import annotations

import re

__all__ = ["FIGURES", "MONEY", "MONTHS", "TIME", "TIMESCALE"]

MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
# "six weeks", "20-week", "15 working days": a number (in digits or words) and a unit of time.
TIMESCALE = (
    r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty)(?:-|\s)"
    r"(?:weeks?|months?|working days|days|years?)\b"
)
# Money, dates, financial years, percentages and timescales, as a passage shows them.
FIGURES = re.compile(
    r"£\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:billion|million|thousand|bn|m|k)\b)?"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{MONTHS})\s+\d{{4}}\b"
    rf"|\b(?:{MONTHS})\s+\d{{4}}\b"
    r"|\b(?:19|20)\d{2}(?:\s?(?:-|–|/|to)\s?)(?:19|20)?\d{2}\b"
    r"|\b\d+(?:\.\d+)?\s?%"
    rf"|{TIMESCALE}"
)
# What answers a question about time: a timescale or a day ("13th May 2025").
TIME = re.compile(rf"{TIMESCALE}|\b\d{{1,2}}(?:st|nd|rd|th)?\s+[A-Z][a-z]+\s+\d{{4}}\b")
# What answers a question about money: an amount or a share.
MONEY = re.compile(r"£\s?\d|\b\d+(?:\.\d+)?\s?%")
