"""The chat page: ask about SEND support and funding, read cited passages, add answers.

The page holds no search logic: it reads the question (follow-ups included), calls
``Index.search`` and renders the passages with ``render``. Settings come from the
environment (README, "Configuration").
"""

from __future__ import annotations

import hmac
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import settings
from .conversation import read_question
from .errors import SendSearchError
from .filters import Filters
from .index import Index
from .readers import SUPPORTED_SUFFIXES
from .render import citation_text, escape, render_passages
from .schema import DocumentKind, Passage

__all__ = ["EXAMPLES", "RELEVANCE_FLOOR", "create_app", "main", "open_or_build"]

# A passage whose cosine with the question is below this is not shown in the chat (see
# docs/quality.md, "Relevance floor", for how it was measured).
RELEVANCE_FLOOR = 0.30
MAX_UPLOAD = "20mb"
EXAMPLES = [
    "How much does Stockport spend on SEND?",
    "Who pays for the council team that carries out EHC needs assessments?",
    "How much high needs funding is Stockport getting?",
    "What is the Delivering Better Value programme?",
    "How long does a council have to complete an EHC needs assessment?",
]
# The kind filter's choices as the page shows them.
KIND_RADIO: dict[str, DocumentKind | None] = {"Any": None, "Written answers": "written_answer", "Web pages": "web_page"}
ANY_DEPARTMENT = "Any department"
# After a reply, bring its first line into view (the chat does not autoscroll, so a long
# reply is read from the top). Our own script, run on our own elements.
SCROLL_TO_REPLY = """() => { const replies = document.querySelectorAll('#chat [data-testid="bot"]');
  if (replies.length) replies[replies.length - 1].scrollIntoView({block: "start", behavior: "smooth"}); }"""


def open_or_build(index_dir: Path, corpus: Path = settings.BUNDLED_CORPUS) -> Index:
    """Open the index, building it from the bundled corpus the first time."""
    if not (index_dir / "manifest.json").exists():
        print(f"No index at {index_dir}: building it from {corpus} (first run only).", flush=True)
        index, report = Index.build([corpus], index_dir, progress=True)
        print(f"Indexed {report.documents} documents ({report.chunks} chunks) in {report.seconds:.0f} s.", flush=True)
        return index
    return Index.open(index_dir)


def status_line(index: Index) -> str:
    manifest = index.manifest
    model = manifest.model.rsplit("/", 1)[-1]
    built = manifest.updated_at.replace("T", " ")[:16]
    return (
        f"Index: **{manifest.documents:,}** documents · {manifest.chunks:,} passages · model {escape(model)} · "
        f"updated {escape(built)} UTC"
    )


@dataclass(frozen=True)
class ChatFilters:
    """The filter panel's values as the page holds them, and the k to show."""

    date_from: str
    date_to: str
    department: str
    kind: str
    k: int

    def filters(self) -> Filters:
        department = None if self.department in ("", ANY_DEPARTMENT, None) else self.department
        return Filters.parse(self.date_from, self.date_to, department, KIND_RADIO.get(self.kind))


def answer(
    index: Index, question: str, anchor: str | None, filters: ChatFilters, floor: float = RELEVANCE_FLOOR
) -> tuple[str, list[Passage], str | None]:
    """The reply (Markdown) to one chat message, the passages shown and the new anchor."""
    reading = read_question(question, anchor)
    try:
        chosen = filters.filters()
        passages = index.search(
            reading.query,
            int(filters.k),
            date_from=chosen.date_from,
            date_to=chosen.date_to,
            department=chosen.department,
            kind=chosen.kind,
        )
    except SendSearchError as error:
        return f"I couldn't search for that: {escape(str(error))}", [], anchor
    shown = [p for p in passages if p.explanation.get("cosine", 1.0) >= floor]
    new_anchor = anchor if reading.follow_up_to else reading.query
    notes = []
    if reading.note:
        notes.append(f"<em>{escape(reading.note)}</em>")
    if chosen.describe():
        notes.append(f"<em>Filters: {escape(chosen.describe())}.</em>")
    if not shown:
        lead = (
            f"I found nothing in this index that answers “{escape(question)}”. Try naming the topic "
            "(for example “EHC plan”, “high needs funding”, “tribunal”) or a council, or use fewer filters."
        )
        return "  \n".join([lead, *notes]), [], new_anchor
    count = f"{len(shown)} passage{'s' if len(shown) != 1 else ''}"
    lead = f"Found {count} that may answer “{escape(question)}”, best first. Numbers match the sources list."
    if len(shown) < len(passages):
        lead += (
            f" ({len(passages) - len(shown)} weaker match{'es' if len(passages) - len(shown) != 1 else ''} left out.)"
        )
    full_texts = {p.doc_id: index.document_text(p.doc_id) or "" for p in shown}
    return "  \n".join([lead, *notes]) + "\n\n" + render_passages(shown, full_texts), shown, new_anchor


