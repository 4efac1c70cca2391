"""``lienthong sim`` (run the digital twin, write a report) and ``lienthong size`` (smallest capacity).

Both are thin: :func:`simulate` and :func:`size_capacity` are plain functions that return what
they wrote; the Typer commands parse, show a progress bar, print the verdict with Rich and exit
0 (pass), 1 (a threshold breached / target out of reach) or 2 (bad input, the problem named).
"""

from __future__ import annotations

import contextlib
import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from lienthong.report import Report
    from lienthong.runs import Run
    from scenarios import Scenario
    from sim.records import SimResult, SimSummary
    from sim.sizing import SizingResult

__all__ = ["SimOutcome", "SizeOutcome", "register", "simulate", "size_capacity"]

console = Console()
errors = Console(stderr=True, soft_wrap=True)

# Above this many expected dossiers the plotted replication keeps no records in memory (only
# its hourly timeline): the ECDF and per-service backlog are then left out of the report.
_KEEP_LIMIT = 400_000


@dataclass
class SimOutcome:
    """What :func:`simulate` produced: the run folder, the report and the replications' summary."""

    run: Run
    report: Report
    summary: SimSummary


@dataclass
class SizeOutcome:
    """What :func:`size_capacity` produced: the run folder, the report and the search result."""

    run: Run
    report: Report
    result: SizingResult


def register(app: typer.Typer) -> None:
    app.command("sim")(sim_cmd)
    app.command("size")(size_cmd)


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


def _meta(run: Run, scenario: Scenario, days: int, reps: int) -> dict[str, str]:
    return {
        "run": run.id,
        "scenario": scenario.meta.name,
        "seed": str(scenario.meta.seed),
        "days": str(days),
        "replications": str(reps),
        "digest": run.manifest["scenario"]["digest"][:16],
    }


