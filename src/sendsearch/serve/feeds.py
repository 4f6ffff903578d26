"""Atom feeds (RFC 4287) of a saved search and of any question, for feed readers.

``feeds_app(index)``, mounted at ``/feeds``, serves ``/feeds/saved/{name}.atom`` (a saved
search's good matches, newest first) and ``/feeds/search.atom?q=...`` with the filters of
REST. Each entry is a passage above the relevance floor: its id is stable (``tag:`` URI of
the document), its title the passage's title, its link the question's page (or the page it
came from), its date the date answered (else asked), its summary the passage as text. The
XML is written by ElementTree, so text from documents is escaped, never markup. Bounded as
REST is: ``k`` up to ``MAX_K``, the question and filters cut or refused, and at most
``concurrency`` feeds made at once.
"""

from __future__ import annotations

import dataclasses
import html
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET

from ..errors import QueryError, SendSearchError
from ..filters import FIELD_LABELS
from ..limits import MAX_K
from ..schema import Passage
from ..search.export import to_csv
from ..search.index import Index
from ..search.request import SearchResult
from ..search.saved import SavedSearches
from .api import _filter_parameters, search_result
from .digests import Subscriptions, read_token

__all__ = ["atom", "feeds_app"]

ATOM = "http://www.w3.org/2005/Atom"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
_TAG = "tag:sendsearch,2026:"


def _stamp(day: date | datetime) -> str:
    if isinstance(day, datetime):
        return day.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{day.isoformat()}T00:00:00Z"


def _day(passage: Passage) -> date | None:
    c = passage.citation
    return c.date_answered or c.date_asked or c.date_asked_estimated


def atom(feed_id: str, title: str, result: SearchResult, now: datetime) -> bytes:
    """An Atom feed of ``result``'s good matches; ``now`` dates the undated and an empty feed."""
    ET.register_namespace("", ATOM)

    def add(parent: ET.Element, name: str, text: str | None = None, **attributes: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{name}", attributes)
        element.text = text
        return element

    feed = ET.Element(f"{{{ATOM}}}feed")
    add(feed, "id", feed_id)
    add(feed, "title", title)
    good = [p for p in result.passages if not p.weak_match]
    days = [d for d in (_day(p) for p in good) if d]
    add(feed, "updated", _stamp(max(days)) if days else _stamp(now))
    author = add(feed, "author")
    add(author, "name", "sendsearch")
    add(feed, "generator", "sendsearch")
    for passage in good:
        entry = add(feed, "entry")
        add(entry, "id", _TAG + "document:" + quote(passage.doc_id, safe=""))
        add(entry, "title", passage.citation.title or passage.doc_id)
        source = passage.citation.source or ""
        if source.startswith(("https://", "http://")):
            add(entry, "link", href=source, rel="alternate")
        day = _day(passage)
        add(entry, "updated", _stamp(day) if day else _stamp(now))
        add(entry, "summary", " ".join(passage.text.split()), type="text")
        add(entry, "content", passage.citation_line, type="text")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8", xml_declaration=False)


def feeds_app(
    index: Index,
    *,
    concurrency: int = 4,
    clock: Callable[[], datetime] | None = None,
    secret: str | None = None,
) -> Any:
    """The feeds as a FastAPI app, to mount at ``/feeds``, with ``/unsubscribe?token=...``
    for the digests' links (``secret`` signs them: ``SENDSEARCH_SECRET`` by default)."""
    import anyio
    from fastapi import Depends, FastAPI, Path, Query
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from starlette.requests import Request

    from .api import _validation_message

    now = clock or (lambda: datetime.now(UTC))
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    limiter = anyio.CapacityLimiter(concurrency)
    filter_parameters = _filter_parameters(Query)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(list(error.errors()))}, status_code=400)

    async def answer(make: Callable[[], Response]) -> Response:
        try:
            return await anyio.to_thread.run_sync(make, limiter=limiter)
        except QueryError as error:
            return JSONResponse({"error": error.worded(FIELD_LABELS["rest"])}, status_code=400)
        except SendSearchError as error:
            return JSONResponse({"error": str(error)}, status_code=503)

    @app.get("/search.atom")
    async def search_feed(
        q: str = Query(description="The question."),
        k: int = Query(20, ge=1, le=MAX_K),
        filters: dict[str, str | bool | None] = Depends(filter_parameters),  # noqa: B008 - FastAPI reads it here
    ) -> Response:
        def make() -> Response:
            chosen = {name: value or None for name, value in filters.items()}
            found = search_result(index, q, k, sort="newest", **chosen)
            feed_id = _TAG + "search:" + quote(found.request.question, safe="")
            body = atom(feed_id, f"sendsearch: {found.request.question}", found, now())
            return Response(body, media_type=ATOM_TYPE)

        return await answer(make)

    @app.get("/saved/{name}.atom")
    async def saved_feed(name: str = Path(max_length=60)) -> Response:
        def make() -> Response:
            saved = SavedSearches(index.dsn or index.directory).get(name)
            if saved is None:
                return JSONResponse({"error": f"no saved search is called {name!r}"}, status_code=404)
            found = index.search(dataclasses.replace(saved.request, sort="newest"))
            body = atom(_TAG + "saved:" + quote(name, safe=""), f"sendsearch: {saved.describe()}", found, now())
            return Response(body, media_type=ATOM_TYPE)

        return await answer(make)

    @app.get("/saved/{name}.csv")
    async def saved_csv(name: str = Path(max_length=60)) -> Response:
        def make() -> Response:
            saved = SavedSearches(index.dsn or index.directory).get(name)
            if saved is None:
                return JSONResponse({"error": f"no saved search is called {name!r}"}, status_code=404)
            found = index.search(dataclasses.replace(saved.request, sort="newest"))
            disposition = f'attachment; filename="sendsearch-{name}.csv"'
            return Response(
                to_csv(found), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition}
            )

        return await answer(make)

    @app.get("/unsubscribe", response_class=HTMLResponse)
    async def unsubscribe(token: str = Query("", max_length=1000)) -> Response:
        key = secret if secret is not None else os.environ.get("SENDSEARCH_SECRET", "")
        found = read_token(key, token) if key else None
        if found is None:
            return HTMLResponse(_page("That unsubscribe link is not valid: copy the whole link from the email."), 400)
        name, email = found
        removed = await anyio.to_thread.run_sync(Subscriptions(index.dsn or index.directory).unsubscribe, name, email)
        said = "will get no more" if removed else "was already getting no"
        return HTMLResponse(_page(f"{email} {said} emails for the saved search “{name}”."))

    return app


def _page(text: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>sendsearch</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        f"<body><main><h1>sendsearch</h1><p>{html.escape(text)}</p></main></body></html>"
    )
