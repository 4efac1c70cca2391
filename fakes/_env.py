"""The context a fake server passes to every handler: scenario, clock, stores, clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fakes._clock import Clock, StoppedClock
from fakes._outbound import Outbound, TransportError
from fakes.auth import Auth
from fakes.problems import Problem
from fakes.store import Store
from scenarios import Scenario

__all__ = ["Env"]


@dataclass
class Env:
    """Everything one server shares: reached from a request as ``request.app.state.env``."""

    scenario: Scenario
    run_dir: Path
    clock: Clock
    auth: Auth
    outbound: Outbound
    stores: dict[str, Store] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def at(self, minute: float) -> Env:
        """This context with its clock stopped at scenario minute ``minute`` (stores, clients
        and extras shared): a write run with it is dated then."""
        return Env(self.scenario, self.run_dir, StoppedClock.stop(self.clock, minute), self.auth,
                   self.outbound, self.stores, self.extras)

    def rng(self, *path: int) -> np.random.Generator:
        """A generator seeded from the scenario seed and ``path`` (independent streams)."""
        return np.random.default_rng([self.scenario.meta.seed, *path])

    def key_of(self, agency: str) -> str:
        """The API key agency ``agency`` (or the portal) calls others with.

        Raises ValueError naming the agency when the scenario has no such caller.
        """
        for caller in self.scenario.callers.values():
            if caller.agency == agency and caller.role in ("agency", "portal"):
                return caller.key
        raise ValueError(f"scenario.callers has no caller for agency {agency!r}")

    async def read(self, me: str, agency: str, path: str) -> dict[str, Any] | None:
        """GET ``path`` at ``agency`` as ``me``: the JSON document, or None on 404.

        Raises Problem 502 ``upstream_error`` on any other failure.
        """
        try:
            reply = await self.outbound.call(agency, "GET", path, self.key_of(me))
        except TransportError as exc:
            raise Problem(502, "upstream_error", f"{agency} unreachable: {exc}") from None
        if reply.status == 404:
            return None
        if reply.status != 200 or not isinstance(reply.body, dict):
            code = reply.body.get("code") if isinstance(reply.body, dict) else None
            raise Problem(502, "upstream_error", f"{agency} answered {reply.status} ({code})")
        return reply.body
