"""The twin against the same model written idiomatically in bare SimPy.

The twin books each phase on its pool when it is asked for and schedules one wake at its end
(``sim.twin``, no process per dossier); the reference (``tests/sim/simpy_reference.py``: one SimPy
process per dossier and per step, ``simpy.Resource`` desks and servers, desk work finishing on the
agency's office calendar), replaying the twin's arrivals and service draws (taken from its
records), must end every step at the same minute. Queues form (a handful of desks), so the order
in which the twin serves asks is what is tested.
"""

from __future__ import annotations

import numpy as np

import scenarios
from sim import simulate
from tests.sim.conftest import TINY
from tests.sim.simpy_reference import replay


def test_the_twin_ends_every_step_when_bare_simpy_does() -> None:
    """~0.5 s: 14 days of the loaded tiny scenario (~370 dossiers, ~1,200 finished steps)."""
    s = scenarios.loads(TINY)
    days = 14
    result = simulate(s, days=days, warmup_days=0)
    names = result.step_names
    twin = {(int(r["dossier"]), names[r["step"]]): float(r["end"]) for r in result.steps if r["done"]}
    ref = {(i, n): end for i, n, end in replay(s, days, result)()}
    waited = int(np.count_nonzero(result.steps["wait"] > 1.0))
    assert len(twin) > 1000 and waited > 100  # queues formed: the serving order matters
    assert twin.keys() == ref.keys()
    assert max(abs(twin[k] - ref[k]) for k in twin) < 1e-6
