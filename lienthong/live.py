"""Live runs and load tests from the front door: the run folder, the engine, the report.

:func:`run_scenario` (``lienthong run``) and :func:`run_load` (``lienthong load``) create the
run folder (:func:`lienthong.runs.start_run`: manifest first), hand it to the engine in
``loadtests`` (:func:`loadtests.live.drive_live`, :func:`loadtests.distributed.drive_load`), which
fills it with raw records and returns a :class:`~loadtests.results.LiveRun`, then render the one
report (HTML, Markdown, junit, metrics.json, plots), with the twin's prediction on the same
stream when ``twin`` is given, and close the manifest with the exit code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import scenarios
from lienthong._report_live import Twin, live_report
from lienthong.report import Report
from lienthong.runs import start_run
from loadtests.live import RunSettings, drive_live, plan_live
from loadtests.placement import with_multiplier
from loadtests.reconcile import Reconciliation
from loadtests.results import LiveRun
from scenarios import Scenario

__all__ = ["RunOutcome", "RunSettings", "run_load", "run_scenario"]

Progress = Callable[[dict[str, Any]], None]


@dataclass
class RunOutcome:
    """What a run produced: its folder, report, exit code, reconciliation and metrics."""

    path: Path
    exit_code: int
    report: Report
    reconciliation: Reconciliation
    metrics: dict[str, Any]


def run_scenario(
    scenario: str | Path | Scenario = "hanoi-baseline",
    settings: RunSettings | None = None,
    *,
    progress: Progress | None = None,
    argv: Sequence[str] | None = None,
    twin: Twin | None = None,
) -> RunOutcome:
    """``lienthong run``: ``scenario`` end to end, reconciled, reported in ``settings.out/<id>/``.

    Raises ``scenarios.ScenarioError`` for a bad scenario and ValueError for bad settings; once
    the run folder exists, a failure at any stage ends in a report saying so (exit code 1).
    """
    plan = plan_live(scenario, settings)
    run = start_run(
        plan.scenario,
        kind="run",
        root=plan.settings.out,
        seed=plan.settings.seed,
        argv=argv,
        source=None if isinstance(scenario, Scenario) else str(scenario),
        settings=plan.manifest_settings(),
    )
    live = drive_live(plan, run.path, progress=progress)
    if progress is not None:
        progress({"phase": "reporting"})
    return _finish(live, run, twin)


def run_load(
    scenario: str | Path,
    target: str,
    *,
    workers: int = 1,
    multiplier: float | None = None,
    speed: float | None = None,
    days: int | None = None,
    out: str | Path = "runs",
    twin: Twin | None = None,
    **engine: Any,
) -> RunOutcome:
    """``lienthong load``: Locust's master and workers against ``target``, reported like a run.

    ``engine`` passes the rest to :func:`loadtests.distributed.drive_load` (``ui``, ``mode``,
    ``drain_s``, ``max_seconds``, ``stage_scale``, ``auditor_key``, ``web_port``). Raises
    ``scenarios.ScenarioError`` for a bad scenario, ValueError for bad settings and RuntimeError
    when Locust does not finish.
    """
    from loadtests.distributed import drive_load

    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    s = with_multiplier(scenarios.load(scenario), multiplier)
    run = start_run(
        s,
        kind="load",
        root=out,
        source=str(scenario),
        settings={"target": target, "workers": workers, "speed": float(speed or s.load.speed),
                  "days": int(days or s.load.days), "mode": engine.get("mode", "open")},
    )
    live = drive_load(s, target, run.path, workers=workers, speed=speed, days=days, **engine)
    return _finish(live, run, twin)


def _finish(live: LiveRun, run: Any, twin: Twin | None) -> RunOutcome:
    report, metrics = live_report(live, run, twin)
    report.write(run.path)
    run.finish(exit_code=report.exit_code, passed=report.passed)
    return RunOutcome(run.path, report.exit_code, report, live.reconciliation, metrics)
