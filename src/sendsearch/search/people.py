"""A member's view: the questions they asked and the answers they gave in an index, newest first.

Built on the filters (``asked_by``, ``answered_by``), so it works on any store behind the
storage seam: ``sendsearch member NAME``, REST ``/api/members/{id}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ..filters import Filters
from ..members import lookup_member, member_label
from ..schema import Citation
from .index import Index

__all__ = ["MemberView", "member_view"]


@dataclass(frozen=True)
class MemberView:
    """A member's questions asked and answers given, each newest first (at most ``limit``
    listed; the counts are of all)."""

    member_id: int
    label: str
    asked: tuple[tuple[str, Citation], ...]
    answered: tuple[tuple[str, Citation], ...]
    asked_count: int
    answered_count: int

    def to_dict(self) -> dict[str, Any]:
        member = lookup_member(self.member_id)
        return {
            "member_id": self.member_id,
            "name": member.name if member else None,
            "label": self.label,
            "party": member.party if member else None,
            "house": member.house if member else None,
            "constituency": member.constituency if member else None,
            "asked_count": self.asked_count,
            "answered_count": self.answered_count,
            "asked": [_entry(doc_id, citation) for doc_id, citation in self.asked],
            "answered": [_entry(doc_id, citation) for doc_id, citation in self.answered],
        }


def _entry(doc_id: str, citation: Citation) -> dict[str, Any]:
    day = dated(citation)
    return {
        "doc_id": doc_id,
        "title": citation.title,
        "date": day.isoformat() if day else None,
        "source": citation.source,
        "citation": citation.line(fallback_title=doc_id),
    }


def dated(citation: Citation) -> date | None:
    """The date a document is listed by, as the date filters use it."""
    return citation.date_answered or citation.date_asked or citation.date_asked_estimated


def member_view(index: Index, member_id: int, limit: int = 20) -> MemberView:
    """What ``member_id`` asked and answered in ``index``, newest first."""
    asked = index.documents(Filters(asked_by=member_id))
    answered = index.documents(Filters(answered_by=member_id))
    return MemberView(
        member_id,
        member_label(member_id),
        tuple(asked[:limit]),
        tuple(answered[:limit]),
        len(asked),
        len(answered),
    )
