"""``lienthong load SCENARIO --target URL``: Locust master + workers on 127.0.0.1, headless or UI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console

__all__ = ["load_command", "register"]

console = Console()
errors = Console(stderr=True, soft_wrap=True)


def register(root: typer.Typer) -> None:
    root.command("load")(load_command)


def load_command(
    scenario: str = typer.Argument(..., help="Catalog name or path to a .toml file."),
    target: str = typer.Option(..., "--target", help="Base URL of the services under test."),
    multiplier: float = typer.Option(None, "--multiplier", help="Demand multiple of the scenario's volumes."),
    workers: int = typer.Option(1, "--workers", help="Locust worker processes on 127.0.0.1."),
    speed: float = typer.Option(None, "--speed", help="Time compression (default: the scenario's)."),
    days: int = typer.Option(None, "--days", help="Scenario days to drive."),
    ui: bool = typer.Option(
        False, "--ui", help="Serve Locust's web UI on 127.0.0.1:8089 (start from there)."
    ),
    headless: bool = typer.Option(True, "--headless/--no-headless", help="Run without the web UI (default)."),
    closed: bool = typer.Option(
        False, "--closed", help="Closed-model stress users with the scenario's stages."
    ),
    out: Path = typer.Option(Path("runs"), "--out", help="Folder for the run folders."),
    auditor_key: str = typer.Option(
        None, "--auditor-key", help="Key with every :read scope, for reconciliation (default: the scenario's "
        "auditor caller)."
    ),
) -> None:
    """Load-test TARGET with the scenario's arrival stream (or stages), distributed over workers."""
    from lienthong._comparison import twin_prediction
    from lienthong.commands.run import finish
    from lienthong.live import run_load

    _check(target, workers, multiplier, speed)
    engine = {"ui": ui or not headless, "mode": "closed" if closed else "open", "auditor_key": auditor_key}

    def work() -> Any:
        with console.status(f"Locust: 1 master + {workers} worker(s) driving {target} …"):
            return run_load(scenario, target, workers=workers, multiplier=multiplier, speed=speed,
                            days=days, out=out, twin=twin_prediction, **engine)

    finish(work)


def _check(target: str, workers: int, multiplier: float | None, speed: float | None) -> None:
    """Exits 2 naming the first bad option."""
    if workers < 1 or (multiplier is not None and multiplier <= 0) or (speed is not None and speed <= 0):
        errors.print(
            "[red]bad input:[/] --workers >= 1, --multiplier > 0, --speed > 0 "
            f"(got {workers}, {multiplier}, {speed})"
        )
        raise typer.Exit(2)
    if not target.startswith(("http://", "https://")):
        errors.print(f"[red]bad input:[/] --target must be an http(s) URL, got {target!r}")
        raise typer.Exit(2)
