"""Independent replications of the twin in worker processes, combined with 95% CIs.

``run_replications`` runs replications 0..R-1 (each its own random streams from the scenario
seed and its index) in a process pool or on a Dask cluster (``open_executor``) and ``summarize``
combines their metric dicts (``sim.metrics``) into mean, Student-t 95% CI (``sim.confidence``)
and per-replication values. Replication r gives the same metrics wherever it runs, and they are
combined in replication order: the same seed gives the same summary on any executor.
``replicate_capacities`` runs several capacities' replications as one batch of tasks (sizing).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from scenarios.model import Scenario
from sim._executors import Executor, ExecutorError, open_executor
from sim.confidence import mean_ci
from sim.metrics import metrics
from sim.records import SimSummary
from sim.warmup import default_warmup

if TYPE_CHECKING:
    from sim._sinks import Sink
    from sim.records import SimResult

__all__ = [
    "Executor",
    "ExecutorError",
    "open_executor",
    "replicate_capacities",
    "run_replications",
    "summarize",
]

_FIRST = ("none", "aggregates", "records")

_STATIC = {
    "scenario",
    "seed",
    "days",
    "warmup_days",
    "agency",
    "limit_wd",
    "deadline_wd",
    "verification_deadline_wd",
    "desks",
    "servers",
    "capacity",
    "declared_days",
    "replication",
}


def summarize(per_replication: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Combine replication metric dicts: every figure becomes ``{"mean", "ci95", "values"}``.

    Lists become element-wise means (None ignored), booleans ``all``; configuration keys are
    kept from the first. Raises ValueError for an empty sequence.
    """
    if not per_replication:
        raise ValueError("no replications to summarize")
    out = _combine(list(per_replication), "")
    out["replications"] = len(per_replication)
    out.pop("replication", None)
    return out


def _combine(items: list[Any], key: str) -> Any:
    first = items[0]
    if key in _STATIC:
        return first
    if isinstance(first, dict):
        return {k: _combine([it.get(k) for it in items], k) for k in first}
    if isinstance(first, bool):
        return all(bool(x) for x in items)
    if isinstance(first, list):
        return [_mean_or_none([it[j] if j < len(it) else None for it in items]) for j in range(len(first))]
    if first is None or isinstance(first, int | float):
        return _stat(items)
    return first


