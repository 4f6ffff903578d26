"""The REST endpoint and the MCP tool, over real HTTP on a small app of the tests' own."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from urllib.parse import urljoin

import httpx
import pytest

from sendsearch.limits import MAX_K
from sendsearch.serve.api import rest_app
from sendsearch.serve.mcp import MCP_TOOL
from sendsearch.serve.server import create_server

from ..conftest import ROOT
from ..serving import serving


@pytest.fixture
def rest(seed_index):
    with serving(rest_app(seed_index)) as url:
        yield url


def test_search_returns_json_passages_like_the_cli(rest, seed_index):
    reply = httpx.get(rest + "search", params={"q": "How much does Stockport spend on SEND?", "k": 3})
    assert reply.status_code == 200
    data = reply.json()
    assert data["query"] == "How much does Stockport spend on SEND?"
    assert len(data["passages"]) == 3
    expected = [p.to_dict() for p in seed_index.search("How much does Stockport spend on SEND?", 3)]
    assert data["passages"] == json.loads(json.dumps(expected))
    assert data["passages"][0]["doc_id"] == "001_96ab44ec7aed3ea8.txt"
    assert data["passages"][0]["citation"]


def test_filters_pass_through(rest):
    params: dict[str, str | int] = {
        "q": "SEND funding for local authorities",
        "k": 10,
        "from": "2021-01-01",
        "to": "2021-12-31",
    }
    ids = {p["doc_id"] for p in httpx.get(rest + "search", params=params).json()["passages"]}
    assert ids == {"003_a5f8c01f0c4ae145.txt", "004_f5f6ddbb26941a27.txt"}
    pages = httpx.get(rest + "search", params={"q": "SEND", "kind": "web_page", "k": 10}).json()["passages"]
    assert [p["kind"] for p in pages] == ["web_page"]
    none = httpx.get(rest + "search", params={"q": "SEND", "department": "Ministry of Magic"}).json()
    assert none["passages"] == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "EHC", "k": 20000}, f"k must be a whole number from 1 to {MAX_K}, not '20000'"),
        ({"q": "EHC", "k": "abc"}, f"k must be a whole number from 1 to {MAX_K}, not 'abc'"),
        ({"q": "EHC", "k": 0}, "k must be a whole number"),
        ({"k": 3}, "q is required"),
        ({"q": "   "}, "empty"),
        ({"q": "EHC", "from": "last week"}, "date"),
        ({"q": "EHC", "kind": "podcast"}, "kind"),
        ({"q": "EHC", "department": "x" * 1000}, "department is too long"),
    ],
)
def test_bad_input_is_a_400_with_a_json_error(rest, fake_embedder, params, message):
    embedded = len(fake_embedder.encoded)
    reply = httpx.get(rest + "search", params=params)
    assert len(fake_embedder.encoded) == embedded  # refused before anything was searched
    assert reply.status_code == 400
    assert message in reply.json()["error"]
    assert list(reply.json()) == ["error"]


def test_the_api_is_documented_in_openapi(rest):
    spec = httpx.get(rest + "openapi.json").json()
    parameters = {p["name"]: p for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert set(parameters) == {
        "q",
        "k",
        "sort",
        "timeline",
        "format",
        "from",
        "to",
        "department",
        "kind",
        "council",
        "include_uncertain",
        "asked_by",
        "answered_by",
        "house",
        "party",
        "include_undated",
    }
    assert parameters["k"]["schema"]["maximum"] == MAX_K
    assert httpx.get(rest + "docs").status_code == 200


def test_a_damaged_index_is_a_503_with_one_line(rest, seed_index):
    store = seed_index.snapshot().backend.store.path
    data = store.read_bytes()
    store.write_bytes(data[:4096] + b"\xa5" * (len(data) - 4096))  # every page after the header
    reply = httpx.get(rest + "search", params={"q": "Stockport SEND spending", "k": 5})
    assert reply.status_code == 503
    error = reply.json()["error"]
    assert "is damaged" in error
    assert "rebuild it with `sendsearch build" in error
    assert "\n" not in error


# -- the whole server: the real page, REST and MCP tool -----------------------------------------
def _blocks(index):
    from sendsearch.serve.ui import create_app

    blocks = create_app(index)
    blocks.queue(default_concurrency_limit=4)
    return blocks


@pytest.fixture
def server(seed_index):
    with serving(create_server(_blocks(seed_index), seed_index, mcp=True)) as url:
        yield url


async def _mcp(url: str, calls: list[tuple[str, dict]]):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with (
        streamable_http_client(url + "gradio_api/mcp/") as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = await session.list_tools()
        results = [await session.call_tool(name, arguments) for name, arguments in calls]
        return tools, results


@pytest.mark.slow  # imports Gradio and builds its app: seconds
def test_mcp_client_lists_and_calls_the_search_tool(server, seed_index):
    question = "How much does Stockport spend on SEND?"
    dated = {"question": question, "k": 3, "date_from": "2020-01-01"}
    tools, (found, refused, narrow, wide, council, unknown) = asyncio.run(
        _mcp(
            server,
            [
                (MCP_TOOL, {"question": question, "k": 3}),
                (MCP_TOOL, {"question": question, "k": 20000}),
                (MCP_TOOL, dated),
                (MCP_TOOL, {**dated, "include_undated": True}),
                (MCP_TOOL, {"question": question, "k": 5, "council": "Stockport Metropolitan Borough Council"}),
                (MCP_TOOL, {"question": question, "council": "Stokport"}),
            ],
        )
    )
    [tool] = [t for t in tools.tools if t.name == MCP_TOOL]
    assert "SEND" in tool.description
    assert "citation" in tool.description
    properties = tool.inputSchema["properties"]
    assert set(properties) == {
        "question",
        "k",
        "sort",
        "timeline",
        "date_from",
        "date_to",
        "department",
        "kind",
        "council",
        "include_uncertain",
        "asked_by",
        "answered_by",
        "house",
        "party",
        "include_undated",
    }
    assert "Stockport MBC" in properties["council"]["description"]
    assert "YYYY-MM-DD" in properties["date_from"]["description"]
    assert properties["include_undated"]["type"] == "boolean"
    assert tool.inputSchema["required"] == ["question"]

    assert not found.isError
    data = json.loads(found.content[0].text)
    assert data["query"] == question
    assert len(data["passages"]) == 3
    assert data["passages"] == json.loads(json.dumps([p.to_dict() for p in seed_index.search(question, 3)]))
    assert data["passages"][0]["doc_id"] == "001_96ab44ec7aed3ea8.txt"
    assert data["passages"][0]["citation"].startswith("Have your say")

    assert refused.isError
    assert f"k must be a whole number from 1 to {MAX_K}" in refused.content[0].text

    # The seed pages have no date: a date filter leaves them out and says how many matched.
    left_out = json.loads(narrow.content[0].text)
    assert left_out["undated_left_out"] == seed_index.search(question, 3, date_from="2020-01-01").undated_left_out
    assert left_out["undated_left_out"] >= 1
    assert "001_96ab44ec7aed3ea8.txt" not in {p["doc_id"] for p in left_out["passages"]}
    kept = json.loads(wide.content[0].text)
    assert kept["undated_left_out"] == 0
    assert kept["passages"][0]["doc_id"] == "001_96ab44ec7aed3ea8.txt"

    # The council filter and its facet: the three seeds about Stockport, in any spelling.
    about = json.loads(council.content[0].text)
    assert {p["doc_id"] for p in about["passages"]} == {
        "000_7c82a29ce6e4872e.txt",
        "001_96ab44ec7aed3ea8.txt",
        "002_30c036443f88d855.txt",
    }
    close = sum(not p["weak_match"] for p in about["passages"])
    assert about["councils"] == [{"code": "SKP", "name": "Stockport", "count": close}]
    assert unknown.isError
    assert "did you mean Stockport" in unknown.content[0].text


@pytest.mark.slow  # imports Gradio and builds its app: seconds
def test_the_server_carries_the_page_and_the_rest_api(server):
    assert "SEND (special educational needs and disabilities)" in httpx.get(server + "config").text
    reply = httpx.get(server + "api/search", params={"q": "EHC plan timescales", "k": 3})
    assert reply.status_code == 200
    assert len(reply.json()["passages"]) == 3
    assert httpx.get(server + "api/search", params={"q": "EHC", "k": 20000}).status_code == 400
    feed = httpx.get(server + "feeds/search.atom", params={"q": "EHC plan timescales"})
    assert feed.status_code == 200
    assert feed.headers["content-type"] == "application/atom+xml; charset=utf-8"


@pytest.mark.slow  # imports Gradio and builds its app: seconds
def test_mcp_offers_exactly_one_search_tool_and_gradio_client_keeps_search(server):
    tools, _ = asyncio.run(_mcp(server, []))
    assert [tool.name for tool in tools.tools] == [MCP_TOOL]
    [tool] = tools.tools
    assert all(p.get("description") for p in tool.inputSchema["properties"].values())
    # The page's /search stays for gradio_client callers, short form included.
    from gradio_client import Client

    client = Client(server, verbose=False, httpx_kwargs={"timeout": 300})  # patient: the machine may be busy
    passages = client.predict("How much does Stockport spend on SEND?", 3, api_name="/search")
    assert passages[0]["doc_id"] == "001_96ab44ec7aed3ea8.txt"


def _readme_block(containing: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S)
    [block] = [block for block in blocks if containing in block]
    return block


@pytest.mark.slow  # imports Gradio and builds its app: seconds
def test_the_readme_mcp_example_runs_as_written(server):
    """The README's Python MCP example, against a live server (real MCP over streamable
    HTTP), with only the address changed to the test server's."""
    code = _readme_block("streamable_http_client").replace("http://127.0.0.1:7860/", server)
    assert server in code
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 0, ran.stderr
    printed = json.loads(ran.stdout)
    assert printed["query"] == "How long does an EHC needs assessment take?"
    assert len(printed["passages"]) == 3
    assert all(passage["citation"] for passage in printed["passages"])


def _docs_load_nothing_from_another_host(base: str, docs: str) -> None:
    page = httpx.get(urljoin(base, docs))
    assert page.status_code == 200
    assert "https://" not in page.text
    assert "http://" not in page.text
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text) + re.findall(r"url: *'([^']+)'", page.text)
    assert {asset.rsplit(".", 1)[-1] for asset in assets} >= {"js", "css", "png", "json"}
    for asset in assets:
        served = httpx.get(urljoin(base, asset))
        assert served.status_code == 200, asset


def test_the_api_docs_load_nothing_from_another_host(rest):
    _docs_load_nothing_from_another_host(rest, "docs")


@pytest.mark.slow  # imports Gradio and builds its app: seconds
def test_the_api_docs_load_nothing_from_another_host_on_the_whole_server(server):
    _docs_load_nothing_from_another_host(server, "api/docs")
