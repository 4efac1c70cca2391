"""The twin's runs from the front door: :func:`simulate` (``lienthong sim``) and
:func:`size_capacity` (``lienthong size``).

Each creates the run folder (:func:`lienthong.runs.start_run`: manifest first), runs the twin's
replications or the sizing search in ``sim``, writes the report (``lienthong._report_sim``,
``lienthong._report_size``) and closes the manifest with the exit code: 0 pass, 1 a threshold
breached or the target out of reach. Both are plain functions returning what they wrote; the
Typer commands in :mod:`lienthong.commands.sim` only parse, show progress and print.

``dask`` runs the replications (every capacity's, when sizing) on a Dask cluster instead of the
local process pool: ``"local"`` starts a ``LocalCluster`` of ``workers`` processes on 127.0.0.1
for the run, an address (``tcp://host:8786``) uses that scheduler's workers (given up on when it
cannot be reached, or has no worker, within ``dask_timeout`` seconds). The results are the
same as the local pool's with the same seed; the manifest's ``executor`` says where it ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lienthong.report import Report
    from lienthong.runs import RunFolder
    from scenarios import Scenario
    from sim.records import SimSummary
    from sim.sizing import SizingResult

__all__ = ["SimOutcome", "SizeOutcome", "simulate", "size_capacity"]

# Above this many expected dossiers the plotted replication keeps no records in memory (only
# its hourly timeline): the ECDF and per-service backlog are then left out of the report.
_KEEP_LIMIT = 400_000


@dataclass
class SimOutcome:
    """What :func:`simulate` produced: the run folder, the report and the replications' summary."""

    run: RunFolder
    report: Report
    summary: SimSummary


@dataclass
class SizeOutcome:
    """What :func:`size_capacity` produced: the run folder, the report and the search result."""

    run: RunFolder
    report: Report
    result: SizingResult


def simulate(
    scenario_name: str = "hanoi-baseline",
    *,
    days: int | None = None,
    replications: int | None = None,
    workers: int = 2,
    out: str | Path = "runs",
    seed: int | None = None,
    records: bool | str = False,
    argv: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    dask: str | None = None,
    dask_timeout: float = 10.0,
) -> SimOutcome:
    """Runs the twin's replications and writes ``out/<run id>/`` with its report.

    Writes ``manifest.json``, ``metrics.json``, ``steps.csv`` (per-step aggregates), PNG plots,
    ``report.html``, ``report.md`` and ``junit.xml``; with ``records``, replication 0's full
    records as ``records/steps.csv`` and ``records/dossiers.csv``, or with ``records="all"``
    every replication's as ``records/rep-<r>/`` (on a Dask cluster, written by the workers: the
    run folder must be on a file system they share). Raises ScenarioError for a bad scenario,
    ValueError for bad settings and ``sim.replications.ExecutorError`` (a ValueError) for a Dask
    scheduler it cannot reach.
    """
    import sim
    from lienthong._report_sim import flat_metrics, sim_figures, sim_report, write_step_csv
    from lienthong.report import evaluate_thresholds
    from lienthong.runs import start_run
    from sim.replications import open_executor

    scenario, days, reps, warm = _setup(scenario_name, seed, days, replications, workers)
    settings = {
        "days": days,
        "replications": reps,
        "workers": workers,
        "warmup_days": warm,
        "records": records,
    }
    keep = _expected_dossiers(scenario, days) <= _KEEP_LIMIT
    # a bad Dask address fails before the run folder
    with open_executor(dask, workers, timeout=dask_timeout) as executor:
        run = start_run(scenario, kind="sim", root=out, argv=argv, source=scenario_name, settings=settings)
        run.update(executor=executor.description)
        summary = sim.run_replications(
            scenario,
            reps,
            days,
            workers=workers,
            warmup_days=warm,
            progress=progress,
            first="records" if keep else "aggregates",  # replication 0 for the plots: no rerun
            first_sink=sim.CsvSink(run.path / "records") if records else None,
            sinks=partial(_rep_sink, run.path / "records") if records == "all" else None,
            executor=executor,
        )
    assert summary.first is not None
    write_step_csv(summary.metrics, run.file("steps.csv"))
    results = evaluate_thresholds(scenario.thresholds, flat_metrics(summary.metrics))
    figures = sim_figures(scenario, summary, summary.first, run)
    meta = _meta(run, scenario, days, reps)
    report = sim_report(scenario, summary.metrics, results, figures, meta=meta, replications=reps, days=days)
    report.write(run.path)
    run.finish(exit_code=report.exit_code, verdict=report.verdict, wall_s=round(summary.wall_s, 3))
    return SimOutcome(run, report, summary)


