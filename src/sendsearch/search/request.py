"""One search, as a value: what is asked (``SearchRequest``) and what comes back (``SearchResult``).

The CLI, the page, REST, MCP, the reply builder and ``Index.search`` all take or build a
``SearchRequest``, so a new filter reaches every one of them through ``Filters`` alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast, overload

from ..authorities import authority_name
from ..errors import QueryError
from ..filters import Filters, check_text
from ..limits import MAX_K
from ..schema import Passage
from ..text.analysis import clean_query
from .config import SearchConfig

__all__ = ["COUNCIL_FACETS", "MODES", "Mode", "SearchRequest", "SearchResult"]

Mode = Literal["hybrid", "dense", "bm25"]
# How many councils a result's facet lists.
COUNCIL_FACETS = 10
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")


def _check_k(k: object) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise QueryError.about("k", f"{{k}} must be a whole number from 1 to {MAX_K}, not {{value}}", value=repr(k))
    return k


def _check_mode(mode: object) -> Mode:
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


@dataclass(frozen=True)
class SearchRequest:
    """A search: the question, how many passages (1 to ``MAX_K``), the filters, the mode
    (``hybrid``, or one side alone for comparison) and the ranking settings (None: the
    index's own). ``k`` and ``mode`` are checked when made; the question when searched
    (``parse`` checks it at once)."""

    question: str
    k: int = 5
    filters: Filters = field(default_factory=Filters)
    mode: Mode = "hybrid"
    settings: SearchConfig | None = None

    def __post_init__(self) -> None:
        _check_k(self.k)
        _check_mode(self.mode)

    @classmethod
    def parse(
        cls,
        question: object,
        k: object = 5,
        *,
        mode: object = "hybrid",
        settings: SearchConfig | None = None,
        **filters: Any,
    ) -> SearchRequest:
        """A request from what a person typed: filters by name (``filters.FILTERS``), empty
        meaning none. Raises ``QueryError`` naming what was wrong, in this order: ``k``, the
        question, a filter, the mode."""
        checked_k = _check_k(k)
        cls.check_question(question)
        return cls(cast(str, question), checked_k, Filters.parse(**filters), _check_mode(mode), settings)

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
    def undated_note(self) -> str:
        """ "2 passages without a date were left out", or "" when none were."""
        count = self.undated_left_out
        if not count:
            return ""
        return f"{count} passage{'s' if count != 1 else ''} without a date {'were' if count != 1 else 'was'} left out"
