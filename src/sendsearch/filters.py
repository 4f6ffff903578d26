"""Which documents a search may return: dates, department and kind, parsed and checked once.

The CLI, the page, the API and ``Index.search`` all hand their raw values to
``Filters.parse``, so a bad date or an unknown kind gets the same clear error everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from .errors import QueryError
from .schema import KIND_LABELS, DocumentKind

__all__ = ["KIND_CHOICES", "Filters"]

# The kinds a person can filter on, and the spellings accepted for each.
KIND_CHOICES: dict[str, DocumentKind] = {
    **{kind: kind for kind in KIND_LABELS},
    **{label.lower(): kind for kind, label in KIND_LABELS.items()},
    "written answers": "written_answer",
    "web pages": "web_page",
}


def _as_date(value: date | str | None, name: str) -> date | None:
    """A date from an ISO date ("2024-09-30") or a British one ("30/09/2024", "30-9-2024")."""
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
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
    raise QueryError(f"{name} must be a date like 2024-09-30 or 30/09/2024, not {value!r}")


@dataclass(frozen=True)
class Filters:
    """Restrictions on which documents a search may return. Dates are inclusive and apply
    to the date answered, or the date asked where a record does not say when it was answered.
    ``department`` matches without regard to case."""

    date_from: date | None = None
    date_to: date | None = None
    department: str | None = None
    kind: DocumentKind | None = None

    @classmethod
    def parse(
        cls,
        date_from: date | str | None = None,
        date_to: date | str | None = None,
        department: str | None = None,
        kind: str | None = None,
    ) -> Filters:
        """Filters from what a person typed; empty strings mean no filter. Raises ``QueryError``."""
        start, end = _as_date(date_from, "date_from"), _as_date(date_to, "date_to")
        if start and end and start > end:
            raise QueryError(f"date_from ({start}) is after date_to ({end})")
        chosen: DocumentKind | None = None
        if kind is not None and str(kind).strip():
            key = str(kind).strip().lower()
            if key not in KIND_CHOICES:
                raise QueryError(f"kind must be 'written_answer' or 'web_page', not {kind!r}")
            chosen = KIND_CHOICES[key]
        if department is not None and not isinstance(department, str):
            raise QueryError("department must be text")
        return cls(start, end, (department or "").strip() or None, chosen)

    def __bool__(self) -> bool:
        return any(value is not None for value in (self.date_from, self.date_to, self.department, self.kind))

    def describe(self) -> str:
        """The filters in words, to repeat them in a reply: "dated 2024-01-01 to now, Web page"."""
        parts = []
        if self.date_from or self.date_to:
            start = self.date_from.isoformat() if self.date_from else "any time"
            end = self.date_to.isoformat() if self.date_to else "now"
            parts.append(f"dated {start} to {end}")
        if self.department:
            parts.append(self.department)
        if self.kind:
            parts.append(KIND_LABELS[self.kind].lower() + "s")
        return ", ".join(parts)
