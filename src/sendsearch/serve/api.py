"""Search for other programs: a REST endpoint, an MCP tool, and the server that carries both beside the page.

- ``rest_app(index)``: a FastAPI app whose ``GET /search?q=...&k=...&from=...&to=...&department=...&kind=...``
  answers ``{"query": ..., "passages": [...]}`` (each passage as ``sendsearch search --json``
  prints it) and bad input with 400 ``{"error": "..."}``. Mounted at ``/api`` it serves
  ``/api/search``, with its OpenAPI page at ``/api/docs``.
- ``search_tool(index)``: the same search as a typed, documented function; given to
  ``gr.api`` in a Blocks served with ``mcp_server=True``, Gradio offers it to MCP clients as
  the tool ``search_send_answers`` (at ``/gradio_api/mcp/``), the only tool they see.
- ``create_server(blocks, index, guard=...)``: one FastAPI app with the REST app at
  ``/api``, the admin session routes and upload gate (``admin.py``), and the page (with
  its MCP server) at ``/``; ``run(app, host, port)`` serves it with uvicorn.

Every request is bounded: ``k`` from 1 to ``MAX_K`` (checked by ``Index.search``), the
question cut at ``MAX_QUERY_CHARS``, filters at ``MAX_FILTER_CHARS``, and at most
``concurrency`` REST searches run at once (the rest wait without holding a thread).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..errors import FIELD_LABELS, QueryError, SendSearchError
from ..limits import MAX_FILTER_CHARS, MAX_K, MAX_QUERY_CHARS, MAX_UPLOAD_BYTES
from . import server
from .admin import AdminGuard, UploadGate, guard_file_inputs, session_router
from .gate import RequestGate
from .server import ServerLimits

__all__ = ["MCP_TOOL", "create_server", "rest_app", "run", "search_json", "search_tool"]

MCP_TOOL = "search_send_answers"
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
    index: Any,
    query: str,
    k: Any = 5,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    department: str | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """``{"query": query, "passages": [...]}`` for a search; QueryError for bad input."""
    if isinstance(query, str):
        _check_text("the question", query)
    for name, value in (("from", date_from), ("to", date_to), ("department", department), ("kind", kind)):
        if value is None:
            continue
        if not isinstance(value, str):
            raise QueryError(f"{name} must be text, not {json.dumps(value)[:40]}")
        if len(value) > MAX_FILTER_CHARS:
            raise QueryError(f"{name} is over {MAX_FILTER_CHARS} characters")
        _check_text(name, value)
    passages = index.search(
        query, _whole_number(k), date_from=date_from, date_to=date_to, department=department, kind=kind
    )
    return {"query": query, "passages": [passage.to_dict() for passage in passages]}


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


def rest_app(index: Any, *, concurrency: int = 4) -> Any:
    """The REST API as a FastAPI app, to mount at ``/api``."""
    import anyio
    from fastapi import Query
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
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
        date_from: str | None = Query(
            None, alias="from", max_length=MAX_FILTER_CHARS, description="Only documents dated on or after YYYY-MM-DD."
        ),
        date_to: str | None = Query(
            None, alias="to", max_length=MAX_FILTER_CHARS, description="Only documents dated on or before YYYY-MM-DD."
        ),
        department: str | None = Query(
            None, max_length=MAX_FILTER_CHARS, description='Only this department, e.g. "Department for Education".'
        ),
        kind: str | None = Query(None, description='"written_answer" or "web_page".'),
    ) -> Any:
        def run_search() -> dict[str, Any]:
            return search_json(
                index, q, k, date_from=date_from, date_to=date_to, department=department or None, kind=kind or None
            )

        try:
            # Searches wait their turn here without holding a thread, so a flood of API
            # calls cannot take the threads the page's own searches need.
            return await anyio.to_thread.run_sync(run_search, limiter=limiter)
        except QueryError as error:
            return JSONResponse({"error": error.worded(FIELD_LABELS["rest"])}, status_code=400)
        except SendSearchError as error:  # a damaged index, a model that will not load
            return JSONResponse({"error": str(error)}, status_code=503)

    return app


def search_tool(index: Any, *, concurrency: int = 4) -> Callable[..., Awaitable[str]]:
    """The search as a function for ``gr.api(tool, api_name=MCP_TOOL, queue=False)``: Gradio
    reads its type hints and docstring to describe the MCP tool to a model. It returns JSON
    text, since Gradio hands an MCP client a returned dict as Python's repr, not JSON.

    Given ``queue=False``, Gradio's MCP server calls it directly; a queued tool is called
    through a client that Gradio points at the address the first caller's Host or
    X-Forwarded-Host header names. At most ``concurrency`` of its searches run at once; the
    rest wait without holding a thread (it is async for that)."""
    import anyio

    limiter = anyio.CapacityLimiter(concurrency)

    async def search_send_answers(
        question: str,
        k: int = 5,
        date_from: str = "",
        date_to: str = "",
        department: str = "",
        kind: str = "",
    ) -> str:
        """Find passages about SEND (special educational needs and disabilities) support and funding in England, from UK Parliament written answers and council pages, each with its citation.

        Use it for questions about EHC (education, health and care) plans and needs assessments, high needs funding, SEND tribunals, school transport, special schools and council SEND services. Quote the passages you rely on and give their citations; say so when none answers the question.

        Args:
            question: The question in plain English, e.g. "How long does a council have to issue an EHC plan?"
            k: How many passages to return, from 1 to 100 (5 is usually enough).
            date_from: Only documents dated on or after this day, as YYYY-MM-DD; empty for no limit.
            date_to: Only documents dated on or before this day, as YYYY-MM-DD; empty for no limit.
            department: Only answers from this government department, e.g. "Department for Education"; empty for any.
            kind: "written_answer" (Parliament written answers), "web_page" (council pages), or empty for both.

        Returns:
            JSON text {"query": the question, "passages": [...]}, best first; each passage has "text", "citation" (title, who answered, when, where to read it), "source" (its web address), "date_answered", "answered_by", "department" and "score".
        """  # noqa: E501 - Gradio reads each Args entry from a single line.
        import gradio as gr

        def run_search() -> dict[str, Any]:
            # Empty filters are no filters (Filters.parse).
            return search_json(
                index, question, k, date_from=date_from, date_to=date_to, department=department, kind=kind
            )

        try:
            found = await anyio.to_thread.run_sync(run_search, limiter=limiter)
        except SendSearchError as error:
            raise gr.Error(str(error), print_exception=False) from None
        return json.dumps(found, ensure_ascii=False)

    search_send_answers.__name__ = MCP_TOOL
    return search_send_answers


# -- one server for the page, the API and the admin side --------------------------------------
def create_server(
    blocks: Any,
    index: Any,
    *,
    guard: AdminGuard | None = None,
    mcp: bool = True,
    upload_folder: Path | None = None,
    max_file_size: int = MAX_UPLOAD_BYTES,
    concurrency: int = 4,
    **page: Any,
) -> Any:
    """A FastAPI app serving the REST API at ``/api``, the admin session routes (when a
    ``guard`` is given), the upload gate (which, without a guard, refuses every upload),
    and the Gradio ``blocks`` at ``/`` with its MCP server when ``mcp``.

    ``upload_folder`` is Gradio's upload folder (from ``admin.use_private_gradio_temp_dir``)
    whose size the gate bounds. Call ``blocks.queue(...)`` before this, as for ``launch``.
    ``page`` goes to Gradio's ``mount_gradio_app`` (``theme``, ``css``).
    """
    import gradio as gr
    from fastapi import FastAPI

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.mount("/api", rest_app(index, concurrency=concurrency))
    if guard is not None:
        app.include_router(session_router(guard))
    app.add_middleware(UploadGate, guard=guard, upload_folder=upload_folder)
    # Outermost: every body is bounded and checked for file references before anything reads it.
    app.add_middleware(RequestGate, guard=guard, blocks=blocks)
    mounted = gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        mcp_server=mcp,
        max_file_size=max_file_size,
        footer_links=["api"],
        show_error=False,
        **page,
    )
    guard_file_inputs(blocks, guard)
    _offer_one_mcp_tool(blocks)
    return mounted


def _offer_one_mcp_tool(blocks: Any) -> None:
    """MCP clients see ``MCP_TOOL`` only. Gradio makes a tool of every API endpoint and has
    no setting to leave one out; the page's ``/search`` (a list of dicts, for gradio_client)
    would be a second, near-identical tool. Its MCP server's table of tools is narrowed
    here, so the endpoint stays for gradio_client and is neither listed nor callable by MCP."""
    mcp = getattr(blocks, "mcp_server_obj", None)
    if mcp is not None:
        mcp.tool_to_endpoint = {name: endpoint for name, endpoint in mcp.tool_to_endpoint.items() if name == MCP_TOOL}


def run(app: Any, host: str, port: int, limits: ServerLimits | None = None) -> str | None:
    """Serve ``create_server``'s app until Ctrl-C or SIGTERM, within ``limits``, and say so
    in one line when it stops; returns the name of the signal that stopped it (check the
    address first: ``cli.serve`` does)."""
    print(
        f"sendsearch: http://{host}:{port}/ (REST: /api/search, its docs: /api/docs, MCP: /gradio_api/mcp/)",
        flush=True,
    )
    stopped_by = server.run(app, host, port, limits)
    print("sendsearch: stopped.", flush=True)
    return stopped_by
