"""The conversation a page holds: signed, bounded, and read as a new one when it cannot be trusted."""

from __future__ import annotations

import base64
import json
import logging
import random
import zlib

import pytest

from sendsearch.limits import MAX_CONVERSATION_BYTES, MAX_QUERY_CHARS
from sendsearch.serve.admin import AdminGuard, sign
from sendsearch.serve.conversation_state import EMPTY, REFUSED_NOTICE, Conversation, ConversationSigner

SECRET = b"s" * 32
PASSWORD = "pw"
CONVERSATION = Conversation("How long does an EHC needs assessment take?", "and in Stockport?")


def signer(secret: bytes = SECRET, password: str | None = PASSWORD, **bounds: int) -> ConversationSigner:
    return ConversationSigner(AdminGuard(password, secret=secret).key_for("conversation"), **bounds)


def refused(token: object, caplog: pytest.LogCaptureFixture) -> None:
    """``token`` is read as a new conversation, with the one-line notice and one log line."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sendsearch.page"):
        assert signer().load(token) == (EMPTY, REFUSED_NOTICE)
    [record] = caplog.records
    assert record.exc_info is None
    assert "\n" not in record.getMessage()


def test_a_conversation_comes_back_as_it_was_signed():
    token = signer().dump(CONVERSATION)
    assert signer().load(token) == (CONVERSATION, None)
    assert token.isascii()
    assert "Stockport" not in token  # compressed: not readable at a glance (and not secret either)


def test_another_instance_with_the_same_secret_and_password_accepts_it():
    token = signer().dump(CONVERSATION)
    assert ConversationSigner(AdminGuard("pw", secret=SECRET).key_for("conversation")).load(token)[0] == CONVERSATION


def test_no_token_is_a_new_conversation_without_a_notice():
    assert signer().load("") == (EMPTY, None)
    assert signer().load(None) == (EMPTY, None)


def test_a_tampered_token_is_a_new_conversation(caplog):
    token = signer().dump(CONVERSATION)
    body, _, signature = token.rpartition(".")
    forged_payload = base64.urlsafe_b64encode(
        zlib.compress(json.dumps({"anchor": "something else", "message": "<script>alert(1)</script>"}).encode())
    ).decode()
    refused(f"c1.{forged_payload}.{signature}", caplog)  # another payload under the old signature
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    refused(f"{body}.{flipped}", caplog)
    refused(f"{body}.", caplog)
    refused(token.replace("c1.", "c2.", 1), caplog)


def test_a_token_signed_with_another_secret_or_password_is_a_new_conversation(caplog):
    refused(signer(secret=b"t" * 32).dump(CONVERSATION), caplog)
    refused(signer(password="another password").dump(CONVERSATION), caplog)


def test_an_admin_session_never_passes_for_a_conversation_nor_the_reverse(caplog):
    guard = AdminGuard("pw", secret=SECRET)
    refused(guard.open_session(), caplog)
    token = signer().dump(CONVERSATION)
    assert not guard.session_valid(token)
    # Signed with the sessions' own key (not the conversation's), a well-formed token is refused.
    body = token.rpartition(".")[0]
    refused(f"{body}.{sign(guard._key, body)}", caplog)


@pytest.mark.parametrize(
    "token",
    [
        "x" * (MAX_CONVERSATION_BYTES + 1),  # oversized
        "not a token",
        "c1..",
        "c1.%%%.abc",
        "c1.abc.\u00e9\u00e9",  # a signature that is not ASCII
        "\ud800",  # a lone surrogate
        ["c1", "abc"],  # not text at all
        12,
    ],
)
def test_malformed_or_oversized_input_is_a_new_conversation(token, caplog):
    refused(token, caplog)


def test_a_signed_but_malformed_payload_is_a_new_conversation(caplog):
    """Signed with the right key but not a conversation (a bug, or a leaked key): still no
    exception, no trust."""
    key = AdminGuard("pw", secret=SECRET).key_for("conversation")
    too_long = json.dumps({"anchor": None, "message": "x" * (MAX_QUERY_CHARS + 1)}).encode()
    for data in (b"not json", b'{"anchor": 1, "message": ""}', b'{"anchor": null, "message": ["a"]}', b"[]", too_long):
        body = "c1." + base64.urlsafe_b64encode(zlib.compress(data)).decode()
        refused(f"{body}.{sign(key, body)}", caplog)
    body = "c1." + base64.urlsafe_b64encode(b"not zlib").decode()
    refused(f"{body}.{sign(key, body)}", caplog)


def test_the_token_is_bounded_whatever_the_question():
    """A message is cut at the question's bound, and even a question of four-byte characters
    fits the token."""
    pick = random.Random(0)
    text = "".join(chr(pick.randrange(0x1F300, 0x1FAFF)) for _ in range(MAX_QUERY_CHARS + 50))  # incompressible
    widest = Conversation(text[:MAX_QUERY_CHARS], text)
    token = signer().dump(widest)
    assert len(token) <= MAX_CONVERSATION_BYTES
    assert signer().load(token) == (Conversation(widest.anchor, widest.last_message[:MAX_QUERY_CHARS]), None)
    # Over a smaller bound: an empty conversation's token rather than one that is refused.
    assert signer(max_chars=200).load(signer(max_chars=200).dump(widest)) == (EMPTY, None)
