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
- It answers bursts with HTTP 429: every request goes through a urllib3 ``Retry`` that honours
  ``Retry-After`` and backs off with jitter, and at most two requests are in flight.
- ``kill -9`` at any moment must lose nothing reported as written: files and the state are
  replaced atomically, and the state moves on only once a window's records are on disk.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import importlib.metadata
import itertools
import json
import math
import os
import random
import re
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any, Literal, Self

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.util.retry import Retry

from .errors import SendSearchError

__all__ = ["DEFAULT_API", "STATE_FILE", "FetchError", "FetchReport", "fetch"]

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
) -> FetchReport:
    """Fetch the questions answered from ``date_from`` to ``date_to`` into files under ``out``.

    Without ``date_from`` the fetch continues where the last one of the same house and topic
    stopped (fetching that last day again, since answers keep arriving for it), else from the
    latest answered date among the records already in ``out``. ``date_to`` defaults to today.

    ``house="both"`` fetches the Commons, then the Lords, each with its own resume point.
    ``keep`` is a topic filter, applied to each record with its full text; it needs a ``topic``
    name, under which the fetch's progress is kept apart from other topics'. Withdrawn
    questions are written too. ``detail="clipped"`` fetches the detail only for records whose
    list text was cut (fewer requests, but short answers keep the list's tag-stripped text).

    The other arguments tune paging and retries: ``window_days`` of answered dates per window,
    ``page_size`` records per page, windows split so that no ``skip`` exceeds ``max_skip``;
    ``timeout`` seconds per request, ``retries`` per request for errors, timeouts and HTTP
    429/5xx with exponential backoff (``backoff_factor``, ``backoff_jitter``, ``backoff_max``)
    or the server's ``Retry-After`` (up to ``retry_after_max`` seconds), and
    ``bad_response_retries`` for answers that are not the JSON expected.

    Raises FetchError when a request still fails after its retries, when there is nothing to
    continue from, or when another fetch is writing to ``out``.
    """
    if house not in _HOUSES:
        raise ValueError(f"house must be one of {', '.join(_HOUSES)}, not {house!r}")
    if keep is not None and not topic:
        raise ValueError("a keep filter needs a topic name, so that its progress is kept apart from other topics'")
    end = date_to or date.today()
    if date_from is not None and date_from > end:
        raise FetchError(f"--from {date_from} is after --to {end}")
    started = time.monotonic()
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
        except FetchError as error:
            error.report = report
            raise
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            client.close()
            bar.close()
            report.requests, report.retries = client.tally.requests, client.tally.retries
            report.seconds = round(time.monotonic() - started, 3)
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


