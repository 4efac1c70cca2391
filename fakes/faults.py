"""Fault middleware: the scenario's fault timeline applied in front of one agency.

One tiny ASGI class per agency mount (``FaultMiddleware(app, agency=..., ...)``). At each
request it takes the faults active at the scenario minute (``Clock.minute``), draws from a
generator seeded by the scenario seed and the agency (same seed and request order → same
faults) and either delays the request, answers for the agency, marks the request with the
semantic faults drawn for it (``scope["state"]["faults"]``: slow PID issuance, wrong card
expiry, a dossier code of the agency's own (F3), an attachment the portal loses on the way
(F10)) or shapes the delivery (duplicate, lost attachment at an agency, the portal's answer
with another code). Its own time, the injected delay apart, goes to the
``lienthong_fault_overhead_seconds`` histogram.

What a semantic fault does is the agency's: each agency module declares ``HOOKS``, a
:class:`Hook` per fault kind, and :func:`apply_hooks` (called by the agency's
``fakes.idempotency.Writes`` once the write's upstream reads are done) changes the write's
draft by the hooks of the faults marked on the request. Handlers test no fault.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from fakes._clock import Clock
from fakes._request_body import never, read_body, replay_body
from fakes.metrics import Metrics
from fakes.problems import MEDIA_TYPE, Problem
from scenarios.model import Fault

__all__ = ["DEMAND_SIDE", "NOT_MIDDLEWARE", "FaultMiddleware", "Hook", "apply_hooks"]

#: Fault kinds the load driver and the twin apply; the fakes ignore them.
DEMAND_SIDE = frozenset({"surge", "incomplete"})
#: Fault kinds the middleware leaves alone: the demand side's, and ``slow_polling`` (the
#: portal's orchestrator polls less often, ``fakes._orchestrator``).
NOT_MIDDLEWARE = DEMAND_SIDE | {"slow_polling"}
_ATTACHMENTS = ("birth_certificate_id", "death_notice_id")
Message = dict[str, Any]
D = TypeVar("D")


@dataclasses.dataclass(frozen=True, slots=True)
class Hook:
    """What one semantic fault does to a write: its draft's ``field`` becomes
    ``value(draft, drawn)`` (``drawn``: what the middleware marked, e.g. a delay).

    A draft (a dataclass) without ``field`` is not concerned and stays as it is.
    """

    field: str
    value: Callable[[Any, Any], Any]


def apply_hooks(hooks: Mapping[str, Hook], scope: Mapping[str, Any], draft: D) -> D:
    """``draft`` changed by the ``hooks`` of the faults marked on the request of ``scope``
    (in the order they were marked)."""
    marked: dict[str, Any] = scope.get("state", {}).get("faults") or {}
    for kind, drawn in marked.items():
        hook = hooks.get(kind)
        if hook is not None and drawn and _has_field(draft, hook.field):
            change = {hook.field: hook.value(draft, drawn)}
            draft = dataclasses.replace(draft, **change)  # type: ignore[type-var]
    return draft


def _has_field(draft: Any, name: str) -> bool:
    return dataclasses.is_dataclass(draft) and any(f.name == name for f in dataclasses.fields(draft))


@dataclasses.dataclass(slots=True)
class _Drawn:
    """What the faults drew for one request: a delay (seconds), an answer instead of the
    agency's, the semantic faults marked for the agency's hooks and the delivery's shape."""

    delay: float = 0.0
    answer: Problem | None = None
    marks: dict[str, Any] = dataclasses.field(default_factory=dict)
    shape: set[str] = dataclasses.field(default_factory=set)


