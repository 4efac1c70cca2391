"""The digital twin: arrivals, a SimPy model of the linked services, and its statistics.

>>> import scenarios, sim
>>> s = scenarios.load("hanoi-baseline")
>>> stream = sim.arrivals(s, days=7)                       # numpy records, sorted by submission
>>> result = sim.simulate(s, days=28)                           # one replication -> SimResult
>>> m = sim.metrics(result, warmup_days=7)                 # plain dict (metrics.json)
>>> summary = sim.run_replications(s, 5, 28, workers=2)    # SimSummary with 95% CIs

Public API (stable; changes are listed at the top of ``sim/records.py``):

- ``arrivals(scenario, days=None, *, rng=None, multiplier=None, replication=0) -> np.ndarray``
- ``split_by_index(stream, n_workers, worker_index) -> np.ndarray``
- ``simulate(scenario, *, days=None, replication=0, seed=None, capacity=None, sink=None, keep=True,
  warmup_days=None, stream=None) -> SimResult``
- ``metrics(result, warmup_days=None) -> dict``
- ``run_replications(scenario, replications=None, days=None, *, workers=2, capacity=None,
  warmup_days=None, seed=None, progress=None, first="none", first_sink=None) -> SimSummary``
  (``first="aggregates"|"records"``: replication 0's ``SimResult`` in ``SimSummary.first``)
- ``summarize(per_replication_metrics) -> dict``; ``lookup(metrics, metric, stat) -> float | dict``
- ``mser5(series) -> int``; ``erlang_c_wait(lam, mu, c) -> float``; in ``sim.confidence``:
  ``t_quantile(p, df)``, ``mean_ci(values, level=0.975)``
- ``NpySink(folder)``, ``CsvSink(folder)``: record sinks for ``simulate(..., sink=...)``

The twin and statistics are imported lazily so that the load tests' ``from sim.arrivals import
arrivals`` does not load SimPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sim.arrivals import arrivals, split_by_index
from sim.records import (
    ARRIVAL_DTYPE,
    DOSSIER_DTYPE,
    STEP_DTYPE,
    TIMELINE_DTYPE,
    SimResult,
    SimSummary,
)

if TYPE_CHECKING:
    from sim.metrics import lookup, metrics
    from sim.queueing import erlang_c_wait
    from sim.replications import run_replications, summarize
    from sim.twin import CsvSink, NpySink, simulate
    from sim.warmup import mser5

__all__ = [
    "ARRIVAL_DTYPE",
    "DOSSIER_DTYPE",
    "STEP_DTYPE",
    "TIMELINE_DTYPE",
    "CsvSink",
    "NpySink",
    "SimResult",
    "SimSummary",
    "arrivals",
    "erlang_c_wait",
    "lookup",
    "metrics",
    "mser5",
    "run_replications",
    "simulate",
    "split_by_index",
    "summarize",
]

_LAZY = {
    "simulate": "sim.twin",
    "NpySink": "sim.twin",
    "CsvSink": "sim.twin",
    "metrics": "sim.metrics",
    "run_replications": "sim.replications",
    "summarize": "sim.replications",
    "lookup": "sim.metrics",
    "mser5": "sim.warmup",
    "erlang_c_wait": "sim.queueing",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
