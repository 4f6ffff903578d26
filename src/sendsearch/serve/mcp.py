"""The search as an MCP tool, and as the page's ``/search`` endpoint for gradio_client.

Gradio describes a function to MCP clients (and to gradio_client) from its signature and
docstring, so both are made here from the table of filters (``filters.FILTERS``): a new
filter becomes a new parameter, with its help as its description, without touching this
module. Given to ``gr.api(tool, api_name=MCP_TOOL, queue=False)`` in a Blocks served with
``mcp_server=True``, the tool is offered as ``search_send_answers`` at ``/gradio_api/mcp/``,
the only tool MCP clients see (``offer_one_mcp_tool``).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import SendSearchError
from ..search.index import Index
from .api import remote_filters, search_json

__all__ = ["MCP_TOOL", "offer_one_mcp_tool", "search_tool", "tool_signature"]

MCP_TOOL = "search_send_answers"

_DESCRIPTION = """Find passages about SEND (special educational needs and disabilities) support and funding in England, from UK Parliament written answers and council pages, each with its citation.

Use it for questions about EHC (education, health and care) plans and needs assessments, high needs funding, SEND tribunals, school transport, special schools and council SEND services. Quote the passages you rely on and give their citations; say so when none answers the question.
"""  # noqa: E501 - Gradio reads each paragraph and each Args entry from a single line.

_RETURNS = """Returns:
    JSON text {"query": the question, "passages": [...], "undated_left_out": n, "councils": [...], "sort": ..., "timeline": {...} when asked}, best first (or newest first); each passage has "text", "citation" (title, who answered, when, where to read it), "source" (its web address), "date_answered", "answered_by", "department" and "score"; undated_left_out counts documents without a date that match but a date filter left out (include_undated keeps them); councils counts the local authorities the passages are about; timeline counts the good matches by month.
"""  # noqa: E501


def tool_signature() -> tuple[inspect.Signature, dict[str, Any], str]:
    """The search's parameters as Gradio reads them: the signature (the question, ``k``,
    then one text parameter per filter, empty meaning none), the type hints, and the
    docstring's ``Args:`` section (one line each)."""
    parameters = [
        inspect.Parameter("question", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str),
        inspect.Parameter("k", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=5, annotation=int),
    ]
    args = [
        '    question: The question in plain English, e.g. "How long does a council have to issue an EHC plan?"',
        "    k: How many passages to return, from 1 to 100 (5 is usually enough).",
    ]
    for field in remote_filters():
        if field.flag:
            parameters.append(
                inspect.Parameter(field.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=False, annotation=bool)
            )
            args.append(f"    {field.name}: {field.help} False by default.")
            continue
        parameters.append(
            inspect.Parameter(field.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default="", annotation=str)
        )
        args.append(f"    {field.name}: {field.help} Empty for no filter.")
    # After the filters, so that callers passing the filters by position are not moved.
    parameters += [
        inspect.Parameter("sort", inspect.Parameter.POSITIONAL_OR_KEYWORD, default="relevance", annotation=str),
        inspect.Parameter("timeline", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=False, annotation=bool),
    ]
    args += [
        '    sort: "relevance" (best first, the default) or "newest" (the newest of the good matches first).',
        "    timeline: True to also count the good matches by month (a timeline). False by default.",
    ]
    hints = {parameter.name: parameter.annotation for parameter in parameters}
    return inspect.Signature(parameters), hints, "Args:\n" + "\n".join(args) + "\n"


def search_tool(index: Index, *, concurrency: int = 4) -> Callable[..., Awaitable[str]]:
    """The search as a function for ``gr.api(tool, api_name=MCP_TOOL, queue=False)``: Gradio
    reads its signature and docstring to describe the MCP tool to a model. It returns JSON
    text, since Gradio hands an MCP client a returned dict as Python's repr, not JSON.

    Given ``queue=False``, Gradio's MCP server calls it directly; a queued tool is called
    through a client that Gradio points at the address the first caller's Host or
    X-Forwarded-Host header names. At most ``concurrency`` of its searches run at once; the
    rest wait without holding a thread (it is async for that)."""
    import anyio

    limiter = anyio.CapacityLimiter(concurrency)
    signature, hints, args = tool_signature()

    async def search_send_answers(*given: Any, **named: Any) -> str:
        bound = signature.bind(*given, **named)
        bound.apply_defaults()
        values = dict(bound.arguments)

        def run_search() -> dict[str, Any]:
            # Empty filters are no filters (Filters.parse).
            return search_json(index, values.pop("question"), values.pop("k"), **values)

        try:
            found = await anyio.to_thread.run_sync(run_search, limiter=limiter)
        except SendSearchError as error:
            import gradio as gr  # only to say why (importing Gradio takes seconds)

            raise gr.Error(str(error), print_exception=False) from None
        return json.dumps(found, ensure_ascii=False)

    search_send_answers.__name__ = MCP_TOOL
    search_send_answers.__signature__ = signature.replace(return_annotation=str)  # type: ignore[attr-defined]
    search_send_answers.__annotations__ = {**hints, "return": str}
    search_send_answers.__doc__ = f"{_DESCRIPTION}\n{args}\n{_RETURNS}"
    return search_send_answers


def offer_one_mcp_tool(blocks: Any) -> None:
    """MCP clients see ``MCP_TOOL`` only. Gradio makes a tool of every API endpoint and has
    no setting to leave one out; the page's ``/search`` (a list of dicts, for gradio_client)
    would be a second, near-identical tool. Its MCP server's table of tools is narrowed
    here, so the endpoint stays for gradio_client and is neither listed nor callable by MCP."""
    mcp = getattr(blocks, "mcp_server_obj", None)
    if mcp is not None:
        mcp.tool_to_endpoint = {name: endpoint for name, endpoint in mcp.tool_to_endpoint.items() if name == MCP_TOOL}
