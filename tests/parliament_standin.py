"""A stand-in for the UK Parliament written questions API, for tests of the fetch client.

It is a real HTTP server on 127.0.0.1, so the client's sessions, retries and timeouts run
as they would against the service. It behaves as the recorded responses in
``../shared/data/parliament-api/`` show the real one does:

- the list endpoint filters by answered dates, house, answered state and withdrawal, pages
  with ``skip``/``take``, and returns ``{"totalResults": N, "results": [{"value", "links"}]}``
  with the text clipped: ``answerText`` stripped of its tags and cut at 255 characters with
  "..." appended, ``questionText`` cut at 255 characters with no marker;
- member objects are null unless ``expandMember=true``;
- a ``skip`` above ``max_skip`` gets HTTP 500;
- the detail endpoint returns the full record, or 404 for an unknown id.

Two behaviours are assumptions, not recorded: results come in id order, and withdrawn
questions are left out unless ``includeWithdrawn=true``.

Faults can be queued for the next requests to either endpoint (``inject``): error statuses,
stalls, broken bodies, and the answers of a hostile or broken server (a gzip bomb, an endless
body, bytes dripped one at a time, JSON nested 100,000 deep, a redirect elsewhere). Every
request is logged with its query and headers, and the most requests ever handled at once is
kept.
"""

from __future__ import annotations

import copy
import gzip
import itertools
import json
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

SHARED = Path(__file__).resolve().parents[2] / "shared"
RECORDED = SHARED / "data" / "parliament-api"
COMMONS_ANSWERS = SHARED / "data" / "commons-written-answers.jsonl.gz"

LIST_PATH = "/api/writtenquestions/questions"
CLIP_CHARS = 255
_DETAIL_PATH = re.compile(rf"^{LIST_PATH}/(\d+)$")
_TAG = re.compile(r"<[^>]*>")
_MEMBER_FIELDS = (("askingMemberId", "askingMember"), ("answeringMemberId", "answeringMember"))

Endpoint = Literal["list", "detail"]


def strip_tags(html: str) -> str:
    """HTML without its tags, as the list endpoint gives answers (entities stay escaped)."""
    return _TAG.sub("", html)


def list_view(record: dict[str, Any]) -> dict[str, Any]:
    """A full record as the list endpoint shows it: answer tags stripped, long texts cut."""
    value = dict(record)
    answer = strip_tags(record.get("answerText") or "")
    value["answerText"] = answer[:CLIP_CHARS] + "..." if len(answer) > CLIP_CHARS else answer
    value["questionText"] = (record.get("questionText") or "")[:CLIP_CHARS]
    return value


def _member(member_id: int) -> dict[str, Any]:
    return {
        "id": member_id,
        "listAs": f"Member {member_id}",
        "name": f"Member {member_id}",
        "party": "Independent",
        "partyAbbreviation": "Ind",
        "partyColour": "C0C0C0",
        "memberFrom": "Somewhere",
        "thumbnailUrl": f"https://members-api.parliament.uk/api/Members/{member_id}/Thumbnail",
    }


def with_members(value: dict[str, Any], expand: bool) -> dict[str, Any]:
    """The record with its member objects filled in (``expandMember=true``) or null."""
    value = dict(value)
    pairs = (*_MEMBER_FIELDS, ("correctingMemberId", "correctingMember"))
    for id_field, member_field in pairs:
        member_id = value.get(id_field)
        value[member_field] = _member(member_id) if expand and isinstance(member_id, int) else None
    return value


def _item(value: dict[str, Any]) -> dict[str, Any]:
    return {"value": value, "links": [{"rel": "self", "href": f"/Questions/{value['id']}", "method": "GET"}]}


