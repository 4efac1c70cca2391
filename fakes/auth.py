"""API keys → callers → scopes, as FastAPI dependencies.

Who may call what is data: ``scenario.callers`` maps each synthetic key to a caller with
scopes; each endpoint depends on ``require("<agency>:<read|write>")``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from fakes.problems import Problem
from scenarios.model import Caller

__all__ = ["Auth", "Who", "require"]

_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Caller's API key")


@dataclass(frozen=True, slots=True)
class Who:
    """The authenticated caller of a request."""

    name: str
    role: str
    agency: str | None


class Auth:
    """The key table of one server."""

    def __init__(self, callers: Mapping[str, Caller]) -> None:
        self.by_key = {c.key: (name, c) for name, c in callers.items()}

    def check(self, key: str | None, scope: str) -> Who:
        """The caller of ``key`` if it holds ``scope``; raises Problem 401 or 403."""
        found = self.by_key.get(key or "")
        if found is None:
            raise Problem(401, "unauthenticated",
                          "missing X-API-Key" if not key else "unknown API key",
                          headers={"WWW-Authenticate": "ApiKey"})
        name, caller = found
        if scope not in caller.scopes:
            raise Problem(403, "forbidden", f"caller {name!r} lacks scope {scope!r}")
        return Who(name, caller.role, caller.agency)


def require(scope: str) -> Callable[..., Coroutine[Any, Any, Who]]:
    """A dependency admitting callers that hold ``scope``."""

    async def dependency(request: Request, key: str | None = Security(_header)) -> Who:
        auth: Auth = request.app.state.env.auth
        return auth.check(key, scope)

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    dependency.scope = scope  # type: ignore[attr-defined]  # read by fakes._direct_routes
    return dependency
