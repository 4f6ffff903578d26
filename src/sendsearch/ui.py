"""The browser page: ask a question, read the cited passages."""

from __future__ import annotations

import html
import os
from pathlib import Path

from .errors import SendSearchError
from .index import DEFAULT_INDEX, Index

__all__ = ["create_app", "open_or_build", "main"]

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def open_or_build(index_dir: Path = DEFAULT_INDEX, corpus: Path = DEFAULT_CORPUS) -> Index:
    """Open the index, building it from the bundled corpus the first time."""
    if not (index_dir / "manifest.json").exists():
        print(f"No index at {index_dir}: building it from {corpus} (once; later starts reuse it).")
        index, report = Index.build([corpus], index_dir, progress=True)
        print(f"Indexed {report.documents} documents ({report.chunks} chunks) in {report.seconds:.0f} s.")
        return index
    return Index.open(index_dir)


def render(passages) -> str:
    """Passages as HTML in which every corpus string is escaped: text, never markup."""
    if not passages:
        return "<p>No passages found. Try other words.</p>"
    items = []
    for p in passages:
        source = html.escape(p.source or p.doc_id)
        items.append(
            f"<li><strong>{html.escape(p.title or p.doc_id)}</strong><br>"
            f"<small>{html.escape(p.citation)}</small><p>{html.escape(p.text)}</p><small>{source}</small></li>"
        )
    return "<ol>" + "".join(items) + "</ol>"


def create_app(index: Index):
    import gradio as gr

    def ask(question: str) -> str:
        try:
            return render(index.search(question, 5))
        except SendSearchError as error:
            return f"<p>{html.escape(str(error))}</p>"

    with gr.Blocks(title="sendsearch") as app:
        gr.Markdown("# sendsearch\nAsk about SEND support and funding in England.")
        question = gr.Textbox(label="Question")
        answer = gr.HTML()
        question.submit(ask, question, answer, api_name="search")
    return app


def main() -> None:
    index = open_or_build(Path(os.environ.get("SENDSEARCH_INDEX", DEFAULT_INDEX)))
    create_app(index).launch(server_name=os.environ.get("SENDSEARCH_HOST", "127.0.0.1"))
