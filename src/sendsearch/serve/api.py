"""Search for other programs over HTTP: the REST endpoint, and the checks every remote caller's input passes.

- ``rest_app(index)``: a FastAPI app whose ``GET /search?q=...&k=...`` plus one query
  parameter per filter (``filters.FILTERS``: ``from``, ``to``, ``department``, ``kind``)
  answers ``{"query": ..., "passages": [...], "undated_left_out": n}`` (as ``sendsearch
  search --json`` prints it) and bad input with 400 ``{"error": "..."}``. Mounted at ``/api`` it
  serves ``/api/search`` and ``/api/members/{id}`` (a member's questions and answers,
  newest first), with its OpenAPI page at ``/api/docs``.
- ``search_json(index, question, k, **filters)``: the search behind REST, the MCP tool
  (``mcp.py``) and the page's ``/search``, for values that came over the network.

Every request is bounded: ``k`` from 1 to ``MAX_K`` (checked by ``SearchRequest``), the
question cut at ``MAX_QUERY_CHARS``, filters at ``MAX_FILTER_CHARS``, and at most
``concurrency`` REST searches run at once (the rest wait without holding a thread).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from typing import Any

from ..errors import QueryError, SendSearchError
from ..filters import FIELD_LABELS, FILTERS, FilterField
from ..limits import MAX_FILTER_CHARS, MAX_K, MAX_QUERY_CHARS
from ..members import resolve_member
from ..search.export import EXPORT_FORMATS, citation_list, to_csv
from ..search.index import Index
from ..search.people import member_view
from ..search.request import SearchRequest, SearchResult

__all__ = ["remote_filters", "rest_app", "search_json", "search_result"]

_WHOLE_NUMBER = re.compile(r"\s*\+?\d{1,9}\s*")
_K_ERROR = f"k must be a whole number from 1 to {MAX_K}"


def _whole_number(value: Any) -> Any:
    """``k`` as an int when it is a whole number in any form a client sends (5, 5.0, "5");
    anything else is passed on for ``Index.search`` to refuse with its one-line message."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value):
        return int(value)
    return value


def _check_text(name: str, value: str) -> None:
    """Refuse text that no reply could carry back (a lone surrogate, from JSON's "\\ud800")."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = value[error.start]
        raise QueryError(f"{name} is not valid text: it holds a lone surrogate (\\u{ord(bad):04x})") from None


def search_json(
    index: Index,
    question: object,
    k: object = 5,
    *,
    sort: object = "relevance",
    timeline: object = False,
    **filters: Any,
) -> dict[str, Any]:
    """``SearchResult.to_dict()`` for a search; QueryError for bad input (``search_result``)."""
    return search_result(index, question, k, sort=sort, timeline=timeline, **filters).to_dict()


def search_result(
    index: Index,
    question: object,
    k: object = 5,
    *,
    sort: object = "relevance",
    timeline: object = False,
    **filters: Any,
) -> SearchResult:
    """The search for values that came over the network; QueryError for bad input.

    ``filters`` are by name (``filters.FILTERS``); each must be text of at most
    ``MAX_FILTER_CHARS`` (a flag may also be a bool), named in errors as REST names it."""
    if isinstance(question, str):
        _check_text("the question", question)
    for field in FILTERS:
        value = filters.get(field.name)
        if value is None or (field.flag and isinstance(value, bool)):
            continue
        if not isinstance(value, str):
            raise QueryError(f"{field.parameter} must be text, not {json.dumps(value)[:40]}")
        if len(value) > MAX_FILTER_CHARS:
            raise QueryError(f"{field.parameter} is over {MAX_FILTER_CHARS} characters")
        _check_text(field.parameter, value)
    request = SearchRequest.parse(question, _whole_number(k), sort=sort, timeline=timeline, **filters)
    return index.search(request)


def remote_filters() -> tuple[FilterField, ...]:
    """The filters offered to other programs (REST, MCP and the page's /search)."""
    return tuple(field for field in FILTERS if "rest" in field.surfaces)


# -- REST -------------------------------------------------------------------------------------
def _validation_message(errors: list[dict[str, Any]]) -> str:
    """FastAPI's validation errors as one sentence, in the library's words where it has them."""
    first = errors[0] if errors else {}
    name = str((first.get("loc") or ["?"])[-1])
    if name == "k":
        return f"{_K_ERROR}, not {first.get('input')!r}"
    if first.get("type") == "missing":
        return f"{name} is required" + (" (the question)" if name == "q" else "")
    if first.get("type") == "string_too_long":
        return f"{name} is too long"
    return f"{name}: {first.get('msg', 'not valid')}"


def _filter_parameters(query: Any) -> Callable[..., dict[str, str | bool | None]]:
    """A FastAPI dependency reading one query parameter per filter of the table, with its
    REST name, bound and help (FastAPI reads the signature made here)."""

    def read(**values: str | bool | None) -> dict[str, str | bool | None]:
        return values

    read.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                field.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=query(
                    None,
                    alias=field.parameter if field.parameter != field.name else None,
                    max_length=None if field.flag else MAX_FILTER_CHARS,
                    description=field.help,
                ),
                # A flag is read as FastAPI reads a bool: true/false, 1/0, yes/no, on/off.
                annotation=bool | None if field.flag else str | None,
            )
            for field in remote_filters()
        ]
    )
    return read


