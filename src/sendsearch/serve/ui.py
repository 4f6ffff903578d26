"""The chat page: ask about SEND support and funding, read the answer first, then cited passages.

The page holds no search logic: it builds a ``Reply`` (``replies``: the message read as a
follow-up where it is one, ``Index.search``, key points) and shows it with ``render``.
Phones first: the question box and examples are on the first screen, the filters sit
closed under the box, the page scrolls as a whole, newest reply first. Settings come from
the environment (README, "Configuration").
"""

# No ``from __future__ import annotations`` here: Gradio reads the save handler's
# ``gr.Request`` hint as a real class to pass the request in (save_search needs it).
import dataclasses
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
import anyio.to_thread

from .. import settings
from ..authorities import authorities
from ..chat.conversation import Reading
from ..chat.render import escape, render_turn
from ..chat.replies import PASSAGES_FETCHED, Reply, build_reply
from ..errors import SendSearchError
from ..filters import FIELD_LABELS, FILTERS, HOUSES, SEARCHABLE_KINDS, Filters
from ..limits import (
    MAX_CHAT_HISTORY_CHARS,
    MAX_CHAT_SESSIONS,
    MAX_CHAT_TURNS,
    MAX_QUERY_CHARS,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_FILES,
)
from ..members import parties
from ..schema import KIND_LABELS, DocumentKind
from ..search.index import Index
from ..search.request import SearchRequest, Sort
from ..search.saved import SavedSearches, check_name
from . import admin, api, mcp
from .answer_limit import BUSY, AnswerLimit, Busy
from .attempt_table import guard_for
from .conversation_state import Conversation, ConversationSigner
from .page_assets import (
    BACK_TO_QUESTION,
    COPY_SCRIPT,
    PAGE_CSS,
    PAGE_DESCRIPTION,
    PAGE_TITLE,
    SHOW_LATEST_REPLY,
    add_reply_script,
)
from .server import ServerLimits, create_server, exit_now, serve, sigterm_ends_cleanly

__all__ = [
    "EXAMPLES",
    "SHOWN_FIRST",
    "ChatFilters",
    "ChatHandlers",
    "answer",
    "chat_filters",
    "create_app",
    "launch",
    "main",
    "open_or_build",
    "warm_up",
]

log = logging.getLogger("sendsearch.page")

EXAMPLES = [
    "How much does Stockport spend on SEND?",
    "Who pays for the council team that carries out EHC needs assessments?",
    "How much high needs funding is Stockport getting?",
    "What is the Delivering Better Value programme?",
    "How long does a council have to complete an EHC needs assessment?",
]
# Passages shown before "more"; a setting in the filters.
SHOWN_FIRST = 3
SHOWN_CHOICES = [1, 2, 3, 5, 10]
# The kind filter's choices as the page shows them.
KIND_RADIO: dict[str, DocumentKind | None] = {
    "Any": None,
    **{f"{KIND_LABELS[kind]}s": kind for kind in SEARCHABLE_KINDS},
}
ANY_DEPARTMENT = "Any department"
ANY_COUNCIL = "Any council"
ANY_HOUSE = "Both"
# The page's order choice -> SearchRequest.sort.
ORDERS: dict[str, Sort] = {"Best match first": "relevance", "Newest first": "newest", "relevance": "relevance"}
ANY_PARTY = "Any party"
# Whose data the answers and their citations come from, as their licences ask.
CREDITS = (
    "Contains Parliamentary information licensed under the [Open Parliament Licence v3.0]"
    "(https://www.parliament.uk/site-information/copyright-parliament/open-parliament-licence/). "
    "Members' names and parties: [mySociety](https://www.mysociety.org/)'s UK politician data (CC-BY-4.0). "
    "Local authority names and codes: [mySociety](https://www.mysociety.org/)'s UK local authority names and "
    "codes (CC-BY-4.0)."
)
# Puts a new reply first in the page's chat, keeping the newest replies within the bounds.
ADD_REPLY = add_reply_script(MAX_CHAT_TURNS, MAX_CHAT_HISTORY_CHARS)
# What the page's conversation token is signed for (AdminGuard.key_for).
CONVERSATION_PURPOSE = "conversation"
EMPTY_CONVERSATION = (
    '<p class="placeholder">Ask a question above, or pick an example. Each answer opens with its key points, '
    "then the passages they come from, with who answered, when, and where to read it.</p>"
)


