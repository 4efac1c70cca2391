"""The twin's model written idiomatically in bare SimPy, replaying a twin run's own draws.

One process per dossier and one per step (waiting on its predecessors with ``all_of``),
``simpy.Resource`` desks and servers, desk work finishing on the agency's office calendar (its own
bisect over the open intervals, not the twin's ``scenarios.desks``), the twin's arrivals, received
and refusal times and service draws (desk and system minutes per dossier step, from its records).
Used by ``tests/sim/test_twin_loop.py`` (every step ends when the twin's does) and by
``bench/bench_twin.py`` (the same work timed in bare SimPy).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import simpy

import scenarios
from scenarios.demand import calendar_for
from scenarios.model import DEATH_STATUSES
from sim.records import SERVICES

__all__ = ["advance_fn", "replay"]


def advance_fn(intervals: np.ndarray) -> Callable[[float, float], float]:
    """``advance(t, work)``: when ``work`` open minutes begun at ``t`` are done (closures paused)."""
    starts, ends = intervals[:, 0].tolist(), intervals[:, 1].tolist()
    cum = [0.0]
    for a, b in zip(starts, ends, strict=True):
        cum.append(cum[-1] + b - a)

    def advance(t: float, work: float) -> float:
        i = bisect.bisect_right(ends, t)
        target = cum[i] + max(t - starts[i], 0.0) + work
        j = bisect.bisect_left(cum, target, i + 1) - 1  # interval j holds the target
        return starts[j] + target - cum[j]

    return advance


def replay(s: scenarios.Scenario, days: int, result: Any,
           env: simpy.Environment | None = None) -> Callable[[], list[tuple[int, str, float]]]:
    """A function that runs the bare-SimPy model of ``result`` (a kept ``sim.simulate`` run of ``s``
    over ``days``) in ``env`` (default a new one) to the horizon and returns each finished step as
    ``(dossier, step, end minute)``; set up here, run when called (so a caller can time the run)."""
    env = env if env is not None else simpy.Environment()
    names = result.step_names
    draws = {(int(r["dossier"]), names[r["step"]]): (float(r["desk_time"]), float(r["system_time"]))
             for r in result.steps}
    begin = datetime.combine(s.calendar.start, datetime.min.time())
    advance = {a: advance_fn(calendar_for(s, a).open_intervals_minutes(begin, days + 150))
               for a in s.agencies}
    desks = {a: simpy.Resource(env, c[0]) for a, c in result.capacity.items() if c[0]}
    servers = {a: simpy.Resource(env, c[1]) for a, c in result.capacity.items() if c[1]}
    rows: list[tuple[int, str, float]] = []

    def plan(service: int, variant: int, status: int) -> list[tuple[str, list[str]]]:
        svc = s.services[SERVICES[service]]
        steps = list(svc.variants.values())[variant].steps

        def active(n: str) -> bool:
            when = s.steps[n].when_status
            return when is None or status == 255 or DEATH_STATUSES[status] in when

        def deps(n: str) -> list[str]:
            return [x for dep in s.steps[n].after for x in ([dep] if active(dep) else deps(dep))]

        return [(n, deps(n)) for n in steps if active(n)]

    def step(i: int, n: str, after: list[simpy.Process]) -> simpy.events.ProcessGenerator:
        if after:
            yield env.all_of(after)
        desk, system = draws[(i, n)]
        agency = s.steps[n].agency
        if s.steps[n].desk_time is not None:
            with desks[agency].request() as req:
                yield req
                yield env.timeout(advance[agency](env.now, desk) - env.now)
        if s.steps[n].system_time is not None:
            with servers[agency].request() as req:
                yield req
                yield env.timeout(system)
        rows.append((i, n, env.now))

    def dossier(row: np.void) -> simpy.events.ProcessGenerator:
        received = float(row["received"])
        if received != received:  # refused: supplementation never came (no steps; the refusal
            return  # only ends the dossier, and may fall after the horizon)
        if received > env.now:
            yield env.timeout(received - env.now)
        procs: dict[str, simpy.Process] = {}
        for n, after in plan(int(row["service"]), int(row["variant"]), int(row["status"])):
            procs[n] = env.process(step(int(row["dossier"]), n, [procs[a] for a in after]))
        yield env.all_of(list(procs.values()))

    def source() -> simpy.events.ProcessGenerator:
        for row in result.dossiers:
            yield env.timeout(float(row["submitted"]) - env.now)
            env.process(dossier(row))

    def run() -> list[tuple[int, str, float]]:
        env.process(source())
        env.run(until=days * 1440.0)
        return rows

    return run