class _CountingRetry(Retry):
    """urllib3's Retry, telling a tally about each retry it grants (the report counts them)."""

    def __init__(self, *args: Any, tally: _Tally | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tally = tally

    def new(self, **kw: Any) -> Self:
        # urllib3 makes a new Retry for every attempt; the tally must travel with it.
        kw.setdefault("tally", self.tally)
        return super().new(**kw)

    def increment(self, *args: Any, **kwargs: Any) -> Self:
        retry = super().increment(*args, **kwargs)
        if self.tally is not None:
            self.tally.sent(retry=True)
        return retry


class _RequestFailed(Exception):
    """A request that failed after its retries; the fetch turns it into a FetchError."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(f"{url}: {problem}")
        self.url = url
        self.problem = problem


def _user_agent() -> str:
    try:
        version = importlib.metadata.version("sendsearch")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"  # run from a source tree that was never installed
    return f"sendsearch/{version} (UK Parliament written answers fetcher) python-requests/{requests.__version__}"


class _Client:
    """GETs to the API with retries, a timeout, a User-Agent and checks of the JSON's shape."""

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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.tally = _Tally()
        self._retry = _CountingRetry(
            total=retries,
            backoff_factor=backoff_factor,
            backoff_jitter=backoff_jitter,
            backoff_max=backoff_max,
            retry_after_max=retry_after_max,
            status_forcelist=_RETRY_STATUSES,
            respect_retry_after_header=True,
            # The last response comes back, so the error can say which status it was.
            raise_on_status=False,
            tally=self.tally,
        )
        self._bad_response_retries = bad_response_retries
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
            adapter = HTTPAdapter(max_retries=self._retry, pool_connections=1, pool_maxsize=1)
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

        urllib3 retries connection errors, timeouts and HTTP 429/5xx before the response
        arrives here. A 200 whose body breaks off, is not JSON or is JSON of the wrong shape
        is retried here, with the same kind of backoff.
        """
        url = self._url(path, params)
        problem = ""
        for attempt in range(self._bad_response_retries + 1):
            if attempt:
                time.sleep(self._pause(attempt))
            self.tally.sent(retry=attempt > 0)
            try:
                response = self._session().get(self.base_url + path, params=params, timeout=self.timeout, stream=True)
            except requests.RequestException as error:
                raise _RequestFailed(url, f"{self._describe(error)}, {self._spent()}") from error
            with response:
                if response.status_code == 404:
                    return None
                if response.status_code != 200:
                    spent = f", {self._spent()}" if response.status_code in _RETRY_STATUSES else ""
                    raise _RequestFailed(url, f"HTTP {response.status_code} {response.reason}{spent}")
                try:
                    body = response.content
                except requests.RequestException as error:
                    problem = self._describe(error)
                    continue
            try:
                payload = json.loads(body)
            except ValueError:
                problem = "the response was not valid JSON"
                continue
            if valid(payload):
                return payload
            problem = "the response was JSON of an unexpected shape"
        raise _RequestFailed(url, f"{problem}, {self._bad_response_retries + 1} times")

    def _pause(self, attempt: int) -> float:
        retry = self._retry
        backoff = retry.backoff_factor * 2 ** (attempt - 1) + random.uniform(0, retry.backoff_jitter)
        return min(retry.backoff_max, backoff)

    def _describe(self, error: requests.RequestException) -> str:
        reason = error.args[0] if error.args else error
        reason = getattr(reason, "reason", reason)
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            # Its text starts with the connection object's repr, which tells the user nothing.
            return f"could not connect ({str(reason).split(': ', 1)[-1]})"
        if isinstance(error, requests.Timeout) or isinstance(reason, urllib3.exceptions.TimeoutError):
            return f"no answer within {self.timeout:g} s"
        if isinstance(error, requests.exceptions.ChunkedEncodingError) or isinstance(
            reason, urllib3.exceptions.ProtocolError
        ):
            return "the connection closed before the answer was complete"
        return f"could not connect ({reason})"

    def _spent(self) -> str:
        count = self._retry.total
        return f"after {count} {'retry' if count == 1 else 'retries'}"


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


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _replace(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file so that it is either the old one or the whole new one, even after a crash.

    The temporary file is hidden so that a reader of the folder never takes one that a
    killed fetch left behind; the next fetch removes it.
    """
    temporary: str | None = None
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), 0o644)
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _fsync_dir(path.parent)
    except BaseException as error:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise FetchError(
                f"could not write {path}: {error.strerror or error}; the files written before it are kept"
            ) from error
        raise


def _remove_leftovers(out: Path) -> None:
    for path in out.glob(".*.tmp"):
        if path.name.startswith((".parliament-", f".{STATE_FILE}.")):
            path.unlink(missing_ok=True)


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """One fetch at a time per folder: two would overwrite each other's files."""
    with open(out / _LOCK_FILE, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FetchError(f"another fetch is writing to {out}; try again when it ends") from None
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
            _fsync_dir(self.out)
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
    if date_from is not None:
        return date_from
    resumed = state.get(house, topic) or store.latest.get(house)
    if resumed is None:
        raise FetchError(f"{out} has no earlier fetch of {house} answers to continue from: pass --from YYYY-MM-DD")
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