def open_or_build(index_dir: Path, corpus: Path = settings.BUNDLED_CORPUS) -> Index:
    """Open the index, building it from the bundled corpus the first time."""
    if not (index_dir / "manifest.json").exists():
        print(f"No index at {index_dir}: building it from {corpus} (first run only).", flush=True)
        index, report = Index.build([corpus], index_dir, progress=True)
        print(f"Indexed {report.documents} documents ({report.chunks} chunks) in {report.seconds:.0f} s.", flush=True)
        return index
    return Index.open(index_dir)


def council_names() -> list[str]:
    """The councils' names for the page's type-ahead, past ones (Cumbria) included."""
    return sorted({authority.nice_name for authority in authorities().values()})


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
    """The filter panel's values as the page holds them, and how many passages to show first."""

    date_from: str
    date_to: str
    department: str
    kind: str
    shown: int = SHOWN_FIRST
    include_undated: bool = False
    council: str = ""
    include_uncertain: bool = False
    asked_by: str = ""
    answered_by: str = ""
    house: str = ""
    party: str = ""
    sort: str = "relevance"

    def filters(self) -> Filters:
        """The filters as the page's controls hold them: "Any" and empty choose nothing."""
        chosen = {name: getattr(self, name) for name in PAGE_FILTERS}
        if chosen["department"] == ANY_DEPARTMENT:
            chosen["department"] = None
        chosen["kind"] = KIND_RADIO.get(chosen["kind"])
        if chosen["council"] == ANY_COUNCIL:
            chosen["council"] = None
        if chosen["house"] == ANY_HOUSE:
            chosen["house"] = None
        if chosen["party"] == ANY_PARTY:
            chosen["party"] = None
        return Filters.parse(**chosen)


# The filters the page offers, in the order of its controls (filters.FILTERS).
PAGE_FILTERS = tuple(f.name for f in FILTERS if "page" in f.surfaces)


def answer(index: Index, message: str, anchor: str | None, filters: ChatFilters) -> tuple[Reply, str | None]:
    """The reply to one chat message and the new anchor (the last standalone question)."""
    try:
        chosen = filters.filters()
    except SendSearchError as error:
        return Reply(message, Reading(message, message=message), error=error.worded(FIELD_LABELS["page"])), anchor
    request = SearchRequest(
        message, PASSAGES_FETCHED, chosen, sort=ORDERS.get(filters.sort, "relevance"), timeline=True
    )
    reply = build_reply(index, message, anchor, request, int(filters.shown))
    new_anchor = anchor if reply.reading.follow_up_to else reply.reading.query
    return reply, new_anchor


def export_link(reply: Reply, filters: ChatFilters) -> str | None:
    """The REST address of a reply's passages as CSV: the question as searched, with its
    filters and order (relative, so it goes to the server that served the page)."""
    if reply.error is not None:
        return None
    chosen = filters.filters()
    params: dict[str, str] = {"q": reply.reading.query, "k": str(PASSAGES_FETCHED), "format": "csv"}
    for field in api.remote_filters():
        value = getattr(chosen, field.name)
        if value:
            params[field.parameter] = "true" if value is True else str(value)
    params["sort"] = ORDERS.get(filters.sort, "relevance")
    return "api/search?" + urlencode(params)


