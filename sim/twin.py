"""The twin: dossiers flow through their variant's steps at the agencies' desks and systems.

Model (minutes from the scenario's start; ``run`` is the entry point):

- **Arrivals** come from ``sim.arrivals`` (replication ``r`` uses an independent stream).
  A complete dossier is received when submitted; an incomplete one waits for supplementation
  (``supplement_delay_wd`` of office time, a ``supplement_share`` of them in time) or is
  refused when the ``supplement_wd`` window closes (the 15:00 rule, like any deadline).
- **Steps** form a DAG per variant (``Step.after``). A step whose ``when_status`` excludes the
  deceased's status is skipped (the funeral payer is chosen by status) and counts as done.
  Each step is a desk phase (``desk_time`` of a person at the agency's pooled desks) followed by
  a system phase (``system_time`` on the agency's pooled servers); either may be absent. The
  desk is released before the system phase.
- **Desks** work only while the agency's office is open (lunch, nights, weekends, holidays and
  closures from its working calendar). A task starts at the next opening and, when closing time
  comes first, pauses and resumes at the next opening (preemptive-resume on the calendar), so
  ``desk_end - start`` may span nights while exactly ``desk_time`` minutes of office time are
  worked. Queues are FIFO per agency. Desks and servers are ``scenarios.desks.Pool``s, the one
  desk/calendar model the reference fakes use too (agencies in time), with its service-time
  draws (``Draws``, ``service_rng``): the same seed gives the same work in both.
- **Systems** run 24/7 except during ``outage`` faults of their agency (or ``"*"``); work in
  progress pauses through an outage. ``latency`` faults add their draw (ms) to an attempt;
  ``error`` faults fail an attempt with their rate, and it is retried after an exponential
  backoff (1, 2, 4 … min, at most 60: ``load.portal_retry.backoff``, the reference portal's, or
  the step's ``retry``) without holding a server; the twin never gives a dossier up (the
  portal's ``within`` budget is not modelled). ``slow_pid`` delays the end of
  ``issue_pid`` steps that start their system phase in the window (issuance, not our servers).
- **Hand-offs** into an agency wait out a ``delivery_delay`` fault (its draw), and every
  hand-off waits out a ``portal`` outage. ``false_rejection`` refuses the dossier at the end of
  a step of that agency with the fault's rate.
- **Deadlines**: each step's ``due`` is ``limit_wd`` working days from its ready time, the
  dossier's from its received time (``deadline_wd``, or ``verification_deadline_wd`` for
  verification dossiers), both with the cut-off rule. At the horizon unfinished dossiers are
  ``open``: every arrival ends in exactly one of done, refused, open.

Not modelled (no queueing effect, or not a capacity question): ``lost_attachment``,
``duplicate_delivery``, ``code_mismatch``, ``wrong_card_expiry`` faults; the extra work of
verification (only its longer deadline); officers holding a desk during the system phase.

Speed: SimPy's ``Environment`` runs the events (its ``run(until=horizon)``;
``tests/sim/test_twin_loop.py`` checks the twin against an idiomatic SimPy model of the same
work), but no process per dossier — one feeder process walks the sorted arrivals; a phase is
booked on its pool when the task asks for it (``Pool.take``: start and end on the calendar are
known at once, the FIFO queue being the pool's heap of free times), and its end is one scheduled
event whose callback moves the dossier on. The cyclic garbage collector is paused while the loop
runs (its millions of short-lived objects are freed by reference counting). The hourly
timeline reads each pool's counts and their integrals from ``Pool.at``: a task is queued until a
unit is free for it and busy from then to its end (a desk taken at night counts busy, its area
only office time worked). Records are buffered as tuples and finished in vectorised chunks
(deadlines, working-day durations) before the consumers see them.
"""

from __future__ import annotations

import gc
import time as _time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from heapq import heappush
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy
from simpy.events import NORMAL, Event

from scenarios.demand import calendar_for
from scenarios.desks import DAY, INF, Availability, Draws, Pool, Workdays, outages, service_rng
from scenarios.model import AGENCY_IDS, DEATH_STATUSES, Fault, Scenario
from sim._accumulator import Accumulator
from sim._sinks import CsvSink, NpySink, Sink
from sim.arrivals import arrivals as make_arrivals
from sim.arrivals import desk_work
from sim.records import (
    ARRIVAL_DTYPE,
    DONE,
    DOSSIER_DTYPE,
    FROM_ARRIVALS,
    NO_STATUS,
    OPEN,
    REFUSED,
    SERVICES,
    STEP_DTYPE,
    TIMELINE_DTYPE,
    SimResult,
)
from sim.warmup import default_warmup

