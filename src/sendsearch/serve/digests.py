"""Email digests of saved searches: one email per saved search and subscriber, listing the new
matching answers, with an unsubscribe link that works.

Subscribers and an outbox live in the saved searches' file (``watch.sqlite``). ``queue``
turns each saved search's new matches (``SavedSearches.check``) into outbox rows, one per
(saved search, subscriber, document), in the transaction that records them as seen: a crash
cannot lose them. ``send`` then, for each (saved search, subscriber) with rows waiting:

1. gives the digest a Message-ID and records it on its rows (state ``sending``), committed;
2. sends the email through SMTP;
3. marks the rows ``sent``, in one transaction.

If the process dies before 3, the next run sends the rows still ``sending`` again, as the
same email with the same Message-ID. So every new answer is emailed at least once, and twice
only if the process dies in the moment between the SMTP server accepting the email and step 3
(a few milliseconds, the QUIT exchange included); the repeated Message-ID lets a mail client or
server drop that copy. tests/serve/test_digests.py kills a real sender (SIGKILL) in that moment
and just before the server accepts.
At-least-once was chosen over at-most-once because a parent missing an answer about their
council costs more than a rare duplicate. No email is ever sent without a configured server.

An unsubscribe link carries a token: the saved search, the address and an HMAC-SHA256 of
both with the server's secret (``SENDSEARCH_SECRET``); ``/feeds/unsubscribe?token=...``
checks it and removes the subscription.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import smtplib
import sqlite3
import ssl
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import quote, urlencode

from ..errors import QueryError, SendSearchError
from ..schema import Citation, Passage
from ..search.index import Index
from ..search.saved import WATCH_FILE, SavedSearches

__all__ = ["TLS_MODES", "MailSettings", "Subscriptions", "make_token", "read_token"]

TLS_MODES = ("none", "starttls", "tls")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscribers (name TEXT NOT NULL, email TEXT NOT NULL, PRIMARY KEY (name, email));
CREATE TABLE IF NOT EXISTS outbox (
    name TEXT NOT NULL, email TEXT NOT NULL, doc_id TEXT NOT NULL, line TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', message_id TEXT,
    PRIMARY KEY (name, email, doc_id)
);
"""
_EMAIL_MAX = 254


@dataclass(frozen=True)
class MailSettings:
    """Where and how to send: the SMTP server, its TLS mode, the login, the sender, the
    address the unsubscribe links point to and the secret that signs them."""

    host: str
    port: int
    tls: str
    user: str | None
    password: str | None
    sender: str
    base_url: str
    secret: str

    def __post_init__(self) -> None:
        if self.tls not in TLS_MODES:
            raise QueryError(f"--smtp-tls must be one of {', '.join(TLS_MODES)}, not {self.tls!r}")
        if not self.secret:
            raise QueryError("set SENDSEARCH_SECRET (the key that signs unsubscribe links) to send digests")
        if not self.base_url.startswith(("https://", "http://")):
            raise QueryError(f"--base-url must be the server's address (https://...), not {self.base_url!r}")


def _check_email(email: str) -> str:
    address = email.strip()
    local, _, domain = address.partition("@")
    if not local or "." not in domain or len(address) > _EMAIL_MAX or any(c.isspace() or c in "<>," for c in address):
        raise QueryError(f"{email!r:.80} is not an email address")
    return address


def make_token(secret: str, name: str, email: str) -> str:
    """``name.email.signature`` (email base64url), signed with ``secret``."""
    encoded = base64.urlsafe_b64encode(email.encode()).decode().rstrip("=")
    signature = hmac.new(secret.encode(), f"{name}\n{email}".encode(), hashlib.sha256).hexdigest()
    return f"{name}.{encoded}.{signature}"


