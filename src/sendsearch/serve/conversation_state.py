"""The chat page's conversation, held by the page itself: signed, bounded, checked when it comes back.

Any instance behind a load balancer may answer any question, so no instance keeps a
conversation. Each reply hands the page a token (a hidden textbox's value) holding what the
next question needs: the anchor (the last standalone question, which a follow-up borrows
from) and the last message (which "search it on its own" asks again). The page sends it
back with its next question. The replies shown stay in the page (``ui.ADD_REPLY`` keeps
the newest ``MAX_CHAT_TURNS``, ``MAX_CHAT_HISTORY_CHARS`` at most) and are never sent back.

- **Signed**: ``c1.<payload>.<signature>``, HMAC-SHA256 over ``c1.<payload>`` with a key
  made from the admin sessions' key for this purpose alone (``AdminGuard.key_for``): every
  instance sharing ``SENDSEARCH_SESSION_SECRET`` (and the admin password) accepts what
  another signed; a session cookie never passes for a conversation, nor the reverse.
- **Bounded**: one message of at most ``MAX_QUERY_CHARS`` and its anchor, the token at
  most ``MAX_CONVERSATION_BYTES`` characters (zlib-compressed JSON in base64).
- **Hostile input**: a token that is too long, malformed, tampered with or signed with
  another key is read as no conversation, with ``REFUSED_NOTICE`` to say so; one line in
  the log, never an exception.

A token carries one page's anchor and last message only, and only its holder has it: a
copied token tells its holder what they asked.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import zlib
from dataclasses import dataclass

from ..limits import MAX_CONVERSATION_BYTES, MAX_QUERY_CHARS
from .admin import sign, signature_matches

__all__ = ["EMPTY", "REFUSED_NOTICE", "Conversation", "ConversationSigner"]

REFUSED_NOTICE = "The conversation this page sent back could not be checked, so this question starts a new one."
_VERSION = "c1"
# An anchor is a question as read (a follow-up's words with its anchor's): a few times a
# question's bound at most.
_MAX_ANCHOR_CHARS = 4 * MAX_QUERY_CHARS
# What a payload may inflate to: a message and an anchor in UTF-8, with the JSON around them.
# Only signed payloads are inflated; this guards against our own bugs.
_MAX_INFLATED = 4 * (MAX_QUERY_CHARS + _MAX_ANCHOR_CHARS) + 1024
log = logging.getLogger("sendsearch.page")


@dataclass(frozen=True)
class Conversation:
    """What the next question needs: the anchor a follow-up borrows from, and the last
    message asked."""

    anchor: str | None = None
    last_message: str = ""


EMPTY = Conversation()


class ConversationSigner:
    """Turns a conversation into a signed token and back."""

    def __init__(self, key: bytes, *, max_chars: int = MAX_CONVERSATION_BYTES):
        self._key = key
        self.max_chars = max_chars

    def dump(self, conversation: Conversation) -> str:
        """The token for ``conversation`` (an empty conversation's if it does not fit, which
        only an anchor far longer than any question could make happen)."""
        anchor = conversation.anchor[:_MAX_ANCHOR_CHARS] if conversation.anchor else conversation.anchor
        token = self._token(Conversation(anchor, conversation.last_message[:MAX_QUERY_CHARS]))
        return token if len(token) <= self.max_chars else self._token(EMPTY)

    def _token(self, conversation: Conversation) -> str:
        data = json.dumps(
            {"anchor": conversation.anchor, "message": conversation.last_message},
            ensure_ascii=False,
            separators=(",", ":"),
        )
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
            return _conversation(json.loads(data.decode("utf-8")))
        except (ValueError, TypeError, zlib.error, binascii.Error) as error:
            return f"unreadable ({type(error).__name__})"


def _conversation(data: object) -> Conversation | str:
    if not isinstance(data, dict) or set(data) != {"anchor", "message"}:
        return "not a conversation"
    anchor, message = data["anchor"], data["message"]
    if anchor is not None and (not isinstance(anchor, str) or len(anchor) > _MAX_ANCHOR_CHARS):
        return "a bad anchor"
    if not isinstance(message, str) or len(message) > MAX_QUERY_CHARS:
        return "a bad message"
    return Conversation(anchor, message)
