"""Independent replications of the twin in worker processes, combined with 95% CIs.

``run_replications`` runs replications 0..R-1 (each its own random streams from the scenario
seed and its index) in a process pool and ``summarize`` combines their metric dicts
(``sim.metrics``) into mean, Student-t 95% CI (``sim.confidence``) and per-replication values.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any, NamedTuple

from scenarios.model import Scenario
from sim.confidence import mean_ci
from sim.metrics import metrics
from sim.records import SimSummary
from sim.warmup import default_warmup

if TYPE_CHECKING:
    from sim._sinks import Sink
    from sim.records import SimResult

__all__ = ["run_replications", "summarize"]

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
) -> SimSummary:
    """Independent replications (0..R-1) in ``workers`` processes, combined with 95% CIs.

    Defaults come from ``scenario.sim``; ``progress(done, total)`` is called as each replication
    finishes. ``first`` returns replication 0's ``SimResult`` as ``SimSummary.first`` (for plots,
    so nothing needs rerunning): ``"aggregates"`` (its hourly timeline and streaming aggregates,
    no records) or ``"records"`` (its records kept in memory too); ``first_sink`` receives
    replication 0's records as it runs (in its worker process); ``sinks(r)``, when given, the
    records of every replication ``r`` (``first_sink`` then unused). Raises ValueError for
    fewer than 1 replication or worker, or another ``first``.
    """
    reps = scenario.sim.replications if replications is None else replications
    days = scenario.sim.days if days is None else days
    warm = default_warmup(scenario, days) if warmup_days is None else warmup_days
    if reps < 1 or workers < 1:
        raise ValueError(f"need at least 1 replication and 1 worker, got {reps} and {workers}")
    if first not in _FIRST:
        raise ValueError(f"first must be one of {', '.join(_FIRST)}, got {first!r}")
    began = time.perf_counter()
    tasks = [_Replication(scenario, r, days, capacity, warm, seed, "none", None) for r in range(reps)]
    if sinks is not None:
        tasks = [t._replace(sink=sinks(t.replication)) for t in tasks]
    tasks[0] = tasks[0]._replace(keep=first, sink=sinks(0) if sinks is not None else first_sink)
    results = _run_all(tasks, workers, progress)
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


def _run_all(
    tasks: list[_Replication], workers: int, progress: Callable[[int, int], None] | None
) -> list[tuple[dict[str, Any], SimResult | None]]:
    """Each task's result, in task order: in this process with one worker or task, else in a pool."""
    total = len(tasks)
    if workers == 1 or total == 1:
        done = []
        for task in tasks:
            done.append(_replicate(task))
            if progress:
                progress(len(done), total)
        return done
    results: dict[int, tuple[dict[str, Any], SimResult | None]] = {}
    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with ProcessPoolExecutor(max_workers=min(workers, total), mp_context=ctx) as pool:
        futures = {pool.submit(_replicate, task): r for r, task in enumerate(tasks)}
        for finished, fut in enumerate(as_completed(futures), start=1):
            results[futures[fut]] = fut.result()
            if progress:
                progress(finished, total)
    return [results[r] for r in range(total)]