@dataclass(frozen=True)
class Fault:
    """One way for a request to go wrong."""

    kind: Literal[
        "status",
        "stall",
        "malformed",
        "wrong_shape",
        "drop",
        "truncate",
        "gzip_bomb",
        "endless",
        "drip_body",
        "drip_headers",
        "deep_json",
        "redirect",
    ]
    status: int = 500
    retry_after: int | None = None
    seconds: float = 0.0
    size: int = 0
    location: str = ""

    @classmethod
    def http(cls, status: int, retry_after: int | None = None) -> Fault:
        """An HTTP error status, with a Retry-After header when given."""
        return cls("status", status=status, retry_after=retry_after)

    @classmethod
    def stall(cls, seconds: float) -> Fault:
        """No answer for ``seconds`` (past the client's timeout), then the normal one."""
        return cls("stall", seconds=seconds)

    @classmethod
    def malformed(cls) -> Fault:
        """HTTP 200 with a body that is not JSON."""
        return cls("malformed")

    @classmethod
    def wrong_shape(cls) -> Fault:
        """HTTP 200 with JSON that is not a page or a record."""
        return cls("wrong_shape")

    @classmethod
    def drop(cls) -> Fault:
        """The connection closed before any answer."""
        return cls("drop")

    @classmethod
    def truncate(cls) -> Fault:
        """HTTP 200 whose body breaks off halfway."""
        return cls("truncate")

    @classmethod
    def gzip_bomb(cls, size: int) -> Fault:
        """HTTP 200, ``Content-Encoding: gzip``: a small body that inflates to ``size`` zero bytes."""
        return cls("gzip_bomb", size=size)

    @classmethod
    def endless(cls) -> Fault:
        """HTTP 200 with a chunked body that never ends (until the client hangs up)."""
        return cls("endless")

    @classmethod
    def drip_body(cls, seconds: float) -> Fault:
        """Headers at once, then one byte of the body every ``seconds``, for ever."""
        return cls("drip_body", seconds=seconds)

    @classmethod
    def drip_headers(cls, seconds: float) -> Fault:
        """One byte of the status line and headers every ``seconds``, for ever."""
        return cls("drip_headers", seconds=seconds)

    @classmethod
    def deep_json(cls, depth: int = 100_000) -> Fault:
        """HTTP 200 with a JSON list nested ``depth`` levels deep."""
        return cls("deep_json", size=depth)

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Fault:
        """A redirect to ``location`` (another host or port, or the same one)."""
        return cls("redirect", status=status, location=location)


@dataclass(frozen=True)
class Request:
    """One request as the stand-in saw it."""

    endpoint: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class _Queued:
    endpoint: Endpoint
    fault: Fault
    times: int
    when: Callable[[dict[str, str]], bool] | None