class FaultMiddleware:
    """Applies ``faults`` of ``agency`` to requests whose path starts with ``prefix``."""

    def __init__(self, app: Any, *, agency: str, prefix: str, faults: Sequence[Fault],
                 clock: Clock, rng: np.random.Generator, metrics: Metrics) -> None:
        self.app, self.agency, self.prefix = app, agency, prefix
        self.faults = tuple(f for f in faults if f.agency in (agency, "*")
                            and f.kind not in NOT_MIDDLEWARE)
        self.clock, self.rng, self.metrics = clock, rng, metrics

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        active = None
        if self.faults:
            minute = self.clock.minute()
            active = [f for f in self.faults if f.start <= minute < f.end]
        if not active:
            self.metrics.overhead[self.agency].observe(time.perf_counter() - start)
            await self.app(scope, receive, send)
            return
        await self._faulty(scope, receive, send, active, start)

    def _hit(self, fault: Fault) -> bool:
        hit = fault.rate is not None and float(self.rng.random()) < fault.rate
        if hit:
            self.metrics.faults[(self.agency, fault.kind)] += 1
        return hit

    def _draw(self, scope: Message, active: list[Fault]) -> _Drawn:
        """The draws of the ``active`` faults for one request, in their order."""
        write = scope["method"] == "POST"
        drawn = _Drawn()
        for f in active:
            kind = f.kind
            if kind == "latency" and f.latency is not None:
                drawn.delay += float(f.latency.sample(self.rng)) / 1000.0
            elif kind == "delivery_delay" and f.delay is not None:
                drawn.delay += self.clock.wall_seconds(float(f.delay.sample(self.rng)))
            elif kind == "outage" and drawn.answer is None:
                self.metrics.faults[(self.agency, kind)] += 1
                drawn.answer = Problem(f.status or 503, "unavailable", f"{self.agency} is down",
                                       headers={"Retry-After": "1", "X-Fault": kind})
            elif kind == "error" and drawn.answer is None and self._hit(f):
                drawn.answer = Problem(f.status or 500, "injected_error", f"{self.agency} failed",
                                       headers={"X-Fault": kind})
            elif kind == "false_rejection" and drawn.answer is None and self._hit(f):
                drawn.answer = Problem(f.status or 404, "unknown_person",
                                       "citizen not found in the population database",
                                       headers={"X-Fault": kind})
            elif kind == "slow_pid" and write and scope["path"].endswith("/pids") \
                    and f.delay is not None:
                self.metrics.faults[(self.agency, kind)] += 1
                drawn.marks["slow_pid"] = max(float(f.delay.sample(self.rng)), 1e-6)
            elif kind == "wrong_card_expiry" and write and self._hit(f):
                drawn.marks["wrong_card_expiry"] = True
            elif kind == "lost_attachment" and self.agency == "portal" and write \
                    and self._hit(f):
                drawn.marks["lost_attachment"] = True  # the portal loses it on the way to justice
            elif kind == "code_mismatch" and self.agency != "portal" and write \
                    and self._hit(f):
                drawn.marks["code_mismatch"] = True  # the agency records its own dossier code
            elif kind in ("lost_attachment", "duplicate_delivery", "code_mismatch") \
                    and write and self._hit(f):
                drawn.shape.add(kind)
        return drawn

    async def _faulty(self, scope: Message, receive: Any, send: Any, active: list[Fault],
                      start: float) -> None:
        drawn = self._draw(scope, active)
        delay, answer, shape = drawn.delay, drawn.answer, drawn.shape
        spent = time.perf_counter() - start
        if delay > 0:
            self.metrics.injected[(self.agency, "delay")] += delay
            await asyncio.sleep(delay)
        if answer is not None:
            if scope.get("extensions", {}).get("lienthong.inproc") and answer.code == "unavailable":
                raise ConnectionRefusedError(f"{self.agency} outage (injected)")
            await _send_problem(send, answer)
            self.metrics.overhead[self.agency].observe(spent)
            return
        scope.setdefault("state", {})["faults"] = drawn.marks
        if not shape:
            self.metrics.overhead[self.agency].observe(spent)
            await self.app(scope, receive, send)
            return
        await self._shaped(scope, receive, send, shape, spent)

    async def _shaped(self, scope: Message, receive: Any, send: Any, shape: set[str],
                      spent: float) -> None:
        body = await read_body(receive)
        if "lost_attachment" in shape and _has_attachment(body):
            await _send_problem(send, Problem(422, "missing_attachment",
                                              "an attachment of the request did not arrive",
                                              headers={"X-Fault": "lost_attachment"}))
            return
        copies = 2 if "duplicate_delivery" in shape else 1
        outs = [_Capture() for _ in range(copies)]
        await asyncio.gather(*(self.app(dict(scope), replay_body(body, never), o.send) for o in outs))
        first = outs[0]
        t = time.perf_counter()
        if "code_mismatch" in shape:
            first.rewrite_id()
        self.metrics.overhead[self.agency].observe(spent + time.perf_counter() - t)
        await first.forward(send, ",".join(sorted(shape)))


class _Capture:
    """Collects a response so it can be forwarded (or dropped, for a duplicate)."""

    def __init__(self) -> None:
        self.start: Message = {}
        self.body = b""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    def rewrite_id(self) -> None:
        """Incident F3: the portal answers with a provincial-style dossier code."""
        try:
            doc = json.loads(self.body)
        except ValueError:
            return
        if isinstance(doc, dict) and isinstance(doc.get("id"), str):
            doc["id"] = "000.00.01.H26-" + doc["id"].replace("-", "")[-14:]
            self.body = json.dumps(doc, ensure_ascii=False).encode()

    async def forward(self, send: Any, kinds: str) -> None:
        headers = [(k, v) for k, v in self.start.get("headers", []) if k != b"content-length"]
        headers += [(b"content-length", str(len(self.body)).encode()),
                    (b"x-fault", kinds.encode())]
        await send({"type": "http.response.start", "status": self.start.get("status", 500),
                    "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def _has_attachment(body: bytes) -> bool:
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    if not isinstance(doc, dict):
        return False
    nested = [doc] + [v for v in doc.values() if isinstance(v, dict)]
    return any(k in d for d in nested for k in _ATTACHMENTS)


async def _send_problem(send: Any, problem: Problem) -> None:
    payload = json.dumps(problem.body()).encode()
    headers = [(b"content-type", MEDIA_TYPE.encode()),
               (b"content-length", str(len(payload)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