def rest_app(index: Index, *, concurrency: int = 4) -> Any:
    """The REST API as a FastAPI app, to mount at ``/api``."""
    import anyio
    from fastapi import Depends, Path, Query
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, PlainTextResponse, Response
    from fastapi_offline import FastAPIOffline
    from pydantic import BaseModel, Field
    from starlette.requests import Request

    class SearchReply(BaseModel):
        query: str = Field(description="The question, as asked.")
        passages: list[dict[str, Any]] = Field(
            description="Best first, at most one per document: text, score, title, question, source, dates, "
            "answered_by, department, kind, start/end, highlights and a ready-made citation "
            "(the fields of `sendsearch search --json`)."
        )
        undated_left_out: int = Field(
            0,
            description="With a date filter: how many documents without any date match the question but were "
            "left out (at most k); include_undated=true keeps them.",
        )
        sort: str = Field("relevance", description="The order: relevance (best first) or newest.")
        timeline: dict[str, Any] | None = Field(
            None,
            description="With timeline=true: the matches above the relevance floor among the best 100, by month "
            '(answered, else asked): {"months": [{"month": "2024-03", "count": 4}, ...], "undated": n, '
            '"matches": n}.',
        )
        askers: list[dict[str, Any]] = Field(
            default_factory=list,
            description="Who asks about this most: the members who asked the good matches' questions, most first: "
            '[{"member_id": 4753, "name": "Mary Foy (Labour, City of Durham)", "count": 2}, ...].',
        )
        councils: list[dict[str, Any]] = Field(
            default_factory=list,
            description="The local authorities the passages are surely about (weak matches aside), most first: "
            '[{"code": "SKP", "name": "Stockport", "count": 4}, ...].',
        )

    class ErrorReply(BaseModel):
        error: str = Field(description="What was wrong, in one line.")

    # The docs page's Swagger UI and favicon come from the fastapi-offline package, served
    # here (/api/static-offline-docs/), not from a CDN; Swagger UI's validator badge, which
    # would load an image from validator.swagger.io, is off.
    app = FastAPIOffline(
        title="sendsearch",
        description="Passages about SEND support and funding in England from UK Parliament written answers "
        "and council pages, each with its citation.",
        docs_url="/docs",
        redoc_url=None,
        swagger_ui_parameters={"validatorUrl": None},
    )
    limiter = anyio.CapacityLimiter(concurrency)
    filter_parameters = _filter_parameters(Query)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(list(error.errors()))}, status_code=400)

    @app.get(
        "/search",
        response_model=SearchReply,
        responses={400: {"model": ErrorReply}, 503: {"model": ErrorReply}},
        summary="Passages that answer a question, with citations",
    )
    async def search(
        q: str = Query(
            description=f"The question in plain English (cut at {MAX_QUERY_CHARS:,} characters).",
            examples=["How long does a council have to issue an EHC plan?"],
        ),
        k: int = Query(5, ge=1, le=MAX_K, description=f"How many passages, 1 to {MAX_K}."),
        filters: dict[str, str | bool | None] = Depends(filter_parameters),  # noqa: B008 - FastAPI reads it here
        sort: str = Query(
            "relevance", max_length=20, description="relevance (best first) or newest (the newest good matches)."
        ),
        timeline: bool = Query(False, description="Also count the matches by month (the timeline)."),
        format: str = Query(
            "json",
            max_length=20,
            description="json (the default); csv: one row per passage with every citation field, the link and the "
            "text, as a download; citations: the citations as a numbered plain-text list.",
        ),
    ) -> Any:
        def run_search() -> Any:
            chosen = {name: value or None for name, value in filters.items()}
            if format == "json":
                return search_json(index, q, k, sort=sort, timeline=timeline, **chosen)
            if format not in EXPORT_FORMATS:
                raise QueryError(f"format must be json, csv or citations, not {format!r}")
            found = search_result(index, q, k, sort=sort, timeline=timeline, **chosen)
            if format == "csv":
                return Response(
                    to_csv(found),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="sendsearch-passages.csv"'},
                )
            return PlainTextResponse(citation_list(found))

        try:
            # Searches wait their turn here without holding a thread, so a flood of API
            # calls cannot take the threads the page's own searches need.
            return await anyio.to_thread.run_sync(run_search, limiter=limiter)
        except QueryError as error:
            return JSONResponse({"error": error.worded(FIELD_LABELS["rest"])}, status_code=400)
        except SendSearchError as error:  # a damaged index, a model that will not load
            return JSONResponse({"error": str(error)}, status_code=503)

    @app.get(
        "/members/{member}",
        responses={400: {"model": ErrorReply}, 503: {"model": ErrorReply}},
        summary="A member's SEND questions and answers in the index, newest first",
    )
    async def member_page(
        member: str = Path(
            description='A member of either House: their Parliament id (4753) or name in any spelling ("Mary Foy").',
            max_length=MAX_FILTER_CHARS,
        ),
        n: int = Query(20, ge=1, le=MAX_K, description=f"How many of each to list, 1 to {MAX_K}."),
    ) -> Any:
        def view() -> dict[str, Any]:
            _check_text("member", member)
            return member_view(index, resolve_member(member, "member"), n).to_dict()

        try:
            return await anyio.to_thread.run_sync(view, limiter=limiter)
        except QueryError as error:
            return JSONResponse({"error": error.worded(FIELD_LABELS["rest"])}, status_code=400)
        except SendSearchError as error:
            return JSONResponse({"error": str(error)}, status_code=503)

    return app
