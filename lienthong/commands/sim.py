"""``lienthong sim`` (run the digital twin, write a report) and ``lienthong size`` (smallest capacity).

Thin: the work is :func:`lienthong.simulation.simulate` and
:func:`lienthong.simulation.size_capacity`, plain functions that return what they wrote; the
Typer commands parse, show a progress bar, print the verdict with Rich and exit 0 (pass), 1 (a
threshold breached / target out of reach) or 2 (bad input, the problem named — a Dask scheduler
that ``--dask`` cannot reach is one).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from lienthong.simulation import SimOutcome, SizeOutcome, simulate, size_capacity

if TYPE_CHECKING:
    from lienthong.report import Report
    from lienthong.runs import RunFolder

__all__ = ["SimOutcome", "SizeOutcome", "register", "simulate", "size_capacity"]

console = Console()
errors = Console(stderr=True, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("sim")(sim_cmd)
    app.command("size")(size_cmd)


# --- Typer commands ----------------------------------------------------------------------------

# Options the commands take (Typer reads these default markers; sharing them is safe).
_SCENARIO = typer.Argument("hanoi-baseline", help="Catalog name or path to a .toml file.")
_DAYS = typer.Option(None, "--days", min=1, help="Simulated days (default: the scenario's).")
_WORKERS = typer.Option(2, "--workers", "-w", min=1, help="Worker processes.")
_OUT = typer.Option(Path("runs"), "--out", help="Folder for run folders.")
_SEED = typer.Option(None, "--seed", min=0, help="Seed (default: the scenario's).")
_REPLICATIONS = typer.Option(None, "--replications", "-r", min=1, help="Independent replications.")
_RECORDS = typer.Option(False, "--records", help="Also write replication 0's full records as CSV.")
_ALL_RECORDS = typer.Option(False, "--all-records",
                            help="Write every replication's full records as CSV (records/rep-<r>/).")
_TARGET = typer.Option(..., "--target", "-t", help="e.g. 'birth.p95 <= 3wd', 'step.bhyt.p95 <= 2wd'.")
_AGENCY = typer.Option([], "--agency", "-a", help="Agency to size (repeatable; default: all involved).")
_CONFIDENCE = typer.Option(0.95, "--confidence", help="One-sided confidence of the bound.")
_SIZE_REPLICATIONS = typer.Option(None, "--replications", "-r", min=2, help="Replications per capacity.")
_DASK = typer.Option(None, "--dask", metavar="ADDRESS",
                     help="Run the replications on Dask: 'local' (a LocalCluster of --workers processes) "
                          "or a scheduler's address, e.g. tcp://10.0.0.5:8786 (its workers; --workers "
                          "unused). Needs the 'dask' extra. Default: a local process pool.")
_DASK_TIMEOUT = typer.Option(10.0, "--dask-timeout", min=0.1, metavar="SECONDS",
                             help="With --dask ADDRESS: give up (exit 2) when the scheduler cannot be "
                                  "reached, or no worker joins it, within this many seconds.")


def sim_cmd(
    scenario: str = _SCENARIO,
    days: int | None = _DAYS,
    replications: int | None = _REPLICATIONS,
    workers: int = _WORKERS,
    out: Path = _OUT,
    seed: int | None = _SEED,
    records: bool = _RECORDS,
    all_records: bool = _ALL_RECORDS,
    dask: str | None = _DASK,
    dask_timeout: float = _DASK_TIMEOUT,
) -> None:
    """Simulate a scenario with the digital twin: do the services meet their deadlines?"""
    with _running("replications", total=replications) as bar:
        outcome = simulate(scenario, days=days, replications=replications, workers=workers, out=out,
                           seed=seed, records="all" if all_records else records,
                           progress=bar.done, dask=dask, dask_timeout=dask_timeout)  # fmt: skip
    _print_report(outcome.report, outcome.run)
    raise typer.Exit(outcome.report.exit_code)


def size_cmd(
    scenario: str = _SCENARIO,
    target: str = _TARGET,
    agency: list[str] = _AGENCY,
    confidence: float = _CONFIDENCE,
    days: int | None = _DAYS,
    replications: int | None = _SIZE_REPLICATIONS,
    workers: int = _WORKERS,
    out: Path = _OUT,
    seed: int | None = _SEED,
    dask: str | None = _DASK,
    dask_timeout: float = _DASK_TIMEOUT,
) -> None:
    """Find the smallest desks/servers per agency meeting a target, and show the capacity curve."""
    with _running("capacities run") as bar:
        outcome = size_capacity(scenario, target=target, agencies=agency or None, confidence=confidence,
                                days=days, replications=replications, workers=workers, out=out, seed=seed,
                                progress=bar.advance, dask=dask, dask_timeout=dask_timeout)  # fmt: skip
    _print_curve(outcome)
    raise typer.Exit(0 if outcome.result.feasible else 1)


class _Bar:
    """One task of a progress bar, moved by the run's ``progress`` callback."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self.progress, self.task = progress, task

    def done(self, n: int, total: int) -> None:
        """``n`` of ``total`` finished (replications)."""
        self.progress.update(self.task, completed=n, total=total)

    def advance(self, _point: object) -> None:
        """One more finished (a capacity evaluated)."""
        self.progress.advance(self.task)


@contextlib.contextmanager
def _running(what: str, total: int | None = None) -> Iterator[_Bar]:
    """A progress bar of ``what`` while the block runs; a ValueError in it (a ScenarioError is
    one) exits 2 naming the problem."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        try:
            yield _Bar(progress, progress.add_task(what, total=total))
        except ValueError as exc:
            raise _bad_input(exc) from None


def _bad_input(exc: Exception) -> typer.Exit:
    from rich.markup import escape

    from scenarios import ScenarioError

    text = escape(str(exc))  # "[dask]", "['tcp', …]" are text, not markup
    if isinstance(exc, ScenarioError):
        errors.print(f"[red]bad scenario[/red] ({exc.key or 'file'}): {text}", markup=True, highlight=False)
    else:
        errors.print(f"[red]bad input:[/red] {text}", markup=True, highlight=False)
    return typer.Exit(2)


def _print_report(report: Report, run: RunFolder) -> None:
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


def _print_curve(outcome: SizeOutcome) -> None:
    """Each sized agency's capacity–attainment curve (its answer marked), the verdict, the report."""
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
