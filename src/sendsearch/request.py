"""Which documents a search may return: dates, department and kind, parsed and checked once.

The CLI, the page, the API and ``Index.search`` all hand their raw values to
``Filters.parse``, so a bad date or an unknown kind gets the same clear error everywhere,
naming the field in each surface's own words (``QueryError.worded``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from .errors import QueryError
from .schema import KIND_LABELS, DocumentKind

__all__ = ["KIND_CHOICES", "Filters", "check_text"]

# The kinds a person can filter on, and the spellings accepted for each.
KIND_CHOICES: dict[str, DocumentKind] = {
    **{kind: kind for kind in KIND_LABELS},
    **{label.lower(): kind for kind, label in KIND_LABELS.items()},
    "written answers": "written_answer",
    "web pages": "web_page",
}


# Lone surrogates: what Python makes of bytes that are not UTF-8 in a command line
# (surrogateescape) or of a "\ud800" escape in JSON. They cannot be encoded, stored or shown.
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(value: str, field: str) -> str:
    """``value`` if it is text that can be encoded; else a QueryError naming ``field``."""
    if _SURROGATE.search(value):
        raise QueryError.about(field, f"{{{field}}} holds a byte or character that is not valid text (not UTF-8)")
    return value


def _as_date(value: date | str | None, name: str) -> date | None:
    """A date from an ISO date ("2024-09-30") or a British one ("30/09/2024", "30-9-2024")."""
    if value is None or isinstance(value, date):
        return value
    text = check_text(str(value), name).strip()
    if not text:
        return None
    for parse in (
        date.fromisoformat,
        lambda t: datetime.strptime(t.replace("-", "/").replace(".", "/"), "%d/%m/%Y").date(),
    ):
        try:
            return parse(text)
        except ValueError:
            continue
    template = f"{{{name}}} must be a date like 2024-09-30 or 30/09/2024, not {{value}}"
    raise QueryError.about(name, template, value=repr(value))


@dataclass(frozen=True)
class Filters:
    """Restrictions on which documents a search may return. Dates are inclusive and apply
    to the date answered, or the date asked where a record does not say when it was answered,
    or else the date asked estimated from a written question's number. A document with no
    date at all (a web page, a file) passes a date filter only with ``include_undated``.
    ``department`` matches without regard to case."""

    date_from: date | None = None
    date_to: date | None = None
    department: str | None = None
    kind: DocumentKind | None = None
    include_undated: bool = False

    @classmethod
    def parse(
        cls,
        date_from: date | str | None = None,
        date_to: date | str | None = None,
        department: str | None = None,
        kind: str | None = None,
        include_undated: bool = False,
    ) -> Filters:
        """Filters from what a person typed; empty strings mean no filter. Raises ``QueryError``."""
        start, end = _as_date(date_from, "date_from"), _as_date(date_to, "date_to")
        if start and end and start > end:
            raise QueryError.about(
                ("date_from", "date_to"), "{date_from} ({start}) is after {date_to} ({end})", start=start, end=end
            )
        chosen: DocumentKind | None = None
        if kind is not None and str(kind).strip():
            key = check_text(str(kind), "kind").strip().lower()
            if key not in KIND_CHOICES:
                template = "{kind} must be 'written_answer' or 'web_page', not {value}"
                raise QueryError.about("kind", template, value=repr(kind))
            chosen = KIND_CHOICES[key]
        if department is not None and not isinstance(department, str):
            raise QueryError.about("department", "{department} must be text")
        department = check_text(department or "", "department").strip() or None
        # Without a date filter, undated documents are never left out: the flag changes nothing.
        undated = bool(include_undated) and (start is not None or end is not None)
        return cls(start, end, department, chosen, undated)

    def __bool__(self) -> bool:
        return any(value is not None for value in (self.date_from, self.date_to, self.department, self.kind))

    def describe(self) -> str:
        """The filters in words, to repeat them in a reply: "dated 2024-01-01 to now, Web page"."""
        parts = []
        if self.date_from or self.date_to:
            start = self.date_from.isoformat() if self.date_from else "any time"
            end = self.date_to.isoformat() if self.date_to else "now"
            parts.append(f"dated {start} to {end}" + (" or undated" if self.include_undated else ""))
        if self.department:
            parts.append(self.department)
        if self.kind:
            parts.append(KIND_LABELS[self.kind].lower() + "s")
        return ", ".join(parts)