def save_search(
    index: Index, guard: admin.AdminGuard, request: Any, name: str, question: str, filters: ChatFilters
) -> str:
    """Save a question with the Ask tab's filters as a saved search, for a signed-in
    administrator only; the reply in one line, saying where its feed is."""
    if not guard.enabled:
        return "Saving searches is turned off on this server."
    if request is None or not guard.signed_in(request):
        return "Sign in with the admin password first; nothing was saved."
    try:
        check_name((name or "").strip())
        asked = SearchRequest.parse((question or "")[:MAX_QUERY_CHARS], 20)
        saved = SavedSearches(index.dsn or index.directory).add(
            name.strip(), dataclasses.replace(asked, filters=filters.filters(), sort="relevance")
        )
        new = SavedSearches(index.dsn or index.directory).check(index).get(saved.name, [])
    except SendSearchError as error:
        return error.worded(FIELD_LABELS["page"])
    return (
        f"Saved {saved.describe()}: {len(new)} matching answers now. Its feed: /feeds/saved/{saved.name}.atom; "
        "new answers are listed after every add or fetch."
    )


def notice_html(line: str) -> str:
    """One line above the replies: the server was busy, or the conversation was not trusted."""
    return f'<p class="notice" role="status">{escape(line)}</p>'


def chat_filters(controls: tuple[Any, ...]) -> ChatFilters:
    """The filter panel's values as an event hands them over: one per filter of the page
    (``PAGE_FILTERS``, in its order), then how many passages to show first and the order."""
    # Gradio hands the box's value over as text, and the wrapper in admin.guard_file_inputs
    # has refused values outside the filters' choices.
    *chosen, shown, order = controls
    return ChatFilters(
        **{name: value or "" for name, value in zip(PAGE_FILTERS, chosen, strict=True)},  # type: ignore[arg-type]
        shown=int(shown or SHOWN_FIRST),
        sort=order or "relevance",
    )


class ChatHandlers:
    """The Ask tab's events. They keep nothing between requests: the conversation comes
    with each one as a signed token (``conversation_state``) and goes back with the reply,
    so any instance can answer any question; at most ``limit.at_once`` answers are computed
    at once (``AnswerLimit``).

    A question's outputs (``OUTPUTS``): the notice line, the new reply for the page to put
    first (``{"html": ..., "reset": bool}``, read by ``ADD_REPLY``), the new token, the
    question box, the "on its own" button and the examples."""

    OUTPUTS = ("notice", "fresh", "state", "box", "standalone", "examples")

    def __init__(self, index: Index, signer: ConversationSigner, limit: AnswerLimit | None = None) -> None:
        self.index = index
        self.signer = signer
        self.limit = limit or AnswerLimit()

    def _reply_turn(self, message: str, anchor: str | None, filters: ChatFilters) -> tuple[Reply, str | None, str]:
        reply, new_anchor = answer(self.index, message, anchor, filters)
        return reply, new_anchor, render_turn(reply, download=export_link(reply, filters))

    async def _answered(
        self, message: str, anchor: str | None, notice: str | None, controls: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        import gradio as gr

        filters = chat_filters(controls)
        try:
            async with self.limit.slot():
                # In a worker thread: the event loop keeps serving while the answer is computed.
                reply, new_anchor, html = await anyio.to_thread.run_sync(self._reply_turn, message, anchor, filters)
        except Busy:
            # The question stays in the box to ask again; the conversation is unchanged.
            return notice_html(BUSY), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        token = self.signer.dump(Conversation(new_anchor, message))
        standalone = (
            gr.update(visible=True, value=f"Search “{message.strip()[:60]}” on its own")
            if reply.reading.follow_up_to
            else gr.update(visible=False)
        )
        # A conversation that could not be trusted is a new one: the page drops its replies.
        fresh = {"html": html, "reset": notice is not None}
        return notice_html(notice) if notice else "", fresh, token, "", standalone, gr.update(visible=False)

    async def respond(self, message: str, state: str | None, *controls: Any) -> tuple[Any, ...]:
        """One question asked: ``state`` is the conversation token the page sent back,
        ``controls`` the filter panel's values (``chat_filters``)."""
        import gradio as gr

        if not (message or "").strip():
            return (gr.skip(),) * len(self.OUTPUTS)
        conversation, notice = self.signer.load(state)
        # The search cuts a question there anyway; the conversation keeps no more of it either.
        return await self._answered(message[:MAX_QUERY_CHARS], conversation.anchor, notice, controls)

    async def respond_on_its_own(self, state: str | None, *controls: Any) -> tuple[Any, ...]:
        """Ask the last message again, read as a question of its own (no anchor)."""
        import gradio as gr

        conversation, notice = self.signer.load(state)
        if not conversation.last_message:
            hidden = gr.update(visible=False)
            if notice:
                return notice_html(notice), gr.skip(), "", gr.skip(), hidden, gr.skip()
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), hidden, gr.skip()
        return await self._answered(conversation.last_message, None, notice, controls)

    def restart(self) -> tuple[Any, ...]:
        """Start afresh ("New conversation"): the chat, then ``OUTPUTS``."""
        import gradio as gr

        return EMPTY_CONVERSATION, "", None, "", "", gr.update(visible=False), gr.update(visible=True)