__all__ = ["CsvSink", "NpySink", "simulate"]

_MARGIN_DAYS = 150  # calendar tables reach past the horizon for deadlines of late dossiers
_CHUNK = 65_536
_DRAW_BLOCK = 4096
_HOUR = 60.0


def simulate(
    scenario: Scenario,
    *,
    days: int | None = None,
    replication: int = 0,
    seed: int | None = None,
    capacity: dict[str, tuple[int, int]] | None = None,
    sink: Sink | None = None,
    keep: bool = True,
    warmup_days: float | None = None,
    stream: npt.NDArray[np.void] | None = None,
) -> SimResult:
    """One replication of the twin over ``days`` days (default ``scenario.sim.days``).

    ``capacity`` overrides ``{agency: (desks, servers)}``; ``seed`` replaces the scenario seed;
    ``sink`` receives every record chunk (``sink.write(kind, array)`` with kind ``"steps"`` or
    ``"dossiers"``, then ``sink.close()``); ``keep=False`` keeps no records in memory (only the
    streaming aggregates, whose warm-up cut is ``warmup_days``, default
    ``scenario.sim.warmup_days`` or 0 when that does not fit the run); ``stream`` replays a
    given arrival stream (``ARRIVAL_DTYPE``) instead of the scenario's.

    Raises ValueError for a non-positive ``days``, an unknown agency in ``capacity``, negative
    capacities, a step needing desks or servers its agency does not have, or a ``stream`` not
    sorted by ``submitted`` with ``dossier`` 0..n-1.
    """
    days = scenario.sim.days if days is None else days
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    seed = scenario.meta.seed if seed is None else seed
    caps = _capacity(scenario, capacity)
    warm = default_warmup(scenario, days) if warmup_days is None else warmup_days
    began = _time.perf_counter()
    if stream is None:
        rng = np.random.default_rng(seed) if seed != scenario.meta.seed else None
        stream = make_arrivals(scenario, days, rng=rng, replication=replication)
    else:
        _check_stream(stream)
    model = _Model(scenario, days, caps, seed, replication, stream, warm, keep, sink)
    model.simulate()
    return model.result(time_taken=_time.perf_counter() - began)


def _check_stream(stream: npt.NDArray[np.void]) -> None:
    if stream.dtype != ARRIVAL_DTYPE:
        raise ValueError(f"stream must have ARRIVAL_DTYPE, got {stream.dtype}")
    if np.any(np.diff(stream["submitted"]) < 0):
        raise ValueError("stream is not sorted by 'submitted'")
    if not np.array_equal(stream["dossier"], np.arange(stream.size)):
        raise ValueError("stream 'dossier' must be 0..n-1 in submission order")


def _capacity(scenario: Scenario, override: dict[str, tuple[int, int]] | None) -> dict[str, tuple[int, int]]:
    caps: dict[str, tuple[int, int]] = {aid: (a.desks, a.servers) for aid, a in scenario.agencies.items()}
    for aid, pair in (override or {}).items():
        if aid not in caps:
            raise ValueError(f"capacity for unknown agency {aid!r}; agencies: {', '.join(caps)}")
        desks, servers = pair
        if desks < 0 or servers < 0:
            raise ValueError(f"negative capacity for {aid!r}: {pair!r}")
        caps[aid] = (int(desks), int(servers))
    for sid, step in scenario.steps.items():
        desks, servers = caps[step.agency]
        if step.desk_time is not None and desks < 1:
            raise ValueError(f"step {sid!r} needs a desk but agency {step.agency!r} has {desks}")
        if step.system_time is not None and servers < 1:
            raise ValueError(f"step {sid!r} needs a server but agency {step.agency!r} has {servers}")
    return caps


# -- plumbing ---------------------------------------------------------------------------------


class _Wake(Event):
    """An event that, after ``delay``, hands itself to the callback in ``callbacks`` (a one-item
    list shared by every wake of that callback: SimPy swaps an event's callbacks out before
    calling them, never mutates them): a Timeout carrying what it is about (``arg``)."""

    __slots__ = ("arg",)

    def __init__(self, env: simpy.Environment, delay: float, callbacks: _Callbacks, arg: Any) -> None:
        # Same state a simpy Timeout sets up, without its per-call checks (delay >= 0 holds here),
        # scheduled as ``env.schedule(self, NORMAL, delay)`` does, without the call.
        self.env = env
        self.callbacks = callbacks
        self._value = None
        self._ok = True
        self.arg = arg
        heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), self))


