"""Email digests of saved searches, sent to a real SMTP server (aiosmtpd) started by the test:
one email per digest, each new answer sent once (a crash in the middle resends the same email,
with the same Message-ID), never without a server, and an unsubscribe link that works."""

from __future__ import annotations

import email
import json
import re
import socket
from email.message import Message

import httpx
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from sendsearch import Index
from sendsearch.cli import main
from sendsearch.errors import SendSearchError
from sendsearch.serve.digests import MailSettings, Subscriptions
from sendsearch.serve.feeds import feeds_app

from ..serving import serving

SECRET = "test-secret-for-unsubscribe-links"


class Inbox:
    """An SMTP handler keeping every message it accepts; ``refuse`` answers DATA with a 451."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse = False

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refuse:
            return "451 try again later"
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def inbox():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def _record(question_id: int) -> dict:
    return {
        "id": question_id,
        "house": "Commons",
        "dateTabled": "2025-06-02T00:00:00",
        "questionText": "To ask the Secretary of State for Education, what support there is for short breaks.",
        "answerText": f"<p>Local authorities must provide short breaks for disabled children ({question_id}).</p>",
    }


@pytest.fixture
def run(tmp_path, corpus_copy, use_fake_embedder, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SENDSEARCH_SECRET", SECRET)

    def invoke(*args: str):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    assert invoke("build", str(corpus_copy), "--index", "ix", "--quiet").exit_code == 0
    assert invoke("watch", "add", "breaks", "short breaks for disabled children", "--index", "ix").exit_code == 0
    assert invoke("watch", "subscribe", "breaks", "parent@example.org", "--index", "ix").exit_code == 0
    return invoke


def _add(run, tmp_path, *ids: int) -> None:
    path = tmp_path / f"new-{ids[0]}.jsonl"
    path.write_text("".join(json.dumps(_record(i)) + "\n" for i in ids), encoding="utf-8")
    assert run("add", str(path), "--index", "ix", "-q").exit_code == 0


def _mail_args(port: int) -> list[str]:
    return ["--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--smtp-tls", "none", "--base-url", "http://srv/"]


def test_one_digest_per_run_with_the_new_answers_then_nothing(run, inbox, tmp_path):
    handler, port = inbox
    _add(run, tmp_path, 1960001, 1960002)
    sent = run("watch", "run", "--index", "ix", *_mail_args(port))
    assert sent.exit_code == 0, sent.output
    assert "Sent 1 digest." in sent.output
    [message] = handler.messages
    assert message["To"] == "parent@example.org"
    assert message["Subject"] == "sendsearch: 2 new answers for breaks"
    body = message.get_payload(decode=True).decode()
    assert body.count("\n- ") == 2
    assert "http://srv/feeds/saved/breaks.atom" in body
    assert message["List-Unsubscribe"].startswith("<http://srv/feeds/unsubscribe?token=")
    again = run("watch", "run", "--index", "ix", *_mail_args(port))
    assert "Sent" not in again.output
    assert len(handler.messages) == 1


def test_no_email_without_a_server_and_the_digest_waits(run, inbox, tmp_path):
    handler, port = inbox
    _add(run, tmp_path, 1960003)
    refused = run("watch", "run", "--index", "ix")
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines()[-1] == (
        "Error: 1 digest waiting and no mail server configured: set --smtp-host (SENDSEARCH_SMTP_HOST); "
        "they are kept and sent once one is"
    )
    assert handler.messages == []
    assert "Sent 1 digest." in run("watch", "run", "--index", "ix", *_mail_args(port)).output
    assert len(handler.messages) == 1


def _settings(port: int) -> MailSettings:
    return MailSettings("127.0.0.1", port, "none", None, None, "sendsearch@example.org", "http://srv", SECRET)


def test_a_crash_after_the_server_accepted_resends_the_same_email_once(run, inbox, tmp_path):
    handler, port = inbox
    _add(run, tmp_path, 1960004)
    subscriptions = Subscriptions(tmp_path / "ix")

    def crash(name: str, address: str) -> None:
        raise KeyboardInterrupt  # the process dies before the rows are marked sent

    with pytest.raises(KeyboardInterrupt):
        subscriptions.send(_settings(port), after_send=crash)
    assert subscriptions.send(_settings(port)) == 1
    first, second = handler.messages
    assert first["Message-ID"] == second["Message-ID"]  # the duplicate a mail client can drop
    assert subscriptions.send(_settings(port)) == 0
    assert len(handler.messages) == 2


def test_a_failure_before_the_server_accepted_sends_it_once_later(run, inbox, tmp_path):
    handler, port = inbox
    _add(run, tmp_path, 1960005)
    subscriptions = Subscriptions(tmp_path / "ix")
    handler.refuse = True
    with pytest.raises(SendSearchError):
        subscriptions.send(_settings(port))
    handler.refuse = False
    _add(run, tmp_path, 1960006)  # a newer answer waits for its own digest
    assert subscriptions.send(_settings(port)) == 2
    subjects = [m["Subject"] for m in handler.messages]
    assert subjects == ["sendsearch: 1 new answer for breaks", "sendsearch: 1 new answer for breaks"]
    assert handler.messages[0]["Message-ID"] != handler.messages[1]["Message-ID"]


def test_the_unsubscribe_link_works_over_http(run, inbox, tmp_path):
    handler, port = inbox
    _add(run, tmp_path, 1960007)
    run("watch", "run", "--index", "ix", *_mail_args(port))
    link = re.search(r"Unsubscribe: http://srv/(feeds/unsubscribe\?token=\S+)", handler.messages[0].get_payload())
    assert link is not None
    index = Index.open(tmp_path / "ix")
    with serving(feeds_app(index, secret=SECRET)) as url:
        done = httpx.get(url.removesuffix("/") + "/" + link.group(1).removeprefix("feeds/"))
        forged = httpx.get(url + "unsubscribe", params={"token": "breaks.cGFyZW50QGV4YW1wbGUub3Jn.00"})
    assert done.status_code == 200
    assert "parent@example.org will get no more emails for the saved search “breaks”." in done.text
    assert forged.status_code == 400
    assert Subscriptions(tmp_path / "ix").subscribers("breaks") == []
    _add(run, tmp_path, 1960008)
    run("watch", "run", "--index", "ix", *_mail_args(port))
    assert len(handler.messages) == 1  # no email after unsubscribing
