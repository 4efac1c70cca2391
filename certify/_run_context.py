"""What every check receives: the clients, the ecosystem, the seed and the day; the options of
the run (private)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from certify._exchanges import Client
from certify._fault_proxy import FaultProxy
from certify._outcomes import Outcome
from scenarios import Scenario

__all__ = ["Check", "Ctx", "Options"]


@dataclass(frozen=True)
class Options:
    """Knobs of a certification run (the defaults are the real certification)."""

    rate: float | None = None            # declared rate, requests/s (None: the national peak)
    perf_seconds: float = 20.0
    contract_examples: int = 25          # schemathesis examples per operation and mode
    link_timeout_s: float = 30.0


@dataclass
class Ctx:
    """One certification run as the checks see it."""

    agency: str
    scenario: Scenario
    seed: int
    vendor: Client
    eco: Client
    proxy: FaultProxy
    today: dt.date
    options: Options
    openapi: dict[str, Any]
    vendor_url: str
    eco_url: str
    work_dir: Path | None = None    # the run's temporary folder (removed at the end)
    cleanup: ExitStack = field(default_factory=ExitStack)  # the run's; what stops it early
    notes: dict[str, Any] = field(default_factory=dict)
    _serial: int = 0
    current: str = ""

    def rng(self, name: str) -> np.random.Generator:
        """A generator for ``name`` from the run seed (independent of check order)."""
        return np.random.default_rng([self.seed, zlib.crc32(name.encode())])

    def key(self, tag: str, body: Any, salt: str = "") -> str:
        """A deterministic Idempotency-Key for ``body``: same seed, tag and body → same key."""
        text = json.dumps([self.seed, tag, body, salt], sort_keys=True, ensure_ascii=False)
        return "cert-" + hashlib.sha256(text.encode()).hexdigest()[:32]

    def serial(self) -> int:
        """A fresh 6-digit serial, unique within the run, derived from the seed."""
        self._serial += 1
        return (self.seed * 7919 + self._serial * 104729) % 1_000_000

    def client(self, agency: str) -> Client:
        """Where ``agency`` lives in this run: the vendor for the certified agency."""
        return self.vendor if agency == self.agency else self.eco

    def keys(self) -> dict[str, str]:
        return {name: c.key for name, c in self.scenario.callers.items()}

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Calls inside are not counted as the vendor's evidence or coverage."""
        was = self.vendor.record
        self.vendor.record = False
        try:
            yield
        finally:
            self.vendor.record = was


Check = Callable[[Ctx], Outcome]
