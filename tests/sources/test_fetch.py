"""The Parliament API client (sendsearch.sources.fetch) against a stand-in of the service.

Most tests use the stand-in's synthetic records (240 answers of January to March 2024, both
houses); the last ones use the recorded real responses in ../shared and skip without them.
"""

from __future__ import annotations

import fcntl
import gzip
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from sendsearch.sources.fetch import STATE_FILE, FetchError, FetchReport, fetch

from ..parliament_standin import (
    COMMONS_ANSWERS,
    RECORDED,
    SEND,
    Fault,
    ParliamentStandIn,
    commons_full_text,
    list_view,
    read_out,
    recorded_august_records,
    recorded_list_items,
    strip_tags,
    synthetic_records,
    with_members,
)

ROOT = Path(__file__).resolve().parents[2]
FIRST, LAST = date(2024, 1, 1), date(2024, 3, 31)
# Short waits so that retries cost milliseconds; page_size 10 makes several pages a window.
FAST: dict[str, Any] = {
    # Generous: a busy machine can take over a second to answer a healthy request, and a read
    # timeout there is one more retry than a test counts. Only the stall test waits it out.
    "timeout": 10.0,
    "retries": 4,
    "backoff_factor": 0.001,
    "backoff_jitter": 0.001,
    "backoff_max": 0.01,
    "bad_response_retries": 2,
    "page_size": 10,
}
needs_recorded = pytest.mark.skipif(
    not (RECORDED.is_dir() and COMMONS_ANSWERS.exists()),
    reason="the recorded API responses in ../shared/data are not present on this machine",
)


@pytest.fixture
def standin() -> Any:
    with ParliamentStandIn(synthetic_records()) as server:
        yield server


def run(out: Path, server: ParliamentStandIn, **options: Any) -> FetchReport:
    settings = {"date_from": FIRST, "date_to": LAST, "base_url": server.url, **FAST, **options}
    return fetch(out, **settings)


def expected(server: ParliamentStandIn, house: str | None = None, up_to: date | None = None) -> dict[int, Any]:
    """What a fetch should write: every answered record in full, members expanded."""
    return {
        key: with_members(record, True)
        for key, record in server.by_id.items()
        if (house is None or record["house"] == house)
        and (up_to is None or record["dateAnswered"][:10] <= up_to.isoformat())
    }


def written(out: Path) -> dict[int, Any]:
    records: dict[int, Any] = {}
    for name, record in read_out(out):
        assert record["id"] not in records, f"{record['id']} written twice"
        assert name == f"parliament-{record['dateAnswered'][:7]}.jsonl.gz"
        records[record["id"]] = record
    return records


def state(out: Path) -> dict[str, Any]:
    through: dict[str, Any] = json.loads((out / STATE_FILE).read_text())["fetched_through"]
    return through


@pytest.mark.slow  # a whole fetch of the stand-in's 240 records: seconds
def test_pages_through_windows_and_writes_every_record_in_full(tmp_path: Path, standin: ParliamentStandIn) -> None:
    report = run(tmp_path, standin)

    assert written(tmp_path) == expected(standin)
    assert (report.new, report.updated, report.unchanged, report.filtered_out) == (240, 0, 0, 0)
    assert report.files == ["parliament-2024-01.jsonl.gz", "parliament-2024-02.jsonl.gz", "parliament-2024-03.jsonl.gz"]
    assert (report.date_from, report.date_to) == (FIRST, LAST)
    assert report.requests == len(standin.log)
    assert report.retries == 0
    assert report.detail_fetches == 240 == len(standin.requests_to("detail"))
    assert state(tmp_path) == {"commons": {"all": "2024-03-31"}, "lords": {"all": "2024-03-31"}}
    assert {1_800_007, 1_800_057} <= written(tmp_path).keys()  # withdrawn, still written

    lists = standin.requests_to("list")
    for request in lists:
        assert request.query["expandMember"] == "true"
        assert request.query["answered"] == "Answered"
        assert request.query["includeWithdrawn"] == "true"
        assert request.query["take"] == "10"
    assert all(request.query["expandMember"] == "true" for request in standin.requests_to("detail"))
    assert any(int(request.query["skip"]) > 0 for request in lists), "no window took more than one page"
    for house in ("Commons", "Lords"):
        windows = sorted(
            (date.fromisoformat(r.query["answeredWhenFrom"]), date.fromisoformat(r.query["answeredWhenTo"]))
            for r in lists
            if r.query["house"] == house and r.query["skip"] == "0"
        )
        assert windows[0][0] == FIRST
        assert windows[-1][1] == LAST
        assert all((end - start).days < 7 for start, end in windows)
        assert all(later[0] == earlier[1] + timedelta(days=1) for earlier, later in itertools.pairwise(windows))


