"""Per-citizen API keys (fakes/CONTRACT.md §2), standard library only: load generators and the
certifier import this without the server's dependencies.

The configured ``key`` of a caller with role ``citizen`` is not a key but the *issuer secret* of
its citizens' keys: the key of the citizen with personal ID ``pid`` is ``cit-<pid>-<sig>``,
``sig`` the first 32 hex characters of HMAC-SHA256(key=secret, msg=pid). Whoever holds the
scenario (the load tester, the certifier) can derive any citizen's key; a server verifies one
without a table (:func:`verify`). Citizen keys carry a PID: personal data, never logged in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import re

__all__ = ["PREFIX", "SIG_CHARS", "citizen_key", "parse", "signature"]

#: Every citizen key starts so; no configured key may (scenarios.model.Caller).
PREFIX = "cit-"
SIG_CHARS = 32
_PID = re.compile(r"[0-9]{12}")
_KEY = re.compile(rf"{PREFIX}([0-9]{{12}})-([0-9a-f]{{{SIG_CHARS}}})")


def signature(secret: bytes, pid: str) -> str:
    """The first 32 lower-case hex characters of HMAC-SHA256(``secret``, ``pid``)."""
    return hmac.new(secret, pid.encode("ascii"), hashlib.sha256).hexdigest()[:SIG_CHARS]


def citizen_key(secret: str, pid: str) -> str:
    """The API key of the citizen whose personal ID is ``pid`` (12 ASCII digits), issued under
    ``secret``, the configured ``key`` of a caller with role ``citizen``:
    ``cit-<pid>-<first 32 hex of HMAC-SHA256(secret, pid)>`` (CONTRACT.md §2).

    Raises ValueError when ``pid`` is not 12 digits (the message does not repeat it).
    """
    if not isinstance(pid, str) or not _PID.fullmatch(pid):
        raise ValueError("a citizen key needs the citizen's 12-digit personal ID")
    return f"{PREFIX}{pid}-{signature(secret.encode(), pid)}"


def parse(key: str) -> tuple[str, str] | None:
    """``(pid, sig)`` of a well-formed citizen key, else None (the signature is not checked)."""
    m = _KEY.fullmatch(key)
    return None if m is None else (m.group(1), m.group(2))
