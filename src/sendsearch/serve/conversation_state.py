"""The chat page's conversation, held by the page itself: signed, bounded, checked when it comes back.

Any instance behind a load balancer may answer any question, so no instance keeps a
conversation. Each reply hands the page a token (a hidden textbox's value) holding what the
next question needs: the anchor (the last standalone question, which a follow-up borrows
from) and the turns shown (message and reply HTML, newest first). The page sends it back
with its next question.

- **Signed**: ``c1.<payload>.<signature>``, HMAC-SHA256 over ``c1.<payload>`` with a key
  made from the admin sessions' key for this purpose alone (``AdminGuard.key_for``): every
  instance sharing ``SENDSEARCH_SESSION_SECRET`` (and the admin password) accepts what
  another signed; a session cookie never passes for a conversation, nor the reverse. The
  reply HTML in it is shown as markup again, so nothing unsigned is ever shown.
- **Bounded**: at most ``MAX_CHAT_TURNS`` turns and ``MAX_CONVERSATION_BYTES`` characters
  (the payload is zlib-compressed JSON in base64); the oldest turns drop off to fit, the
  newest is kept (its HTML emptied if even it alone is too large).
- **Hostile input**: a token that is too long, malformed, tampered with or signed with
  another key is read as no conversation, with ``REFUSED_NOTICE`` to say so; one line in
  the log, never an exception.

A token carries one page's conversation only, and only its holder has it: a copied token
shows its holder a conversation they were already shown.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import zlib
from dataclasses import dataclass

from ..limits import MAX_CHAT_HISTORY_CHARS, MAX_CHAT_TURNS, MAX_CONVERSATION_BYTES, MAX_QUERY_CHARS
from .admin import sign, signature_matches

__all__ = ["EMPTY", "REFUSED_NOTICE", "Conversation", "ConversationSigner"]

REFUSED_NOTICE = "The conversation this page sent back could not be checked, so this question starts a new one."
_VERSION = "c1"
# What a payload may inflate to: the history's bound in characters, as UTF-8, with room for
# the JSON around it. Only signed payloads are inflated; this guards against our own bugs.
_MAX_INFLATED = 4 * MAX_CHAT_HISTORY_CHARS + 64 * 1024
log = logging.getLogger("sendsearch.page")


@dataclass(frozen=True)
class Conversation:
    """What the next question needs: the anchor a follow-up borrows from, and the turns
    shown, ``(message, reply HTML)``, newest first."""

    anchor: str | None = None
    turns: tuple[tuple[str, str], ...] = ()

    @property
    def last_message(self) -> str:
        return self.turns[0][0] if self.turns else ""


EMPTY = Conversation()


class ConversationSigner:
    """Turns a conversation into a signed token and back."""

    def __init__(self, key: bytes, *, max_chars: int = MAX_CONVERSATION_BYTES, max_turns: int = MAX_CHAT_TURNS):
        self._key = key
        self.max_chars = max_chars
        self.max_turns = max_turns

    def dump(self, conversation: Conversation) -> tuple[str, Conversation]:
        """The token for ``conversation`` and what it carries: the newest turns that fit."""
        turns = list(conversation.turns[: self.max_turns])
        while True:
            token = self._token(conversation.anchor, turns)
            if len(token) <= self.max_chars:
                return token, Conversation(conversation.anchor, tuple(turns))
            if len(turns) > 1:
                turns.pop()  # the oldest goes first
            elif turns and turns[0][1]:
                # The newest alone is too large: its message is kept (to ask it again on its
                # own), its reply is shown now but not carried.
                turns = [(turns[0][0], "")]
            else:
                return self._token(None, []), EMPTY

    def _token(self, anchor: str | None, turns: list[tuple[str, str]]) -> str:
        data = json.dumps({"anchor": anchor, "turns": turns}, ensure_ascii=False, separators=(",", ":"))
        payload = base64.urlsafe_b64encode(zlib.compress(data.encode("utf-8"), 6)).decode("ascii")
        body = f"{_VERSION}.{payload}"
        return f"{body}.{sign(self._key, body)}"

    def load(self, token: object) -> tuple[Conversation, str | None]:
        """The conversation a token holds, and a notice when it could not be trusted (then
        the conversation is empty). No token (a page's first question) is no conversation,
        without a notice."""
        if token is None or token == "":
            return EMPTY, None
        problem = self._problem(token)
        if isinstance(problem, Conversation):
            return problem, None
        log.warning("refused a conversation sent back by a page: %s", problem)
        return EMPTY, REFUSED_NOTICE

    def _problem(self, token: object) -> Conversation | str:
        """The conversation, or what is wrong with the token."""
        if not isinstance(token, str):
            return "not text"
        if len(token) > self.max_chars:
            return f"over {self.max_chars} characters"
        body, _, signature = token.rpartition(".")
        version, _, payload = body.partition(".")
        if version != _VERSION or not payload:
            return "not a conversation token"
        if not signature_matches(self._key, body, signature):
            return "a wrong signature"
        # Signed by an instance sharing the key: still checked, as a bug would otherwise
        # become an exception on every question this page asks.
        try:
            inflater = zlib.decompressobj()
            data = inflater.decompress(base64.urlsafe_b64decode(payload.encode("ascii")), _MAX_INFLATED)
            if inflater.unconsumed_tail:
                return "too large once inflated"
            return _conversation(json.loads(data.decode("utf-8")), self.max_turns)
        except (ValueError, TypeError, zlib.error, binascii.Error) as error:
            return f"unreadable ({type(error).__name__})"


def _conversation(data: object, max_turns: int) -> Conversation | str:
    if not isinstance(data, dict) or set(data) != {"anchor", "turns"}:
        return "not a conversation"
    anchor, turns = data["anchor"], data["turns"]
    if anchor is not None and (not isinstance(anchor, str) or len(anchor) > 4 * MAX_QUERY_CHARS):
        return "a bad anchor"
    if not isinstance(turns, list) or len(turns) > max_turns:
        return "bad turns"
    kept: list[tuple[str, str]] = []
    for turn in turns:
        if not (isinstance(turn, list) and len(turn) == 2 and all(isinstance(part, str) for part in turn)):
            return "a bad turn"
        message, html = turn
        if len(message) > MAX_QUERY_CHARS:
            return "a message over the question's bound"
        kept.append((message, html))
    return Conversation(anchor, tuple(kept))