@dataclass
class ParliamentStandIn:
    """The stand-in server; use as a context manager, or call start() and stop()."""

    records: Iterable[dict[str, Any]]
    max_skip: int = 1000
    latency: float = 0.0
    log: list[Request] = field(default_factory=list, init=False)
    max_in_flight: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.by_id: dict[int, dict[str, Any]] = {record["id"]: copy.deepcopy(record) for record in self.records}
        self._lock = threading.Lock()
        self._faults: list[_Queued] = []
        self._in_flight = 0
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        # hold_at: the request (counted in the log) whose answer waits until release().
        self._hold_at: int | None = None
        self.held = threading.Event()
        self._release = threading.Event()

    def __enter__(self) -> ParliamentStandIn:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        standin = self

        class Handler(_Handler):
            pass

        Handler.standin = standin
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def hold_at(self, number: int) -> None:
        """Keep the answer to the ``number``-th request of the log (counted from 1) until
        ``release()``: a client waiting on it can be killed at that point, whatever the
        machine's speed. ``held`` is set when that request arrives."""
        with self._lock:
            self._hold_at = number
            self.held.clear()
            self._release.clear()

    def release(self) -> None:
        with self._lock:
            self._hold_at = None
        self._release.set()

    def stop(self) -> None:
        self._stopping.set()
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the stand-in first"
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def inject(
        self,
        endpoint: Endpoint,
        fault: Fault,
        times: int = 1,
        when: Callable[[dict[str, str]], bool] | None = None,
    ) -> None:
        """Make the next ``times`` requests to ``endpoint`` (whose query ``when`` accepts) fail so."""
        with self._lock:
            self._faults.append(_Queued(endpoint, fault, times, when))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def requests_to(self, endpoint: str) -> list[Request]:
        with self._lock:
            return [request for request in self.log if request.endpoint == endpoint]

    def update(self, question_id: int, **fields: Any) -> None:
        """Change a record, as a corrected answer would."""
        with self._lock:
            self.by_id[question_id] = {**self.by_id[question_id], **fields}

    def _take_fault(self, endpoint: str, query: dict[str, str]) -> Fault | None:
        for queued in self._faults:
            if queued.endpoint == endpoint and queued.times > 0 and (queued.when is None or queued.when(query)):
                queued.times -= 1
                return queued.fault
        return None

    def _list(self, query: dict[str, str]) -> tuple[int, Any]:
        skip, take = int(query.get("skip", 0)), int(query.get("take", 20))
        if skip > self.max_skip:
            return 500, {"title": "An error occurred while processing your request.", "status": 500}
        house = query.get("house", "Bicameral")
        answered = query.get("answered", "Any")
        low, high = query.get("answeredWhenFrom"), query.get("answeredWhenTo")
        withdrawn = query.get("includeWithdrawn", "false").lower() == "true"
        expand = query.get("expandMember", "false").lower() == "true"

        def wanted(record: dict[str, Any]) -> bool:
            day = (record.get("dateAnswered") or "")[:10]
            return (
                (house == "Bicameral" or record.get("house") == house)
                and (answered == "Any" or bool(day) == (answered == "Answered"))
                and (low is None or (bool(day) and day >= low))
                and (high is None or (bool(day) and day <= high))
                and (withdrawn or not record.get("isWithdrawn"))
            )

        with self._lock:
            matches = [self.by_id[key] for key in sorted(self.by_id) if wanted(self.by_id[key])]
        page = [_item(with_members(list_view(record), expand)) for record in matches[skip : skip + take]]
        return 200, {"totalResults": len(matches), "results": page}

    def _detail(self, question_id: int, query: dict[str, str]) -> tuple[int, Any]:
        with self._lock:
            record = self.by_id.get(question_id)
        if record is None:
            return 404, {"title": "Not Found", "status": 404}
        return 200, _item(with_members(record, query.get("expandMember", "false").lower() == "true"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; with Nagle's algorithm and delayed ACKs
    # each answer on a kept-alive connection would wait ~40 ms.
    disable_nagle_algorithm = True
    standin: ParliamentStandIn

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read the request log instead."""

    def do_GET(self) -> None:
        standin = self.standin
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        detail = _DETAIL_PATH.match(parts.path)
        endpoint = "list" if parts.path == LIST_PATH else "detail" if detail else "other"
        with standin._lock:
            standin.log.append(Request(endpoint, parts.path, query, dict(self.headers.items())))
            standin._in_flight += 1
            standin.max_in_flight = max(standin.max_in_flight, standin._in_flight)
            fault = standin._take_fault(endpoint, query)
            hold = standin._hold_at == len(standin.log)
        if hold:
            standin.held.set()
            standin._release.wait()
        # Counted out before the answer is written: a client cannot send its next request
        # before it has this answer, so the count never exceeds what the client has open.
        try:
            time.sleep(standin.latency)
            if fault is not None and fault.kind == "stall":
                standin._stopping.wait(fault.seconds)
            if endpoint == "list":
                status, payload = standin._list(query)
            elif detail:
                status, payload = standin._detail(int(detail[1]), query)
            else:
                status, payload = 404, {"title": "Not Found", "status": 404}
        finally:
            with standin._lock:
                standin._in_flight -= 1
        try:
            self._answer(status, payload, fault)
        except OSError:
            self.close_connection = True  # the client gave up waiting (a stall) and hung up

    def _answer(self, status: int, payload: Any, fault: Fault | None) -> None:
        body = json.dumps(payload).encode()
        headers: dict[str, str] = {}
        if fault is not None and fault.kind in _HOSTILE:
            self.close_connection = True
            _HOSTILE[fault.kind](self, fault, body)
            return
        if fault is not None:
            if fault.kind == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault.kind == "status":
                status, body = fault.status, json.dumps({"title": "fault", "status": fault.status}).encode()
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
            elif fault.kind == "malformed":
                status, body = 200, body[: len(body) // 2]
            elif fault.kind == "wrong_shape":
                status, body = 200, json.dumps({"items": []}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if fault is not None and fault.kind == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


def _gzip_bomb(handler: _Handler, fault: Fault, body: bytes) -> None:
    packed = _zeros_gzipped(fault.size)
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Encoding", "gzip")
    handler.send_header("Content-Length", str(len(packed)))
    handler.end_headers()
    handler.wfile.write(packed)


@cache
def _zeros_gzipped(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip format
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    return b"".join([*parts, packer.compress(bytes(size % len(block))), packer.flush()])


def _endless(handler: _Handler, fault: Fault, body: bytes) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"%x\r\n%s\r\n" % (1 << 16, b" " * (1 << 16))
    try:
        while not handler.standin._stopping.is_set():
            handler.wfile.write(chunk)
    except OSError:
        pass  # the client hung up, as it should


def _drip(handler: _Handler, data: bytes, seconds: float) -> None:
    try:
        for byte in itertools.cycle(data):
            if handler.standin._stopping.wait(seconds):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
    except OSError:
        pass  # the client gave up, as it should


def _drip_body(handler: _Handler, fault: Fault, body: bytes) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(body) * 1000))
    handler.end_headers()
    handler.wfile.flush()
    _drip(handler, body, fault.seconds)


def _drip_headers(handler: _Handler, fault: Fault, body: bytes) -> None:
    _drip(handler, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 60 + b"\r\n", fault.seconds)


def _deep_json(handler: _Handler, fault: Fault, body: bytes) -> None:
    deep = b"[" * fault.size + b"]" * fault.size
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(deep)))
    handler.end_headers()
    handler.wfile.write(deep)


def _redirect(handler: _Handler, fault: Fault, body: bytes) -> None:
    handler.send_response(fault.status)
    handler.send_header("Location", fault.location)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


_HOSTILE: dict[str, Callable[[_Handler, Fault, bytes], None]] = {
    "gzip_bomb": _gzip_bomb,
    "endless": _endless,
    "drip_body": _drip_body,
    "drip_headers": _drip_headers,
    "deep_json": _deep_json,
    "redirect": _redirect,
}


SEND = "special educational needs"


def synthetic_records(count: int = 240, start: date = date(2024, 1, 1), days: int = 91) -> list[dict[str, Any]]:
    """A deterministic set of full records over ``days`` answered days from ``start``, both houses.

    Every third answer is long (several paragraphs, cut by the list), every third is short
    but of two paragraphs (whole in the list, but with its tags stripped), the rest are one
    short paragraph with a link; every fourth question is over 255 characters. Records with
    ``id % 6 == 0`` are about SEND, and those with ``id % 12 == 0`` say so only past the point where the
    list cuts the answer (their question and heading do not name it). Two records are withdrawn.
    """
    records: list[dict[str, Any]] = []
    for number in range(count):
        question_id = 1_800_000 + number
        answered = start + timedelta(days=(number * 37) % days)
        topic = SEND if number % 6 == 0 else "school transport"
        hidden = number % 12 == 0
        shown = "local support" if hidden else topic
        question = (
            f"To ask the Secretary of State for Education, what assessment she has made of {shown} in area {number}."
        )
        if number % 4 == 0:
            question += " " + " ".join(
                f"and (part {part}) the funding for that in each year since 2015" for part in range(6)
            )
        if number % 3 == 0:
            answer = (
                f"<p>The Government is committed to {shown} in area {number}. "
                + "Funding is allocated through the dedicated schools grant each year. " * 5
                + f"</p><p>Further detail on {topic} will be published in due course.</p>"
            )
        elif number % 3 == 1:
            answer = f"<p>Area {number} receives funding for {topic}.</p><p>Details are published annually.</p>"
        else:
            answer = f'<p>See <a href="https://www.gov.uk/area/{number}">the guidance on {topic}</a>.</p>'
        records.append(
            {
                "id": question_id,
                "askingMemberId": 4000 + number % 17,
                "askingMember": None,
                "house": "Lords" if number % 5 == 0 else "Commons",
                "memberHasInterest": False,
                "dateTabled": f"{answered - timedelta(days=7)}T00:00:00",
                "dateForAnswer": f"{answered - timedelta(days=2)}T00:00:00",
                "uin": f"HL{number}" if number % 5 == 0 else str(number),
                "questionText": question,
                "answeringBodyId": 60,
                "answeringBodyName": "Department for Education",
                "isWithdrawn": number in (7, 57),
                "isNamedDay": False,
                "groupedQuestions": [],
                "answerIsHolding": False,
                "answerIsCorrection": False,
                "answeringMemberId": 5000 + number % 3,
                "answeringMember": None,
                "correctingMemberId": None,
                "correctingMember": None,
                "dateAnswered": f"{answered}T00:00:00",
                "answerText": answer,
                "originalAnswerText": "",
                "comparableAnswerText": "",
                "dateAnswerCorrected": None,
                "dateHoldingAnswer": None,
                "attachmentCount": 0,
                "heading": "Special Educational Needs" if topic == SEND and not hidden else "Schools: Transport",
                "attachments": [],
                "groupedQuestionsDates": [],
            }
        )
    return records


def recorded_list_items() -> list[dict[str, Any]]:
    """The 1,004 recorded August 2024 Commons list items (clipped text, members not expanded)."""
    items: list[dict[str, Any]] = json.loads((RECORDED / "commons-2024-08-list-items.json").read_text(encoding="utf-8"))
    return items


@cache
def commons_full_text(ids: frozenset[int]) -> dict[int, dict[str, Any]]:
    """Records of ``commons-written-answers.jsonl.gz`` with these ids (read once per test run)."""
    found = {}
    with gzip.open(COMMONS_ANSWERS, "rt", encoding="utf-8") as handle:
        for line in handle:
            # Parse only the lines whose leading id is wanted: the file has 49,450 of them.
            match = re.match(r'\{"id": (\d+)', line)
            if match and int(match[1]) in ids:
                record = json.loads(line)
                found[record["id"]] = record
    return found


def recorded_august_records() -> list[dict[str, Any]]:
    """Full records for the recorded August 2024 list items.

    Text comes from the Commons answers file where the record is in it; elsewhere the
    recorded clipped text stays (the real detail endpoint has the full text, we do not).
    """
    values = [item["value"] for item in recorded_list_items()]
    full = commons_full_text(frozenset(value["id"] for value in values))
    records = []
    for value in values:
        whole = full.get(value["id"])
        if whole is not None:
            value = {**value, "questionText": whole["questionText"], "answerText": whole["answerText"]}
        records.append(value)
    return records


def read_out(folder: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file name, record) for every line of the fetch's files in ``folder``."""
    for path in sorted(folder.glob("parliament-*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                yield path.name, json.loads(line)
