"""Fetch answered written questions from the UK Parliament API into monthly record files.

The files (``parliament-YYYY-MM.jsonl.gz`` by month of the answered date, one API ``value``
object per line) are read by :func:`sendsearch.parliament.iter_records` like any other
records file. How the service behaves shapes this module (see
``../shared/data/parliament-api/README.md``):

- The list endpoint clips text: ``answerText`` loses its HTML tags and is cut at 255
  characters with ``...`` appended; ``questionText`` is cut at 255 characters with no marker.
  Even an answer that is not cut comes back with its paragraphs run together and its links
  gone, so by default every record's text comes from the detail endpoint.
- It fails with HTTP 500 on large ``skip`` values, so it is paged through short windows of
  answered dates, and a window holding more than ``max_skip + page_size`` answers is split.
- It answers bursts with HTTP 429: 429s, 5xx, timeouts and dropped connections are retried
  with backoff, jitter and the server's ``Retry-After``, and at most two requests are in
  flight. What retrying cannot mend fails at once: a name that does not resolve (no
  network), a refused connection to a server that has not answered yet (a wrong address).
- Whatever answers is not trusted: each answer is read up to ``MAX_RESPONSE_BYTES`` after
  decompression, each request has a deadline however slowly the bytes come, the run has a
  time limit, JSON nested past ``MAX_JSON_DEPTH`` is refused before it is parsed, redirects
  to another host or port are not followed, and control characters (terminal escape
  sequences) are taken out of every string before anything is written.
- ``kill -9`` at any moment must lose nothing reported as written: files and the state are
  replaced atomically, and the state moves on only once a window's records are on disk.
  The lock file is removed on every other exit.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib.metadata
import itertools
import json
import math
import random
import re
import socket
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any, Literal, Self

import requests
import urllib3
import urllib3.connection
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.util.retry import Retry

from ..durable import Busy, atomic_write, exclusive, fsync_dir
from ..errors import SendSearchError
from ..limits import MAX_JSON_DEPTH
from ..schema import Document
from ..text.normalise import map_strings, strip_controls
from .jsonstream import nested_too_deep
from .parliament import iter_records

__all__ = ["DEFAULT_API", "MAX_RESPONSE_BYTES", "STATE_FILE", "FetchError", "FetchReport", "fetch"]

DEFAULT_API = "https://questions-statements-api.parliament.uk"
STATE_FILE = ".fetch-state.json"
# Hidden, like the state and temporary files, so that readers of the folder skip it.
_LOCK_FILE = ".fetch.lock"
_LIST_PATH = "/api/writtenquestions/questions"
_FILE_NAME = re.compile(r"^parliament-(\d{4}-\d{2})\.jsonl\.gz$")
_MONTH = re.compile(r"^\d{4}-\d{2}")
_STATE_FORMAT = 1
_HOUSES: dict[str, tuple[str, ...]] = {"commons": ("Commons",), "lords": ("Lords",), "both": ("Commons", "Lords")}
# Where the list endpoint cuts questionText (silently) and tag-stripped answerText (adding "...").
_CLIP_CHARS = 255
# The service throttles bursts; two requests at a time keeps a long fetch moving without 429s.
_IN_FLIGHT = 2
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A whole list page of 100 records is about 1.5 MB; nothing the API sends comes near this.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_READ_BYTES = 16 * 1024  # decompressed per read: a gzip bomb is cut off within ~16 MB of the limit
_MAX_REDIRECTS = 5
# Records files a fetch may start from when it has no state of its own (what readers.py reads).
_RECORD_SUFFIXES = (".jsonl.gz", ".jsonl", ".json", ".json.gz")

Record = dict[str, Any]


class FetchError(SendSearchError):
    """A fetch that had to stop. What was written before it is kept, and a rerun resumes.

    ``report`` counts what the fetch did before it stopped, for the CLI to show.
    """

    def __init__(self, message: str, report: FetchReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class FetchReport:
    """What a fetch did, for the CLI to print.

    ``requests`` counts HTTP requests sent, retries included; ``retries`` how many of them
    repeated an earlier one. ``date_from``/``date_to`` span the answered dates of the windows
    fetched and written (over all houses). ``not_found`` counts listed questions whose detail
    the service did not have (HTTP 404); they are written with the list's, maybe clipped, text.
    """

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    filtered_out: int = 0
    not_found: int = 0
    requests: int = 0
    retries: int = 0
    detail_fetches: int = 0
    files: list[str] = field(default_factory=list)
    date_from: date | None = None
    date_to: date | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (dates as ISO strings)."""
        data = asdict(self)
        for key in ("date_from", "date_to"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def fetch(
    out: Path,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    house: Literal["commons", "lords", "both"] = "both",
    keep: Callable[[Mapping[str, Any]], bool] | None = None,
    topic: str | None = None,
    base_url: str = DEFAULT_API,
    progress: bool = False,
    detail: Literal["all", "clipped"] = "all",
    window_days: int = 7,
    page_size: int = 100,
    max_skip: int = 1000,
    timeout: float = 30.0,
    retries: int = 6,
    backoff_factor: float = 1.0,
    backoff_jitter: float = 1.0,
    backoff_max: float = 60.0,
    retry_after_max: int = 300,
    bad_response_retries: int = 3,
    request_deadline: float = 120.0,
    time_limit: float = 6 * 3600.0,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchReport:
    """Fetch the questions answered from ``date_from`` to ``date_to`` into files under ``out``.

    Without ``date_from`` the fetch continues where the last one of the same house and topic
    stopped (fetching that last day again, since answers keep arriving for it), else from the
    latest answered date among the records already in ``out`` of that house, else of either
    (on a fresh clone, the bundled answers in ``corpus/parliament``). ``date_to`` defaults
    to today.

    ``house="both"`` fetches the Commons, then the Lords, each with its own resume point.
    ``keep`` is a topic filter, applied to each record with its full text; it needs a ``topic``
    name, under which the fetch's progress is kept apart from other topics'. Withdrawn
    questions are written too. ``detail="clipped"`` fetches the detail only for records whose
    list text was cut (fewer requests, but short answers keep the list's tag-stripped text).

    The other arguments tune paging and retries: ``window_days`` of answered dates per window,
    ``page_size`` records per page, windows split so that no ``skip`` exceeds ``max_skip``;
    ``timeout`` seconds per read, ``retries`` per request for errors, timeouts and HTTP
    429/5xx with exponential backoff (``backoff_factor``, ``backoff_jitter``, ``backoff_max``)
    or the server's ``Retry-After`` (up to ``retry_after_max`` seconds), and
    ``bad_response_retries`` for answers that are not the JSON expected. Each attempt ends
    after ``request_deadline`` seconds however slowly its bytes come, each answer is read up
    to ``max_response_bytes``, and the run stops after ``time_limit`` seconds (measured by
    ``clock``; ``sleep`` waits between retries).

    Raises FetchError when a request still fails after its retries (at once for what
    retrying cannot mend), when the time limit passes, when there is nothing to continue
    from, or when another fetch is writing to ``out``. What was written before is kept.
    """
    if house not in _HOUSES:
        raise ValueError(f"house must be one of {', '.join(_HOUSES)}, not {house!r}")
    if keep is not None and not topic:
        raise ValueError("a keep filter needs a topic name, so that its progress is kept apart from other topics'")
    end = date_to or date.today()
    if date_from is not None and date_from > end:
        raise FetchError(f"--from {date_from} is after --to {end}")
    started = clock()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FetchError(f"cannot create {out}: {error.strerror or error}") from error
    topic_name = topic or "all"
    report = FetchReport()
    client = _Client(
        base_url,
        timeout=timeout,
        retries=retries,
        backoff_factor=backoff_factor,
        backoff_jitter=backoff_jitter,
        backoff_max=backoff_max,
        retry_after_max=retry_after_max,
        bad_response_retries=bad_response_retries,
        request_deadline=request_deadline,
        max_response_bytes=max_response_bytes,
        ends_at=started + time_limit,
        clock=clock,
        sleep=sleep,
    )
    with _locked(out):
        _remove_leftovers(out)
        store = _Store(out)
        state = _State(out)
        plans = [(name, _start(name, topic_name, date_from, state, store, out)) for name in _HOUSES[house]]
        days = sum(max(0, (end - start).days + 1) for _, start in plans)
        executor = ThreadPoolExecutor(max_workers=_IN_FLIGHT, thread_name_prefix="sendsearch-fetch")
        bar = tqdm(unit="record", desc="fetching answers", disable=not progress, dynamic_ncols=True)
        fetcher = _Fetcher(
            out=out,
            client=client,
            store=store,
            state=state,
            report=report,
            bar=bar,
            executor=executor,
            keep=keep,
            topic=topic_name,
            detail=detail,
            window_days=window_days,
            page_size=page_size,
            max_skip=max_skip,
            days_total=days,
        )
        try:
            for name, start in plans:
                fetcher.house(name, start, end)
        except _OutOfTime:
            hours = f"{time_limit / 3600:g} h" if time_limit >= 3600 else f"{time_limit:g} s"
            raise FetchError(
                f"the fetch stopped at its time limit of {hours}; everything fetched before it is saved in "
                f"{out}; run it again without --from to resume",
                report,
            ) from None
        except FetchError as error:
            error.report = report
            raise
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            client.close()
            bar.close()
            report.requests, report.retries = client.tally.requests, client.tally.retries
            report.seconds = round(clock() - started, 3)
    return report


@dataclass(frozen=True)
class _Window:
    """A range of answered dates, both ends included (as the API's answeredWhenFrom/To are)."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def split(self, pieces: int) -> list[_Window]:
        """Consecutive windows of near-equal length covering this one."""
        pieces = min(max(pieces, 2), self.days)
        bounds = [self.start + timedelta(days=self.days * i // pieces) for i in range(pieces + 1)]
        return [_Window(a, b - timedelta(days=1)) for a, b in itertools.pairwise(bounds)]

    def __str__(self) -> str:
        return f"{self.start}..{self.end}"


def _windows(start: date, end: date, days: int) -> list[_Window]:
    windows = []
    while start <= end:
        last = min(start + timedelta(days=max(days, 1) - 1), end)
        windows.append(_Window(start, last))
        start = last + timedelta(days=1)
    return windows


class _Tally:
    """Requests and retries counted across the worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0

    def sent(self, *, retry: bool) -> None:
        with self._lock:
            self.requests += 1
            self.retries += retry


class _RequestFailed(Exception):
    """A request that failed after its retries; the fetch turns it into a FetchError."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(f"{url}: {problem}")
        self.url = url
        self.problem = problem


class _OutOfTime(Exception):
    """The run's time limit passed; the fetch stops where it is, keeping what it wrote."""


def _user_agent() -> str:
    try:
        version = importlib.metadata.version("sendsearch")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"  # run from a source tree that was never installed
    return f"sendsearch/{version} (UK Parliament written answers fetcher) python-requests/{requests.__version__}"


# -- a deadline for each request --------------------------------------------------------------
# A server can answer one byte every 20 seconds: every read finishes within the timeout, and
# the request never ends. So each attempt runs under a watchdog that, when its deadline
# passes, shuts down the sockets the attempt uses (which ends a read blocked on them). The
# sockets are collected by urllib3 connection classes that report each socket they connect
# or send a request on to the watchdog of the attempt running in their thread.
_attempt = threading.local()


class _Watchdog:
    """Cuts the connections of one attempt when ``seconds`` pass."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._cut)
        self._timer.daemon = True

    def watch(self, sock: socket.socket | None) -> None:
        if sock is not None:
            with self._lock:
                self._sockets.append(sock)
                if self.expired:
                    self._shut(sock)

    def _cut(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Self:
        _attempt.watchdog = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        _attempt.watchdog = None


def _watched(sock: socket.socket | None) -> None:
    watchdog: _Watchdog | None = getattr(_attempt, "watchdog", None)
    if watchdog is not None:
        watchdog.watch(sock)


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _watched(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched(self.sock)  # a kept-alive connection is not connected again
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _watched(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter with connections the watchdog can cut, and no retries of its own:
    ``_Client`` decides what is worth retrying."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


@dataclass(frozen=True)
class _Answer:
    """One HTTP answer, its body read within the limits."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


class _Unanswered(Exception):
    """An attempt that got no whole answer; ``final`` when retrying cannot help."""

    def __init__(self, problem: str, *, final: bool = False) -> None:
        super().__init__(problem)
        self.problem = problem
        self.final = final


class _Client:
    """GETs to the API: retries, a timeout per read, a deadline per request and per run, a
    size limit per answer, no redirects to another host, a User-Agent, and checks of the
    JSON's depth and shape."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        retries: int,
        backoff_factor: float,
        backoff_jitter: float,
        backoff_max: float,
        retry_after_max: int,
        bad_response_retries: int,
        request_deadline: float,
        max_response_bytes: int,
        ends_at: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.tally = _Tally()
        self.retries = retries
        self._backoff = (backoff_factor, backoff_jitter, backoff_max)
        self._retry_after = Retry(retry_after_max=retry_after_max)
        self._bad_response_retries = bad_response_retries
        self._request_deadline = request_deadline
        self._max_bytes = max_response_bytes
        self._ends_at = ends_at
        self._clock = clock
        self._sleep = sleep
        origin = urllib.parse.urlsplit(self.base_url)
        self._origin = (origin.scheme, origin.hostname, origin.port)
        # Whether the server has ever answered: a refused connection before that means the
        # address is wrong (retrying cannot help); after it, the server may be restarting.
        self.answered = False
        self._headers = {"User-Agent": _user_agent(), "Accept": "application/json"}
        # requests does not promise that a Session is thread-safe: one per thread.
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def list_page(self, house: str, window: _Window, skip: int, take: int) -> tuple[int, list[Record]]:
        """(totalResults, the page's record values) for one house and window of answered dates."""
        params = {
            "answeredWhenFrom": window.start.isoformat(),
            "answeredWhenTo": window.end.isoformat(),
            "house": house,
            "answered": "Answered",
            "includeWithdrawn": "true",
            "expandMember": "true",
            "skip": str(skip),
            "take": str(take),
        }
        page = self._get_json(_LIST_PATH, params, _is_page)
        if page is None:
            raise _RequestFailed(self._url(_LIST_PATH, params), "HTTP 404 Not Found (is the API address right?)")
        return page["totalResults"], [item["value"] for item in page["results"]]

    def detail(self, question_id: int) -> Record | None:
        """The full record of one question, or None when the service does not have it."""
        item = self._get_json(
            f"{_LIST_PATH}/{question_id}",
            {"expandMember": "true"},
            lambda payload: _is_item(payload) and payload["value"]["id"] == question_id,
        )
        return None if item is None else item["value"]

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(self._headers)
            adapter = _WatchedAdapter(max_retries=0, pool_connections=1, pool_maxsize=1)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _url(self, path: str, params: Mapping[str, str]) -> str:
        return str(requests.Request("GET", self.base_url + path, params=params).prepare().url)

    def _get_json(self, path: str, params: Mapping[str, str], valid: Callable[[Any], bool]) -> Any:
        """The parsed JSON answer, or None for HTTP 404.

        Connection errors, timeouts and HTTP 429/5xx are retried up to ``retries`` times with
        backoff (or the server's Retry-After); answers that break off, are not JSON or are JSON
        of the wrong shape up to ``bad_response_retries`` times. A name that does not resolve,
        a refused connection to a server that never answered, an answer over the size limit
        and a redirect to another host are not retried: retrying cannot mend them.
        """
        url = self._url(path, params)
        failures = bad = 0
        while True:
            if self._clock() >= self._ends_at:
                raise _OutOfTime()
            self.tally.sent(retry=failures + bad > 0)
            retry_after: float | None = None
            try:
                answer = self._attempt(self.base_url + path, params)
            except _Unanswered as error:
                if error.final or failures >= self.retries:
                    raise _RequestFailed(url, error.problem + ("" if error.final else f", {self._spent()}")) from None
                failures += 1
            else:
                if answer.status == 404:
                    return None
                if answer.status in _RETRY_STATUSES:
                    if failures >= self.retries:
                        raise _RequestFailed(url, f"HTTP {answer.status} {answer.reason}, {self._spent()}")
                    failures += 1
                    retry_after = self._parse_retry_after(answer.headers.get("Retry-After"))
                elif answer.status != 200:
                    raise _RequestFailed(url, f"HTTP {answer.status} {answer.reason}")
                else:
                    payload, problem = _parse(answer.body)
                    if problem is None and valid(payload):
                        # Record text is printed to terminals later: no escape sequences in it.
                        return map_strings(payload, strip_controls)
                    problem = problem or "the response was JSON of an unexpected shape"
                    if bad >= self._bad_response_retries:
                        raise _RequestFailed(url, f"{problem}, {self._bad_response_retries + 1} times")
                    bad += 1
            self._pause(retry_after if retry_after is not None else self._backoff_for(failures + bad))

    def _attempt(self, url: str, params: Mapping[str, str]) -> _Answer:
        """One request and its answer, within the request's deadline (and the run's)."""
        seconds = min(self._request_deadline, self._ends_at - self._clock())
        redirects = 0
        with _Watchdog(seconds) as watchdog:
            try:
                while True:
                    response = self._session().get(
                        url, params=params, timeout=self.timeout, stream=True, allow_redirects=False
                    )
                    with response:
                        self.answered = True
                        if not response.is_redirect:
                            return _Answer(
                                response.status_code, response.reason, response.headers, self._body(response)
                            )
                        url, params = self._same_origin(response), {}
                        redirects += 1
                        if redirects > _MAX_REDIRECTS:
                            raise _Unanswered(f"more than {_MAX_REDIRECTS} redirects", final=True)
            except requests.RequestException as error:
                if watchdog.expired:
                    raise _Unanswered(f"no whole answer within {seconds:g} s") from None
                raise self._unanswered(error) from None

    def _body(self, response: requests.Response) -> bytes:
        """The body, decompressed, up to the size limit (a small gzip can hold gigabytes)."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise _Unanswered(
                f"the answer is {int(declared):,} bytes, over the limit of {self._max_bytes:,}", final=True
            )
        chunks, size = [], 0
        for chunk in response.iter_content(_READ_BYTES):
            size += len(chunk)
            if size > self._max_bytes:
                raise _Unanswered(f"the answer was over the limit of {self._max_bytes:,} bytes", final=True)
            chunks.append(chunk)
        return b"".join(chunks)

    def _same_origin(self, response: requests.Response) -> str:
        """Where a redirect points, if it stays on the API's scheme, host and port."""
        target = urllib.parse.urljoin(response.url, response.headers.get("Location", ""))
        parts = urllib.parse.urlsplit(target)
        if (parts.scheme, parts.hostname, parts.port) != self._origin:
            shown = strip_controls(target)[:200]
            raise _Unanswered(
                f"HTTP {response.status_code} redirected to another address ({shown}); not followed", final=True
            )
        return target

    def _unanswered(self, error: requests.RequestException) -> _Unanswered:
        """What went wrong with a request that got no answer, and whether to retry it."""
        causes = _causes(error)
        host = f"{self._origin[1]}" + (f":{self._origin[2]}" if self._origin[2] else "")
        if any(isinstance(c, urllib3.exceptions.NameResolutionError | socket.gaierror) for c in causes):
            return _Unanswered(f"could not look up {host} (no network, or a wrong address?)", final=True)
        refused = any(isinstance(c, ConnectionRefusedError) for c in causes)
        if refused and not self.answered:
            return _Unanswered(f"{host} refused the connection (is the address right, and the service up?)", final=True)
        # Before timeouts: urllib3 counts a connection that could not be made as one.
        if any(isinstance(c, urllib3.exceptions.NewConnectionError) for c in causes):
            return _Unanswered(f"could not connect ({'connection refused' if refused else 'connection failed'})")
        if isinstance(error, requests.Timeout) or any(isinstance(c, urllib3.exceptions.TimeoutError) for c in causes):
            return _Unanswered(f"no answer within {self.timeout:g} s")
        return _Unanswered("the connection closed before the answer was complete")

    def _parse_retry_after(self, value: str | None) -> float | None:
        if value is None:
            return None
        try:
            return float(self._retry_after.parse_retry_after(value))
        except urllib3.exceptions.InvalidHeader:
            return None

    def _backoff_for(self, attempt: int) -> float:
        factor, jitter, ceiling = self._backoff
        return min(ceiling, factor * 2 ** (attempt - 1) + random.uniform(0, jitter))  # noqa: S311 - jitter, no secret

    def _pause(self, seconds: float) -> None:
        """Wait before a retry, but never past the run's time limit."""
        left = self._ends_at - self._clock()
        if left <= 0:
            raise _OutOfTime()
        self._sleep(min(seconds, left))

    def _spent(self) -> str:
        count = self.retries
        return f"after {count} {'retry' if count == 1 else 'retries'}"


def _causes(error: BaseException) -> list[BaseException]:
    """An exception and everything behind it (args, causes, urllib3's reasons), without loops."""
    found: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending and len(found) < 20:
        current = pending.pop(0)
        if current in found:
            continue
        found.append(current)
        for link in (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args):
            if isinstance(link, BaseException):
                pending.append(link)
    return found


def _parse(body: bytes) -> tuple[Any, str | None]:
    """(JSON, None) from an answer's body, or (None, why not): not UTF-8, nested past
    ``MAX_JSON_DEPTH`` (counted without recursion, before parsing) or not JSON."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, "the response was not UTF-8 text"
    if nested_too_deep(text):
        return None, f"the response was JSON nested more than {MAX_JSON_DEPTH} levels deep"
    try:
        return json.loads(text), None
    except (ValueError, RecursionError):
        return None, "the response was not valid JSON"


def _is_item(payload: Any) -> bool:
    return (
        isinstance(payload, dict) and isinstance(payload.get("value"), dict) and type(payload["value"].get("id")) is int
    )


def _is_page(payload: Any) -> bool:
    return (
        isinstance(payload, dict)
        and type(payload.get("totalResults")) is int
        and isinstance(payload.get("results"), list)
        and all(_is_item(item) for item in payload["results"])
    )


def _is_clipped(value: Mapping[str, Any]) -> bool:
    """Whether the list endpoint cut this record's text.

    A cut answer ends in "..." (an answer that really ends so costs one needless detail
    fetch). A cut question carries no marker: one of exactly 255 characters may be whole,
    but cannot be told from a cut one.
    """
    answer = value.get("answerText") or ""
    question = value.get("questionText") or ""
    return answer.endswith("...") or len(question) >= _CLIP_CHARS


def _month(record: Mapping[str, Any]) -> str | None:
    answered = record.get("dateAnswered")
    return answered[:7] if isinstance(answered, str) and _MONTH.match(answered) else None


def _answered(record: Mapping[str, Any]) -> date | None:
    try:
        return date.fromisoformat(str(record.get("dateAnswered"))[:10])
    except ValueError:
        return None


def _digest(record: Mapping[str, Any]) -> bytes:
    text = json.dumps(record, sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _order(record: Mapping[str, Any]) -> tuple[str, int]:
    return str(record.get("dateAnswered") or ""), record["id"]


def _replace(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file so that it is either the old one or the whole new one, even after a crash.

    The temporary file is hidden so that a reader of the folder never takes one that a
    killed fetch left behind; the next fetch removes it.
    """
    try:
        atomic_write(path, write)
    except OSError as error:
        raise FetchError(
            f"could not write {path}: {error.strerror or error}; the files written before it are kept"
        ) from error


def _remove_leftovers(out: Path) -> None:
    for path in out.glob(".*.tmp"):
        if path.name.startswith((".parliament-", f".{STATE_FILE}.")):
            path.unlink(missing_ok=True)


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """One fetch at a time per folder: two would overwrite each other's files. The lock
    file is removed when the fetch ends, however it ends (but ``kill -9``)."""
    with ExitStack() as held:
        try:
            held.enter_context(exclusive(out / _LOCK_FILE, remove=True))
        except Busy:
            raise FetchError(f"another fetch is writing to {out}; try again when it ends") from None
        except OSError as error:
            raise FetchError(f"cannot write to {out}: {error.strerror or error}") from None
        yield


class _Store:
    """The monthly record files in ``out``, and which month file holds each question id."""

    def __init__(self, out: Path) -> None:
        self.out = out
        # id -> {month: digest}; more than one month only after a kill in mid-move.
        self.where: dict[int, dict[str, bytes]] = {}
        self.latest: dict[str, date] = {}
        for path in sorted(out.iterdir()):
            match = _FILE_NAME.match(path.name)
            if match:
                for record in self._read(path):
                    self._note(match[1], record, _digest(record))

    def newest_elsewhere(self) -> dict[str, date]:
        """The latest answered date, by house, in the other records files in ``out`` (the
        bundled answers on a fresh clone), read as the index reads them."""
        newest: dict[str, date] = {}
        for path in sorted(self.out.iterdir()):
            name = path.name.lower()
            if path.name.startswith(".") or _FILE_NAME.match(path.name) or not name.endswith(_RECORD_SUFFIXES):
                continue
            for item in iter_records(path, path.name):
                if isinstance(item, Document) and item.citation.date_answered and item.citation.house:
                    house, answered = item.citation.house, item.citation.date_answered
                    newest[house] = max(answered, newest.get(house, date.min))
        return newest

    def put(self, records: Sequence[tuple[str, Record]]) -> tuple[int, int, int, list[str]]:
        """Store (month, record) pairs: (new, updated, unchanged, names of the files written).

        A record replaces the one with its id, and leaves any other month's file it was in.
        """
        upserts: dict[str, dict[int, Record]] = {}
        removals: dict[str, set[int]] = {}
        new = updated = unchanged = 0
        digests = [(month, record, _digest(record)) for month, record in records]
        for month, record, digest in digests:
            stored = self.where.get(record["id"], {})
            if not stored:
                new += 1
            elif stored.get(month) == digest:
                unchanged += 1
            else:
                updated += 1
            if stored.get(month) != digest:
                upserts.setdefault(month, {})[record["id"]] = record
            for other in stored.keys() - {month}:
                removals.setdefault(other, set()).add(record["id"])
        written = [
            f"parliament-{month}.jsonl.gz"
            for month in sorted(upserts.keys() | removals.keys())
            if self._rewrite(month, upserts.get(month, {}), removals.get(month, set()))
        ]
        for month, record, digest in digests:
            self.where.pop(record["id"], None)
            self._note(month, record, digest)
        return new, updated, unchanged, written

    def _note(self, month: str, record: Mapping[str, Any], digest: bytes) -> None:
        self.where.setdefault(record["id"], {})[month] = digest
        answered, house = _answered(record), record.get("house")
        if answered and isinstance(house, str) and answered > self.latest.get(house, date.min):
            self.latest[house] = answered

    def _rewrite(self, month: str, upserts: Mapping[int, Record], removals: set[int]) -> bool:
        """Rewrite one month's file; False when it ends up empty and is removed."""
        path = self.out / f"parliament-{month}.jsonl.gz"
        records = {record["id"]: record for record in self._read(path)} if path.exists() else {}
        for key in removals:
            records.pop(key, None)
        records.update(upserts)
        if not records:
            path.unlink(missing_ok=True)
            fsync_dir(self.out)
            return False
        ordered = sorted(records.values(), key=_order)

        def write(handle: IO[bytes]) -> None:
            # mtime 0 and no name: the same records always give the same bytes.
            with gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0) as packed:
                for record in ordered:
                    packed.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")

        _replace(path, write)
        return True

    def _read(self, path: Path) -> Iterator[Record]:
        line = 0
        try:
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                for text in handle:
                    line += 1
                    if not text.strip():
                        continue
                    record = json.loads(text)
                    if not isinstance(record, dict) or type(record.get("id")) is not int:
                        raise ValueError("a line is not a record with an id")
                    yield record
        except (OSError, EOFError, ValueError) as error:
            raise FetchError(
                f"{path} is damaged at line {line} ({error}); delete it and fetch its month again with --from"
            ) from None


class _State:
    """Per house and topic, the last answered date whose answers are all fetched and on disk."""

    def __init__(self, out: Path) -> None:
        self.path = out / STATE_FILE
        self.through: dict[str, dict[str, str]] = {}
        if not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            through = data["fetched_through"]
            for topics in through.values():
                for day in topics.values():
                    date.fromisoformat(day)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise FetchError(
                f"{self.path} is damaged ({error}); delete it and give --from YYYY-MM-DD to say where to start"
            ) from None
        self.through = through

    def get(self, house: str, topic: str) -> date | None:
        day = self.through.get(house.lower(), {}).get(topic)
        return date.fromisoformat(day) if day else None

    def advance(self, house: str, topic: str, day: date) -> None:
        """Move the resume point forward (a fetch of an earlier range never moves it back)."""
        current = self.get(house, topic)
        if current is not None and current >= day:
            return
        self.through.setdefault(house.lower(), {})[topic] = day.isoformat()
        text = json.dumps({"format": _STATE_FORMAT, "fetched_through": self.through}, indent=2, sort_keys=True)

        def write(handle: IO[bytes]) -> None:
            handle.write(text.encode() + b"\n")

        _replace(self.path, write)


def _start(house: str, topic: str, date_from: date | None, state: _State, store: _Store, out: Path) -> date:
    """Where a house's fetch starts: ``date_from``; else where the last fetch stopped; else
    the newest answer of the house already in ``out``; else the newest of either house."""
    if date_from is not None:
        return date_from
    resumed = state.get(house, topic) or store.latest.get(house)
    if resumed is None:
        newest = {**store.newest_elsewhere(), **store.latest}
        resumed = newest.get(house) or max(newest.values(), default=None)
    if resumed is None:
        raise FetchError(f"{out} has no answers to continue from: pass --from YYYY-MM-DD")
    return resumed


@dataclass
class _Fetcher:
    """One fetch run: windows listed one page at a time, details two at a time, then saved."""

    out: Path
    client: _Client
    store: _Store
    state: _State
    report: FetchReport
    bar: tqdm[Any]
    executor: ThreadPoolExecutor
    keep: Callable[[Mapping[str, Any]], bool] | None
    topic: str
    detail: Literal["all", "clipped"]
    window_days: int
    page_size: int
    max_skip: int
    days_total: int
    days_listed: int = 0
    listed: int = 0

    def house(self, house: str, start: date, end: date) -> None:
        """Fetch one house's answers from ``start`` to ``end``, window by window."""
        pending = deque(_windows(start, end, self.window_days))
        while pending:
            window = pending.popleft()
            try:
                total, values = self._list(house, window)
                if self._too_big(total, window):
                    pending.extendleft(reversed(window.split(math.ceil(total / self._capacity))))
                    continue
                self._listed(window, total)
                records = self._resolve(values, window)
            except _RequestFailed as failure:
                resumed = self.state.get(house, self.topic)
                hint = (
                    f"run it again without --from to resume from {resumed}"
                    if resumed
                    else f"run it again with --from {window.start} to resume"
                )
                raise FetchError(
                    f"could not fetch {house} answers of {window}: {failure.url}: {failure.problem}. "
                    f"Everything fetched before it is saved in {self.out}; {hint}"
                ) from None
            self._save(house, window, records)

    def _list(self, house: str, window: _Window) -> tuple[int, list[Record]]:
        """All list values of a window, or only its first page when it must be split."""
        total, values = self.client.list_page(house, window, 0, self.page_size)
        if self._too_big(total, window):
            return total, values
        skip = len(values)
        while values and skip < total:
            total, page = self.client.list_page(house, window, skip, self.page_size)
            if not page:
                break
            values.extend(page)
            skip += len(page)
            self._show()
        # A record that moved between pages while they were read would come twice.
        return total, list({value["id"]: value for value in values}.values())

    @property
    def _capacity(self) -> int:
        """The most answers a window can page through without a skip past ``max_skip``."""
        return (self.max_skip // self.page_size + 1) * self.page_size

    def _too_big(self, total: int, window: _Window) -> bool:
        # A single day is paged through whatever its size: it cannot be split by date.
        return total > self._capacity and window.days > 1

    def _resolve(self, values: list[Record], window: _Window) -> list[tuple[str, Record]]:
        """(month, full record) for each listed value the keep filter accepts."""
        wanted = [value["id"] for value in values if self.detail == "all" or _is_clipped(value)]
        details: dict[int, Record | None] = {}
        for key, full in zip(wanted, self.executor.map(self.client.detail, wanted), strict=True):
            details[key] = full
            self.report.detail_fetches += 1
            self.bar.update()
            self._show()
        self.bar.update(len(values) - len(wanted))
        records = []
        for value in values:
            record = details.get(value["id"], value)
            if record is None:
                # Listed but gone from the detail endpoint: the list's text beats losing the answer.
                self.report.not_found += 1
                record = value
            if self.keep is not None and not self.keep(record):
                self.report.filtered_out += 1
                continue
            records.append((_month(record) or _month(value) or window.start.strftime("%Y-%m"), record))
        return records

    def _save(self, house: str, window: _Window, records: Sequence[tuple[str, Record]]) -> None:
        new, updated, unchanged, written = self.store.put(records)
        # Only now that the window's records are on disk may a rerun start after it.
        self.state.advance(house, self.topic, window.end)
        report = self.report
        report.new += new
        report.updated += updated
        report.unchanged += unchanged
        report.files = sorted(set(report.files) | set(written))
        report.date_from = min(report.date_from or window.start, window.start)
        report.date_to = max(report.date_to or window.end, window.end)

    def _listed(self, window: _Window, total: int) -> None:
        """Grow the bar's total: answers listed so far, plus the days not yet listed at the same rate."""
        self.days_listed += window.days
        self.listed += total
        remaining = max(0, self.days_total - self.days_listed)
        self.bar.total = self.listed + round(self.listed / self.days_listed * remaining)
        self._show()

    def _show(self) -> None:
        tally = self.client.tally
        self.bar.set_postfix(requests=tally.requests, retries=tally.retries, refresh=False)