_Callbacks = list[Callable[[_Wake], None]]


class _Uniforms:
    __slots__ = ("buf", "i", "rng")

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.i = rng, 0
        self.buf: list[float] = []

    def __call__(self) -> float:
        if self.i >= len(self.buf):
            self.buf, self.i = self.rng.random(_DRAW_BLOCK).tolist(), 0
        self.i += 1
        return self.buf[self.i - 1]


@dataclass(frozen=True)
class _Plan:
    """The active steps of one (variant, status): roots, dependents and dependency counts."""

    steps: tuple[int, ...]  # global step indices, local order
    roots: tuple[int, ...]  # local indices
    dependents: tuple[tuple[int, ...], ...]
    needs: tuple[int, ...]


class _Dossier:
    __slots__ = ("i", "left", "needs", "plan", "refused", "tasks")

    def __init__(self, i: int, plan: _Plan) -> None:
        self.i, self.plan = i, plan
        self.needs = list(plan.needs)
        self.left = len(plan.steps)
        self.tasks: list[_Task] = []
        self.refused = False


class _Task:
    __slots__ = ("d", "desk_end", "desk_time", "end", "local", "ready", "retries", "start", "step",
                 "sys_start", "sys_time")

    def __init__(self, d: _Dossier, local: int, step: int, ready: float) -> None:
        self.d, self.local, self.step, self.ready = d, local, step, ready
        self.start = self.desk_end = self.sys_start = self.end = _NAN
        self.desk_time = self.sys_time = 0.0
        self.retries = 0


# -- the model --------------------------------------------------------------------------------


