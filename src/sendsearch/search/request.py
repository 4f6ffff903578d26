"""One search, as a value: what is asked (``SearchRequest``) and what comes back (``SearchResult``).

The CLI, the page, REST, MCP, the reply builder and ``Index.search`` all take or build a
``SearchRequest``, so a new filter reaches every one of them through ``Filters`` alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, cast, overload

from ..authorities import authority_name
from ..errors import QueryError
from ..filters import Filters, check_text
from ..limits import MAX_K
from ..members import member_label
from ..schema import Passage
from ..text.analysis import clean_query
from .config import SearchConfig

__all__ = [
    "COUNCIL_FACETS",
    "MODES",
    "SORTS",
    "TIMELINE_POOL",
    "Mode",
    "SearchRequest",
    "SearchResult",
    "Sort",
    "Timeline",
]

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")
Sort = Literal["relevance", "newest"]
SORTS: tuple[Sort, ...] = ("relevance", "newest")
# How many of the best matches "newest first" and the timeline look through.
TIMELINE_POOL = MAX_K
# How many councils a result's facet lists.
COUNCIL_FACETS = 10


def _check_k(k: object) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise QueryError.about("k", f"{{k}} must be a whole number from 1 to {MAX_K}, not {{value}}", value=repr(k))
    return k


def _check_mode(mode: object) -> Mode:
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def _check_sort(sort: object) -> Sort:
    key = sort.strip().lower() if isinstance(sort, str) else sort
    if key in (None, ""):
        return "relevance"
    if key not in SORTS:
        raise QueryError.about("sort", "{sort} must be relevance or newest, not {value}", value=repr(sort)[:40])
    return key


def _check_flag(value: object, name: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    word = str(value).strip().lower()
    if word in ("true", "yes", "on", "1", "false", "no", "off", "0", ""):
        return word in ("true", "yes", "on", "1")
    raise QueryError.about(name, f"{{{name}}} must be true or false, not {{value}}", value=repr(value)[:40])


@dataclass(frozen=True)
class Timeline:
    """The matching passages by month: over the best ``TIMELINE_POOL`` matches above the
    relevance floor, dated as the date filters date them; ``months`` runs without gaps from
    the first month to the last ("YYYY-MM", count), ``undated`` counts those without a date."""

    months: tuple[tuple[str, int], ...]
    undated: int
    matches: int

    @classmethod
    def of(cls, passages: Sequence[Passage]) -> Timeline:
        close = [p for p in passages if not p.weak_match]
        days = [_day(p) for p in close]
        counts = Counter(f"{d.year:04d}-{d.month:02d}" for d in days if d)
        months: list[tuple[str, int]] = []
        if counts:
            year, month = map(int, min(counts).split("-"))
            last = max(counts)
            while (key := f"{year:04d}-{month:02d}") <= last:
                months.append((key, counts.get(key, 0)))
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return cls(tuple(months), sum(1 for d in days if d is None), len(close))

    def to_dict(self) -> dict[str, Any]:
        return {
            "months": [{"month": month, "count": count} for month, count in self.months],
            "undated": self.undated,
            "matches": self.matches,
        }


def _day(passage: Passage) -> date | None:
    c = passage.citation
    return c.date_answered or c.date_asked or c.date_asked_estimated


@dataclass(frozen=True)
class SearchRequest:
    """A search: the question, how many passages (1 to ``MAX_K``), the filters, the mode
    (``hybrid``, or one side alone for comparison), the ranking settings (None: the
    index's own), the order (``sort``: ``relevance``, or ``newest``: the newest among the
    best ``TIMELINE_POOL`` matches above the relevance floor) and whether to count the
    matches by month (``timeline``). ``k``, ``mode`` and ``sort`` are checked when made; the
    question when searched (``parse`` checks it at once)."""

    question: str
    k: int = 5
    filters: Filters = field(default_factory=Filters)
    mode: Mode = "hybrid"
    settings: SearchConfig | None = None
    sort: Sort = "relevance"
    timeline: bool = False

    def __post_init__(self) -> None:
        _check_k(self.k)
        _check_mode(self.mode)
        _check_sort(self.sort)

    @classmethod
    def parse(
        cls,
        question: object,
        k: object = 5,
        *,
        mode: object = "hybrid",
        settings: SearchConfig | None = None,
        sort: object = "relevance",
        timeline: object = False,
        **filters: Any,
    ) -> SearchRequest:
        """A request from what a person typed: filters by name (``filters.FILTERS``), empty
        meaning none. Raises ``QueryError`` naming what was wrong, in this order: ``k``, the
        question, a filter, the mode, the order."""
        checked_k = _check_k(k)
        cls.check_question(question)
        chosen = Filters.parse(**filters)
        checked_mode = _check_mode(mode)
        return cls(
            cast(str, question),
            checked_k,
            chosen,
            checked_mode,
            settings,
            _check_sort(sort),
            _check_flag(timeline, "timeline"),
        )

    @staticmethod
    def check_question(question: object) -> str:
        """The question as searched (``clean_query``); QueryError if it is empty or not text."""
        if isinstance(question, str):
            check_text(question, "query")
        return clean_query(question)


@dataclass(frozen=True)
class SearchResult(Sequence[Passage]):
    """What a search found: the request and its passages, best first.

    A ``Sequence`` of passages (iterate, index, ``len``), so callers that want only the
    passages need nothing more. ``undated_left_out`` counts the documents without any date
    that a date filter kept out although they match the question (above the relevance
    floor; at most ``k``): ``include_undated`` keeps them. ``councils`` counts the local
    authorities its passages are about (the facet shown under a reply)."""

    request: SearchRequest
    passages: tuple[Passage, ...] = ()
    undated_left_out: int = 0
    timeline: Timeline | None = None

    @overload
    def __getitem__(self, index: int) -> Passage: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Passage, ...]: ...
    def __getitem__(self, index: int | slice) -> Passage | tuple[Passage, ...]:
        return self.passages[index]

    def __len__(self) -> int:
        return len(self.passages)

    def __iter__(self) -> Iterator[Passage]:
        return iter(self.passages)

    def to_dict(self) -> dict[str, Any]:
        """``{"query": the question, "passages": [...], "undated_left_out": n}``, as REST,
        MCP and ``sendsearch search --json`` answer."""
        return {
            "query": self.request.question,
            "passages": [passage.to_dict() for passage in self.passages],
            "undated_left_out": self.undated_left_out,
            "councils": [{"code": code, "name": authority_name(code), "count": count} for code, count in self.councils],
            "askers": [
                {"member_id": member_id, "name": member_label(member_id), "count": count}
                for member_id, count in self.askers
            ],
            "sort": self.request.sort,
            **({"timeline": self.timeline.to_dict()} if self.timeline is not None else {}),
        }

    @property
    def councils(self) -> tuple[tuple[str, int], ...]:
        """The local authorities the passages are surely about (weak matches aside), as
        (code, passages), most first, at most ``COUNCIL_FACETS``."""
        counts = Counter(code for p in self.passages if not p.weak_match for code in p.citation.places)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], authority_name(item[0])))
        return tuple(ranked[:COUNCIL_FACETS])

    @property
    def councils_line(self) -> str:
        """ "Councils in these results: Stockport (4), Kent (2)", or "" when none is named."""
        if not self.councils:
            return ""
        named = ", ".join(f"{authority_name(code)} ({count})" for code, count in self.councils)
        return f"Councils in these results: {named}"

    @property
    def askers(self) -> tuple[tuple[int, int], ...]:
        """Who asks about this most: the members who asked the good matches' questions, as
        (member id, questions), most first, at most ``COUNCIL_FACETS``."""
        counts = Counter(
            p.citation.asking_member_id
            for p in self.passages
            if not p.weak_match and p.citation.asking_member_id is not None
        )
        ranked = sorted(counts.items(), key=lambda item: (-item[1], member_label(item[0])))
        return tuple(ranked[:COUNCIL_FACETS])

    @property
    def askers_line(self) -> str:
        """ "Who asked these: Mary Foy (Labour, City of Durham) (2), ...", or ""."""
        if not self.askers:
            return ""
        return "Who asked these: " + ", ".join(f"{member_label(i)} ({count})" for i, count in self.askers)

    @property
    def undated_note(self) -> str:
        """ "2 passages without a date were left out", or "" when none were."""
        count = self.undated_left_out
        if not count:
            return ""
        return f"{count} passage{'s' if count != 1 else ''} without a date {'were' if count != 1 else 'was'} left out"