def warm_up(index: Index) -> float:
    """Load everything a first question needs (the model, the search parts, the renderer), so
    the first reply after start is as fast as later ones. Returns the seconds it took."""
    start = time.perf_counter()
    reply, _ = answer(index, EXAMPLES[0], None, ChatFilters("", "", ANY_DEPARTMENT, "Any"))
    render_turn(reply)
    return time.perf_counter() - start


def create_app(index: Index, *, guard: admin.AdminGuard | None = None) -> Any:
    """The page, its ``/search`` API and the MCP search tool. Adding answers needs ``guard``
    (the admin password) and a signed-in session. Gradio's usage analytics are off: nothing
    leaves the machine."""
    guard = guard or admin.AdminGuard(None)
    # Read by Gradio when it is imported (and by huggingface_hub): set before, whoever imports first.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    import gradio as gr

    def departments() -> list[str]:
        return [ANY_DEPARTMENT] + [name for name, _ in index.info().departments]

    handlers = ChatHandlers(index, ConversationSigner(guard.key_for(CONVERSATION_PURPOSE)))

    signature, hints, args = mcp.tool_signature()

    async def search_api(*given: Any, **named: Any) -> list[dict]:
        bound = signature.bind(*given, **named)
        bound.apply_defaults()
        values = dict(bound.arguments)
        question, k = values.pop("question"), values.pop("k")
        try:
            # Within the chat's bound: Gradio also serves this without the queue
            # (/gradio_api/run/search), where no queue limit would hold it.
            async with handlers.limit.slot():
                # Empty filters are no filters (Filters.parse).
                found = await anyio.to_thread.run_sync(lambda: api.search_json(index, question, k, **values))
        except SendSearchError as error:
            # A caller's mistake: one line in the log, the reason in the reply, no traceback.
            log.warning("search API: %s", error)
            raise gr.Error(str(error), print_exception=False) from None
        except Busy:
            raise gr.Error(BUSY, print_exception=False) from None
        passages: list[dict] = found["passages"]
        return passages

    search_api.__signature__ = signature.replace(return_annotation=list[dict])  # type: ignore[attr-defined]
    search_api.__annotations__ = {**hints, "return": list[dict]}
    search_api.__doc__ = (
        "Passages that answer a question, as JSON (the same as `sendsearch search --json`); a passage below "
        f"the relevance floor has ``weak_match: true``.\n\n{args}"
    )

    # ``request`` first: Gradio passes the request only to a positional parameter, never to a
    # keyword-only one after ``*controls`` (which left it unfilled, and saving always failed).
    def save(request: gr.Request, name: str, question: str, *controls: Any) -> str:
        return save_search(index, guard, request, name, question, chat_filters(controls))

    def refresh_departments() -> Any:
        # After an add (any instance's: the store is shared), a new department can be chosen.
        return gr.update(choices=departments())

    with gr.Blocks(title=PAGE_TITLE, analytics_enabled=False, delete_cache=admin.GRADIO_DELETE_CACHE) as app:
        gr.Markdown(f"# sendsearch\n{PAGE_DESCRIPTION}", elem_id="intro")
        # The conversation, held by the page (signed; conversation_state): sent with each
        # question, so any instance can answer it. visible=False keeps it out of the DOM
        # while Gradio's client still holds its value and sends it as an input.
        state = gr.Textbox("", visible=False, elem_id="conversation-state")
        with gr.Tab("Ask"):
            with gr.Row(elem_id="ask-row", equal_height=True):
                box = gr.Textbox(
                    label="Your question",
                    placeholder="e.g. How long can an EHC assessment take?",
                    scale=8,
                    elem_id="question",
                    autofocus=True,
                    lines=1,
                    max_lines=4,
                )
                send = gr.Button("Ask", variant="primary", scale=1, min_width=72, elem_id="ask")
            standalone = gr.Button(visible=False, size="sm", elem_id="standalone")
            with gr.Accordion(
                "Filters: dates, department, kind, council, passages shown", open=False, elem_id="filters"
            ):
                with gr.Row():
                    date_from = gr.Textbox(label="Dated from (YYYY-MM-DD)", elem_id="date-from")
                    date_to = gr.Textbox(label="Dated to (YYYY-MM-DD)", elem_id="date-to")
                department = gr.Dropdown(departments(), value=ANY_DEPARTMENT, label="Department", elem_id="department")
                kind = gr.Radio(list(KIND_RADIO), value="Any", label="Kind of document", elem_id="kind")
                include_undated = gr.Checkbox(
                    False, label="Include undated documents (with a date filter)", elem_id="include-undated"
                )
                # Type-ahead over the councils' names; any other spelling is resolved when asked.
                council = gr.Dropdown(
                    [ANY_COUNCIL, *council_names()],
                    value=ANY_COUNCIL,
                    label="Council (English local authority)",
                    allow_custom_value=True,
                    filterable=True,
                    elem_id="council",
                )
                with gr.Row():
                    asked_by = gr.Textbox(label="Asked by (a member's name or id)", elem_id="asked-by")
                    answered_by = gr.Textbox(label="Answered by (a minister's name or id)", elem_id="answered-by")
                house = gr.Radio([ANY_HOUSE, *HOUSES], value=ANY_HOUSE, label="House", elem_id="house")
                party = gr.Dropdown(
                    [ANY_PARTY, *parties()[:12]],
                    value=ANY_PARTY,
                    label="Party of the asker, on the day",
                    allow_custom_value=True,
                    filterable=True,
                    elem_id="party",
                )
                include_uncertain = gr.Checkbox(
                    False,
                    label="Include uncertain mentions of the council (an ambiguous name, the asking MP's seat)",
                    elem_id="include-uncertain",
                )
                shown = gr.Radio(
                    SHOWN_CHOICES, value=SHOWN_FIRST, label="Passages shown before “more”", elem_id="shown"
                )
                order = gr.Radio(
                    ["Best match first", "Newest first"], value="Best match first", label="Order", elem_id="order"
                )
                gr.Markdown(
                    "Filters apply to your next question. Dates are the date answered, or asked where a record "
                    "does not say when it was answered. Pages and files without a date are left out by a date "
                    "filter unless you include them."
                )
            with gr.Column(elem_id="examples") as examples:
                gr.Markdown("**Try an example** (one click asks it):")
                example_buttons = [
                    gr.Button(example, size="sm", elem_id=f"example-{number}")
                    for number, example in enumerate(EXAMPLES)
                ]
            # One line above the replies when the server was busy or the conversation was not trusted.
            notice = gr.HTML("", elem_id="chat-notice", container=False)
            chat = gr.HTML(EMPTY_CONVERSATION, elem_id="chat", js_on_load=COPY_SCRIPT, container=False)
            # The newest reply on its way from the server into ``chat`` (ADD_REPLY empties it).
            fresh = gr.JSON(None, visible=False)
            clear = gr.Button("New conversation", size="sm", elem_id="new-conversation")
            status = gr.Markdown(status_line(index), elem_id="status")
            gr.Markdown(CREDITS, elem_id="credits")
            controls = {
                "date_from": date_from,
                "date_to": date_to,
                "department": department,
                "kind": kind,
                "council": council,
                "include_uncertain": include_uncertain,
                "asked_by": asked_by,
                "answered_by": answered_by,
                "house": house,
                "party": party,
                "include_undated": include_undated,
            }
            filters = [*(controls[name] for name in PAGE_FILTERS), shown, order]
            outputs = [notice, fresh, state, box, standalone, examples]
            # queue=False: each of these is one POST to /gradio_api/run/... answered in its own
            # reply, so any instance can serve it (a queued event's join and its result
            # stream must reach the same one). The bound the queue gave is AnswerLimit's.
            page_event: dict[str, Any] = {"api_visibility": "private", "queue": False}
            askers = [(box.submit, box), (send.click, box), *((b.click, b) for b in example_buttons)]
            asked = [
                trigger(handlers.respond, [question, state, *filters], outputs, **page_event)
                for trigger, question in askers
            ]
            asked.append(standalone.click(handlers.respond_on_its_own, [state, *filters], outputs, **page_event))
            for event in asked:
                # In the browser: the new reply goes first, older ones stay within the bounds.
                event.then(None, [fresh, chat], [chat, fresh], js=ADD_REPLY).then(None, js=SHOW_LATEST_REPLY)
            clear.click(handlers.restart, None, [chat, *outputs], **page_event).then(None, js=BACK_TO_QUESTION)
        with gr.Tab("Add answers"):
            if guard.enabled:
                gr.Markdown(
                    "Sign in with the admin password, then add written-answer records (.json, .jsonl from the "
                    "Parliament API) or pages (.txt, .html, .md, .pdf): up to "
                    f"{MAX_UPLOAD_FILES} files of {MAX_UPLOAD_BYTES // 1_000_000} MB. A document with the same id "
                    "replaces the old one."
                )
                with gr.Row(equal_height=True):
                    password = gr.Textbox(type="password", label="Admin password", elem_id="upload-password")
                    sign_in = gr.Button("Sign in", elem_id="sign-in")
                signed = gr.Markdown(elem_id="sign-in-result")
                # The browser posts the password to /admin/session, which sets the session cookie
                # that lets its uploads through; the password never passes through a Gradio event.
                sign_in.click(None, [password], [signed, password], js=admin.SIGN_IN_JS)
                # A plain file input, posted by the browser to /admin/upload in one request that
                # answers with the outcome: any instance can take it (Gradio's gr.File stored the
                # files on the instance that took them, for a queued event to read there).
                gr.HTML(admin.UPLOAD_FORM, elem_id="upload-files", js_on_load=None)
                add_button = gr.Button("Add to the index", variant="primary", elem_id="upload-button")
                add_button.click(None, [status], [status], js=admin.UPLOAD_JS).then(
                    refresh_departments, None, [department], api_visibility="private", queue=False
                )
                gr.HTML(admin.UPLOAD_RESULT, js_on_load=None)
                gr.Markdown(
                    "**Save a search** (signed in): a question with the filters chosen on the Ask tab. Its new "
                    "matching answers are listed after every add or fetch, and it has an Atom feed."
                )
                with gr.Row(equal_height=True):
                    save_name = gr.Textbox(label="Name (letters, digits, - and _)", elem_id="save-name")
                    save_question = gr.Textbox(label="Question", elem_id="save-question")
                save_button = gr.Button("Save this search", elem_id="save-button")
                saved_result = gr.Markdown(elem_id="save-result")
                save_button.click(
                    save, [save_name, save_question, *filters], [saved_result], api_visibility="private", queue=False
                )
            else:
                gr.Markdown(
                    "Adding answers is not open on this server. (Its operator can open it to signed-in "
                    "administrators by setting `SENDSEARCH_ADMIN_PASSWORD`.)"
                )
        with gr.Tab("API"):
            gr.Markdown(
                "Search from your own code with `gradio_client`:\n\n```python\nfrom gradio_client import Client\n"
                'client = Client("http://127.0.0.1:7860/")\n'
                'passages = client.predict("How long does an EHC needs assessment take?", 5, api_name="/search")\n'
                "```\n\nEach passage is a dict with `doc_id`, `text`, `citation`, `source`, dates, `weak_match` "
                "(below the relevance floor: probably not an answer) and more."
            )
        # /search as gradio_client callers have always called it (list of dicts, optional
        # arguments filled in from the API description); MCP clients see only the tool made
        # for them (server.create_server), which returns the same passages as JSON text.
        gr.api(search_api, api_name="search")
        gr.api(mcp.search_tool(index), api_name=mcp.MCP_TOOL, queue=False)
    # Gradio keeps every session's inputs and outputs; it reads this bound when the page is mounted.
    app.state_session_capacity = MAX_CHAT_SESSIONS
    return app