def simulate(
    scenario_name: str = "hanoi-baseline",
    *,
    days: int | None = None,
    replications: int | None = None,
    workers: int = 2,
    out: str | Path = "runs",
    seed: int | None = None,
    records: bool = False,
    argv: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimOutcome:
    """Runs the twin's replications and writes ``out/<run id>/`` with its report.

    Writes ``manifest.json``, ``metrics.json``, ``steps.csv`` (per-step aggregates), PNG plots,
    ``report.html``, ``report.md`` and ``junit.xml``; with ``records``, replication 0's full
    records as ``records/steps.csv`` and ``records/dossiers.csv``. Raises ScenarioError for a
    bad scenario and ValueError for bad settings.
    """
    import sim
    from lienthong._report_sim import flat_metrics, sim_report, write_step_csv
    from lienthong.report import Figure, evaluate_thresholds
    from lienthong.runs import start_run

    scenario, days, reps, warm = _setup(scenario_name, seed, days, replications, workers)
    settings = {
        "days": days,
        "replications": reps,
        "workers": workers,
        "warmup_days": warm,
        "records": records,
    }
    run = start_run(scenario, kind="sim", root=out, argv=argv, source=scenario_name, settings=settings)
    keep = _expected_dossiers(scenario, days) <= _KEEP_LIMIT
    summary = sim.run_replications(
        scenario,
        reps,
        days,
        workers=workers,
        warmup_days=warm,
        progress=progress,
        first="records" if keep else "aggregates",  # replication 0 for the plots: no rerun
        first_sink=sim.CsvSink(run.path / "records") if records else None,
    )
    shown = summary.first
    assert shown is not None
    m = summary.metrics
    figures = _sim_figures(scenario, summary, shown, run)
    write_step_csv(m, run.file("steps.csv"))
    results = evaluate_thresholds(scenario.thresholds, flat_metrics(m))
    report = sim_report(
        scenario,
        m,
        results,
        [Figure(t, p, c) for t, p, c in figures],
        meta=_meta(run, scenario, days, reps),
        replications=reps,
        days=days,
    )
    report.write(run.path)
    run.finish(exit_code=report.exit_code, verdict=report.verdict, wall_s=round(summary.wall_s, 3))
    return SimOutcome(run, report, summary)


def _expected_dossiers(scenario: Scenario, days: int) -> float:
    per_wd = sum(sum(v.values()) for v in scenario.dossiers_per_wd().values())
    return per_wd * days * 5 / 7


def _sim_figures(
    scenario: Scenario, summary: SimSummary, shown: SimResult, run: Run
) -> list[tuple[str, Path, str]]:
    from sim import plots

    target = next(
        (t.parts[2] for t in scenario.thresholds if t.parts[0] == "attainment" and t.metric.endswith(".e2e")),
        None,
    )
    figs = [
        (
            "Backlog over time",
            plots.backlog_plot(
                shown.timeline,
                run.file("backlog.png"),
                scenario=scenario,
                dossiers=shown.dossiers if shown.dossiers.size else None,
            ),
            "Replication 0, hour by hour; grey bands are non-working days.",
        ),
        (
            "SLA attainment by week",
            plots.attainment_plot(
                summary.replications, run.file("attainment.png"), scenario=scenario, target=target
            ),
            "Share finished within the group deadline, per week, with 95% CI across replications.",
        ),
    ]
    with contextlib.suppress(ValueError):  # no agency with desks: nothing to show
        heat = plots.utilisation_heatmap(summary.metrics, run.file("utilisation.png"))
        figs.append(
            ("Desk utilisation by hour of the week", heat, "Mean over replications, after the warm-up.")
        )
    if shown.steps.size:
        ecdf = plots.sojourn_plot(shown.steps, shown.step_names, run.file("steps.png"), scenario=scenario)
        figs.append(
            ("Time per step vs its limit", ecdf, "Replication 0, every step finished (warm-up included).")
        )
    return figs


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
) -> SizeOutcome:
    """Finds the smallest capacity meeting ``target`` and writes ``out/<run id>/`` with the curve.

    Raises ScenarioError for a bad scenario, ValueError for a bad target or settings.
    """
    from lienthong._report_sim import est
    from lienthong.report import Check, Figure, KeyFigure, Report, Section, Table
    from lienthong.runs import start_run
    from sim import plots
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
    run = start_run(scenario, kind="size", root=out, argv=argv, source=scenario_name, settings=settings)
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
    )
    curve = plots.capacity_plot(result, run.file("curve.png")) if result.feasible else None
    _write_points(result, run.file("points.csv"))
    answer = ", ".join(f"{a} {_plural(c, result.resources[a])}" for a, c in result.capacity.items())
    bounds = ", ".join(f"{a} {b}" for a, b in result.lower_bounds.items())
    if result.feasible:
        verdict = (
            f"{tgt.text} holds with {confidence:.0%} confidence at {answer} "
            f"(offered-load floors: {bounds}); one fewer misses the target or falls under the offered load."
        )
    else:
        verdict = f"No capacity up to {answer} meets {tgt.text} with {confidence:.0%} confidence."
    rows = [
        [
            p.agency or "all",
            ", ".join(f"{a} {c}" for a, c in p.vector.items()),
            est({"mean": p.value, "ci95": [p.low, p.high]} if not math.isnan(p.value) else None),
            "yes" if p.meets else "no",
        ]
        for p in result.points
    ]
    meta = _meta(run, scenario, days, reps)
    report = Report(
        title=f"{scenario.meta.name} — sizing for {tgt.text}",
        verdict=verdict,
        key_figures=[
            KeyFigure(f"{a} {result.resources[a]}", c, note=f"bound {result.lower_bounds[a]}")
            for a, c in result.capacity.items()
        ],
        sections=[
            Section(
                "Capacities examined",
                text=[
                    f"Each row: {reps} replications of {days} days; the figure is the mean ± the one-sided "
                    f"{confidence:.0%} bound, which must satisfy the target."
                ],
                tables=[Table("Search", ["varied", "capacity", tgt.label, "meets"], rows)],
            ),
            Section("Capacity–attainment curve", figures=[Figure("Curve", curve)] if curve else []),
        ],
        checks=[Check("target reachable", result.feasible, verdict)],
        metrics={
            "target": tgt.text,
            "capacity": result.capacity,
            "full": result.full,
            "lower_bounds": result.lower_bounds,
            "offered_load": result.offered,
            "points": [p.__dict__ for p in result.points],
            "notes": result.notes,
        },
        notes=result.notes,
        meta=meta,
    )
    report.write(run.path)
    run.finish(exit_code=report.exit_code, verdict=verdict, evaluations=result.evaluations)
    return SizeOutcome(run, report, result)


def _plural(n: int, resource: str) -> str:
    return f"{n} {resource[:-1] if n == 1 else resource}"


def _write_points(result: SizingResult, path: Path) -> None:
    agencies = list(result.capacity)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["varied", *agencies, "mean", "low", "high", "meets", "values"])
        for p in result.points:
            values = " ".join(f"{v:.6g}" for v in p.values)
            w.writerow(
                [p.agency or "all", *(p.vector[a] for a in agencies), p.value, p.low, p.high, p.meets, values]
            )


# --- Typer commands ----------------------------------------------------------------------------


def _bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _bad_input(exc: Exception) -> typer.Exit:
    from scenarios import ScenarioError

    if isinstance(exc, ScenarioError):
        errors.print(f"[red]bad scenario[/red] ({exc.key or 'file'}): {exc}", markup=True, highlight=False)
    else:
        errors.print(f"[red]bad input:[/red] {exc}", markup=True, highlight=False)
    return typer.Exit(2)