@pytest.mark.slow  # a whole fetch of the stand-in's 240 records: seconds
def test_files_hold_only_whole_records_and_are_read_by_the_project_reader(
    tmp_path: Path, standin: ParliamentStandIn
) -> None:
    from sendsearch.sources.parliament import iter_records

    run(tmp_path, standin)

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".fetch-state.json",
        "parliament-2024-01.jsonl.gz",
        "parliament-2024-02.jsonl.gz",
        "parliament-2024-03.jsonl.gz",
    ]
    ids = []
    for path in sorted(tmp_path.glob("parliament-*.jsonl.gz")):
        for item in iter_records(path, path.name):
            assert hasattr(item, "doc_id"), f"the reader skipped a record: {item}"
            ids.append(int(item.doc_id))
    assert sorted(ids) == sorted(standin.by_id)


@pytest.mark.slow  # a whole fetch of the stand-in's 240 records: seconds
def test_a_failed_write_keeps_the_old_files_and_the_state_stays_behind_it(
    tmp_path: Path, standin: ParliamentStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    replace = os.replace

    def full_disk_for(prefix: str) -> Any:
        def fail(source: str, target: str) -> None:
            if Path(target).name.startswith(prefix):
                raise OSError(28, "No space left on device")
            replace(source, target)

        return fail

    # The window of Jan 29 to Feb 4 writes January's file, then fails on February's.
    monkeypatch.setattr("sendsearch.durable.os.replace", full_disk_for("parliament-2024-02"))
    with pytest.raises(FetchError, match=r"could not write .*parliament-2024-02\.jsonl\.gz: No space left on device"):
        run(tmp_path, standin, house="commons")
    assert state(tmp_path) == {"commons": {"all": "2024-01-28"}}
    assert not list(tmp_path.glob("*.tmp"))
    assert not (tmp_path / "parliament-2024-02.jsonl.gz").exists()
    january = (tmp_path / "parliament-2024-01.jsonl.gz").read_bytes()

    # A correction that cannot be written leaves the file as it was.
    corrected = next(
        key
        for key, record in sorted(standin.by_id.items())
        if record["house"] == "Commons" and "2024-01-28" <= record["dateAnswered"][:10] <= "2024-01-31"
    )
    standin.update(corrected, answerText="<p>Corrected.</p>")
    monkeypatch.setattr("sendsearch.durable.os.replace", full_disk_for("parliament-"))
    with pytest.raises(FetchError, match="No space left on device"):
        run(tmp_path, standin, house="commons")
    assert (tmp_path / "parliament-2024-01.jsonl.gz").read_bytes() == january
    assert not list(tmp_path.glob("*.tmp"))

    # A temporary file left by a killed fetch is hidden from readers and removed by the next fetch.
    (tmp_path / ".parliament-2024-01.jsonl.gz.x1y2.tmp").write_bytes(b"\x1f\x8b half a file")
    monkeypatch.undo()
    run(tmp_path, standin, house="commons", date_from=None)
    assert not list(tmp_path.glob("*.tmp"))
    assert written(tmp_path) == expected(standin, "Commons")
    assert written(tmp_path)[corrected]["answerText"] == "<p>Corrected.</p>"


@pytest.mark.slow  # a whole fetch of the stand-in's 240 records: seconds
def test_a_window_too_big_for_small_skips_is_split(tmp_path: Path) -> None:
    # 25 is not a multiple of the page size: the last page of a window may start at 20, not 30.
    with ParliamentStandIn(synthetic_records(), max_skip=25) as server:
        report = run(tmp_path, server, window_days=31, max_skip=25)
        lists = server.requests_to("list")

    assert written(tmp_path) == expected(server)
    assert max(int(request.query["skip"]) for request in lists) == 20
    assert report.retries == 0
    spans = {
        (date.fromisoformat(r.query["answeredWhenTo"]) - date.fromisoformat(r.query["answeredWhenFrom"])).days + 1
        for r in lists
    }
    assert max(spans) == 31
    assert min(spans) < 31


@pytest.mark.slow  # a whole fetch of the stand-in's 240 records: seconds
def test_the_services_500_on_a_large_skip_is_what_the_split_avoids(tmp_path: Path) -> None:
    with ParliamentStandIn(synthetic_records(), max_skip=25) as server, pytest.raises(FetchError, match="HTTP 500"):
        run(tmp_path, server, window_days=31, max_skip=1000, retries=1)


@pytest.mark.slow  # a whole fetch of the stand-in's 240 records: seconds
def test_clipped_mode_fetches_the_detail_only_for_cut_text(tmp_path: Path, standin: ParliamentStandIn) -> None:
    report = run(tmp_path, standin, detail="clipped")

    records = written(tmp_path)
    cut = {
        key
        for key, record in standin.by_id.items()
        if list_view(record)["answerText"] != strip_tags(record["answerText"])
        or list_view(record)["questionText"] != record["questionText"]
    }
    assert cut
    assert {int(r.path.rsplit("/", 1)[1]) for r in standin.requests_to("detail")} == cut
    assert report.detail_fetches == len(cut)
    for key in cut:
        assert records[key] == with_members(standin.by_id[key], True)
    # Whole in the list, but with its tags stripped: why fetching every detail is the default.
    short = standin.by_id[1_800_001]
    assert (
        records[1_800_001]["answerText"]
        == "Area 1 receives funding for school transport.Details are published annually."
    )
    assert short["answerText"].startswith("<p>")


def test_a_429_waits_for_retry_after_and_is_counted(tmp_path: Path, standin: ParliamentStandIn) -> None:
    standin.inject("list", Fault.http(429, retry_after=1))
    standin.inject("detail", Fault.http(429, retry_after=2))
    waits: list[float] = []
    report = run(tmp_path, standin, house="commons", date_to=date(2024, 1, 7), sleep=waits.append)

    assert sorted(waits) == [1.0, 2.0]  # the server's Retry-After, not the (tiny) backoff
    assert report.retries == 2
    assert report.requests == len(standin.log)
    assert written(tmp_path) == expected(standin, "Commons", date(2024, 1, 7))
    first, second = standin.requests_to("list")[:2]
    assert first.query == second.query


@pytest.mark.slow  # waits out two 10-second read timeouts
def test_errors_timeouts_and_bad_bodies_are_retried_and_counted(tmp_path: Path, standin: ParliamentStandIn) -> None:
    faults = [
        Fault.http(500),
        Fault.http(503),
        Fault.drop(),
        Fault.stall(FAST["timeout"] + 2.0),
        Fault.malformed(),
        Fault.wrong_shape(),
        Fault.truncate(),
    ]
    for fault in faults:
        standin.inject("list", fault)
        standin.inject("detail", fault)
    # A page meets them all in a row: four retries in urllib3, then three of bad bodies.
    report = run(tmp_path, standin, date_to=date(2024, 1, 31), retries=6, bad_response_retries=3)

    assert report.retries == 2 * len(faults)
    assert report.requests == len(standin.log)
    assert written(tmp_path) == expected(standin, up_to=date(2024, 1, 31))


@pytest.mark.slow  # a whole fetch of the stand-in's 240 records: seconds
def test_a_page_that_keeps_failing_stops_the_fetch_and_a_rerun_resumes(
    tmp_path: Path, standin: ParliamentStandIn
) -> None:
    standin.inject("list", Fault.http(500), times=100, when=lambda query: query["answeredWhenFrom"] >= "2024-02-01")
    with pytest.raises(FetchError) as caught:
        run(tmp_path, standin, house="commons", retries=2)

    message = str(caught.value)
    assert "\n" not in message
    assert "2024-02-05..2024-02-11" in message
    assert "answeredWhenFrom=2024-02-05" in message
    assert "HTTP 500" in message
    assert "after 2 retries" in message
    assert "resume from 2024-02-04" in message
    kept = expected(standin, "Commons", date(2024, 2, 4))
    assert written(tmp_path) == kept
    assert state(tmp_path) == {"commons": {"all": "2024-02-04"}}
    assert caught.value.report is not None
    assert caught.value.report.new == len(kept)

    standin.clear_faults()
    standin.log.clear()
    report = run(tmp_path, standin, house="commons", date_from=None)
    assert standin.requests_to("list")[0].query["answeredWhenFrom"] == "2024-02-04"
    assert written(tmp_path) == expected(standin, "Commons")
    on_last_day = sum(1 for r in kept.values() if r["dateAnswered"].startswith("2024-02-04"))
    assert (report.new, report.unchanged) == (len(expected(standin, "Commons")) - len(kept), on_last_day)


KILLABLE = """
import json, sys
from datetime import date
from pathlib import Path
from sendsearch.sources.fetch import fetch
out, url, start, end, options = sys.argv[1:]
fetch(
    Path(out),
    date_from=date.fromisoformat(start) if start else None,
    date_to=date.fromisoformat(end),
    base_url=url,
    **json.loads(options),
)
"""


@pytest.mark.slow  # runs and kills fetches in processes of their own
def test_kill_9_at_random_moments_then_a_rerun_ends_as_an_uninterrupted_run(tmp_path: Path) -> None:
    with ParliamentStandIn(synthetic_records(), latency=0.003) as server:
        reference = tmp_path / "reference"
        run(reference, server)
        reference_records = written(reference)
        # Each killed run is killed while it waits for the answer to a request drawn at random
        # (held by the stand-in until then): between any two of its steps, on any machine.
        requests = len(server.log)

        out = tmp_path / "out"
        options = json.dumps(FAST)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
        rng = random.Random(1725947)
        kills = 0
        for attempt in range(5):
            resumable = (out / STATE_FILE).exists() and set(state(out)) == {"commons", "lords"}
            start = "" if resumable else FIRST.isoformat()
            seen = len(server.log)
            if attempt < 4:
                server.hold_at(seen + rng.randint(1, max(1, requests // 3)))
            process = subprocess.Popen(
                [sys.executable, "-c", KILLABLE, str(out), server.url, start, LAST.isoformat(), options],
                env=env,
                cwd=tmp_path,
            )
            if attempt == 4:
                assert process.wait(timeout=60) == 0
                break
            # Until the held request arrives, or the run ends having made fewer requests.
            while not server.held.wait(0.05) and process.poll() is None:
                pass
            if process.poll() is None:
                process.kill()
                kills += 1
            process.wait(timeout=60)
            server.release()
            # Nothing the state calls written may be missing, and every file holds whole records.
            on_disk = written(out) if out.exists() else {}
            assert all(reference_records[key] == record for key, record in on_disk.items())
            if (out / STATE_FILE).exists():
                for house, topics in state(out).items():
                    through = topics["all"]
                    promised = {
                        key
                        for key, record in reference_records.items()
                        if record["house"].lower() == house and record["dateAnswered"][:10] <= through
                    }
                    assert promised <= on_disk.keys()

    assert kills >= 2
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in reference.iterdir())
    for path in reference.glob("parliament-*.jsonl.gz"):
        assert (out / path.name).read_bytes() == path.read_bytes()
    assert state(out) == state(reference)


@pytest.mark.slow  # a whole fetch of the stand-in's 240 records: seconds
def test_without_from_it_continues_from_the_state_refetching_the_last_day(
    tmp_path: Path, standin: ParliamentStandIn
) -> None:
    first = run(tmp_path, standin, date_to=date(2024, 1, 31))
    standin.log.clear()
    second = run(tmp_path, standin, date_from=None)

    firsts = {r.query["house"]: r.query["answeredWhenFrom"] for r in reversed(standin.requests_to("list"))}
    assert firsts == {"Commons": "2024-01-31", "Lords": "2024-01-31"}
    on_last_day = sum(1 for r in standin.by_id.values() if r["dateAnswered"].startswith("2024-01-31"))
    assert second.unchanged == on_last_day
    assert first.new + second.new == 240
    assert written(tmp_path) == expected(standin)


@pytest.mark.slow  # a whole fetch of the stand-in's 240 records: seconds
def test_without_state_it_starts_from_the_latest_answer_on_disk(tmp_path: Path, standin: ParliamentStandIn) -> None:
    run(tmp_path, standin, date_to=date(2024, 1, 20))
    (tmp_path / STATE_FILE).unlink()
    latest = {
        house: max(r["dateAnswered"][:10] for r in written(tmp_path).values() if r["house"] == house)
        for house in ("Commons", "Lords")
    }
    standin.log.clear()
    run(tmp_path, standin, date_from=None)

    firsts = {r.query["house"]: r.query["answeredWhenFrom"] for r in reversed(standin.requests_to("list"))}
    assert firsts == latest
    assert written(tmp_path) == expected(standin)


def test_with_nothing_to_continue_from_it_asks_for_from(tmp_path: Path, standin: ParliamentStandIn) -> None:
    with pytest.raises(FetchError, match=r"pass --from YYYY-MM-DD"):
        run(tmp_path, standin, date_from=None)
    assert standin.log == []


@pytest.mark.slow  # a whole fetch of the stand-in's 240 records: seconds
def test_refetching_counts_new_updated_and_unchanged_and_follows_a_moved_answer(
    tmp_path: Path, standin: ParliamentStandIn
) -> None:
    run(tmp_path, standin)
    moved = next(r for r in standin.by_id.values() if r["dateAnswered"].startswith("2024-01"))
    standin.update(1_800_010, answerText="<p>A corrected answer.</p>", answerIsCorrection=True)
    standin.update(moved["id"], dateAnswered="2024-02-20T00:00:00")
    report = run(tmp_path, standin)

    assert (report.new, report.updated, report.unchanged) == (0, 2, 238)
    records = written(tmp_path)  # also checks each id is in one file only, its month's
    assert records[1_800_010]["answerText"] == "<p>A corrected answer.</p>"
    assert records[moved["id"]]["dateAnswered"] == "2024-02-20T00:00:00"
    assert records == expected(standin)


@pytest.mark.slow  # a whole fetch of the stand-in's 240 records: seconds
def test_at_most_two_requests_are_in_flight(tmp_path: Path) -> None:
    with ParliamentStandIn(synthetic_records(), latency=0.01) as server:
        run(tmp_path, server, date_to=date(2024, 1, 31))
    assert server.max_in_flight == 2


def test_the_user_agent_names_sendsearch_and_its_version(tmp_path: Path, standin: ParliamentStandIn) -> None:
    from importlib.metadata import version

    run(tmp_path, standin, date_to=date(2024, 1, 7))
    agents = {request.headers["User-Agent"] for request in standin.log}
    assert len(agents) == 1
    assert agents.pop().startswith(f"sendsearch/{version('sendsearch')} ")


@pytest.mark.slow  # a whole fetch of the stand-in's 240 records: seconds
def test_the_topic_filter_sees_the_full_text_and_keeps_its_own_resume_point(
    tmp_path: Path, standin: ParliamentStandIn
) -> None:
    def about_send(record: Any) -> bool:
        return SEND in f"{record['questionText']} {record['answerText']}".lower()

    report = run(tmp_path, standin, keep=about_send, topic="send")

    wanted = {key for key, record in standin.by_id.items() if about_send(record)}
    hidden = {key for key in wanted if not about_send(list_view(standin.by_id[key]))}
    assert hidden, "no record whose topic only its full text shows"
    assert written(tmp_path).keys() == wanted
    assert report.filtered_out == 240 - len(wanted)
    assert report.new == len(wanted)
    assert state(tmp_path) == {"commons": {"send": "2024-03-31"}, "lords": {"send": "2024-03-31"}}
    with pytest.raises(ValueError, match="topic"):
        run(tmp_path, standin, keep=about_send)


def test_a_question_the_detail_endpoint_lacks_is_kept_with_the_list_text(
    tmp_path: Path, standin: ParliamentStandIn
) -> None:
    standin.inject("detail", Fault.http(404))
    report = run(tmp_path, standin, house="lords", date_to=date(2024, 1, 31))
    assert report.not_found == 1
    assert len(written(tmp_path)) == len(expected(standin, "Lords", date(2024, 1, 31)))


def test_a_second_fetch_into_the_same_folder_is_refused(tmp_path: Path, standin: ParliamentStandIn) -> None:
    with open(tmp_path / ".fetch.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with pytest.raises(FetchError, match="another fetch"):
            run(tmp_path, standin)


@pytest.mark.slow  # a whole fetch of the stand-in's 240 records: seconds
def test_the_progress_bar_shows_records_requests_and_retries(
    tmp_path: Path, standin: ParliamentStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    standin.inject("detail", Fault.http(503))
    run(tmp_path, standin, date_to=date(2024, 1, 14), progress=True)
    shown = capsys.readouterr().err
    assert "record" in shown
    assert "requests=" in shown
    assert "retries=1" in shown
    run(tmp_path / "quiet", standin, date_to=date(2024, 1, 14))
    assert capsys.readouterr() == ("", "")


@pytest.mark.slow  # a whole fetch of the stand-in's 240 records: seconds
@needs_recorded
def test_the_standin_clips_as_the_real_service_and_the_client_sees_every_cut() -> None:
    from sendsearch.sources.fetch import _is_clipped

    items = [item["value"] for item in recorded_list_items()]
    full = commons_full_text(frozenset(value["id"] for value in items))
    assert len(full) == 223
    for value in items:
        if value["answerText"].endswith("..."):
            assert _is_clipped(value), value["id"]
        if value["id"] not in full:
            continue
        whole = {
            **value,
            "questionText": full[value["id"]]["questionText"],
            "answerText": full[value["id"]]["answerText"],
        }
        assert list_view(whole) == value, value["id"]
        if value["questionText"] != whole["questionText"] or value["answerText"] != strip_tags(whole["answerText"]):
            assert _is_clipped(value), value["id"]


@needs_recorded
@pytest.mark.slow  # all 1,004 recorded records, through retries
def test_real_august_2024_records_are_all_fetched_through_throttling_and_errors(tmp_path: Path) -> None:
    from sendsearch.sources.parliament import iter_records

    records = recorded_august_records()
    with ParliamentStandIn(records) as server:
        server.inject("list", Fault.http(429, retry_after=1))
        server.inject("list", Fault.http(500), times=2)
        server.inject("detail", Fault.http(500), times=3)
        server.inject("detail", Fault.http(429, retry_after=1))
        report = fetch(
            tmp_path,
            date_from=date(2024, 8, 1),
            date_to=date(2024, 12, 31),
            house="commons",
            base_url=server.url,
            **{**FAST, "page_size": 100},
        )

    fetched = written(tmp_path)
    assert fetched.keys() == {record["id"] for record in records}
    assert report.new == 1004
    assert report.retries == 7
    full = commons_full_text(frozenset(fetched))
    assert len(full) == 223
    for key, whole in full.items():
        assert (fetched[key]["questionText"], fetched[key]["answerText"]) == (
            whole["questionText"],
            whole["answerText"],
        )
    # Special Educational Needs: Surrey, cut in the list (question and answer), whole here.
    surrey = fetched[1726400]
    assert surrey["answerText"] == full[1726400]["answerText"]
    assert surrey["answerText"].startswith("<p>")
    assert len(surrey["answerText"]) > 258
    assert len(surrey["questionText"]) > 255
    assert surrey["answeringMember"]["id"] == surrey["answeringMemberId"]
    # 1725947 is not in the Commons answers file: the stand-in's detail has only the recorded clipped text.
    assert 1725947 not in full
    assert fetched[1725947]["answerText"].endswith("...")
    documents = [d for path in sorted(tmp_path.glob("*.gz")) for d in iter_records(path, path.name)]
    assert len(documents) == 1004
    assert all(hasattr(document, "doc_id") for document in documents)


@pytest.mark.slow
@pytest.mark.skipif(not RECORDED.exists(), reason="../shared/data/parliament-api is not present on this machine")
def test_the_fetch_command_fills_an_index_that_cites_the_fetched_answer(tmp_path: Path, use_fake_embedder) -> None:
    """The issue's acceptance run: `sendsearch fetch` against a stand-in serving the recorded
    August 2024 answers, through injected 429s and 500s, into a new index."""
    from click.testing import CliRunner

    from sendsearch import Index
    from sendsearch.cli import main

    records = recorded_august_records()
    with ParliamentStandIn(records) as server:
        server.inject("list", Fault.http(429, retry_after=1))
        server.inject("list", Fault.http(500))
        server.inject("detail", Fault.http(500), times=2)
        args = ["fetch", "--from", "2024-08-01", "--to", "2024-12-31", "--house", "commons", "--topic", "all"]
        args += ["--out", str(tmp_path / "records"), "--index", str(tmp_path / "index"), "-q"]
        result = CliRunner().invoke(main, args, env={"SENDSEARCH_PARLIAMENT_API": server.url})
    assert result.exit_code == 0, result.output
    assert "1,004 new, 0 updated, 0 unchanged" in result.output
    assert "retries" in result.output
    index = Index.open(tmp_path / "index")
    assert index.manifest.documents == 1004
    question = "average funding per pupil in mainstream schools in Gateshead Central and Whickham"
    [passage] = index.search(question, k=1)
    assert passage.doc_id == "1725947"
    assert passage.citation.answered_by == "Catherine McKinnell"
    assert (
        passage.citation.source == "https://questions-statements.parliament.uk/written-questions/detail/2024-08-30/3283"
    )
    assert "answered by Catherine McKinnell (Labour)" in passage.citation_line


# -- a hostile or broken server, and no network -------------------------------------------------
def _failure(out: Path, server: ParliamentStandIn, **options: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        run(out, server, house="commons", date_to=date(2024, 1, 7), **options)
    assert "\n" not in str(caught.value)
    assert not (out / ".fetch.lock").exists()
    return caught.value


def test_an_answer_over_the_size_limit_is_refused_at_once(tmp_path: Path, standin: ParliamentStandIn) -> None:
    """A small gzip body that inflates past the limit, and a body that never ends: both
    stop at the limit, and retrying would only fetch them again."""
    standin.inject("list", Fault.gzip_bomb(16 * 1024 * 1024))
    error = _failure(tmp_path, standin, max_response_bytes=1024 * 1024)
    assert "the answer was over the limit of 1,048,576 bytes" in str(error)
    assert len(standin.requests_to("list")) == 1

    standin.log.clear()
    standin.inject("list", Fault.endless())
    error = _failure(tmp_path, standin, max_response_bytes=1024 * 1024)
    assert "over the limit of 1,048,576 bytes" in str(error)
    assert len(standin.requests_to("list")) == 1


@pytest.mark.parametrize("fault", [Fault.drip_body(0.05), Fault.drip_headers(0.05)], ids=["body", "headers"])
def test_an_answer_that_drips_in_is_cut_at_the_request_deadline(
    tmp_path: Path, standin: ParliamentStandIn, fault: Fault
) -> None:
    """One byte at a time: every read is within the timeout, so only the deadline ends it.
    The answer never completes, so however fast the machine, every attempt is cut."""
    standin.inject("list", fault, times=10)
    error = _failure(tmp_path, standin, retries=1, request_deadline=0.25)
    assert "no whole answer within 0.25 s, after 1 retry" in str(error)
    assert len(standin.requests_to("list")) == 2


def test_json_nested_100000_deep_is_a_bad_answer_not_a_recursion_error(
    tmp_path: Path, standin: ParliamentStandIn
) -> None:
    standin.inject("list", Fault.deep_json(), times=10)
    error = _failure(tmp_path, standin, bad_response_retries=1)
    assert "the response was JSON nested more than 64 levels deep, 2 times" in str(error)
    assert len(standin.requests_to("list")) == 2


def test_a_redirect_to_another_port_or_host_is_not_followed(tmp_path: Path, standin: ParliamentStandIn) -> None:
    with ParliamentStandIn(synthetic_records()) as elsewhere:
        standin.inject("list", Fault.redirect(elsewhere.url + "/api/writtenquestions/questions"))
        error = _failure(tmp_path, standin)
        assert elsewhere.log == []
    assert "HTTP 302 redirected to another address (http://127.0.0.1:" in str(error)
    assert "not followed" in str(error)
    standin.inject("list", Fault.redirect("http://example.invalid/api/writtenquestions/questions"))
    assert "redirected to another address (http://example.invalid/" in str(_failure(tmp_path / "2", standin))


def test_a_redirect_on_the_same_host_and_port_is_followed(tmp_path: Path, standin: ParliamentStandIn) -> None:
    standin.inject(
        "list",
        Fault.redirect(
            standin.url + "/api/writtenquestions/questions?answeredWhenFrom=2024-01-01&answeredWhenTo=2024-01-07"
            "&house=Commons&answered=Answered&includeWithdrawn=true&expandMember=true&skip=0&take=10"
        ),
    )
    run(tmp_path, standin, house="commons", date_to=date(2024, 1, 7))
    assert written(tmp_path) == expected(standin, "Commons", date(2024, 1, 7))


def test_terminal_escape_sequences_are_taken_out_of_fetched_text(tmp_path: Path, standin: ParliamentStandIn) -> None:
    target = next(
        key for key, r in standin.by_id.items() if r["house"] == "Commons" and r["dateAnswered"] < "2024-01-08"
    )
    standin.update(
        target,
        heading="Schools\x1b]0;pwned\x07: Transport",
        answerText="<p>Funding is \x1b[2J\x1b[31mallocated\x1b[0m each year.\x9b5m</p>",
    )
    run(tmp_path, standin, house="commons", date_to=date(2024, 1, 7))
    record = written(tmp_path)[target]
    assert record["heading"] == "Schools: Transport"
    assert record["answerText"] == "<p>Funding is allocated each year.5m</p>"


def test_no_network_fails_at_once_with_one_attempt(tmp_path: Path) -> None:
    with pytest.raises(FetchError) as caught:
        fetch(tmp_path, date_from=FIRST, date_to=LAST, base_url="http://nonexistent.invalid", **FAST)
    message = str(caught.value)
    assert "could not look up nonexistent.invalid (no network, or a wrong address?)" in message
    assert "retries" not in message
    assert caught.value.report is not None
    assert (caught.value.report.requests, caught.value.report.retries) == (1, 0)
    assert not (tmp_path / ".fetch.lock").exists()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_address_that_never_answered_fails_at_once_with_one_attempt(tmp_path: Path) -> None:
    port = _closed_port()
    with pytest.raises(FetchError) as caught:
        fetch(tmp_path, date_from=FIRST, date_to=LAST, base_url=f"http://127.0.0.1:{port}", **FAST)
    assert f"127.0.0.1:{port} refused the connection (is the address right, and the service up?)" in str(caught.value)
    assert caught.value.report is not None
    assert caught.value.report.requests == 1


def test_a_refused_connection_after_the_server_answered_is_retried() -> None:
    """A server that answered before and now refuses may be restarting: that is retried."""
    from sendsearch.sources.fetch import _Client

    client = _Client(
        f"http://127.0.0.1:{_closed_port()}",
        timeout=1.0,
        retries=3,
        backoff_factor=0.0,
        backoff_jitter=0.0,
        backoff_max=0.0,
        retry_after_max=1,
        bad_response_retries=1,
        request_deadline=10.0,
        max_response_bytes=1024,
        ends_at=float("inf"),
        clock=time.monotonic,
        sleep=lambda seconds: None,
    )
    client.answered = True
    with pytest.raises(Exception, match=r"could not connect \(connection refused\), after 3 retries"):
        client.detail(1)
    assert (client.tally.requests, client.tally.retries) == (4, 3)


def test_the_run_stops_at_its_time_limit_keeping_what_it_wrote(tmp_path: Path, standin: ParliamentStandIn) -> None:
    """The clock is the fetch's own (injected): the limit passes after its 40th reading."""
    readings = itertools.count()
    with pytest.raises(FetchError) as caught:
        run(tmp_path, standin, house="commons", time_limit=40.0, clock=lambda: float(next(readings)))
    message = str(caught.value)
    assert message.startswith("the fetch stopped at its time limit of 40 s")
    assert "run it again without --from to resume" in message
    through = date.fromisoformat(state(tmp_path)["commons"]["all"])
    assert FIRST < through < LAST
    assert written(tmp_path) == expected(standin, "Commons", through)
    later = through + timedelta(days=14)
    run(tmp_path, standin, house="commons", date_from=None, date_to=later)
    assert written(tmp_path) == expected(standin, "Commons", later)


def test_the_lock_file_is_removed_however_the_fetch_ends(tmp_path: Path, standin: ParliamentStandIn) -> None:
    run(tmp_path / "ok", standin, date_to=date(2024, 1, 7))
    assert not (tmp_path / "ok" / ".fetch.lock").exists()

    def interrupt(record: Any) -> bool:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "interrupted", standin, keep=interrupt, topic="send")
    assert not (tmp_path / "interrupted" / ".fetch.lock").exists()
    standin.inject("list", Fault.http(500), times=100)
    with pytest.raises(FetchError):
        run(tmp_path / "failed", standin, retries=1)
    assert not (tmp_path / "failed" / ".fetch.lock").exists()


def test_a_first_fetch_starts_from_the_newest_answer_already_in_the_folder(
    tmp_path: Path, standin: ParliamentStandIn
) -> None:
    """A fresh clone: no state, no monthly files, but the bundled answers in the folder. Each
    house starts from its newest answer there, a house with none from the newest of all."""
    bundled = [r for r in standin.by_id.values() if r["house"] == "Commons" and r["dateAnswered"] < "2024-02-10"]
    newest = max(r["dateAnswered"][:10] for r in bundled)
    with gzip.open(tmp_path / "send-written-answers.jsonl.gz", "wt", encoding="utf-8") as handle:
        for record in bundled:
            handle.write(json.dumps(record) + "\n")
    run(tmp_path, standin, date_from=None, date_to=date(2024, 2, 20))
    firsts = {r.query["house"]: r.query["answeredWhenFrom"] for r in reversed(standin.requests_to("list"))}
    assert firsts == {"Commons": newest, "Lords": newest}


def test_the_fetch_help_says_where_a_bare_fetch_starts() -> None:
    from click.testing import CliRunner

    from sendsearch.cli import main

    shown = " ".join(CliRunner().invoke(main, ["fetch", "--help"]).output.split())
    assert "from the newest answer already in --out" in shown
