"""The ``sendsearch`` command line. Library errors become one-line messages here, and only here.

Every command goes through ``Index``; settings come from options or, through click's
``envvar=``, from the environment variables the README lists.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import re
import signal
import socket
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import settings
from .errors import SendSearchError
from .filters import FIELD_LABELS, FILTERS
from .limits import MAX_K
from .search.request import MODES, SORTS
from .text.normalise import strip_controls
from .version import __version__

if TYPE_CHECKING:  # the CLI imports the index lazily: `sendsearch --help` stays fast
    from .search.index import Index

F = TypeVar("F", bound=Callable[..., Any])

# The index `serve` builds from the bundled corpus on first run (settings.DEFAULT_INDEX);
# any other folder must already hold an index, so that a mistyped --index is an error, not
# a surprise corpus.


# Commands that write an index: after an interruption they say which index the folder holds.
_WRITERS = frozenset({"build", "add", "remove", "fetch"})
# What a command's arguments are called in messages (options go by their flag).
_ARGUMENT_NAMES = {"query": "the question", "doc_ids": "a document id"}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so that the same clean-up runs and the same
    one-line message is printed (a writer removes its unpublished generation)."""


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While a command runs, SIGTERM raises Terminated (Python's default ends the process
    at once, with no clean-up and no message)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _published(index_dir: Path | str | None) -> str | None:
    """The generation an index folder's manifest names now, if any."""
    from .indexing.manifest import read_manifest

    if index_dir is None:
        return None
    if isinstance(index_dir, str):  # a PostgreSQL store
        return _published_in_database(index_dir)
    try:
        return read_manifest(index_dir).generation
    except SendSearchError:
        return None


def _published_in_database(dsn: str) -> str | None:
    """The generation a database publishes now, if any (None also when it cannot be asked)."""
    from .search.postgres.backend import current_generation
    from .search.postgres.connection import connect

    try:
        connection = connect(dsn)
    except SendSearchError:
        return None
    try:
        generation = current_generation(connection)
    except Exception:  # noqa: BLE001 - no tables yet, or the server went: nothing was published
        return None
    finally:
        connection.close()
    return None if generation is None else str(generation)


def _after_interruption(command: str, kwargs: dict[str, Any], before: str | None) -> str:
    """What an interrupted command leaves, read from the disk, not assumed."""
    said = []
    if command == "fetch":
        said.append(f"Every answer fetched before it is kept in {kwargs['out']}; run it again to resume.")
        if kwargs.get("no_index"):
            return " ".join(said)
    index_dir = kwargs.get("index_dir")
    if command in _WRITERS and index_dir is not None:
        after = _published(index_dir)
        if after is not None and after != before:
            said.append(f"The new index was published before it stopped: {index_dir} holds the new one.")
        elif after is None:
            said.append(f"No index was published in {index_dir}.")
        else:
            said.append(f"{index_dir} still holds the previous index, unchanged.")
    return " ".join(said)


def _check_arguments(kwargs: dict[str, Any]) -> None:
    """Refuse text arguments that are not valid text: bytes that are not UTF-8 reach Python
    as lone surrogates, which nothing can encode, store or print."""
    context = click.get_current_context(silent=True)
    for param in context.command.params if context else []:
        values = kwargs.get(param.name or "")
        for value in values if isinstance(values, tuple) else (values,):
            if isinstance(value, str) and re.search("[\ud800-\udfff]", value):
                name = _ARGUMENT_NAMES.get(param.name or "", param.opts[0] if param.opts else str(param.name))
                raise click.ClickException(f"{name} holds a byte that is not valid text (not UTF-8); nothing was done")


def handle_errors(command: F) -> F:
    """Turn user-fixable errors, Ctrl-C and SIGTERM into a clear message and a non-zero exit."""
    name = command.__name__

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _check_arguments(kwargs)
        before = _published(kwargs.get("index_dir")) if name in _WRITERS else None
        try:
            # serve stops on SIGTERM its own way (uvicorn's handlers).
            with _sigterm_interrupts() if name != "serve" else contextlib.nullcontext():
                return command(*args, **kwargs)
        except SendSearchError as error:
            raise click.ClickException(strip_controls(error.worded(FIELD_LABELS["cli"]))) from None
        except KeyboardInterrupt as interrupt:
            click.echo(f"\nInterrupted. {_after_interruption(name, kwargs, before)}".rstrip(), err=True)
            sys.exit(128 + signal.SIGTERM if isinstance(interrupt, Terminated) else 130)

    return wrapper  # type: ignore[return-value]