def _mean_or_none(values: list[Any]) -> float | None:
    xs = [float(v) for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


def _stat(values: list[Any]) -> dict[str, Any]:
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return {"mean": None, "ci95": None, "values": values}
    mean, half = mean_ci(xs)
    return {"mean": mean, "ci95": None if half is None else [mean - half, mean + half], "values": values}


class _Replication(NamedTuple):
    scenario: Scenario
    replication: int
    days: int
    capacity: dict[str, tuple[int, int]] | None
    warmup_days: float
    seed: int | None
    keep: str  # "none": metrics only; "aggregates": also the SimResult; "records": with its records
    sink: Sink | None


def _replicate(task: _Replication) -> tuple[dict[str, Any], SimResult | None]:
    from sim.twin import simulate

    result = simulate(
        task.scenario,
        days=task.days,
        replication=task.replication,
        seed=task.seed,
        capacity=task.capacity,
        keep=task.keep == "records",
        sink=task.sink,
        warmup_days=task.warmup_days,
    )
    return metrics(result), (None if task.keep == "none" else result)


def run_replications(
    scenario: Scenario,
    replications: int | None = None,
    days: int | None = None,
    *,
    workers: int = 2,
    capacity: dict[str, tuple[int, int]] | None = None,
    warmup_days: float | None = None,
    seed: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    first: str = "none",
    first_sink: Sink | None = None,
    sinks: Callable[[int], Sink] | None = None,
    executor: Executor | None = None,
) -> SimSummary:
    """Independent replications (0..R-1) in ``workers`` processes (or on ``executor``, from
    :func:`open_executor`: a Dask cluster; ``workers`` is then unused), combined with 95% CIs.

    Defaults come from ``scenario.sim``; ``progress(done, total)`` is called as each replication
    finishes. ``first`` returns replication 0's ``SimResult`` as ``SimSummary.first`` (for plots,
    so nothing needs rerunning): ``"aggregates"`` (its hourly timeline and streaming aggregates,
    no records) or ``"records"`` (its records kept in memory too); ``first_sink`` receives
    replication 0's records as it runs (in its worker process, on that worker's file system);
    ``sinks(r)``, when given, the records of every replication ``r`` (``first_sink`` then unused).
    Raises ValueError for fewer than 1 replication or worker, or another ``first``.
    """
    reps = scenario.sim.replications if replications is None else replications
    days = scenario.sim.days if days is None else days
    warm = default_warmup(scenario, days) if warmup_days is None else warmup_days
    if reps < 1 or workers < 1:
        raise ValueError(f"need at least 1 replication and 1 worker, got {reps} and {workers}")
    if first not in _FIRST:
        raise ValueError(f"first must be one of {', '.join(_FIRST)}, got {first!r}")
    began = time.perf_counter()
    tasks = _tasks(scenario, reps, days, capacity, warm, seed)
    if sinks is not None:
        tasks = [t._replace(sink=sinks(t.replication)) for t in tasks]
    tasks[0] = tasks[0]._replace(keep=first, sink=sinks(0) if sinks is not None else first_sink)
    results = _run_all(tasks, executor or workers, progress)
    per_rep = [m for m, _ in results]
    combined = summarize(per_rep)
    combined["wall_s"] = time.perf_counter() - began
    return SimSummary(
        scenario=scenario.meta.name,
        seed=scenario.meta.seed if seed is None else seed,
        days=days,
        warmup_days=float(warm),
        capacity={a: (int(c[0]), int(c[1])) for a, c in per_rep[0]["capacity"].items()},
        metrics=combined,
        replications=per_rep,
        wall_s=combined["wall_s"],
        first=results[0][1],
    )


def replicate_capacities(
    scenario: Scenario,
    capacities: Sequence[dict[str, tuple[int, int]] | None],
    replications: int,
    days: int,
    *,
    warmup_days: float | None = None,
    seed: int | None = None,
    executor: Executor | int = 2,
) -> list[dict[str, Any]]:
    """The summarized metrics (:func:`summarize`) of ``replications`` replications at each
    capacity, all run as one batch of tasks on ``executor`` (or that many local workers).

    Each capacity gets the same replications 0..R-1 (common random numbers), each equal to
    :func:`run_replications`' at that capacity.
    """
    if replications < 1:
        raise ValueError(f"need at least 1 replication, got {replications}")
    warm = default_warmup(scenario, days) if warmup_days is None else warmup_days
    tasks = [t for cap in capacities for t in _tasks(scenario, replications, days, cap, warm, seed)]
    results = _run_all(tasks, executor, None)
    return [
        summarize([m for m, _ in results[i : i + replications]])
        for i in range(0, len(results), replications)
    ]


def _tasks(
    scenario: Scenario,
    replications: int,
    days: int,
    capacity: dict[str, tuple[int, int]] | None,
    warmup_days: float,
    seed: int | None,
) -> list[_Replication]:
    """Replications 0..R-1 at ``capacity``, metrics only."""
    return [
        _Replication(scenario, r, days, capacity, warmup_days, seed, "none", None)
        for r in range(replications)
    ]


def _run_all(
    tasks: list[_Replication], executor: Executor | int, progress: Callable[[int, int], None] | None
) -> list[tuple[dict[str, Any], SimResult | None]]:
    """Each task's result, in task order, on ``executor`` (an int: a local pool of that many
    workers for this call; one worker or task runs in this process)."""
    if not isinstance(executor, int):
        return executor.map(_replicate, tasks, progress)
    with open_executor(None, max(1, min(executor, len(tasks)))) as local:
        return local.map(_replicate, tasks, progress)
