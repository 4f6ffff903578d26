"""Settings a person sets through the environment, read when they are used (never at import).

The CLI maps the same variables onto its options with click's ``envvar=``; the library and
the page call these functions. Defaults are the ones the README documents.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path

from .errors import SendSearchError

__all__ = [
    "BUNDLED_CORPUS",
    "DEFAULT_HOST",
    "DEFAULT_INDEX",
    "DEFAULT_PORT",
    "ENV_ADMIN_PASSWORD",
    "ENV_ANSWER_SCORER",
    "ENV_BACKEND",
    "ENV_HOST",
    "ENV_INDEX",
    "ENV_MODEL",
    "ENV_PARLIAMENT_API",
    "ENV_PORT",
    "ENV_PRECISION",
    "ENV_SESSION_SECRET",
    "ENV_STORE",
    "ENV_TRUSTED_PROXIES",
    "admin_password",
    "answer_scorer",
    "backend",
    "host",
    "index_dir",
    "model",
    "parliament_api",
    "parse_trusted_proxies",
    "port",
    "precision",
    "session_secret",
    "store",
    "trusted_proxies",
]

ENV_INDEX = "SENDSEARCH_INDEX"
ENV_STORE = "SENDSEARCH_STORE"
ENV_MODEL = "SENDSEARCH_MODEL"
ENV_BACKEND = "SENDSEARCH_BACKEND"
ENV_PRECISION = "SENDSEARCH_PRECISION"
ENV_HOST = "SENDSEARCH_HOST"
ENV_PORT = "SENDSEARCH_PORT"
ENV_ADMIN_PASSWORD = "SENDSEARCH_ADMIN_PASSWORD"  # noqa: S105 - the variable's name, not a password
ENV_SESSION_SECRET = "SENDSEARCH_SESSION_SECRET"  # noqa: S105 - the variable's name, not a secret
ENV_PARLIAMENT_API = "SENDSEARCH_PARLIAMENT_API"
ENV_TRUSTED_PROXIES = "SENDSEARCH_TRUSTED_PROXIES"
ENV_ANSWER_SCORER = "SENDSEARCH_ANSWER_SCORER"

# What serves where when nothing says otherwise (the CLI's option defaults are these too).
DEFAULT_INDEX = Path("index")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860

# The corpus that ships with the project, beside src/ in a source checkout.
BUNDLED_CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def _get(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def index_dir() -> Path:
    """Where the index lives: ``SENDSEARCH_INDEX``, else ``index`` in the working folder."""
    return Path(_get(ENV_INDEX) or DEFAULT_INDEX)


def store() -> str | None:
    """A PostgreSQL database to keep the index in (``SENDSEARCH_STORE``, postgresql://...), if any."""
    return _get(ENV_STORE)


def model() -> str | None:
    """The embedding model asked for, if any (``SENDSEARCH_MODEL``); None means the default."""
    return _get(ENV_MODEL)


def answer_scorer() -> str | None:
    """What chooses a reply's key points (``SENDSEARCH_ANSWER_SCORER``): unset for the shipped
    answer scorer, a path to another scorer's JSON description (``make answer-scorer``; with
    a sentence reranker when trained with ``--reranker``), or ``rules`` for the hand-tuned
    key points."""
    return _get(ENV_ANSWER_SCORER)


def backend() -> str:
    """``openvino``, ``torch`` or ``auto`` (``SENDSEARCH_BACKEND``)."""
    return _get(ENV_BACKEND) or "auto"


def precision() -> str:
    """``fp32``, ``bf16``, ``int8`` or ``auto`` (``SENDSEARCH_PRECISION``). An index built in int8
    encodes its questions in int8 whatever this says, and one built in fp32 or bf16 never in int8."""
    return _get(ENV_PRECISION) or "auto"


def host() -> str:
    """The address the page binds to (``SENDSEARCH_HOST``)."""
    return _get(ENV_HOST) or DEFAULT_HOST


def port() -> int:
    """The port the page listens on (``SENDSEARCH_PORT``)."""
    value = _get(ENV_PORT)
    if value is None:
        return DEFAULT_PORT
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SendSearchError(f"{ENV_PORT} must be a port number from 1 to 65535, not {value!r}")
    return int(value)


def admin_password() -> str | None:
    """The password for adding answers from the page; None turns adding off."""
    return _get(ENV_ADMIN_PASSWORD)


def session_secret() -> bytes | None:
    """What signs admin sessions (``SENDSEARCH_SESSION_SECRET``), the same on every instance
    behind one load balancer so a sign-in holds on all of them; None: one per process."""
    value = _get(ENV_SESSION_SECRET)
    if value is None:
        return None
    if len(value) < 32:
        raise SendSearchError(f"{ENV_SESSION_SECRET} must be at least 32 characters long (a random string)")
    return value.encode()


def parliament_api() -> str:
    """Base URL of the written questions API (``SENDSEARCH_PARLIAMENT_API``), for mirrors and tests."""
    return _get(ENV_PARLIAMENT_API) or "https://questions-statements-api.parliament.uk"


def parse_trusted_proxies(values: Iterable[str], source: str = ENV_TRUSTED_PROXIES) -> tuple[str, ...]:
    """Addresses (``127.0.0.1``) or networks (``10.0.0.0/8``) of reverse proxies whose
    ``X-Forwarded-For`` names the real client; ``source`` is what the person typed them in."""
    trusted = []
    for value in values:
        for item in value.replace(",", " ").split():
            try:
                trusted.append(
                    str(ipaddress.ip_network(item, strict=False) if "/" in item else ipaddress.ip_address(item))
                )
            except ValueError:
                raise SendSearchError(
                    f"{source} must list IP addresses or networks (like 127.0.0.1 or 10.0.0.0/8), not {item!r}"
                ) from None
    return tuple(dict.fromkeys(trusted))


def trusted_proxies() -> tuple[str, ...]:
    """The reverse proxies trusted to name the client (``SENDSEARCH_TRUSTED_PROXIES``,
    comma- or space-separated); none by default, so ``X-Forwarded-For`` is ignored."""
    return parse_trusted_proxies([_get(ENV_TRUSTED_PROXIES) or ""])
