"""``lienthong run [SCENARIO]``: a scenario end to end against the fakes (or ``--target``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console

__all__ = ["register", "run_command"]

console = Console()
errors = Console(stderr=True, soft_wrap=True)


def register(root: typer.Typer) -> None:
    root.command("run")(run_command)


def _twin_prediction(scenario: Any, stream: Any, days: int) -> dict[str, Any]:
    """The twin's replications on the run's own arrival stream: ``lienthong._comparison.twin_prediction``,
    imported when called (it pulls in the twin and numpy, which ``lienthong --help`` does without)."""
    from lienthong._comparison import twin_prediction as predict

    return predict(scenario, stream, days)


def run_command(
    scenario: str = typer.Argument("hanoi-baseline", help="Catalog name or path to a .toml file."),
    target: str = typer.Option(
        None,
        "--target",
        help="Origin of a whole ecosystem to test (portal and every agency not named by --agency); "
        "default: start the reference fakes.",
    ),
    agency: list[str] = typer.Option(
        None,
        "--agency",
        help="Swap one agency or the portal for a real system: ID=URL (repeatable), e.g. "
        "vss=http://127.0.0.1:9517. The reference fakes serve the rest.",
    ),
    fakes_port: int = typer.Option(
        None, "--fakes-port", help="Serve the reference fakes on this port (so a real system can call them)."
    ),
    speed: float = typer.Option(None, "--speed", help="Time compression (scenario minutes per wall minute)."),
    days: int = typer.Option(None, "--days", help="Scenario days to drive."),
    multiplier: float = typer.Option(None, "--multiplier", help="Demand multiple of the scenario's volumes."),
    out: Path = typer.Option(Path("runs"), "--out", help="Folder for the run folders."),
    crash_after: float = typer.Option(
        None, "--crash-after", help="Kill -9 the fakes after this many seconds."
    ),
    drain: float = typer.Option(
        None,
        "--drain",
        help="Seconds to keep following dossiers after the last arrival (default: with agencies in "
        "time, until every dossier is done or the stream's latest deadline has passed; "
        "60 with --instant).",
    ),
    instant: bool = typer.Option(
        False,
        "--instant",
        help="The reference fakes answer every write at once (no desks, no office hours): pure API "
        "tests. Default: agencies in time, as the scenario's load.agencies says.",
    ),
) -> None:
    """Drive a time-compressed scenario end to end, reconcile, and write a report (exit 1 on a breach)."""
    from lienthong.live import RunSettings, run_scenario

    _check(speed, days, multiplier, fakes_port, drain)
    settings = RunSettings(
        target=target,
        agencies=agency_urls(agency or []),
        fakes_port=fakes_port,
        speed=speed,
        days=days,
        multiplier=multiplier,
        out=out,
        crash_after_s=crash_after,
        drain_s=drain,
        instant=True if instant else None,
    )
    finish(
        lambda: _with_progress(
            lambda cb: run_scenario(scenario, settings, progress=cb, twin=_twin_prediction)
        )
    )


def _check(speed: float | None, days: int | None, multiplier: float | None, fakes_port: int | None,
           drain: float | None = None) -> None:
    """Exits 2 naming the first bad option."""
    problems = [
        (speed is not None and speed <= 0) or (days is not None and days < 1),
        multiplier is not None and multiplier <= 0,
        fakes_port is not None and not 0 < fakes_port < 65536,
        drain is not None and not drain >= 0,
    ]
    texts = [
        f"--speed must be > 0 and --days >= 1 (got {speed}, {days})",
        f"--multiplier must be > 0 (got {multiplier})",
        f"--fakes-port must be 1-65535 (got {fakes_port})",
        f"--drain must be >= 0 seconds (got {drain})",
    ]
    for bad, text in zip(problems, texts, strict=True):
        if bad:
            errors.print(f"[red]bad input:[/] {text}")
            raise typer.Exit(2)


def agency_urls(pairs: list[str]) -> dict[str, str]:
    """``{"vss": "http://…"}`` from ``--agency vss=http://…`` options; exits 2 naming a bad one."""
    from loadtests.placement import agency_problem

    out: dict[str, str] = {}
    for pair in pairs:
        name, _, url = pair.partition("=")
        name = name.strip()
        if problem := agency_problem(name, url):
            errors.print(f"[red]bad input:[/] --agency {pair!r} (expected ID=URL): {problem}")
            raise typer.Exit(2)
        out[name] = url.rstrip("/")
    return out


def finish(work: Any) -> None:
    """Runs ``work()`` (a run or a load), prints its verdict and report path, exits with its code.

    A ScenarioError exits 2 with the problem named.
    """
    import scenarios

    try:
        outcome = work()
    except scenarios.ScenarioError as exc:
        errors.print(f"[red]bad scenario:[/] {exc}")
        raise typer.Exit(2) from exc
    colour = "green" if outcome.exit_code == 0 else "red"
    console.print(f"[bold {colour}]{outcome.report.verdict}[/]")
    console.print(f"report: {outcome.path / 'report.html'}")
    raise typer.Exit(outcome.exit_code)


def _with_progress(work: Any) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        started = bar.add_task("starting", total=None)
        done = bar.add_task("accepted dossiers finished", total=None, visible=False)

        def update(doc: dict[str, Any]) -> None:
            if doc.get("progress"):
                bar.update(
                    started,
                    description=f"arrivals started (scenario minute {doc['minute']:.0f})",
                    total=doc["total"],
                    completed=doc["started"],
                )
                bar.update(done, visible=True, total=max(1, doc["accepted"]), completed=doc["finished"])
            elif doc.get("phase") == "ecosystem":
                bar.console.print("[bold]ecosystem[/] (agency, what, where):")
                for line in doc["lines"]:
                    style = "cyan" if "real system" in line else "dim"
                    bar.console.print(f"  [{style}]{line}[/]", highlight=False)
            elif doc.get("phase") == "error":
                bar.console.print(f"[red]{doc['error']}[/]", highlight=False)
            elif "phase" in doc:
                bar.console.print(f"[dim]{doc['phase']}[/]")

        return work(update)
