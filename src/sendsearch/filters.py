"""Which documents a search may return: every filter declared once, parsed and checked once.

``FILTERS`` is the table of filters: each row names its ``Filters`` field (the library's
keyword), the CLI option, the REST parameter, the page's label, a line of help and the
parser of what a person typed. The CLI builds its options from it, REST its query
parameters, the MCP tool its parameters and docstring, and errors name the field the way
each surface shows it (``FIELD_LABELS``: ``--from`` in the CLI, ``'from'`` in REST, "Dated
from" on the page). A new filter is one row here, one ``Filters`` field, one clause in the
store and one control on the page.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from .authorities import authority_name, resolve
from .errors import QueryError
from .limits import MAX_FILTER_CHARS
from .members import member_label, resolve_member, resolve_party
from .schema import KIND_LABELS, KIND_WEB_PAGE, KIND_WRITTEN_ANSWER, DocumentKind

__all__ = [
    "FIELD_LABELS",
    "FILTERS",
    "KIND_CHOICES",
    "SEARCHABLE_KINDS",
    "FilterField",
    "Filters",
    "check_text",
]

# The kinds a person can filter on (in the order every surface lists them), and the
# spellings accepted for each.
SEARCHABLE_KINDS: tuple[DocumentKind, ...] = (KIND_WRITTEN_ANSWER, KIND_WEB_PAGE)
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


def _as_date(value: object, name: str) -> date | None:
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


def _as_kind(value: object, name: str) -> DocumentKind | None:
    if value is None or not str(value).strip():
        return None
    key = check_text(str(value), name).strip().lower()
    if key not in KIND_CHOICES:
        choices = " or ".join(f"'{kind}'" for kind in SEARCHABLE_KINDS)
        raise QueryError.about(name, f"{{{name}}} must be {choices}, not {{value}}", value=repr(value))
    return KIND_CHOICES[key]


def _as_text(value: object, name: str) -> str | None:
    """Text matched without regard to case; empty is no filter."""
    if value is not None and not isinstance(value, str):
        raise QueryError.about(name, f"{{{name}}} must be text")
    return check_text(value or "", name).strip() or None


_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0", ""})


def _as_council(value: object, name: str) -> str | None:
    """An English local authority in any spelling ("stockport", "Stockport MBC"), as its code."""
    text = _as_text(value, name)
    if text is None:
        return None
    # Every surface's filters are bounded there already but the library's; names are short.
    if len(text) > MAX_FILTER_CHARS:
        raise QueryError.about(name, f"{{{name}}} is over {MAX_FILTER_CHARS} characters")
    return resolve(text, name)


def _as_member(value: object, name: str) -> int | None:
    """A member of either House by name (any order, case or title) or Parliament id."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = _as_text(value, name)
    if text is None:
        return None
    if len(text) > MAX_FILTER_CHARS:
        raise QueryError.about(name, f"{{{name}}} is over {MAX_FILTER_CHARS} characters")
    return resolve_member(text, name)


def _as_party(value: object, name: str) -> str | None:
    text = _as_text(value, name)
    return resolve_party(text, name) if text else None


HOUSES = ("Commons", "Lords")


def _as_house(value: object, name: str) -> str | None:
    text = _as_text(value, name)
    if text is None:
        return None
    key = text.lower().removeprefix("house of ").strip()
    for house in HOUSES:
        if key == house.lower():
            return house
    raise QueryError.about(name, f"{{{name}}} must be Commons or Lords, not {{value}}", value=repr(value))


def _as_flag(value: object, name: str) -> bool:
    """A yes/no setting: a bool, or its spelling in a query string ("true", "false", "1", "0")."""
    if value is None or isinstance(value, bool):
        return bool(value)
    word = check_text(str(value), name).strip().lower()
    if word in _TRUE | _FALSE:
        return word in _TRUE
    raise QueryError.about(name, f"{{{name}}} must be true or false, not {{value}}", value=repr(value))


@dataclass(frozen=True)
class FilterField:
    """One filter as every surface shows it.

    ``name`` is the ``Filters`` field and the library's keyword; ``option`` the CLI's
    (``--from``), ``parameter`` REST's (``from``), ``label`` the page's ("Dated from").
    ``help`` is one line, shared by the CLI's help, the REST docs and the MCP tool's
    description. ``parse`` turns what a person typed into the field's value (empty means
    no filter), raising a QueryError about ``name``. ``surfaces`` says where it is
    offered (every surface unless a row says otherwise); a ``flag`` is yes or no.
    """

    name: str
    option: str
    parameter: str
    label: str
    help: str
    parse: Callable[[object, str], object]
    flag: bool = False
    choices: tuple[str, ...] = ()
    surfaces: frozenset[str] = frozenset({"cli", "rest", "mcp", "page"})


