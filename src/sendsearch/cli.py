"""The ``sendsearch`` command line. Library errors become one-line messages here, and only here."""

from __future__ import annotations

import functools
import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .errors import SendSearchError

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_CORPUS = Path("corpus")
MAX_WARNINGS = 50


def handle_errors(command: F) -> F:
    """Turn user-fixable errors and Ctrl-C into a clear message and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SendSearchError as error:
            raise click.ClickException(str(error)) from None
        except KeyboardInterrupt:
            click.echo("\nInterrupted. Any index that was already there is unchanged.", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


index_option = click.option(
    "--index", "index_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Index folder (default: index/, or $SENDSEARCH_INDEX).",
)


def _index_dir(value: Path | None) -> Path:
    from .index import DEFAULT_INDEX

    return value or DEFAULT_INDEX


def _print_report(report: Any, verb: str) -> None:
    for number, skipped in enumerate(report.skipped):
        if number == MAX_WARNINGS:
            click.echo(f"warning: ... and {len(report.skipped) - MAX_WARNINGS} more skipped inputs", err=True)
            break
        click.echo(f"warning: skipped {skipped}", err=True)
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
    if report.skipped:
        click.echo(f"Skipped {len(report.skipped):,} inputs (reasons above).")
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
@click.option("--model", default=None, help="Sentence-transformers model name or path (default: all-MiniLM-L6-v2, offline).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@handle_errors
def build(paths: tuple[Path, ...], index_dir: Path | None, model: str | None, quiet: bool) -> None:
    """Build an index from files and folders (default: corpus/).

    Reads .txt, .html, .md, .pdf pages and .json/.jsonl/.jsonl.gz Parliament written
    questions. Vectors already computed for the same text are reused, so running the same
    command again after an interruption carries on where it stopped.

    \b
    Examples:
      sendsearch build
      sendsearch build corpus ../shared/data/send-written-answers.jsonl --index eval-index
    """
    from .builder import build_index
    from .embedding import configured_model, load_embedder

    embedder = load_embedder(configured_model(model))
    report = build_index(list(paths) or [DEFAULT_CORPUS], _index_dir(index_dir), embedder, progress=not quiet)
    _print_report(report, "built")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@handle_errors
def add(paths: tuple[Path, ...], index_dir: Path | None, quiet: bool) -> None:
    """Add documents to an index, replacing any with the same id; unchanged ones are skipped.

    \b
    Example:
      sendsearch add new-answers.jsonl notes/council-page.html
    """
    from .builder import update_index
    from .embedding import load_embedder
    from .manifest import read_manifest

    directory = _index_dir(index_dir)
    embedder = load_embedder(read_manifest(directory).model)
    _print_report(update_index(directory, embedder, add=list(paths), progress=not quiet), "updated")


@main.command()
@click.argument("doc_ids", nargs=-1, required=True)
@index_option
@handle_errors
def remove(doc_ids: tuple[str, ...], index_dir: Path | None) -> None:
    """Remove documents by id (a written question's number, or a file's path in the corpus).

    \b
    Example:
      sendsearch remove 1698603 001_96ab44ec7aed3ea8.txt
    """
    from .builder import update_index
    from .embedding import load_embedder
    from .manifest import read_manifest

    directory = _index_dir(index_dir)
    embedder = load_embedder(read_manifest(directory).model)
    _print_report(update_index(directory, embedder, remove=list(doc_ids)), "updated")


def _show_passage(passage: Any) -> None:
    heading = passage.title or passage.doc_id
    click.secho(f"{passage.rank}. {heading}", bold=True)
    meta = [passage.kind.replace("_", " ")]
    if passage.answerer:
        meta.append(f"answered by {passage.answerer}")
    if passage.department:
        meta.append(passage.department)
    if passage.date_answered:
        meta.append(f"answered {passage.date_answered:%-d %b %Y}")
    elif passage.date_asked:
        meta.append(f"asked {passage.date_asked:%-d %b %Y}")
    click.echo("   " + " · ".join(meta))
    if passage.question:
        click.echo(textwrap.fill("Q: " + passage.question, 100, initial_indent="   ", subsequent_indent="      "))
    marked = passage.text
    for highlight in reversed(passage.highlight_texts):
        marked = marked.replace(highlight, f"\x00{highlight}\x01", 1)
    body = textwrap.fill(" ".join(marked.split()), 100, initial_indent="   ", subsequent_indent="   ")
    click.echo(body.replace("\x00", click.style("", bold=True, reset=False)).replace("\x01", click.style("", reset=True)))
    if passage.same_answer_as:
        click.echo(f"   Same answer given to {len(passage.same_answer_as)} other question(s): {', '.join(passage.same_answer_as[:8])}")
    click.secho(f"   {passage.source or passage.doc_id}", fg="blue")
    click.echo()


@main.command()
@click.argument("query")
@index_option
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 100), help="Number of passages.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of passages.")
@click.option("--from", "date_from", default=None, help="Only documents dated on or after YYYY-MM-DD.")
@click.option("--to", "date_to", default=None, help="Only documents dated on or before YYYY-MM-DD.")
@click.option("--department", default=None, help='Only this department, e.g. "Department for Education".')
@click.option("--kind", type=click.Choice(["written_answer", "web_page"]), default=None, help="Only this kind of document.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "bm25"]), default="hybrid", show_default=True, help="Retrieval mode.")
@handle_errors
def search(query: str, index_dir: Path | None, k: int, as_json: bool, date_from: str | None, date_to: str | None, department: str | None, kind: str | None, mode: str) -> None:
    """Search an index and print the best passages with their citations.

    \b
    Examples:
      sendsearch search "How much does Stockport spend on SEND?"
      sendsearch search "EHC plan delays" -k 10 --from 2024-01-01 --json
    """
    from .index import Index

    index = Index.open(_index_dir(index_dir))
    passages = index.search(query, k, date_from=date_from, date_to=date_to, department=department, kind=kind, mode=mode)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps([p.to_dict() for p in passages], indent=2, ensure_ascii=False))
        return
    if not passages:
        click.echo("No passages found. Try other words, or fewer filters.")
    for passage in passages:
        _show_passage(passage)


@main.command()
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print the details as JSON.")
@handle_errors
def info(index_dir: Path | None, as_json: bool) -> None:
    """Show what an index holds: documents, chunks, model, settings, when built.

    \b
    Example:
      sendsearch info --index eval-index
    """
    from .index import Index

    details = Index.open(_index_dir(index_dir)).info()
    if as_json:
        click.echo(json.dumps(details, indent=2))
        return
    click.echo(f"Index:        {details['index']} ({details['generation']})")
    click.echo(f"Documents:    {details['documents']:,}")
    click.echo(f"Chunks:       {details['chunks']:,}")
    click.echo(f"Model:        {details['model']} ({details['dimension']} dimensions, {details['embedding']['precision']})")
    click.echo(f"Vectors:      {details['vectors']['kind']}")
    click.echo(f"Chunking:     up to {details['chunking']['max_tokens']} word pieces, {details['chunking']['overlap_tokens']} overlap")
    first, last = details["date_range"]
    click.echo(f"Dates:        {first or '?'} to {last or '?'}")
    click.echo(f"Built:        {details['built_at']} (updated {details['updated_at']})")
    click.echo(f"Fingerprint:  {details['corpus_fingerprint'][:16]}")
    click.echo(f"sendsearch:   {details['sendsearch_version']} (format {details['format_version']})")


@main.command()
@index_option
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1, or $SENDSEARCH_HOST).")
@click.option("--port", default=None, type=int, help="Port (default 7860, or $SENDSEARCH_PORT).")
@handle_errors
def serve(index_dir: Path | None, host: str | None, port: int | None) -> None:
    """Serve the chat page and its /search API (the same app as `python app.py`).

    Builds the index from corpus/ if there is none yet. Set SENDSEARCH_ADMIN_PASSWORD to
    allow adding answers from the page.

    \b
    Example:
      sendsearch serve --index eval-index --port 8080
    """
    import os

    from .ui import launch, open_or_build

    index = open_or_build(_index_dir(index_dir))
    launch(index, host=host, port=port, admin_password=os.environ.get("SENDSEARCH_ADMIN_PASSWORD") or None)


@main.command(name="eval")
@index_option
@click.option("--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True, help="JSONL of {qid, query}.")
@click.option("--qrels", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True, help="TREC qrels: qid 0 doc_id grade.")
@click.option("--facts", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, help="JSONL of {qid, query, answer, doc_id}.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "bm25", "all"]), default="all", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handle_errors
def evaluate(index_dir: Path | None, queries: Path, qrels: Path, facts: Path | None, mode: str, as_json: bool) -> None:
    """Score retrieval on judged questions: nDCG@10, Recall@10/20, MRR@10, facts in the top 3.

    \b
    Example:
      sendsearch eval --index eval-index --queries ../shared/eval/dev-queries.jsonl \\
        --qrels ../shared/eval/dev-qrels.txt --facts ../shared/eval/dev-facts.jsonl
    """
    from .evaluation import DEPTH, evaluate as run_evaluation, load_facts, load_qrels, load_queries
    from .index import Index

    index = Index.open(_index_dir(index_dir))
    modes = ["bm25", "dense", "hybrid"] if mode == "all" else [mode]
    report = run_evaluation(
        lambda query, m: index.search(query, DEPTH, mode=m),  # type: ignore[arg-type]
        load_queries(queries),
        load_qrels(qrels),
        modes=modes,
        facts=load_facts(facts) if facts else (),
    )
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    names = ["ndcg@10", "recall@10", "recall@20", "mrr@10"]
    click.echo(f"{'mode':<8}" + "".join(f"{n:>11}" for n in names))
    for m, scores in report.modes.items():
        click.echo(f"{m:<8}" + "".join(f"{scores[n]:>11.3f}" for n in names))
    if report.facts is not None:
        found = report.facts["found"]
        click.echo(f"facts in top 3: {sum(found.values())}/{len(found)}" + "".join(f"  {q}:{'yes' if ok else 'NO'}" for q, ok in found.items()))
    for m, per_query in report.unjudged.items():
        count = sum(len(v) for v in per_query.values())
        click.echo(f"{m}: {count} unjudged documents in the top 10 across {len(per_query)} queries (--json lists them)")


if __name__ == "__main__":  # pragma: no cover
    main()