_index_folder_option = click.option(
    "--index",
    "index_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=settings.DEFAULT_INDEX,
    show_default=True,
    envvar=settings.ENV_INDEX,
    show_envvar=True,
    help="Index folder.",
)
_store_option = click.option(
    "--store",
    "store",
    default=None,
    envvar=settings.ENV_STORE,
    show_envvar=True,
    metavar="postgresql://...",
    help="Keep the index in this PostgreSQL database (with pgvector) instead of the --index folder.",
)


def index_option(command: F) -> F:
    """``--index`` (a folder) and ``--store`` (a PostgreSQL database, which wins when given):
    the command gets whichever names the index as ``index_dir`` (a Path, or the DSN)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        store = kwargs.pop("store", None)
        if store:
            from .search.postgres import is_database

            if not is_database(store):
                raise click.ClickException(f"--store must be a postgresql:// address, not {store[:80]!r}")
            kwargs["index_dir"] = store.strip()
        return command(*args, **kwargs)

    return _index_folder_option(_store_option(wrapper))  # type: ignore[return-value]


model_option = click.option(
    "--model",
    default=None,
    envvar=settings.ENV_MODEL,
    show_envvar=True,
    help="Sentence-transformers model name or path (default: all-MiniLM-L6-v2, offline).",
)


def filter_options(command: F) -> F:
    """One option per filter of the table (``filters.FILTERS``), in its order, each passed
    to the command by the filter's name."""
    for field in reversed([f for f in FILTERS if "cli" in f.surfaces]):
        if field.flag:
            option = click.option(field.option, field.name, is_flag=True, help=field.help)
        elif field.choices:
            choice = click.Choice(field.choices, case_sensitive=False)
            option = click.option(field.option, field.name, type=choice, help=field.help)
        else:
            option = click.option(field.option, field.name, default=None, help=field.help)
        command = option(command)
    return command


quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
follow_links_option = click.option(
    "--follow-links", is_flag=True, help="Read what symbolic links inside folders point to (skipped by default)."
)


