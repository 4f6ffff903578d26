"""Bounds on what one request or one input may ask for, shared by the library, the CLI, the page and the API.

Every way in (a search, a file to index, an upload, a password guess) is bounded here, so
that no single input can take the memory, the disk or the time that others need.
"""

from __future__ import annotations

__all__ = [
    "BODY_TIMEOUT_SECONDS",
    "HEADER_TIMEOUT_SECONDS",
    "MAX_BAD_RUN",
    "MAX_CHAT_ANSWERS",
    "MAX_CHAT_HISTORY_CHARS",
    "MAX_CHAT_SESSIONS",
    "MAX_CHAT_TURNS",
    "MAX_CONNECTIONS",
    "MAX_CONNECTIONS_PER_CLIENT",
    "MAX_CONVERSATION_BYTES",
    "MAX_DOCUMENT_BYTES",
    "MAX_EXPANSION",
    "MAX_EXPANSION_GRACE_BYTES",
    "MAX_FILTER_CHARS",
    "MAX_JSON_DEPTH",
    "MAX_K",
    "MAX_LINE_CHARS",
    "MAX_QUERY_CHARS",
    "MAX_RECORDS_BYTES",
    "MAX_REQUEST_BYTES",
    "MAX_SKIP_REASONS",
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_FILES",
    "MAX_UPLOAD_FOLDER_BYTES",
    "MAX_WAITING_CHAT_ANSWERS",
    "MAX_WHOLE_JSON_CHARS",
    "PROXY_FREE_GUESSES",
    "PROXY_LOCKOUT_AFTER",
    "SHUTDOWN_GRACE_SECONDS",
]

# -- searching ----------------------------------------------------------------------------------
# The most passages one search returns: enough for any reader or evaluation, and a bound
# on the work a single request can ask for (k=20,000 once took 215 s on a 100k-chunk index).
MAX_K = 100
# Longer questions are cut, not refused: the model reads 256 word pieces at most anyway.
MAX_QUERY_CHARS = 1000
# A department name or a date is short; anything longer is refused by the API.
MAX_FILTER_CHARS = 200

# -- reading files ------------------------------------------------------------------------------
# A single page or report larger than this is almost certainly not a document people
# wrote by hand (a log, a dump); records files may be larger since they are streamed.
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
# A records file, on disk and once decompressed: all 49,450 Commons answers are 69 MB.
MAX_RECORDS_BYTES = 4 * 1024**3
# Real written-answer files compress about 4.5 to 1; a file that expands more than this
# past its first MAX_EXPANSION_GRACE_BYTES (where gzip's own overhead skews the ratio) is a
# compression bomb and is stopped there.
MAX_EXPANSION = 100
MAX_EXPANSION_GRACE_BYTES = 1024 * 1024
# One JSON line (one record) at most: a record holds at most 2 million characters of text
# (parliament.MAX_RECORD_CHARS), and JSON escaping can double that.
MAX_LINE_CHARS = 8 * 1024 * 1024
# A file that is one JSON object ({"results": [...]} pages, a pretty-printed record) is
# parsed whole; a real API page is under 1.5 MB. Lists ([...]) are streamed item by item.
MAX_WHOLE_JSON_CHARS = 16 * 1024 * 1024
# Records are a few levels deep ({"value": {"groupedQuestionsDates": [{...}]}}); deeper
# nesting is refused before parsing, so no parser recursion is ever at stake.
MAX_JSON_DEPTH = 64
# This many unusable (or blank) lines or items in a row means the file is not records at
# all (a million "x" lines): reading it stops there with the reason.
MAX_BAD_RUN = 1000
# Skipped inputs are all counted; this many are kept with their reasons for a person to read.
MAX_SKIP_REASONS = 50

# -- uploads from the page ----------------------------------------------------------------------
MAX_UPLOAD_FILES = 20
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # per file
# Gradio's own upload folder: uploads are refused while it holds more than this.
MAX_UPLOAD_FOLDER_BYTES = 200 * 1024 * 1024

# -- the server ---------------------------------------------------------------------------------
# Open connections at once, and from one client address: a browser holds about six, an
# MCP client one or two, so 64 leaves room for a school or an office behind one address;
# ~21,000 half-open connections from one client once took every file descriptor.
# A trusted proxy's address is held only to the total.
MAX_CONNECTIONS = 1024
MAX_CONNECTIONS_PER_CLIENT = 64
# A client must send a request's headers within this many seconds of its first byte (or of
# connecting): a slow client cannot hold a connection open by trickling them.
HEADER_TIMEOUT_SECONDS = 10.0
# ... and its body (64 KB at most, below) within this many seconds of its headers.
BODY_TIMEOUT_SECONDS = 30.0
# The body of any request to the page, its API or MCP (the admin-only upload route has its
# own bound above): a question is 1,000 characters, a whole event with its filters a few KB.
MAX_REQUEST_BYTES = 64 * 1024
# Replies one chat page keeps (newest first; the page's script does, ``ui.ADD_REPLY``); older
# ones drop off. A reply is 1-80 KB of HTML, so the characters are bounded too: the newest
# reply is always kept.
MAX_CHAT_TURNS = 20
MAX_CHAT_HISTORY_CHARS = 400_000
# The conversation token a page holds and sends back with each question (signed;
# ``serve.conversation_state``): an anchor and a message, compressed, in this many characters.
MAX_CONVERSATION_BYTES = 16_000
# Chat answers computed at once on one instance (what the queue's concurrency limit was),
# and questions that may wait for one of them; beyond that the page says it is busy.
MAX_CHAT_ANSWERS = 4
MAX_WAITING_CHAT_ANSWERS = 16
# Page sessions each instance remembers (Gradio keeps each one's component settings; the
# conversation is the page's own); the oldest is dropped beyond this, a closed page's after an hour.
MAX_CHAT_SESSIONS = 1000
# Wrong passwords that one trusted proxy may pass on, from all the clients behind it
# together, before they are slowed; after PROXY_LOCKOUT_AFTER it is locked out like a client.
PROXY_FREE_GUESSES = 20
PROXY_LOCKOUT_AFTER = 100
# On Ctrl-C or SIGTERM, requests in progress get this long to finish before their
# connections are closed (open pages and event streams never finish by themselves).
SHUTDOWN_GRACE_SECONDS = 1.0
