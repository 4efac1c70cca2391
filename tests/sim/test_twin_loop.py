"""The twin's own event loop against the same model written idiomatically in bare SimPy.

The twin books each phase on its pool when it is asked for and schedules one wake at its end
(``sim.twin``); a reference with one SimPy process per dossier and per step, ``simpy.Resource``
desks and servers and desk work finishing on the agency's office calendar, replaying the twin's
arrivals and service draws (taken from its records), must end every step at the same minute.
Queues form (a handful of desks), so the order in which the loop serves asks is what is tested.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import simpy

import scenarios
from scenarios.demand import calendar_for
from scenarios.desks import Availability
from scenarios.model import DEATH_STATUSES
from sim import simulate
from sim.records import SERVICES
from tests.sim.conftest import TINY


def _reference(s: scenarios.Scenario, days: int, result: object) -> dict[tuple[int, str], float]:
    """Step ends of the bare-SimPy model replaying ``result``'s draws (dossier, step) -> minute."""
    steps, dossiers = result.steps, result.dossiers  # type: ignore[attr-defined]
    names = result.step_names  # type: ignore[attr-defined]
    capacity = result.capacity  # type: ignore[attr-defined]
    draws = {(int(r["dossier"]), names[r["step"]]): (float(r["desk_time"]), float(r["system_time"]))
             for r in steps}
    begin = datetime.combine(s.calendar.start, datetime.min.time())
    office = {a: Availability(calendar_for(s, a).open_intervals_minutes(begin, days + 150))
              for a in s.agencies}
    env = simpy.Environment()
    desks = {a: simpy.Resource(env, c[0]) for a, c in capacity.items() if c[0]}
    servers = {a: simpy.Resource(env, c[1]) for a, c in capacity.items() if c[1]}
    ends: dict[tuple[int, str], float] = {}

    def plan(service: int, variant: int, status: int) -> list[tuple[str, list[str]]]:
        svc = s.services[SERVICES[service]]  # type: ignore[index]
        names_ = list(svc.variants.values())[variant].steps

        def active(n: str) -> bool:
            when = s.steps[n].when_status
            return when is None or status == 255 or DEATH_STATUSES[status] in when

        def deps(n: str) -> list[str]:
            return [x for dep in s.steps[n].after for x in ([dep] if active(dep) else deps(dep))]

        return [(n, deps(n)) for n in names_ if active(n)]

    def step(i: int, n: str, after: list[simpy.Process]) -> simpy.events.ProcessGenerator:
        if after:
            yield env.all_of(after)
        desk, system = draws[(i, n)]
        agency = s.steps[n].agency
        if s.steps[n].desk_time is not None:
            with desks[agency].request() as req:
                yield req
                yield env.timeout(office[agency].advance(env.now, desk) - env.now)
        if s.steps[n].system_time is not None:
            with servers[agency].request() as req:
                yield req
                yield env.timeout(system)
        ends[(i, n)] = env.now

    def dossier(row: np.void) -> simpy.events.ProcessGenerator:
        received = float(row["received"])
        if received != received:  # refused when supplementation does not come: no steps
            return
        if received > env.now:
            yield env.timeout(received - env.now)
        procs: dict[str, simpy.Process] = {}
        for n, after in plan(int(row["service"]), int(row["variant"]), int(row["status"])):
            procs[n] = env.process(step(int(row["dossier"]), n, [procs[a] for a in after]))

    def source() -> simpy.events.ProcessGenerator:
        for row in dossiers:
            yield env.timeout(float(row["submitted"]) - env.now)
            env.process(dossier(row))

    env.process(source())
    env.run(until=days * 1440.0)
    return ends


def test_the_twin_ends_every_step_when_bare_simpy_does() -> None:
    """~0.5 s: 14 days of the loaded tiny scenario (~370 dossiers, ~1,200 finished steps)."""
    s = scenarios.loads(TINY)
    days = 14
    result = simulate(s, days=days, warmup_days=0)
    names = result.step_names
    twin = {(int(r["dossier"]), names[r["step"]]): float(r["end"]) for r in result.steps if r["done"]}
    ref = _reference(s, days, result)
    waited = int(np.count_nonzero(result.steps["wait"] > 1.0))
    assert len(twin) > 1000 and waited > 100  # queues formed: the serving order matters
    assert twin.keys() == ref.keys()
    assert max(abs(twin[k] - ref[k]) for k in twin) < 1e-6