def _rep_sink(folder: Path, replication: int) -> Any:
    """Replication ``replication``'s records: ``folder/rep-<r>/``."""
    import sim

    return sim.CsvSink(folder / f"rep-{replication}")


def size_capacity(
    scenario_name: str = "hanoi-baseline",
    *,
    target: str,
    agencies: list[str] | None = None,
    confidence: float = 0.95,
    days: int | None = None,
    replications: int | None = None,
    workers: int = 2,
    out: str | Path = "runs",
    seed: int | None = None,
    argv: list[str] | None = None,
    progress: Callable[[Any], None] | None = None,
    dask: str | None = None,
    dask_timeout: float = 10.0,
) -> SizeOutcome:
    """Finds the smallest capacity meeting ``target`` and writes ``out/<run id>/`` with the curve.

    Raises ScenarioError for a bad scenario, ValueError for a bad target or settings (an
    ``ExecutorError`` for a Dask scheduler it cannot reach).
    """
    from lienthong._report_size import size_report, write_points_csv
    from lienthong.runs import start_run
    from sim import plots
    from sim.replications import open_executor
    from sim.sizing import parse_target, size

    scenario, days, reps, warm = _setup(scenario_name, seed, days, replications, workers)
    tgt = parse_target(target, scenario)
    settings = {
        "target": target,
        "agencies": agencies,
        "confidence": confidence,
        "days": days,
        "replications": reps,
        "workers": workers,
    }
    # a bad Dask address fails before the run folder
    with open_executor(dask, workers, timeout=dask_timeout) as executor:
        run = start_run(scenario, kind="size", root=out, argv=argv, source=scenario_name, settings=settings)
        run.update(executor=executor.description)
        result = size(
            scenario,
            tgt,
            agencies=agencies,
            confidence=confidence,
            replications=reps,
            days=days,
            workers=workers,
            warmup_days=warm,
            progress=progress,
            executor=executor,
        )
    curve = plots.capacity_plot(result, run.file("curve.png")) if result.feasible else None
    write_points_csv(result, run.file("points.csv"))
    report = size_report(scenario, result, curve, meta=_meta(run, scenario, days, reps))
    report.write(run.path)
    run.finish(exit_code=report.exit_code, verdict=report.verdict, evaluations=result.evaluations)
    return SizeOutcome(run, report, result)


def _setup(
    scenario_name: str, seed: int | None, days: int | None, replications: int | None, workers: int
) -> tuple[Scenario, int, int, float]:
    """The scenario (with ``seed``), days, replications and warm-up of a run; ValueError if < 1."""
    import scenarios

    scenario = scenarios.load(scenario_name)
    if seed is not None:
        scenario = scenario.model_copy(update={"meta": scenario.meta.model_copy(update={"seed": seed})})
    days = scenario.sim.days if days is None else days
    reps = scenario.sim.replications if replications is None else replications
    if days < 1 or reps < 1 or workers < 1:
        raise ValueError(f"days, replications and workers must be at least 1, got {days}, {reps}, {workers}")
    return scenario, days, reps, min(scenario.sim.warmup_days, days / 2)


def _meta(run: RunFolder, scenario: Scenario, days: int, reps: int) -> dict[str, str]:
    return {
        "run": run.id,
        "scenario": scenario.meta.name,
        "seed": str(scenario.meta.seed),
        "days": str(days),
        "replications": str(reps),
        "digest": run.manifest["scenario"]["digest"][:16],
    }


def _expected_dossiers(scenario: Scenario, days: int) -> float:
    per_wd = sum(sum(v.values()) for v in scenario.dossiers_per_wd().values())
    return per_wd * days * 5 / 7