FILTERS: tuple[FilterField, ...] = (
    FilterField(
        "date_from",
        "--from",
        "from",
        "Dated from",
        "Only documents dated on or after this day, as YYYY-MM-DD.",
        _as_date,
    ),
    FilterField(
        "date_to",
        "--to",
        "to",
        "Dated to",
        "Only documents dated on or before this day, as YYYY-MM-DD.",
        _as_date,
    ),
    FilterField(
        "department",
        "--department",
        "department",
        "Department",
        'Only answers from this government department, e.g. "Department for Education" (any case).',
        _as_text,
    ),
    FilterField(
        "kind",
        "--kind",
        "kind",
        "Kind of document",
        '"written_answer" (Parliament written answers) or "web_page" (council pages).',
        _as_kind,
        choices=SEARCHABLE_KINDS,
    ),
    FilterField(
        "council",
        "--council",
        "council",
        "Council",
        'Only documents about this English local authority, in any spelling ("Stockport", "Stockport MBC").',
        _as_council,
    ),
    FilterField(
        "include_uncertain",
        "--include-uncertain",
        "include_uncertain",
        "Include uncertain mentions of the council",
        'With a council, also keep documents that name it only ambiguously ("Durham") or by the asking '
        "member's constituency.",
        _as_flag,
        flag=True,
    ),
    FilterField(
        "asked_by",
        "--asked-by",
        "asked_by",
        "Asked by",
        'Only questions asked by this member: a name in any order or case, titles allowed ("Mary Foy", '
        '"Foy, Mary", "Dr Caroline Johnson"), or their Parliament id.',
        _as_member,
    ),
    FilterField(
        "answered_by",
        "--answered-by",
        "answered_by",
        "Answered by",
        "Only answers given by this member (a minister): a name in any spelling, or their Parliament id.",
        _as_member,
    ),
    FilterField(
        "house",
        "--house",
        "house",
        "House",
        '"Commons" or "Lords": only written questions of that House.',
        _as_house,
        choices=HOUSES,
    ),
    FilterField(
        "party",
        "--party",
        "party",
        "Party of the asker",
        'Only questions asked by members of this party on the day they asked ("Labour", "Conservative", '
        '"Lib Dem"); "Labour" includes Labour (Co-op).',
        _as_party,
    ),
    FilterField(
        "include_undated",
        "--include-undated",
        "include_undated",
        "Include undated documents",
        "With a date filter, also keep documents that have no date at all (web pages, files).",
        _as_flag,
        flag=True,
    ),
)
_BY_NAME = {field.name: field for field in FILTERS}

# What each surface calls the fields a QueryError names (the MCP tool and the page's
# /search endpoint take the library's own names).
FIELD_LABELS: dict[str, dict[str, str]] = {
    "cli": {"query": "the question", "k": "-k", **{f.name: f.option for f in FILTERS}},
    "rest": {"query": "'q'", **{f.name: f"'{f.parameter}'" for f in FILTERS if f.parameter != f.name}},
    "page": {"query": "the question", **{f.name: f.label for f in FILTERS}},
}


@dataclass(frozen=True)
class Filters:
    """Restrictions on which documents a search may return. Dates are inclusive and apply
    to the date answered, or the date asked where a record does not say when it was answered,
    or else the date asked estimated from a written question's number. A document with no
    date at all (a web page, a file) passes a date filter only with ``include_undated``.
    ``department`` matches without regard to case. ``council`` is an authority's code
    (``authorities.py``): documents it is surely named in, and with ``include_uncertain``
    also those naming it ambiguously or asked by the member for a seat of its name."""

    date_from: date | None = None
    date_to: date | None = None
    department: str | None = None
    kind: DocumentKind | None = None
    council: str | None = None
    include_uncertain: bool = False
    asked_by: int | None = None
    answered_by: int | None = None
    house: str | None = None
    party: str | None = None
    include_undated: bool = False

    @classmethod
    def parse(cls, **raw: object) -> Filters:
        """Filters from what a person typed, by field name (``FILTERS``); empty strings and
        None mean no filter. Raises ``QueryError`` naming the field."""
        unknown = sorted(raw.keys() - _BY_NAME.keys())
        if unknown:
            raise TypeError(f"unknown filter {unknown[0]!r}; filters are {', '.join(_BY_NAME)}")
        values = {name: _BY_NAME[name].parse(value, name) for name, value in raw.items()}
        chosen = cls(**values)  # type: ignore[arg-type]
        start, end = chosen.date_from, chosen.date_to
        if start and end and start > end:
            raise QueryError.about(
                ("date_from", "date_to"), "{date_from} ({start}) is after {date_to} ({end})", start=start, end=end
            )
        # Without a date filter, undated documents are never left out: the flag changes nothing.
        if chosen.include_undated and start is None and end is None:
            chosen = dataclasses.replace(chosen, include_undated=False)
        if chosen.include_uncertain and chosen.council is None:
            chosen = dataclasses.replace(chosen, include_uncertain=False)
        return chosen

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in FILTERS if not f.flag)

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
        if self.asked_by:
            parts.append(f"asked by {member_label(self.asked_by)}")
        if self.answered_by:
            parts.append(f"answered by {member_label(self.answered_by)}")
        if self.house:
            parts.append(f"House of {self.house}")
        if self.party:
            parts.append(f"asked by {self.party} members")
        if self.council:
            uncertain = " (or named uncertainly)" if self.include_uncertain else ""
            parts.append(f"about {authority_name(self.council)}{uncertain}")
        return ", ".join(parts)

    def given(self) -> Mapping[str, object]:
        """The filters that are set, by name (for a request's JSON or a log line)."""
        return {f.name: getattr(self, f.name) for f in FILTERS if getattr(self, f.name)}