def sources_text(passages: list[Passage]) -> str:
    return "\n".join(citation_text(p, n) for n, p in enumerate(passages, start=1))


def _safe_name(name: str) -> str:
    """A browser-supplied file name reduced to a plain name inside our folder."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "upload"
    return stem[:120]


def add_uploads(index: Index, files: list[str] | None, password: str, admin_password: str | None) -> str:
    """Add uploaded files to the index; the reply says what happened to each."""
    if not admin_password:
        return "Adding answers is turned off on this server."
    if not hmac.compare_digest((password or "").encode(), admin_password.encode()):
        return "That password is not right, so nothing was added."
    if not files:
        return "Choose one or more files first."
    folder = Path(tempfile.mkdtemp(prefix="sendsearch-upload-"))
    rejected = []
    try:
        for given in files:
            path = Path(given)
            name = _safe_name(path.name)
            if not name.lower().endswith(SUPPORTED_SUFFIXES):
                rejected.append(f"{escape(name)}: not a supported file type")
                continue
            shutil.copyfile(path, folder / name)
        if not any(folder.iterdir()):
            return "Nothing was added.  \n" + "  \n".join(rejected)
        report = index.add([folder], progress=True, source_prefix="uploaded/")
    except SendSearchError as error:
        return f"Nothing was added: {escape(str(error))}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    lines = [
        f"**{report.added} added, {report.replaced} replaced, {report.unchanged} unchanged** "
        f"in {report.seconds:.1f} s. "
        f"The index now holds {report.documents:,} documents; new answers are searchable now."
    ]
    lines += [f"Skipped {escape(str(s))}" for s in report.skipped] + [f"Skipped {r}" for r in rejected]
    return "  \n".join(lines)


def create_app(index: Index, *, admin_password: str | None = None) -> Any:
    import gradio as gr

    def departments() -> list[str]:
        return [ANY_DEPARTMENT] + [name for name, _ in index.info().departments]

    def respond(
        message: str,
        history: list[dict[str, str]] | None,
        anchor: str | None,
        date_from: str | None,
        date_to: str | None,
        department: str,
        kind: str,
        k: int,
    ) -> tuple[Any, ...]:
        history = list(history or [])
        if not (message or "").strip():
            return history, "", gr.skip(), anchor
        reply, shown, anchor = answer(
            index, message, anchor, ChatFilters(date_from or "", date_to or "", department, kind, k)
        )
        history += [{"role": "user", "content": escape(message)}, {"role": "assistant", "content": reply}]
        return history, "", sources_text(shown), anchor

    def search_api(
        question: str, k: int = 5, date_from: str = "", date_to: str = "", department: str = "", kind: str = ""
    ) -> list[dict]:
        """Passages that answer a question, as JSON (the same as `sendsearch search --json`)."""
        try:
            passages = index.search(
                question,
                int(k),
                date_from=date_from or None,
                date_to=date_to or None,
                department=department or None,
                kind=kind or None,
            )
        except SendSearchError as error:
            raise gr.Error(str(error)) from None
        return [p.to_dict() for p in passages]

    # Gradio reads a gr.Progress default as "show progress here"; track_tqdm shows the
    # tqdm bars that `add` draws while embedding.
    tracker = gr.Progress(track_tqdm=True)

    def upload(files: list[str] | None, password: str, progress: Any = tracker) -> tuple[Any, ...]:
        message = add_uploads(index, files, password, admin_password)
        return message, status_line(index), gr.update(choices=departments())

    with gr.Blocks(title="sendsearch: SEND support and funding, with sources") as app:
        gr.Markdown(
            "# sendsearch\nAsk about SEND (special educational needs and disabilities) support and funding in England. "
            "Every answer is a passage from a UK Parliament written answer or a council page, with who answered, when, "
            "and where to read it."
        )
        status = gr.Markdown(status_line(index), elem_id="status")
        anchor = gr.State(None)
        with gr.Sidebar(open=True):
            gr.Markdown("### Filters\nThey apply to your next question.")
            date_from = gr.Textbox(label="Dated from", placeholder="YYYY-MM-DD", elem_id="date-from")
            date_to = gr.Textbox(label="Dated to", placeholder="YYYY-MM-DD", elem_id="date-to")
            department = gr.Dropdown(departments(), value=ANY_DEPARTMENT, label="Department", elem_id="department")
            kind = gr.Radio(list(KIND_RADIO), value="Any", label="Kind of document", elem_id="kind")
            k = gr.Slider(1, 10, value=5, step=1, label="Passages to show", elem_id="k")
            gr.Markdown("Dates are the date answered, or asked where a record does not say when it was answered.")
        with gr.Tab("Ask"):
            chat = gr.Chatbot(
                label="Answers with sources",
                height=620,
                elem_id="chat",
                latex_delimiters=[],
                buttons=["copy"],
                autoscroll=False,
                placeholder="Ask a question below, or pick an example.",
            )
            with gr.Row():
                box = gr.Textbox(
                    placeholder="e.g. How long does a council have to finish an EHC needs assessment?",
                    show_label=False,
                    scale=8,
                    elem_id="question",
                    autofocus=True,
                )
                send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
            sources = gr.Textbox(
                label="Sources of the last answer (copy from here)",
                lines=4,
                buttons=["copy"],
                interactive=False,
                elem_id="sources",
            )
            clear = gr.Button("New conversation", size="sm")
            inputs = [box, chat, anchor, date_from, date_to, department, kind, k]
            outputs = [chat, box, sources, anchor]
            box.submit(respond, inputs, outputs, api_visibility="private").then(None, js=SCROLL_TO_REPLY)
            send.click(respond, inputs, outputs, api_visibility="private").then(None, js=SCROLL_TO_REPLY)
            clear.click(lambda: ([], "", None), None, [chat, sources, anchor], api_visibility="private")
            gr.Markdown("**Try an example** (one click asks it):")
            with gr.Row():
                for number, example in enumerate(EXAMPLES):
                    button = gr.Button(example, size="sm", elem_id=f"example-{number}")
                    button.click(respond, [button, *inputs[1:]], outputs, api_visibility="private").then(
                        None, js=SCROLL_TO_REPLY
                    )
        with gr.Tab("Add answers"):
            if admin_password:
                gr.Markdown(
                    "Add written-answer records (.json, .jsonl from the Parliament API) or pages "
                    f"(.txt, .html, .md, .pdf). Up to {MAX_UPLOAD.upper().replace('MB', ' MB')} per file. "
                    "A document with the same id replaces the old one."
                )
                files = gr.File(
                    file_count="multiple", file_types=list(SUPPORTED_SUFFIXES), label="Files", elem_id="upload-files"
                )
                password = gr.Textbox(type="password", label="Admin password", elem_id="upload-password")
                add_button = gr.Button("Add to the index", variant="primary", elem_id="upload-button")
                result = gr.Markdown(elem_id="upload-result")
                add_button.click(upload, [files, password], [result, status, department], api_visibility="private")
            else:
                gr.Markdown(
                    "Adding answers from the page is turned off. The server's operator can turn it on by "
                    "setting `SENDSEARCH_ADMIN_PASSWORD`."
                )
        with gr.Tab("API"):
            gr.Markdown(
                "Search from your own code with `gradio_client`:\n\n```python\nfrom gradio_client import Client\n"
                'client = Client("http://127.0.0.1:7860/")\n'
                'passages = client.predict("How long does an EHC needs assessment take?", 5, api_name="/search")\n'
                "```\n\nEach passage is a dict with `doc_id`, `text`, `citation`, `source`, dates and more."
            )
        gr.api(search_api, api_name="search")
    return app


def launch(index: Index, *, host: str, port: int, admin_password: str | None = None, **kwargs: Any) -> Any:
    """Serve the app; at least four searches run at once."""
    app = create_app(index, admin_password=admin_password)
    app.queue(default_concurrency_limit=4)
    return app.launch(
        server_name=host,
        server_port=port,
        max_file_size=MAX_UPLOAD,
        footer_links=["api"],
        **kwargs,
    )


def main() -> None:
    """`python app.py`: build the index on first run, then serve the page."""
    try:
        index = open_or_build(settings.index_dir())
        port = settings.port()
    except SendSearchError as error:
        raise SystemExit(f"Error: {error}") from None
    launch(index, host=settings.host(), port=port, admin_password=settings.admin_password())
