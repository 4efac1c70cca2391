"""What every check receives: the clients, the ecosystem, the seed and the day (private)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from certify._http import Client, Exchange
from certify._proxy import Proxy
from scenarios import Scenario

__all__ = ["Blocked", "Ctx", "Failed", "Options", "Outcome", "ensure", "passed"]

Status = Literal["pass", "fail", "not run"]


class Failed(Exception):
    """A requirement is not met; ``exchanges`` are the evidence."""

    def __init__(self, detail: str, *exchanges: Exchange) -> None:
        super().__init__(detail)
        self.detail, self.exchanges = detail, list(exchanges)


class Blocked(Exception):
    """A requirement could not be exercised (a prerequisite failed): it is *not run*."""

    def __init__(self, detail: str, *exchanges: Exchange) -> None:
        super().__init__(detail)
        self.detail, self.exchanges = detail, list(exchanges)


@dataclass
class Outcome:
    """The decision on one requirement, with its evidence."""

    status: Status
    detail: str
    exchanges: list[Exchange] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def ensure(condition: bool, detail: str, *exchanges: Exchange) -> None:
    """Raise :class:`Failed` with ``detail`` unless ``condition``."""
    if not condition:
        raise Failed(detail, *exchanges)


def passed(detail: str, *exchanges: Exchange, **data: Any) -> Outcome:
    """A passing outcome."""
    return Outcome("pass", detail, list(exchanges), dict(data))


@dataclass(frozen=True)
class Options:
    """Knobs of a certification run (the defaults are the real certification)."""

    rate: float | None = None            # declared rate, requests/s (None: peak hour × factor)
    safety_factor: float = 50.0
    perf_seconds: float = 60.0
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
    proxy: Proxy
    today: dt.date
    options: Options
    openapi: dict[str, Any]
    vendor_url: str
    eco_url: str
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