def theme() -> Any:
    """Gradio's default look with system fonts (nothing fetched) and AA-contrast buttons."""
    import gradio as gr

    return gr.themes.Default(
        primary_hue="orange",
        font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Arial", "sans-serif"],
        font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"],
    ).set(
        button_primary_background_fill="#c2410c",
        button_primary_background_fill_hover="#9a3412",
        button_primary_text_color="#ffffff",
        button_primary_border_color="#c2410c",
        link_text_color="#1d4ed8",
        # The selected tab and other accents: Gradio's orange-500 is 2.8:1 on white.
        color_accent="#c2410c",
    )


def launch(
    index: Index,
    *,
    host: str,
    port: int,
    admin_password: str | None = None,
    mcp_server: bool = True,
    trusted_proxies: tuple[str, ...] = (),
) -> str | None:
    """Warm up, then serve the page, ``/api/search``, the admin session routes and (unless
    ``mcp_server`` is off) the MCP server on one address; at least four searches run at once.
    ``X-Forwarded-For`` is believed only from ``trusted_proxies``. Returns the name of the
    signal that stopped the server."""
    upload_folder = admin.use_private_gradio_temp_dir()  # before the Blocks is made
    try:
        with sigterm_ends_cleanly():
            seconds = warm_up(index)
            print(f"Ready: model and index loaded in {seconds:.1f} s.", flush=True)
            guard = guard_for(index, admin_password, secret=settings.session_secret())
            app = create_app(index, guard=guard)
            # The queue is left for what still uses it: gradio_client's /search (gradio_client
            # always joins it). The page's events skip it (ChatHandlers bounds them), and adding
            # files is one request to /admin/upload.
            app.queue(default_concurrency_limit=4)
            app_server = create_server(
                app,
                index,
                guard=guard,
                mcp=mcp_server,
                upload_folder=upload_folder,
                max_file_size=MAX_UPLOAD_BYTES,
                upload_status=lambda: status_line(index),
                theme=theme(),
                css=PAGE_CSS,
            )
            return serve(app_server, host, port, ServerLimits(trusted_proxies=trusted_proxies))
    finally:
        # Also registered with atexit; removed here as well, whatever way serving ended.
        shutil.rmtree(upload_folder, ignore_errors=True)


def main() -> None:
    """`python app.py`: build the index on first run, then serve the page."""
    try:
        store = settings.store()
        index = Index.open(store) if store else open_or_build(settings.index_dir())
        port = settings.port()
        trusted = settings.trusted_proxies()
    except SendSearchError as error:
        raise SystemExit(f"Error: {error}") from None
    if launch(
        index, host=settings.host(), port=port, admin_password=settings.admin_password(), trusted_proxies=trusted
    ):
        exit_now()  # served and stopped, everything cleaned up
