"""``lienthong fakes serve``: start the fake agencies and the portal on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

__all__ = ["register"]

console = Console()
fakes_app = typer.Typer(help="The reference fake agencies and linked-dossier portal.", no_args_is_help=True)


@fakes_app.command("serve")
def serve_command(
    scenario: str = typer.Option(
        "hanoi-baseline", "--scenario", "-s", help="Catalog name or path of the scenario."
    ),
    port: int = typer.Option(8000, "--port", "-p", help="Port (first port with --split)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface (loopback by default)."),
    split: bool = typer.Option(False, "--split", help="One port per agency."),
    processes: int = typer.Option(
        1, "--processes", help="1: one process; 2: the agencies in a second process (port + 1), "
        "two cores.",
    ),
    run_dir: Path = typer.Option(Path("runs/fakes"), "--run-dir", help="Where the stores live."),
    speed: float | None = typer.Option(None, "--speed", help="Clock speed (default: scenario)."),
    instant: bool | None = typer.Option(
        None, "--instant/--in-time", help="Instant: every write answered at once (201). In time: "
        "writes booked on the agencies' desks and calendars (202 and a work resource). Default: "
        "the scenario's load.agencies.",
    ),
    fresh: bool = typer.Option(
        False, "--fresh", help="Start with empty registers and a new clock: delete the stores an "
        "earlier serve left in --run-dir (by default they resume, as after a crash).",
    ),
) -> None:
    """Serve every agency (health, justice, police, vss, social, portal) with OpenAPI at /docs."""
    from fakes.app import with_instant
    from fakes.serve import clear_stores, local_agencies, serve

    loaded = with_instant(_checked(scenario, port, split, processes), instant)
    run_dir = run_dir.resolve()  # absolute: handed to the agencies' process with --processes 2
    if fresh and (gone := clear_stores(run_dir)):
        console.print(f"--fresh: deleted {len(gone)} store file(s) of an earlier serve in {run_dir}")
    try:
        serve(loaded, host, port, run_dir, split=split, speed=speed, ready=_printer(loaded, run_dir),
              processes=processes, agencies=local_agencies(loaded))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        console.print(f"[red]cannot listen:[/red] {exc}")
        raise typer.Exit(2) from exc


def _checked(scenario: str, port: int, split: bool, processes: int) -> Any:
    """The scenario, once the options make sense; exits 2 naming the problem otherwise."""
    from scenarios import ScenarioError, load
    from scenarios.model import live_task_problems

    try:
        loaded = load(scenario)
        if problems := live_task_problems(loaded):
            raise ScenarioError(problems)
    except ScenarioError as exc:
        console.print(f"[red]bad scenario:[/red] {exc}")
        raise typer.Exit(2) from exc
    if port < 0 or port > 65535 or (split and port + 5 > 65535):
        console.print(f"[red]bad port:[/red] {port}")
        raise typer.Exit(2)
    if processes not in (1, 2) or (processes == 2 and split):
        console.print(f"[red]bad --processes:[/red] {processes} (1 or 2; 2 does not combine "
                      "with --split)")
        raise typer.Exit(2)
    return loaded


def _printer(loaded: Any, run_dir: Path) -> Callable[[str, dict[str, str]], None]:
    """What the server prints once it listens: where each agency is, and the callers' keys."""
    from rich.table import Table

    def ready(base: str, urls: dict[str, str]) -> None:
        table = Table(title=f"lienthong fakes — {loaded.meta.name} (run dir {run_dir})")
        table.add_column("agency")
        table.add_column("URL")
        for name, url in urls.items():
            table.add_row(name, f"{url}/{name}")
        table.add_row("docs", f"{base}/docs")
        console.print(table)
        keys = Table(title="API keys (synthetic test keys from scenario.callers)")
        for col in ("caller", "key", "scopes"):
            keys.add_column(col)
        citizens = []
        for name, caller in loaded.callers.items():
            if caller.role == "citizen":  # a secret that issues keys, not a key itself
                citizens.append(name)
                keys.add_row(name, "one per citizen (below)", " ".join(caller.scopes))
            else:
                keys.add_row(name, caller.key, " ".join(caller.scopes))
        console.print(keys)
        if citizens:
            console.print("A citizen's key: python -c \"from fakes.auth import citizen_key; "
                          f"print(citizen_key('{loaded.callers[citizens[0]].key}', '<12-digit PID>'))\" "
                          "(fakes/CONTRACT.md §2).")
        if loaded.load.agencies == "in_time":
            console.print("Agencies in time: writes are booked on the desks and calendars "
                          "(202 and /<agency>/work/{id}); --instant answers them at once.")
        else:
            console.print("Agencies instant: every write is answered at once (201).")
        console.print("Ctrl+C to stop.")

    return ready


def register(app: typer.Typer) -> None:
    """Mount ``lienthong fakes``."""
    app.add_typer(fakes_app, name="fakes")