class _Model:
    def __init__(
        self,
        scenario: Scenario,
        days: int,
        caps: dict[str, tuple[int, int]],
        seed: int,
        replication: int,
        stream: npt.NDArray[np.void],
        warmup_days: float,
        keep: bool,
        sink: Sink | None,
    ) -> None:
        self.s, self.days, self.caps, self.seed = scenario, days, caps, seed
        self.replication = replication
        self.horizon = days * DAY
        self.env = simpy.Environment()
        self.events = 0
        # what each kind of wake calls (one shared list per callback, see ``_Wake``)
        self.on_receive: _Callbacks = [self._receive]
        self.on_refuse_supplement: _Callbacks = [self._refuse_supplement]
        self.on_begin_later: _Callbacks = [self._begin_later]
        self.on_desk_end: _Callbacks = [self._desk_end]
        self.on_system_end: _Callbacks = [self._system_end]
        self.on_retry: _Callbacks = [self._retry]
        self.on_step_done_later: _Callbacks = [self._step_done_later]
        self.on_book: _Callbacks = [self._book]
        self.step_names = tuple(scenario.steps)
        self.step_agency = [AGENCY_IDS.index(scenario.steps[n].agency) for n in self.step_names]
        self.step_backoff = [(scenario.steps[n].retry or scenario.load.portal_retry).backoff
                             for n in self.step_names]  # the portal's retry policy, as the fakes'
        self._calendars(days)
        self._pools()
        self._faults()
        self._random()
        self.arr = stream
        self._plans()
        self._dossier_times()
        self.active: dict[int, _Dossier] = {}
        self.wip = 0
        self.wip_area = 0.0
        self.wip_last = 0.0
        self.step_rows: list[tuple[Any, ...]] = []
        self.dossier_rows: list[tuple[int, float, int]] = []
        self.timeline: list[tuple[Any, ...]] = []
        self.keep = keep
        self.kept_steps: list[np.ndarray] = []
        self.kept_dossiers: list[np.ndarray] = []
        self.sink = sink
        self.acc = Accumulator(scenario, days, warmup_days, self.step_names)

    # -- set-up ------------------------------------------------------------------------------

    def _calendars(self, days: int) -> None:
        span = days + _MARGIN_DAYS
        start = self.s.calendar.start
        self.workdays: dict[str, Workdays] = {
            aid: Workdays(calendar_for(self.s, aid), start, span) for aid in self.s.agencies
        }
        self.main_days = Workdays(calendar_for(self.s), start, span)
        self.receiving: dict[str, str] = {
            sid: self.s.steps[next(iter(svc.variants.values())).steps[0]].agency
            for sid, svc in self.s.services.items()
        }

    def _pools(self) -> None:
        """Each agency's desks (its working calendar) and servers (up except its outages), as
        ``scenarios.desks.Pool``s; an agency with no desks (servers) has none (the capacity
        check guarantees no step needs them), its calendar is still kept for the records."""
        n = len(AGENCY_IDS)
        self.desks: list[Pool | None] = [None] * n
        self.servers: list[Pool | None] = [None] * n
        self.desk_avail: list[Availability | None] = [None] * n
        self.sys_avail: list[Availability | None] = [None] * n
        for aid, (desks, servers) in self.caps.items():
            a = AGENCY_IDS.index(aid)
            self.desk_avail[a] = desk_avail = self.workdays[aid].avail
            self.sys_avail[a] = sys_avail = Availability.up_except(outages(self.s, aid))
            self.desks[a] = Pool(desks, desk_avail, track=True) if desks else None
            self.servers[a] = Pool(servers, sys_avail, track=True) if servers else None
        portal = [(f.start, f.end) for f in self.s.faults if f.kind == "outage" and f.agency == "portal"]
        self.portal = Availability.up_except(portal) if portal else None

    def _faults(self) -> None:
        def of(kind: str, a: int) -> list[Fault]:
            return [f for f in self.s.faults if f.kind == kind and f.agency in (AGENCY_IDS[a], "*")]

        n = len(AGENCY_IDS)
        self.f_error = [of("error", a) for a in range(n)]
        self.f_latency = [of("latency", a) for a in range(n)]
        self.f_delay = [of("delivery_delay", a) for a in range(n)]
        self.f_reject = [of("false_rejection", a) for a in range(n)]
        slow = [f for f in self.s.faults if f.kind == "slow_pid"]
        self.f_slow_of = [
            [f for f in slow if f.agency in (step.agency, "*")] if step.task == "issue_pid" else []
            for step in (self.s.steps[n] for n in self.step_names)
        ]
        self.handoff_faults = [bool(self.f_delay[a]) or self.portal is not None for a in range(n)]

    def _rng(self, purpose: str) -> np.random.Generator:
        """The draws of one purpose, ``twin.<purpose>`` (``scenarios.desks.service_rng``)."""
        return service_rng(self.seed, self.replication, f"twin.{purpose}")

    def _random(self) -> None:
        steps = self.s.steps
        self.desk_draw = [Draws(steps[n].desk_time, self._rng(f"desk.{n}")) for n in self.step_names]
        self.sys_draw = [Draws(steps[n].system_time, self._rng(f"system.{n}")) for n in self.step_names]
        self.has_desk = [steps[n].desk_time is not None for n in self.step_names]
        self.has_sys = [steps[n].system_time is not None for n in self.step_names]
        self.limits = np.array(
            [np.nan if steps[n].limit_wd is None else steps[n].limit_wd for n in self.step_names]
        )
        self.uniform = _Uniforms(self._rng("faults.uniform"))
        # the hot path's view of a step: (draws, pool) of its desk and of its system phase, or None
        self.step_desk: list[tuple[Draws, Pool] | None] = []
        self.step_sys: list[tuple[Draws, Pool] | None] = []
        for i, a in enumerate(self.step_agency):
            desks, servers = self.desks[a], self.servers[a]
            self.step_desk.append((self.desk_draw[i], desks) if self.has_desk[i] and desks else None)
            self.step_sys.append((self.sys_draw[i], servers) if self.has_sys[i] and servers else None)
        self.fault_draw = {
            id(f): Draws(f.latency or f.delay, self._rng(f"fault.{i}"))
            for i, f in enumerate(self.s.faults)
            if f.latency or f.delay
        }

    def _plans(self) -> None:
        self.plans: dict[tuple[int, int, int], _Plan] = {}
        for code, sid in enumerate(SERVICES):
            svc = self.s.services.get(sid)  # type: ignore[call-overload]
            if svc is None:
                continue
            for v, variant in enumerate(svc.variants.values()):
                for status in range(len(_STATUSES) + 1):
                    st = NO_STATUS if status == len(_STATUSES) else status
                    self.plans[(code, v, st)] = self._plan(variant.steps, st)

    def _plan(self, names: tuple[str, ...], status: int) -> _Plan:
        def active(name: str) -> bool:
            when = self.s.steps[name].when_status
            return when is None or status == NO_STATUS or _STATUSES[status] in when

        def effective(name: str) -> set[str]:
            deps: set[str] = set()
            for dep in self.s.steps[name].after:
                deps |= {dep} if active(dep) else effective(dep)
            return deps

        kept = [n for n in names if active(n)]
        deps = {n: effective(n) for n in kept}
        local = {n: i for i, n in enumerate(kept)}
        return _Plan(
            steps=tuple(self.step_names.index(n) for n in kept),
            roots=tuple(local[n] for n in kept if not deps[n]),
            dependents=tuple(tuple(local[m] for m in kept if n in deps[m]) for n in kept),
            needs=tuple(len(deps[n]) for n in kept),
        )

    def _dossier_times(self) -> None:
        """Received, refusal and due times of every dossier, vectorised before the run."""
        a = self.arr
        n = a.size
        sub = a["submitted"].astype(float)
        received = sub.copy()
        refuse = np.full(n, np.nan)
        rng = self._rng("supplement")
        for code, sid in enumerate(SERVICES):
            svc = self.s.services.get(sid)  # type: ignore[call-overload]
            if svc is None:
                continue
            days = self.workdays[self.receiving[sid]]
            mask = (a["service"] == code) & a["incomplete"]
            k = int(mask.sum())
            in_time = rng.random(k) < svc.supplement_share
            delay_wd = np.asarray(svc.supplement_delay_wd.sample(rng, k), dtype=float)
            window = days.deadline(sub[mask], svc.supplement_wd)
            back = days.avail.advance_v(days.avail.next_open_v(sub[mask]), delay_wd * days.full_day)
            ok = in_time & (back <= window)
            received[mask] = np.where(ok, back, np.nan)
            refuse[mask] = np.where(ok, np.nan, window)
        if self.portal is not None:
            received = np.where(np.isnan(received), received, self.portal.next_open_v(received))
        self.received = received
        self.refuse_at = refuse
        clock = np.full(n, np.nan)
        due = np.full(n, np.nan)
        deadline_wd = np.zeros(n)
        for code, sid in enumerate(SERVICES):
            svc = self.s.services.get(sid)  # type: ignore[call-overload]
            if svc is None:
                continue
            mask = a["service"] == code
            deadline_wd[mask] = svc.limits_wd(a["variant"][mask], a["verification"][mask])
            clock[mask] = self.main_days.clock_start(received[mask])
            due[mask] = self.main_days.deadline(received[mask], deadline_wd[mask])
        self.clock_start, self.due, self.deadline_wd = clock, due, deadline_wd

    # -- run ---------------------------------------------------------------------------------

    def simulate(self) -> None:
        """Runs SimPy to the horizon (``env.run(until=horizon)``): the feed and the hourly monitor
        start at 0, extra desk work is booked at its minutes."""
        # The run allocates millions of short-lived objects and frees them by reference counting
        # (a task leaves its dossier's list when done, the open ones at the end): the cyclic
        # collector would only re-scan what is alive (~17% of the run), so it is paused meanwhile.
        collecting = gc.isenabled()
        gc.disable()
        try:
            env = self.env
            env.process(self._feed())
            env.process(self._monitor())
            self._extra_work()
            env.run(until=self.horizon)
        finally:
            if collecting:
                gc.enable()
        self._close()

    def _extra_work(self) -> None:
        """Desk time of the scenario's extra demand (``sim.arrivals.desk_work``: standalone
        residence registrations at police), booked on the agency's desks at its minute: it takes
        desks from the linked dossiers and is never a dossier (nor in the deadline attainment)."""
        work = desk_work(self.s, self.days, replication=self.replication, stream=self.arr)
        for minute, agency, minutes in work.tolist():
            pool = self.desks[AGENCY_IDS.index(agency)]
            if pool is not None and minute < self.horizon:
                _Wake(self.env, minute - self.env.now, self.on_book, (pool, minutes))

    def _book(self, ev: _Wake) -> None:
        pool, minutes = ev.arg
        pool.take(self.env.now, minutes)

    def _feed(self) -> Generator[Event, Any, None]:
        """Walks the sorted arrivals, a chunk at a time (Python lists only for one chunk)."""
        env = self.env
        plans = self.plans
        a = self.arr
        for lo in range(0, a.size, _CHUNK):
            hi = min(lo + _CHUNK, a.size)
            chunk = a[lo:hi]
            keys = zip(
                chunk["service"].tolist(), chunk["variant"].tolist(), chunk["status"].tolist(), strict=True
            )
            times = chunk["submitted"].tolist()
            received = self.received[lo:hi].tolist()
            refuse = self.refuse_at[lo:hi].tolist()
            for k, (t, key) in enumerate(zip(times, keys, strict=True)):
                if t > env.now:
                    yield env.timeout(t - env.now)
                d = _Dossier(lo + k, plans[key])
                self.active[lo + k] = d
                self._wip(+1)
                r = received[k]
                if r == r:  # not nan: complete now or after supplementation
                    if r > t:
                        self._at(r - t, self.on_receive, d)
                    else:
                        self._start_roots(d)
                else:
                    self._at(refuse[k] - t, self.on_refuse_supplement, d)

    def _monitor(self) -> Generator[Event, Any, None]:
        env = self.env
        while True:
            self._snapshot()
            yield env.timeout(_HOUR)

    def _snapshot(self) -> None:
        now = self.env.now
        self._wip(0)
        cols: list[list[float]] = [[0.0] * len(AGENCY_IDS) for _ in range(8)]
        for a in range(len(AGENCY_IDS)):
            for base, pool in ((0, self.desks[a]), (4, self.servers[a])):
                if pool is None:
                    continue
                cols[base][a], cols[base + 1][a], cols[base + 2][a], cols[base + 3][a] = pool.at(now)
        self.timeline.append((now, self.wip, self.wip_area, *cols))

    def _at(self, delay: float, callbacks: _Callbacks, arg: Any) -> None:
        self.events += 1
        _Wake(self.env, delay, callbacks, arg)

    def _wip(self, change: int) -> None:
        now = self.env.now
        self.wip_area += self.wip * (now - self.wip_last)
        self.wip_last = now
        self.wip += change

    # -- dossier life ------------------------------------------------------------------------

    def _receive(self, ev: _Wake) -> None:
        self._start_roots(ev.arg)

    def _start_roots(self, d: _Dossier) -> None:
        plan = d.plan
        if not plan.steps:
            self._finish(d, DONE)
            return
        for local in plan.roots:
            self._ready(d, local)

    def _refuse_supplement(self, ev: _Wake) -> None:
        self._finish(ev.arg, REFUSED)

    # The hot path: a few fat methods, ``now`` passed along, phases booked inline.

    def _ready(self, d: _Dossier, local: int) -> None:
        step = d.plan.steps[local]
        now = self.env.now
        task = _Task(d, local, step, now)
        d.tasks.append(task)
        if self.handoff_faults[self.step_agency[step]]:
            delay = self._handoff_delay(self.step_agency[step], now)
            if delay > 0:
                self._at(delay, self.on_begin_later, task)
                return
        self._begin(task, now)

    def _handoff_delay(self, agency: int, now: float) -> float:
        delay = 0.0
        for f in self.f_delay[agency]:
            if f.start <= now < f.end:
                delay += self.fault_draw[id(f)]()
        if self.portal is not None:
            delay = self.portal.next_open(now + delay) - now
        return delay

    def _begin_later(self, ev: _Wake) -> None:
        self._begin(ev.arg, self.env.now)

    def _begin(self, task: _Task, now: float) -> None:
        desk = self.step_desk[task.step]
        if desk is None:
            self._system(task, now)
            return
        draw, pool = desk
        task.desk_time = work = draw()
        # Booked now, FIFO: a unit is assigned when the earliest is free (``free``, or at once);
        # only an assignment before the horizon makes a start known by the horizon.
        free = pool.free[0]
        start, _, end = pool.take(now, work)
        if free < self.horizon:
            task.start = start
        if end < INF:
            self.events += 1
            _Wake(self.env, end - now, self.on_desk_end, task)

    def _desk_end(self, ev: _Wake) -> None:
        task: _Task = ev.arg
        now = self.env.now
        task.desk_end = now
        self._system(task, now)

    def _system(self, task: _Task, now: float) -> None:
        step = task.step
        system = self.step_sys[step]
        if system is None:
            self._step_done(task, now)
            return
        draw, pool = system
        work = draw()
        a = self.step_agency[step]
        if self.f_latency[a]:
            for f in self.f_latency[a]:
                if f.start <= now < f.end:
                    work += self.fault_draw[id(f)]() / 60_000.0
        task.sys_time += work
        free = pool.free[0]
        start, _, end = pool.take(now, work)
        if free < self.horizon:
            if task.sys_start != task.sys_start:
                task.sys_start = start
            if task.start != task.start:
                task.start = start
        if end < INF:
            self.events += 1
            _Wake(self.env, end - now, self.on_system_end, task)

    def _retry(self, ev: _Wake) -> None:
        self._system(ev.arg, self.env.now)

    def _system_end(self, ev: _Wake) -> None:
        task: _Task = ev.arg
        now = self.env.now
        step = task.step
        a = self.step_agency[step]
        if self.f_error[a]:
            rate = 0.0
            for f in self.f_error[a]:
                if f.start <= now < f.end and f.rate:
                    rate = max(rate, f.rate)
            if rate and self.uniform() < rate:
                base, cap = self.step_backoff[step]
                backoff = min(base * 2.0**task.retries, cap)
                task.retries += 1
                self._at(backoff, self.on_retry, task)
                return
        if self.f_slow_of[step]:
            extra = sum(
                self.fault_draw[id(f)]() for f in self.f_slow_of[step] if f.start <= task.sys_start < f.end
            )
            if extra > 0:
                self._at(extra, self.on_step_done_later, task)
                return
        self._step_done(task, now)

    def _step_done_later(self, ev: _Wake) -> None:
        self._step_done(ev.arg, self.env.now)

    def _step_done(self, task: _Task, now: float) -> None:
        task.end = now
        d = task.d
        d.tasks.remove(task)
        step = task.step
        rows = self.step_rows
        rows.append((
            d.i, step, self.step_agency[step], task.ready, task.start, task.desk_end, task.sys_start,
            now, task.desk_time, task.sys_time, task.retries, True,
        ))  # fmt: skip
        if len(rows) >= _CHUNK:
            self._flush_steps()
        if d.refused:
            return
        for f in self.f_reject[self.step_agency[step]]:
            if f.start <= now < f.end and f.rate and self.uniform() < f.rate:
                self._finish(d, REFUSED)
                return
        d.left -= 1
        for dep in d.plan.dependents[task.local]:
            d.needs[dep] -= 1
            if d.needs[dep] == 0:
                self._ready(d, dep)
        if d.left == 0:
            self._finish(d, DONE)

    def _finish(self, d: _Dossier, state: int) -> None:
        d.refused = state == REFUSED
        del self.active[d.i]
        self._wip(-1)
        self.dossier_rows.append((d.i, self.env.now, state))
        if len(self.dossier_rows) >= _CHUNK:
            self._flush_dossiers()

    def _record_open(self, t: _Task) -> None:
        self.step_rows.append((
            t.d.i, t.step, self.step_agency[t.step], t.ready, t.start, t.desk_end, t.sys_start,
            _NAN, t.desk_time, t.sys_time, t.retries, False,
        ))  # fmt: skip

    # -- records ---------------------------------------------------------------------------

    def _close(self) -> None:
        self._snapshot()
        for d in list(self.active.values()):
            for t in d.tasks:
                self._record_open(t)
            d.tasks = []
            self.dossier_rows.append((d.i, np.nan, OPEN))
        self.active.clear()
        self._flush_steps()
        self._flush_dossiers()
        self.acc.add_timeline(self._timeline())
        if self.sink is not None:
            self.sink.close()

    def _emit(self, kind: str, rows: np.ndarray) -> None:
        if kind == "steps":
            self.acc.add_steps(rows)
        else:
            self.acc.add_dossiers(rows)
        if self.keep:
            (self.kept_steps if kind == "steps" else self.kept_dossiers).append(rows)
        if self.sink is not None:
            self.sink.write(kind, rows)

    def _flush_steps(self) -> None:
        if not self.step_rows:
            return
        raw = np.fromiter(self.step_rows, dtype=_RAW_STEP, count=len(self.step_rows))
        self.step_rows = []
        out = np.zeros(raw.size, STEP_DTYPE)
        for name in _RAW_STEP.names or ():
            out[name] = raw[name]
        out["service"] = self.arr["service"][raw["dossier"]]
        out["variant"] = self.arr["variant"][raw["dossier"]]
        # Steps open at the horizon get their times so far (right-censored at the horizon).
        # A desk taken before the horizon may start work after it (the next opening): every
        # moment is cut at ``end``, so a wait is never longer than the sojourn.
        end = np.where(raw["done"], raw["end"], self.horizon)
        start = np.minimum(np.where(np.isnan(raw["start"]), end, raw["start"]), end)
        desk_end = np.minimum(raw["desk_end"], end)
        sys_start = np.minimum(np.where(np.isnan(raw["sys_start"]), end, raw["sys_start"]), end)
        out["wait"] = (start - raw["ready"]) + np.where(np.isnan(desk_end), 0.0, sys_start - desk_end)
        out["sojourn"] = end - raw["ready"]
        for aid in self.s.agencies:
            a = AGENCY_IDS.index(aid)
            mask = raw["agency"] == a
            if not mask.any():
                continue
            wd = self.workdays[aid]
            limits = self.limits[raw["step"][mask]]
            none = np.isnan(limits)  # no statutory limit: never late
            due = wd.deadline(raw["ready"][mask], np.where(none, 0.0, limits))
            out["due"][mask] = np.where(none, np.inf, due)
            out["elapsed_wd"][mask] = wd.used_wd(raw["ready"][mask], end[mask])
            out["office_wd"][mask] = wd.elapsed_wd(raw["ready"][mask], end[mask])
        with np.errstate(invalid="ignore"):
            out["within_limit"] = out["end"] <= out["due"]
        self._emit("steps", out)

    def _flush_dossiers(self) -> None:
        if not self.dossier_rows:
            return
        raw = np.fromiter(self.dossier_rows, dtype=_RAW_DOSSIER, count=len(self.dossier_rows))
        self.dossier_rows = []
        i = raw["i"]
        a = self.arr[i]
        out = np.zeros(raw.size, DOSSIER_DTYPE)
        for name in FROM_ARRIVALS:
            out[name] = a[name]
        out["received"] = self.received[i]
        out["clock_start"] = self.clock_start[i]
        out["due"] = self.due[i]
        out["deadline_wd"] = self.deadline_wd[i]
        out["completed"] = raw["completed"]
        out["state"] = raw["state"]
        # Open dossiers get their times so far (right-censored at the horizon); working days only
        # once received (one still waiting for supplementation has no clock running).
        is_open = raw["state"] == OPEN
        end = np.where(is_open, self.horizon, raw["completed"])
        out["sojourn"] = end - out["submitted"]
        timed = (raw["state"] == DONE) | (is_open & (out["received"] <= self.horizon))
        e2e = np.full(raw.size, np.nan)
        e2e[timed] = self.main_days.used_wd(out["received"][timed], end[timed])
        out["e2e_wd"] = e2e
        office = np.full(raw.size, np.nan)
        office[timed] = self.main_days.elapsed_wd(out["clock_start"][timed], end[timed])
        out["office_wd"] = np.maximum(office, 0.0)
        done = raw["state"] == DONE
        with np.errstate(invalid="ignore"):
            out["within_deadline"] = done & (out["completed"] <= out["due"])
        self._emit("dossiers", out)

    def _timeline(self) -> np.ndarray:
        return np.array(self.timeline, dtype=TIMELINE_DTYPE)

    def open_minutes(self, system: bool) -> np.ndarray:
        """Open minutes per hour of the horizon and agency: of the desks, or of the systems."""
        hours = int(self.horizon // _HOUR)
        edges = np.arange(hours + 1, dtype=np.float64) * _HOUR
        out = np.zeros((hours, len(AGENCY_IDS)))
        for aid in self.s.agencies:
            a = AGENCY_IDS.index(aid)
            avail = self.sys_avail[a] if system else self.desk_avail[a]
            assert avail is not None
            out[:, a] = np.diff(avail.office_v(edges))
        return out

    def result(self, time_taken: float) -> SimResult:
        steps = np.concatenate(self.kept_steps) if self.kept_steps else np.zeros(0, STEP_DTYPE)
        dossiers = np.concatenate(self.kept_dossiers) if self.kept_dossiers else np.zeros(0, DOSSIER_DTYPE)
        if dossiers.size:
            dossiers = dossiers[np.argsort(dossiers["dossier"], kind="stable")]
        variants: dict[str, tuple[str, ...]] = {
            sid: tuple(svc.variants) for sid, svc in self.s.services.items()
        }
        return SimResult(
            scenario=self.s.meta.name,
            seed=self.seed,
            replication=self.replication,
            days=self.days,
            horizon=self.horizon,
            step_names=self.step_names,
            variant_names=variants,
            capacity=dict(self.caps),
            steps=steps,
            dossiers=dossiers,
            timeline=self._timeline(),
            accumulator=self.acc,
            arrivals=int(self.arr.size),
            events=self.events + self.arr.size,
            wall_s=time_taken,
            office_minutes=self.open_minutes(False),
            system_minutes=self.open_minutes(True),
        )


_STATUSES = DEATH_STATUSES
_NAN = float("nan")

_RAW_DOSSIER = np.dtype([("i", "i8"), ("completed", "f8"), ("state", "u1")])

# What the event loop records per step; the rest of STEP_DTYPE is derived in ``_flush_steps``.
_RAW_STEP = np.dtype(
    [
        (name, STEP_DTYPE[name])
        for name in ("dossier", "step", "agency", "ready", "start", "desk_end", "sys_start", "end",
                     "desk_time", "system_time", "retries", "done")
    ]
)  # fmt: skip
