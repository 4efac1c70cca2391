"""API keys → callers → scopes, as FastAPI dependencies.

Who may call what is data: ``scenario.callers`` maps each synthetic key to a caller with
scopes; each endpoint depends on ``require("<agency>:<read|write>")``.

Citizens have one key each, bound to their personal ID (``fakes.citizen_keys``, CONTRACT.md
§2): a verified citizen key authenticates as its citizen caller with the citizen's PID as the
``subject``. Citizen keys and PIDs are personal data: nothing here logs or echoes them.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from fakes.citizen_keys import PREFIX, SIG_CHARS, citizen_key, parse, signature
from fakes.problems import Problem
from scenarios.model import Caller

__all__ = ["Auth", "Who", "citizen_key", "require"]

_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Caller's API key")
_HOW = (f"citizen keys are per citizen: {PREFIX}<pid>-<the first {SIG_CHARS} hex characters of "
        "HMAC-SHA256(key=the citizen caller's configured key, msg=<pid>)> (CONTRACT.md §2)")


@dataclass(frozen=True, slots=True)
class Who:
    """The authenticated caller of a request. ``subject``: the personal ID a citizen key is
    bound to (None for every other caller)."""

    name: str
    role: str
    agency: str | None
    subject: str | None = None

    @property
    def principal(self) -> str:
        """Whom the request is answered for: the caller, or a citizen caller and its citizen
        (what idempotency keys are scoped by)."""
        return self.name if self.subject is None else f"{self.name}:{self.subject}"


class Auth:
    """The key table of one server."""

    def __init__(self, callers: Mapping[str, Caller]) -> None:
        #: the fixed keys: every caller's but a citizen caller's, whose configured key is a secret
        #: (unless it is ``shared``: then it is also one key for every citizen, with no subject)
        self.by_key = {c.key: (name, c) for name, c in callers.items() if c.role != "citizen" or c.shared}
        self._issuers = [(name, c, c.key.encode()) for name, c in callers.items() if c.role == "citizen"]
        self._secrets = {c.key for _, c, _ in self._issuers if not c.shared}
        self._who: dict[tuple[str, str], Who | None] = {}

    def _citizen(self, key: str) -> tuple[str, Caller, str] | None:
        """The citizen caller that issued ``key`` and the citizen's PID, if its signature holds."""
        parts = parse(key)
        if parts is None:
            return None
        pid, sig = parts
        for name, caller, secret in self._issuers:
            if hmac.compare_digest(signature(secret, pid), sig):
                return name, caller, pid
        return None

    def check(self, key: str | None, scope: str) -> Who:
        """The caller of ``key`` if it holds ``scope``; raises Problem 401 or 403."""
        found = self.by_key.get(key or "")
        subject = None
        if found is None and key and key.startswith(PREFIX):
            citizen = self._citizen(key)
            if citizen is None:
                raise _unauthenticated("invalid citizen key")
            found, subject = citizen[:2], citizen[2]
        if found is None:
            if not key:
                raise _unauthenticated("missing X-API-Key")
            if key in self._secrets:
                raise _unauthenticated(f"this is not an API key: {_HOW}")
            raise _unauthenticated("unknown API key")
        name, caller = found
        if scope not in caller.scopes:
            raise Problem(403, "forbidden", f"caller {name!r} lacks scope {scope!r}")
        return Who(name, caller.role, caller.agency, subject)

    def lookup(self, key: str, scope: str) -> Who | None:
        """The caller of ``key`` if it holds ``scope``, else None (never raises): the fast path.
        Fixed keys are cached; a citizen key is verified each time (one HMAC, a few µs), so
        nothing grows with the number of citizens or of unknown keys."""
        found = self.by_key.get(key)
        if found is not None:
            try:
                return self._who[(key, scope)]
            except KeyError:
                who = Who(found[0], found[1].role, found[1].agency) if scope in found[1].scopes else None
                self._who[(key, scope)] = who
                return who
        if not key.startswith(PREFIX):
            return None
        citizen = self._citizen(key)
        if citizen is None or scope not in citizen[1].scopes:
            return None
        return Who(citizen[0], citizen[1].role, citizen[1].agency, citizen[2])


def _unauthenticated(detail: str) -> Problem:
    return Problem(401, "unauthenticated", detail, headers={"WWW-Authenticate": "ApiKey"})


def require(scope: str) -> Callable[..., Coroutine[Any, Any, Who]]:
    """A dependency admitting callers that hold ``scope``."""

    async def dependency(request: Request, key: str | None = Security(_header)) -> Who:
        auth: Auth = request.app.state.env.auth
        return auth.check(key, scope)

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    dependency.scope = scope  # type: ignore[attr-defined]  # read by fakes._direct_routes
    return dependency