def _print_report(report: Report, run: Run) -> None:
    from lienthong.report import ThresholdResult

    style = "green" if report.passed else "red"
    console.print(f"[bold {style}]{report.verdict}[/]", highlight=False)
    if report.thresholds:
        table = Table(title="Thresholds", title_justify="left")
        for col in ("metric", "threshold", "observed", "result"):
            table.add_column(col)
        colour = {"pass": "green", "fail": "red"}
        for r in report.thresholds:
            assert isinstance(r, ThresholdResult)
            table.add_row(
                r.metric, r.expr, r.observed_text, f"[{colour.get(r.status, 'yellow')}]{r.status}[/]"
            )
        console.print(table)
    console.print(f"report: {run.path / 'report.html'}", highlight=False)


# Options both commands take (Typer reads these default markers; sharing them is safe).
_SCENARIO = typer.Argument("hanoi-baseline", help="Catalog name or path to a .toml file.")
_DAYS = typer.Option(None, "--days", min=1, help="Simulated days (default: the scenario's).")
_WORKERS = typer.Option(2, "--workers", "-w", min=1, help="Worker processes.")
_OUT = typer.Option(Path("runs"), "--out", help="Folder for run folders.")
_SEED = typer.Option(None, "--seed", min=0, help="Seed (default: the scenario's).")


def sim_cmd(
    scenario: str = _SCENARIO,
    days: int | None = _DAYS,
    replications: int | None = typer.Option(
        None, "--replications", "-r", min=1, help="Independent replications."
    ),
    workers: int = _WORKERS,
    out: Path = _OUT,
    seed: int | None = _SEED,
    records: bool = typer.Option(False, "--records", help="Also write replication 0's full records as CSV."),
) -> None:
    """Simulate a scenario with the digital twin: do the services meet their deadlines?"""
    import sys

    with _bar() as bar:
        task = bar.add_task("replications", total=replications)
        try:
            outcome = simulate(
                scenario,
                days=days,
                replications=replications,
                workers=workers,
                out=out,
                seed=seed,
                records=records,
                argv=sys.argv,
                progress=lambda n, total: bar.update(task, completed=n, total=total),
            )
        except ValueError as exc:  # ScenarioError is a ValueError
            raise _bad_input(exc) from None
    _print_report(outcome.report, outcome.run)
    raise typer.Exit(outcome.report.exit_code)


def size_cmd(
    scenario: str = _SCENARIO,
    target: str = typer.Option(
        ..., "--target", "-t", help="e.g. 'birth.p95 <= 3wd', 'step.bhyt.p95 <= 2wd'."
    ),
    agency: list[str] = typer.Option(
        [], "--agency", "-a", help="Agency to size (repeatable; default: all involved)."
    ),
    confidence: float = typer.Option(0.95, "--confidence", help="One-sided confidence of the bound."),
    days: int | None = _DAYS,
    replications: int | None = typer.Option(
        None, "--replications", "-r", min=2, help="Replications per capacity."
    ),
    workers: int = _WORKERS,
    out: Path = _OUT,
    seed: int | None = _SEED,
) -> None:
    """Find the smallest desks/servers per agency meeting a target, and show the capacity curve."""
    import sys

    with _bar() as bar:
        task = bar.add_task("capacities run", total=None)
        try:
            outcome = size_capacity(
                scenario,
                target=target,
                agencies=agency or None,
                confidence=confidence,
                days=days,
                replications=replications,
                workers=workers,
                out=out,
                seed=seed,
                argv=sys.argv,
                progress=lambda point: bar.advance(task),
            )
        except ValueError as exc:
            raise _bad_input(exc) from None
    result = outcome.result
    table = Table(title=f"Capacity–attainment curve for {result.target.text}", title_justify="left")
    for col in ("agency", result.resource, result.target.label, f"{result.confidence:.0%} bounds", "meets"):
        table.add_column(col)
    for agency_id in result.capacity:
        for p in result.curve(agency_id):
            mark = "[green]yes[/]" if p.meets else "[red]no[/]"
            chosen = " ←" if p.vector[agency_id] == result.capacity[agency_id] else ""
            table.add_row(
                agency_id,
                f"{p.vector[agency_id]}{chosen}",
                f"{p.value:.3g}",
                f"{p.low:.3g} – {p.high:.3g}",
                mark,
            )
    console.print(table)
    style = "green" if result.feasible else "red"
    console.print(f"[bold {style}]{outcome.report.verdict}[/]", highlight=False)
    console.print(f"report: {outcome.run.path / 'report.html'}", highlight=False)
    raise typer.Exit(0 if result.feasible else 1)