def _print_report(report: Any, verb: str) -> None:
    for skipped in report.skipped:
        click.echo(f"warning: skipped {skipped}", err=True)
    if report.skipped.more:
        click.echo(f"warning: ... and {report.skipped.more:,} more skipped inputs", err=True)
    if verb == "built":
        click.echo(
            f"Indexed {report.documents:,} documents ({report.chunks:,} chunks) into {report.index} "
            f"in {report.seconds:.1f} s."
        )
    else:
        parts = [f"{report.added:,} added", f"{report.replaced:,} replaced", f"{report.unchanged:,} unchanged"]
        if report.removed or report.not_found:
            parts.append(f"{report.removed:,} removed")
        click.echo(f"Updated {report.index} in {report.seconds:.1f} s: {', '.join(parts)}.")
        if not report.published:
            click.echo("Nothing changed, so the index was left as it was.")
        click.echo(f"The index now holds {report.documents:,} documents ({report.chunks:,} chunks).")
    click.echo(f"Embedded {report.embedded:,} texts; reused {report.reused:,} vectors (repeated text or cached).")
    if report.skipped.total:
        click.echo(f"Skipped {report.skipped.total:,} inputs (reasons above).")
    if report.withdrawn:
        click.echo(f"Left out {report.withdrawn:,} withdrawn questions (build with --include-withdrawn to keep them).")
    for doc_id in report.not_found:
        click.echo(f"warning: no document {doc_id!r} in the index", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sendsearch")
def main() -> None:
    """Find and cite passages about SEND support and funding in England.

    \b
    Quick start:
      sendsearch build                 # index corpus/ into index/
      sendsearch search "How much does Stockport spend on SEND?"
    """


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@index_option
@model_option
@click.option("--include-withdrawn", is_flag=True, help="Keep withdrawn questions (left out by default).")
@follow_links_option
@quiet_option
@handle_errors
def build(
    paths: tuple[Path, ...],
    index_dir: Path | str,
    model: str | None,
    include_withdrawn: bool,
    follow_links: bool,
    quiet: bool,
) -> None:
    """Build an index from files and folders (default: corpus/).

    Reads .txt, .html, .md, .pdf pages and .json/.jsonl/.jsonl.gz Parliament written
    questions. Vectors already computed for the same text are reused, so running the same
    command again after an interruption carries on where it stopped.

    \b
    Examples:
      sendsearch build
      sendsearch build corpus my-answers.jsonl --index my-index
    """
    from .indexing.config import IndexConfig
    from .search.index import Index

    config = IndexConfig(include_withdrawn=include_withdrawn)
    index, report = Index.build(
        list(paths) or [Path("corpus")],
        index_dir,
        model=model,
        index_config=config,
        progress=not quiet,
        follow_links=follow_links,
    )
    _print_report(report, "built")
    _report_saved_searches(index)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_option
@follow_links_option
@quiet_option
@handle_errors
def add(paths: tuple[Path, ...], index_dir: Path | str, follow_links: bool, quiet: bool) -> None:
    """Add documents to an index, replacing any with the same id; unchanged ones are skipped.

    \b
    Example:
      sendsearch add new-answers.jsonl notes/council-page.html
    """
    from .search.index import Index

    index = Index.open(index_dir)
    _print_report(index.add(list(paths), progress=not quiet, follow_links=follow_links), "updated")
    _report_saved_searches(index)


def _report_saved_searches(index: Index) -> None:
    """Each saved search's new matching answers, after the index changed (nothing without
    any); queued for their subscribers' digests in the same transaction (``watch run`` sends)."""
    from .serve.digests import Subscriptions

    if index.dsn is not None:
        return  # a --store database keeps no saved searches
    for name, new in Subscriptions(index.directory).queue(index).items():
        click.echo(f"Saved search {name}: {len(new)} new matching answer{'s' if len(new) != 1 else ''}")
        for passage in new:
            click.echo(strip_controls(f"  {passage.citation_line}"))


def _fetch_summary(report: Any) -> str:
    return (
        f"{report.new:,} new, {report.updated:,} updated, {report.unchanged:,} unchanged"
        + (f", {report.filtered_out:,} not about SEND" if report.filtered_out else "")
        + f"; {report.requests:,} requests, {report.retries:,} retries"
    )


@main.command()
@click.option(
    "--from",
    "date_from",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First answered date to fetch (default: where the last fetch into --out stopped, or the newest "
    "answer already in --out).",
)
@click.option(
    "--to",
    "date_to",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Last answered date to fetch (default: today).",
)
@click.option("--house", type=click.Choice(["commons", "lords", "both"]), default="both", show_default=True)
@click.option(
    "--topic",
    type=click.Choice(["send", "all"]),
    default="send",
    show_default=True,
    help="Keep only questions about SEND (docs/topic-filter.md), or all of them.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("corpus/parliament"),
    show_default=True,
    help="Folder for the fetched records (one .jsonl.gz file per month).",
)
@index_option
@click.option("--no-index", is_flag=True, help="Only fetch; do not add the records to an index.")
@click.option(
    "--api",
    "base_url",
    default=None,
    envvar=settings.ENV_PARLIAMENT_API,
    show_envvar=True,
    help="Base URL of the written questions API (default: the real service).",
)
@quiet_option
@handle_errors
def fetch(
    date_from: Any,
    date_to: Any,
    house: str,
    topic: str,
    out: Path,
    index_dir: Path | str,
    no_index: bool,
    base_url: str | None,
    quiet: bool,
) -> None:
    """Fetch new written answers from the UK Parliament API and add them to the index.

    Dates are answered dates. Without --from, it carries on from where the last fetch into
    --out stopped, so a daily `sendsearch fetch` keeps an index current; the first time
    (a fresh clone), from the newest answer already in --out (the bundled answers in
    corpus/parliament/). An interrupted or failed fetch keeps everything it wrote; run it
    again to resume. No network, or an address that does not answer, fails at once; busy
    or failing servers are retried. Records are added to --index (nothing unchanged is
    embedded again; a folder with no index gets one built from --out) unless --no-index.

    \b
    Examples:
      sendsearch fetch --from 2024-09-01
      sendsearch fetch --from 2024-01-01 --to 2024-03-31 --house lords --topic all --no-index
      sendsearch fetch                      # daily: continue where the last fetch stopped
    """
    from .sources.fetch import FetchError
    from .sources.fetch import fetch as fetch_records
    from .sources.topic import is_send

    try:
        report = fetch_records(
            out,
            date_from=date_from.date() if date_from else None,
            date_to=date_to.date() if date_to else None,
            house=house,  # type: ignore[arg-type]
            keep=is_send if topic == "send" else None,
            topic=topic if topic == "send" else None,
            base_url=base_url or settings.parliament_api(),
            progress=not quiet,
        )
    except FetchError as error:
        if error.report is not None:
            click.echo(f"Fetched before the failure (kept): {_fetch_summary(error.report)}.", err=True)
        raise
    span = f"{report.date_from} to {report.date_to}" if report.date_from else "nothing new to fetch"
    click.echo(f"Fetched answers {span} into {out}: {_fetch_summary(report)}.")
    if no_index:
        return
    from .indexing.manifest import MANIFEST_NAME
    from .search.index import Index

    published = _published(index_dir) if isinstance(index_dir, str) else (index_dir / MANIFEST_NAME).exists()
    if published:
        index = Index.open(index_dir)
        _print_report(index.add([out], progress=not quiet), "updated")
    else:
        index, built = Index.build([out], index_dir, progress=not quiet)
        _print_report(built, "built")
    _report_saved_searches(index)


@main.command()
@click.argument("doc_ids", nargs=-1, required=True)
@index_option
@handle_errors
def remove(doc_ids: tuple[str, ...], index_dir: Path | str) -> None:
    """Remove documents by id (a written question's number, or a file's path in the corpus).

    \b
    Example:
      sendsearch remove 1698603 001_96ab44ec7aed3ea8.txt
    """
    from .search.index import Index

    _print_report(Index.open(index_dir).remove(list(doc_ids)), "updated")


def _show_passage(passage: Any) -> None:
    # Corpus text is printed without control characters: a record could carry escape
    # sequences that retitle the terminal or hide what follows.
    citation = passage.citation
    click.secho(strip_controls(f"{passage.rank}. {citation.title or passage.doc_id}"), bold=True)
    click.echo(strip_controls("   " + " · ".join(citation.summary)))
    if citation.question:
        question = strip_controls("Q: " + citation.question)
        click.echo(textwrap.fill(question, 100, initial_indent="   ", subsequent_indent="      "))
    marked = strip_controls(passage.text)
    for highlight in reversed(passage.highlight_texts):
        highlight = strip_controls(highlight)
        marked = marked.replace(highlight, f"\x00{highlight}\x01", 1)
    body = textwrap.fill(" ".join(marked.split()), 100, initial_indent="   ", subsequent_indent="   ")
    click.echo(
        body.replace("\x00", click.style("", bold=True, reset=False)).replace("\x01", click.style("", reset=True))
    )
    if passage.same_answer_as:
        others = strip_controls(", ".join(passage.same_answer_as[:8]))
        click.echo(f"   Same answer given to {len(passage.same_answer_as)} other question(s): {others}")
    click.secho(strip_controls(f"   {citation.source or passage.doc_id}"), fg="blue")
    click.echo()


def _json_for_a_terminal(data: Any) -> str:
    """JSON as ``json.dumps`` writes it (C0 controls escaped), with C1 controls escaped too."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return re.sub("[\x7f-\x9f]", lambda match: f"\\u{ord(match.group()):04x}", text)


@main.command()
@click.argument("query")
@index_option
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, MAX_K), help="Number of passages.")
@click.option(
    "--json", "as_json", is_flag=True, help='Print the result as JSON, as REST answers it: {"query", "passages", ...}.'
)
@filter_options
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="hybrid",
    show_default=True,
    help="Retrieval mode.",
)
@click.option("--show-weak", is_flag=True, help="Also print weak matches (below the relevance floor), marked as such.")
@click.option(
    "--sort",
    type=click.Choice(SORTS),
    default="relevance",
    show_default=True,
    help="relevance: best first; newest: the newest of the good matches (among the best 100) first.",
)
@click.option("--timeline", is_flag=True, help="Also count the good matches (among the best 100) by month.")
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json", "csv", "citations"]),
    default="text",
    show_default=True,
    help="csv: one row per passage (every citation field, link, text); citations: a numbered citation list; "
    "json: as --json.",
)
@handle_errors
def search(
    query: str,
    index_dir: Path | str,
    k: int,
    as_json: bool,
    mode: str,
    show_weak: bool,
    sort: str,
    timeline: bool,
    output: str,
    **filters: Any,
) -> None:
    """Search an index and print the best passages with their citations.

    Passages below the relevance floor (probably not an answer to the question) are left
    out with a count, or listed under "Weak matches" with --show-weak; --json prints them
    all with "weak_match": true, and the counts below as fields.

    Dates are the date answered, else asked; a written answer whose record lost both is
    dated by an estimate from its question number ("tabled about ..."). Documents with no
    date at all are left out by --from and --to unless --include-undated; how many of
    them match the question is said ("undated_left_out" in --json).

    \b
    Examples:
      sendsearch search "How much does Stockport spend on SEND?"
      sendsearch search "EHC plan delays" -k 10 --from 2024-01-01 --json
      sendsearch search "EHC plan delays" --sort newest --timeline
      sendsearch search "EHC plan delays" -k 20 --format csv > passages.csv
    """
    from .search.index import Index
    from .search.request import SearchRequest

    index = Index.open(index_dir)
    passages = index.search(SearchRequest.parse(query, k, mode=mode, sort=sort, timeline=timeline, **filters))
    if as_json or output == "json":
        click.echo(_json_for_a_terminal(passages.to_dict()))
        return
    if output in ("csv", "citations"):
        from .search.export import citation_list, to_csv

        text = to_csv(passages) if output == "csv" else citation_list(passages)
        click.echo(strip_controls(text), nl=False)
        return
    undated = f"{passages.undated_note}; --include-undated keeps them." if passages.undated_left_out else ""
    if not passages:
        click.echo("No passages found. Try other words, or fewer filters.")
        if undated:
            click.echo(undated)
        return
    close = [p for p in passages if not p.weak_match]
    weak = [p for p in passages if p.weak_match]
    if not close:
        click.echo("Nothing in this index is close to that question: the nearest passages are weak matches.")
    for passage in close:
        _show_passage(passage)
    if weak and show_weak:
        click.secho(f"Weak matches (probably not an answer to the question): {len(weak)}", bold=True)
        click.echo()
        for passage in weak:
            _show_passage(passage)
    elif weak:
        count = f"{len(weak)} weak match{'es' if len(weak) != 1 else ''}"
        click.echo(f"{count} left out (probably not an answer to the question; --show-weak lists them).")
    if undated:
        click.echo(undated)
    if passages.councils_line:
        click.echo(passages.councils_line + ".")
    if passages.askers_line:
        click.echo(strip_controls(passages.askers_line) + ".")
    if passages.timeline is not None:
        _show_timeline(passages.timeline)


def _show_timeline(timeline: Any) -> None:
    """The good matches by month as a bar of # per month (scaled to 40 at most)."""
    click.secho(f"Good matches by month ({timeline.matches} among the best 100):", bold=True)
    top = max((count for _, count in timeline.months), default=0)
    for month, count in timeline.months:
        bar = "#" * (round(count * 40 / top) if top else 0)
        click.echo(f"  {month}  {bar:40}  {count}")
    if timeline.undated:
        click.echo(f"  undated  {timeline.undated}")


@main.command()
@click.argument("name")
@index_option
@click.option(
    "-n", "limit", default=20, show_default=True, type=click.IntRange(1, MAX_K), help="How many of each to list."
)
@click.option("--json", "as_json", is_flag=True, help="Print the member's view as JSON.")
@handle_errors
def member(name: str, index_dir: Path, limit: int, as_json: bool) -> None:
    """Show a member's SEND questions and answers in the index, newest first, with counts.

    NAME is a member of either House in any spelling ("Mary Foy", "foy, mary", "Dr
    Caroline Johnson") or their Parliament id.

    \b
    Examples:
      sendsearch member "Mary Foy"
      sendsearch member 4125 --json
    """
    from .filters import check_text
    from .members import resolve_member
    from .search.index import Index
    from .search.people import dated, member_view

    member_id = resolve_member(check_text(name, "NAME"), "NAME")  # or the names that come close
    view = member_view(Index.open(index_dir), member_id, limit)
    if as_json:
        click.echo(_json_for_a_terminal(view.to_dict()))
        return
    click.secho(strip_controls(f"{view.label}, member {view.member_id}"), bold=True)
    for heading, count, listed in (
        ("Questions asked", view.asked_count, view.asked),
        ("Answers given", view.answered_count, view.answered),
    ):
        more = f" (the newest {len(listed)} shown)" if count > len(listed) else ""
        click.echo(f"{heading}: {count}{more}")
        for doc_id, citation in listed:
            day = dated(citation)
            click.echo(strip_controls(f"  {day.isoformat() if day else 'undated':10}  {citation.title or doc_id}"))
            click.secho(strip_controls(f"              {citation.source or doc_id}"), fg="blue")


@main.group()
def watch() -> None:
    """Saved searches: a question with its filters, kept beside the index, that lists its new
    matching answers after every add or fetch (and on `watch run`).

    \b
    Examples:
      sendsearch watch add stockport-ehc "EHC plan delays" --council stockport
      sendsearch watch list
      sendsearch watch run                 # e.g. daily from cron, after `sendsearch fetch`
      sendsearch watch remove stockport-ehc
    """


@watch.command("add")
@click.argument("name")
@click.argument("question")
@index_option
@click.option("-k", "k", default=20, show_default=True, type=click.IntRange(1, MAX_K), help="Passages looked at.")
@filter_options
@handle_errors
def watch_add(name: str, question: str, index_dir: Path, k: int, **filters: Any) -> None:
    """Save QUESTION with its filters as NAME (letters, digits, - and _). What it matches now
    counts as seen: later runs list only what is new."""
    from .search.index import Index
    from .search.request import SearchRequest
    from .search.saved import SavedSearches, check_name

    check_name(name)
    index = Index.open(index_dir)
    saved = SavedSearches(index.dsn or index.directory)
    saved.add(name, SearchRequest.parse(question, k, **filters))
    found = saved.check(index).get(name, [])
    click.echo(f"Saved {name}: {len(found)} matching answers now; later runs list what is new.")


@watch.command("list")
@index_option
@handle_errors
def watch_list(index_dir: Path) -> None:
    """List the saved searches."""
    from .search.saved import SavedSearches

    found = SavedSearches(index_dir).all()
    if not found:
        click.echo("No saved searches (sendsearch watch add NAME QUESTION [filters]).")
    for saved in found:
        click.echo(strip_controls(saved.describe()))


@watch.command("remove")
@click.argument("name")
@index_option
@handle_errors
def watch_remove(name: str, index_dir: Path) -> None:
    """Forget a saved search."""
    from .search.saved import SavedSearches

    if not SavedSearches(index_dir).remove(name):
        raise click.ClickException(strip_controls(f"no saved search is called {name!r}; `sendsearch watch list`"))
    click.echo(f"Removed {name}.")


@watch.command("export")
@click.argument("name")
@index_option
@click.option("--format", "output", type=click.Choice(["csv", "citations"]), default="csv", show_default=True)
@handle_errors
def watch_export(name: str, index_dir: Path, output: str) -> None:
    """Print a saved search's matches, newest first, as CSV (as `search --format csv`) or a citation list."""
    import dataclasses

    from .search.export import citation_list, to_csv
    from .search.index import Index
    from .search.saved import SavedSearches

    saved = SavedSearches(index_dir).get(name)
    if saved is None:
        raise click.ClickException(strip_controls(f"no saved search is called {name!r}; `sendsearch watch list`"))
    found = Index.open(index_dir).search(dataclasses.replace(saved.request, sort="newest"))
    click.echo(strip_controls(to_csv(found) if output == "csv" else citation_list(found)), nl=False)


@watch.command("subscribe")
@click.argument("name")
@click.argument("email")
@index_option
@handle_errors
def watch_subscribe(name: str, email: str, index_dir: Path) -> None:
    """Send EMAIL a digest of NAME's new matching answers on every `watch run`."""
    from .serve.digests import Subscriptions

    Subscriptions(index_dir).subscribe(name, email)
    click.echo(f"{email.strip()} gets {name}'s new answers by email (each `sendsearch watch run`).")


@watch.command("unsubscribe")
@click.argument("name")
@click.argument("email")
@index_option
@handle_errors
def watch_unsubscribe(name: str, email: str, index_dir: Path) -> None:
    """Stop sending EMAIL the digests of NAME."""
    from .serve.digests import Subscriptions

    if not Subscriptions(index_dir).unsubscribe(name, email.strip()):
        raise click.ClickException(strip_controls(f"{email.strip()!r} is not subscribed to {name!r}"))
    click.echo(f"{email.strip()} no longer gets {name}'s digests.")


@watch.command("run")
@index_option
@click.option("--smtp-host", envvar="SENDSEARCH_SMTP_HOST", show_envvar=True, default=None, help="Mail server.")
@click.option("--smtp-port", envvar="SENDSEARCH_SMTP_PORT", show_envvar=True, default=587, show_default=True, type=int)
@click.option(
    "--smtp-tls",
    envvar="SENDSEARCH_SMTP_TLS",
    show_envvar=True,
    type=click.Choice(["none", "starttls", "tls"]),
    default="starttls",
    show_default=True,
)
@click.option("--smtp-user", envvar="SENDSEARCH_SMTP_USER", show_envvar=True, default=None, help="Login, if any.")
@click.option("--mail-from", envvar="SENDSEARCH_MAIL_FROM", show_envvar=True, default="sendsearch@localhost")
@click.option(
    "--base-url",
    envvar="SENDSEARCH_BASE_URL",
    show_envvar=True,
    default=None,
    help="The server's public address, for the unsubscribe links (https://...).",
)
@handle_errors
def watch_run(
    index_dir: Path,
    smtp_host: str | None,
    smtp_port: int,
    smtp_tls: str,
    smtp_user: str | None,
    mail_from: str,
    base_url: str | None,
) -> None:
    """List each saved search's new matching answers (above the relevance floor, not listed
    before) and email each subscriber a digest of them. The password comes from
    SENDSEARCH_SMTP_PASSWORD, the key that signs unsubscribe links from SENDSEARCH_SECRET (the
    server needs the same). Without a mail server nothing is emailed: digests wait.

    \b
    A daily cron line:
      0 7 * * * cd /srv/sendsearch && .venv/bin/sendsearch fetch -q && .venv/bin/sendsearch watch run
    """
    import os

    from .search.index import Index
    from .serve.digests import MailSettings, Subscriptions

    index = Index.open(index_dir)
    _report_saved_searches(index)
    mail = None
    if smtp_host:
        mail = MailSettings(
            smtp_host,
            smtp_port,
            smtp_tls,
            smtp_user,
            os.environ.get("SENDSEARCH_SMTP_PASSWORD"),
            mail_from,
            base_url or "",
            os.environ.get("SENDSEARCH_SECRET", ""),
        )
    subscriptions = Subscriptions(index.dsn or index.directory)
    if subscriptions.waiting():
        sent = subscriptions.send(mail)
        click.echo(f"Sent {sent} digest{'s' if sent != 1 else ''}.")


@main.command()
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print the details as JSON.")
@handle_errors
def info(index_dir: Path | str, as_json: bool) -> None:
    """Show what an index holds: documents, chunks, model, settings, departments and kinds.

    \b
    Example:
      sendsearch info --index my-index
    """
    from .search.index import Index

    details = Index.open(index_dir).info()
    if as_json:
        click.echo(json.dumps(details.to_dict(), indent=2))
        return
    first, last = details.date_range
    click.echo(f"Index:        {details.directory} ({details.generation})")
    click.echo(f"Documents:    {details.documents:,}")
    click.echo(f"Chunks:       {details.chunks:,}")
    click.echo(f"Model:        {details.model} ({details.dimension} dimensions, {details.precision})")
    click.echo(f"Vectors:      {details.vectors}")
    click.echo(f"Chunking:     up to {details.max_tokens} word pieces, {details.overlap_tokens} overlap")
    click.echo(f"Dates:        {first or '?'} to {last or '?'}")
    click.echo(f"Built:        {details.built_at} (updated {details.updated_at})")
    click.echo(f"Fingerprint:  {details.corpus_fingerprint[:16]}")
    click.echo(f"sendsearch:   {details.sendsearch_version} (format {details.format_version})")
    click.echo("Kinds:        " + ", ".join(f"{kind} ({count:,})" for kind, count in details.kinds))
    click.echo("Departments:")
    for name, count in details.departments:
        click.echo(strip_controls(f"  {count:>7,}  {name}"))


@main.command()
@index_option
@click.option(
    "--host",
    default=settings.DEFAULT_HOST,
    show_default=True,
    envvar=settings.ENV_HOST,
    show_envvar=True,
    help="Address to bind.",
)
@click.option(
    "--port",
    default=settings.DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(1, 65535),
    envvar=settings.ENV_PORT,
    show_envvar=True,
    help="Port.",
)
@click.option(
    "--mcp/--no-mcp",
    default=True,
    show_default=True,
    help="Also serve the search as an MCP tool (at /gradio_api/mcp/) for AI assistants.",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    metavar="ADDRESS",
    help="A reverse proxy (address or network, repeatable) whose X-Forwarded-For names the client "
    f"[env var: {settings.ENV_TRUSTED_PROXIES}; default: none].",
)
@handle_errors
def serve(index_dir: Path | str, host: str, port: int, mcp: bool, trusted_proxies: tuple[str, ...]) -> None:
    """Serve the chat page, the REST API (/api/search) and (unless --no-mcp) an MCP server.

    The default folder, index/, is built from the bundled corpus/ on first run; any other
    --index must already hold an index. Set SENDSEARCH_ADMIN_PASSWORD to allow adding
    answers from the page.

    \b
    Example:
      sendsearch serve --index my-index --port 8080
    """
    from .search.index import Index

    trusted = (
        settings.parse_trusted_proxies(trusted_proxies, "--trusted-proxy")
        if trusted_proxies
        else settings.trusted_proxies()
    )
    _check_address(host, port)  # before anything is built: a busy port is a one-line error
    if index_dir == settings.DEFAULT_INDEX:
        from .serve.ui import open_or_build

        index = open_or_build(index_dir)
    else:
        index = Index.open(index_dir)
    from .serve.ui import launch

    try:
        stopped = launch(
            index,
            host=host,
            port=port,
            admin_password=settings.admin_password(),
            mcp_server=mcp,
            trusted_proxies=trusted,
        )
    except OSError as error:  # the port was taken after the check
        raise SendSearchError(_cannot_serve(host, port, error)) from None
    if stopped:  # served, and stopped by Ctrl-C or SIGTERM: everything is cleaned up
        from .serve.server import exit_now

        exit_now()


def _cannot_serve(host: str, port: int, error: OSError) -> str:
    """Why binding failed, in the terms of what the user gave: --host or --port."""
    reason = error.strerror or str(error)
    if error.errno == errno.EADDRNOTAVAIL:
        return f"cannot serve on {host}:{port}: --host {host} is not an address of this machine ({reason})"
    if error.errno == errno.EADDRINUSE:
        return f"cannot serve on {host}:{port}: {reason} (is another server using that port?)"
    return f"cannot serve on {host}:{port}: {reason}"


def _check_address(host: str, port: int) -> None:
    """Refuse, with one line, an address that cannot be resolved or a port already in use."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as error:
        reason = error.strerror if isinstance(error, socket.gaierror) else str(error)
        raise SendSearchError(f"cannot serve on --host {host!r}: {reason}") from None
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise SendSearchError(_cannot_serve(host, port, error)) from None


@main.command(name="eval")
@index_option
@click.option(
    "--queries",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="JSONL of {qid, query}.",
)
@click.option(
    "--qrels",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="TREC qrels: qid 0 doc_id grade.",
)
@click.option(
    "--facts",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSONL of {qid, query, answer, doc_id}.",
)
@click.option("--mode", type=click.Choice([*MODES, "all"]), default="all", show_default=True)
@click.option(
    "--shown",
    type=click.IntRange(1, 10),
    default=3,
    show_default=True,
    help="Passages the page shows first, for the reply measures.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handle_errors
def evaluate(
    index_dir: Path | str, queries: Path, qrels: Path, facts: Path | None, mode: str, shown: int, as_json: bool
) -> None:
    """Score retrieval on judged questions: nDCG@10, Recall@10/20, MRR@10, nDCG@5, an answer in the
    top 3, and facts in the top 3; per document and per answer (identical answers grouped).
    Then the replies, built as the page builds them: how often the first key point comes from
    an answering document (grade 2), how often a reply with no answering passage among those
    shown offers no key points, and how often a reply that holds one leads with it.

    \b
    Example (the judged questions live in the project's shared data, ../shared/eval):
      sendsearch eval --index eval-index --queries ../shared/eval/dev-queries.jsonl \\
        --qrels ../shared/eval/dev-qrels.txt --facts ../shared/eval/dev-facts.jsonl
    """
    from .chat.assessment import reply_measures
    from .search.evaluation import DEPTH, METRICS, load_facts, load_qrels, load_queries, text_answer_key
    from .search.evaluation import evaluate as run_evaluation
    from .search.index import Index

    index = Index.open(index_dir)
    modes = ["bm25", "dense", "hybrid"] if mode == "all" else [mode]
    asked, judged = load_queries(queries), load_qrels(qrels)
    report = run_evaluation(
        lambda query, m: index.search(query, DEPTH, mode=m),  # type: ignore[call-overload]
        asked,
        judged,
        modes=modes,
        facts=load_facts(facts) if facts else (),
        answer_of=lambda doc_id: text_answer_key(index.document_text(doc_id), doc_id),
    )
    replies = reply_measures(index, asked, judged, shown=shown)
    if as_json:
        click.echo(json.dumps(report.to_dict() | {"replies": replies.to_dict()}, indent=2))
        return
    for title, table in (
        ("per document", report.modes),
        ("per answer (identical answers grouped)", report.answer_level),
    ):
        click.echo(f"{title}:")
        click.echo(f"  {'mode':<8}" + "".join(f"{n:>11}" for n in METRICS))
        for m, scores in table.items():
            click.echo(f"  {m:<8}" + "".join(f"{scores[n]:>11.3f}" for n in METRICS))
    if report.facts is not None:
        found = report.facts["found"]
        verdicts = "".join(f"  {q}:{'yes' if ok else 'NO'}" for q, ok in found.items())
        click.echo(f"facts in top 3: {sum(found.values())}/{len(found)}" + verdicts)
    for m, per_query in report.unjudged.items():
        count = sum(len(v) for v in per_query.values())
        click.echo(f"{m}: {count} unjudged documents in the top 10 across {len(per_query)} queries (--json lists them)")
    click.echo(f"replies, as the page builds them ({shown} passage{'s' if shown != 1 else ''} shown first):")
    for label, part, whole in (
        ("first key point from an answering document", replies.first_point_answers, replies.with_key_points),
        ("no key points when no shown passage answers", replies.silent_without_answer, replies.without_answer),
        ("led by an answering passage", replies.led_by_answer, replies.with_answer),
    ):
        share = f" ({part / whole:.2f})" if whole else ""
        click.echo(f"  {label}: {part}/{whole}{share}")
    click.echo(f"  unjudged documents among those shown: {replies.unjudged_shown}")
    if replies.errors:
        first = next(v.error for v in replies.verdicts if v.error is not None)
        click.echo(f"  replies that could not be built: {replies.errors} (the first: {first})")


if __name__ == "__main__":  # pragma: no cover
    main()
