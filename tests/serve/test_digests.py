"""Email digests of saved searches, sent to a real SMTP server (aiosmtpd) started by the test:
one email per digest, each new answer sent once (a crash in the middle resends the same email,
with the same Message-ID), never without a server, and an unsubscribe link that works. The
crash is simulated in-process, and is also real: the sender in a child process killed with
SIGKILL while the SMTP server holds it at a chosen moment."""

from __future__ import annotations

import asyncio
import email
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
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

from ..conftest import ROOT
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


# -- a real crash: the sender in a child process, killed with SIGKILL at a chosen moment ----------
# The child is `sendsearch watch run` itself, with the fake embedder registered first (the index
# was built with it; saved searches are checked before sending).
CHILD = """
import sys
from sendsearch import register_embedder
from tests.conftest import FakeEmbedder
register_embedder(FakeEmbedder().name, FakeEmbedder)
from sendsearch.cli import main
main(sys.argv[1:], prog_name="sendsearch")
"""


class HoldingInbox(Inbox):
    """An inbox that can hold a client at one moment until the test lets go (``release``):

    - ``hold = "quit"``: the message is accepted (250 to DATA, which the client must have read
      before it sends QUIT), then the QUIT waits: the sender has had the server accept the
      email and has not yet marked it sent, since smtplib's ``with`` ends with QUIT;
    - ``hold = "data"``: the message has arrived but is not accepted yet; after the release
      it is refused (the client is gone by then) and not kept.

    ``held`` is set (from the server's thread) when a client is being held; ``offered`` keeps
    what a held DATA carried."""

    def __init__(self) -> None:
        super().__init__()
        self.hold: str | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        self.offered: list[Message] = []

    async def _wait(self) -> None:
        self.held.set()
        # Waited in a worker thread, so the server's loop goes on (and sees the client go).
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait)

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.hold == "data":
            self.offered.append(email.message_from_bytes(envelope.original_content or envelope.content))
            await self._wait()
            return "451 not accepted"
        return await super().handle_DATA(server, session, envelope)

    async def handle_QUIT(self, server, session, envelope) -> str:
        if self.hold == "quit":
            await self._wait()
        return "221 Bye"


@pytest.fixture
def holding_inbox():
    handler = HoldingInbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        handler.release.set()  # a held connection's worker thread ends with the test
        controller.stop()


def _child(tmp_path, port: int) -> list[str]:
    return [sys.executable, "-c", CHILD, "watch", "run", "--index", str(tmp_path / "ix"), *_mail_args(port)]


def _child_env(use_fake_embedder) -> dict[str, str]:
    return {
        **os.environ,
        "SENDSEARCH_SECRET": SECRET,
        "SENDSEARCH_MODEL": use_fake_embedder.name,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


def _killed_while_held(handler: HoldingInbox, command: list[str], env: dict[str, str]) -> None:
    """Run the sender until the inbox holds it, then SIGKILL it: no clean-up of any kind runs."""
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # A bound for a sender that never arrives (it failed): a failure, not the synchronisation.
        assert handler.held.wait(timeout=120), child.communicate(timeout=60)[0].decode()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        handler.release.set()
    assert child.returncode == -signal.SIGKILL
    handler.hold = None


def _sends(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
def test_killed_after_the_server_accepted_the_same_email_is_sent_once_more_then_never(
    run, holding_inbox, tmp_path, use_fake_embedder
):
    handler, port = holding_inbox
    _add(run, tmp_path, 1960011)
    command, env = _child(tmp_path, port), _child_env(use_fake_embedder)
    handler.hold = "quit"
    _killed_while_held(handler, command, env)
    assert len(handler.messages) == 1  # the server had it ...
    assert Subscriptions(tmp_path / "ix").waiting() == [("breaks", "parent@example.org")]  # ... not marked sent
    assert "Sent 1 digest." in _sends(command, env)
    first, again = handler.messages
    assert again["Message-ID"] == first["Message-ID"]  # the same email: a mail client can drop the copy
    assert again.get_payload() == first.get_payload()
    assert "Sent" not in _sends(command, env)
    assert len(handler.messages) == 2
    assert Subscriptions(tmp_path / "ix").waiting() == []


@pytest.mark.slow
def test_killed_before_the_server_accepted_the_email_is_sent_exactly_once(
    run, holding_inbox, tmp_path, use_fake_embedder
):
    handler, port = holding_inbox
    _add(run, tmp_path, 1960012)
    command, env = _child(tmp_path, port), _child_env(use_fake_embedder)
    handler.hold = "data"
    _killed_while_held(handler, command, env)
    assert handler.messages == []  # offered, never accepted
    [offered] = handler.offered
    assert "Sent 1 digest." in _sends(command, env)
    [sent] = handler.messages
    assert sent["Message-ID"] == offered["Message-ID"]  # recorded before the attempt, kept for the retry
    assert "Sent" not in _sends(command, env)
    assert len(handler.messages) == 1
    assert Subscriptions(tmp_path / "ix").waiting() == []