def read_token(secret: str, token: str) -> tuple[str, str] | None:
    """(saved search, email) from a token signed with ``secret``; None if it is not one."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 1000:
        return None
    name, encoded, signature = parts
    try:
        email = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    expected = hmac.new(secret.encode(), f"{name}\n{email}".encode(), hashlib.sha256).hexdigest()
    return (name, email) if hmac.compare_digest(expected, signature) else None


class Subscriptions:
    """Subscribers of the saved searches of the index in ``directory``, and the outbox."""

    def __init__(self, directory: Path | str) -> None:
        SavedSearches(directory)  # refuses a --store database in one line
        self.directory = Path(directory)
        self.path = self.directory / WATCH_FILE

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            db.executescript(_SCHEMA)
            with db:
                yield db

    def subscribe(self, name: str, email: str) -> None:
        if SavedSearches(self.directory).get(name) is None:
            raise QueryError(f"no saved search is called {name!r}; `sendsearch watch list`")
        with self._db() as db:
            db.execute("INSERT OR IGNORE INTO subscribers VALUES (?, ?)", (name, _check_email(email)))

    def unsubscribe(self, name: str, email: str) -> bool:
        with self._db() as db:
            gone = db.execute("DELETE FROM subscribers WHERE name = ? AND email = ?", (name, email)).rowcount
            db.execute("DELETE FROM outbox WHERE name = ? AND email = ? AND state = 'pending'", (name, email))
        return bool(gone)

    def subscribers(self, name: str) -> list[str]:
        with self._db() as db:
            return [r[0] for r in db.execute("SELECT email FROM subscribers WHERE name = ? ORDER BY email", (name,))]

    def queue(self, index: Index) -> dict[str, list[Passage]]:
        """Each saved search's new matches (``SavedSearches.check``), put in the outbox for
        each subscriber in the transaction that records them as seen."""
        with self._db():
            pass  # the tables exist before the saved searches' transaction uses them

        def post(db: sqlite3.Connection, name: str, passages: list[Passage]) -> None:
            emails = [r[0] for r in db.execute("SELECT email FROM subscribers WHERE name = ?", (name,))]
            db.executemany(
                "INSERT OR IGNORE INTO outbox (name, email, doc_id, line) VALUES (?, ?, ?, ?)",
                [(name, email, p.doc_id, _line(p.citation, p.doc_id)) for email in emails for p in passages],
            )

        return SavedSearches(self.directory).check(index, also=post)

    def waiting(self) -> list[tuple[str, str]]:
        """(saved search, email) pairs with a digest to send."""
        with self._db() as db:
            rows = db.execute(
                "SELECT DISTINCT name, email FROM outbox WHERE state != 'sent' ORDER BY name, email"
            ).fetchall()
        return [(name, email) for name, email in rows]

    def send(self, settings: MailSettings | None, *, after_send: Callable[[str, str], None] | None = None) -> int:
        """Send every waiting digest; returns how many were sent. ``after_send`` is called
        between the server accepting an email and its rows being marked sent (tests use it
        to stop there, as a crash would)."""
        waiting = self.waiting()
        if waiting and settings is None:
            raise SendSearchError(
                f"{len(waiting)} digest{'s' if len(waiting) != 1 else ''} waiting and no mail server configured: "
                "set --smtp-host (SENDSEARCH_SMTP_HOST); they are kept and sent once one is"
            )
        sent = 0
        for name, email in waiting:
            assert settings is not None  # noqa: S101 - checked above
            # A resend after a crash goes first, as it was; answers queued since follow in their own.
            while self._unsent(name, email):
                message = self._prepare(settings, name, email)
                _deliver(settings, message)
                if after_send is not None:
                    after_send(name, email)
                with self._db() as db:
                    db.execute(
                        "UPDATE outbox SET state = 'sent' WHERE name = ? AND email = ? AND message_id = ?",
                        (name, email, message["Message-ID"]),
                    )
                sent += 1
        return sent

    def _unsent(self, name: str, email: str) -> bool:
        with self._db() as db:
            row = db.execute(
                "SELECT 1 FROM outbox WHERE name = ? AND email = ? AND state != 'sent' LIMIT 1", (name, email)
            ).fetchone()
        return row is not None

    def _prepare(self, settings: MailSettings, name: str, email: str) -> EmailMessage:
        """The digest for ``name`` and ``email``: rows already ``sending`` keep their
        Message-ID (a resend after a crash); pending ones join under it, recorded before sending."""
        with self._db() as db:
            row = db.execute(
                "SELECT message_id FROM outbox WHERE name = ? AND email = ? AND state = 'sending' LIMIT 1",
                (name, email),
            ).fetchone()
            message_id = row[0] if row else make_msgid(domain="sendsearch.invalid")
            if row is None:
                db.execute(
                    "UPDATE outbox SET state = 'sending', message_id = ? WHERE name = ? AND email = ? "
                    "AND state = 'pending'",
                    (message_id, name, email),
                )
            lines = [
                r[0]
                for r in db.execute(
                    "SELECT line FROM outbox WHERE name = ? AND email = ? AND message_id = ? ORDER BY doc_id",
                    (name, email, message_id),
                )
            ]
        link = (
            settings.base_url.rstrip("/")
            + "/feeds/unsubscribe?"
            + urlencode({"token": make_token(settings.secret, name, email)})
        )
        feed = settings.base_url.rstrip("/") + "/feeds/saved/" + quote(name) + ".atom"
        # Long lines allowed (up to SMTP's 998): a folded List-Unsubscribe would be encoded
        # into a form mail clients cannot follow.
        message = EmailMessage(policy=SMTP_POLICY.clone(max_line_length=998))
        message["Subject"] = f"sendsearch: {len(lines)} new answer{'s' if len(lines) != 1 else ''} for {name}"
        message["From"] = settings.sender
        message["To"] = email
        message["Message-ID"] = message_id
        message["List-Unsubscribe"] = f"<{link}>"
        body = [f"New answers matching your saved search “{name}”:", ""]
        body += [f"- {line}" for line in lines]
        body += ["", f"All matches as a feed: {feed}", f"Unsubscribe: {link}"]
        message.set_content("\n".join(body) + "\n")
        return message


def _line(citation: Citation, doc_id: str) -> str:
    return citation.line(fallback_title=doc_id)


def _deliver(settings: MailSettings, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    try:
        smtp = (
            smtplib.SMTP_SSL(settings.host, settings.port, timeout=30, context=context)
            if settings.tls == "tls"
            else smtplib.SMTP(settings.host, settings.port, timeout=30)
        )
        with smtp:
            if settings.tls == "starttls":
                smtp.starttls(context=context)
            if settings.user:
                smtp.login(settings.user, settings.password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise SendSearchError(f"could not send through {settings.host}:{settings.port}: {error}") from None
