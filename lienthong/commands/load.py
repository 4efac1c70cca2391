"""``lienthong load``: Locust's master and workers, on this machine or across hosts.

- ``lienthong load SCENARIO --target URL [--workers N]``: a master and N workers on 127.0.0.1.
- ``lienthong load SCENARIO --target URL --master --bind HOST:PORT --expect-workers N``: only the
  master, listening on HOST:PORT; it waits (``--worker-timeout``) for N workers, then runs.
- ``lienthong load --worker --master HOST:PORT``: on each load machine, a worker joining that
  master; it takes everything else (scenario, target, keys, pace) from the master.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

__all__ = ["ClusterView", "load_command", "register"]

console = Console()
errors = Console(stderr=True, soft_wrap=True)


def register(root: typer.Typer) -> None:
    root.command("load")(load_command)


def load_command(
    scenario: str = typer.Argument(
        None, help="Catalog name or path to a .toml file (with --worker: none; give --master HOST:PORT)."
    ),
    target: str = typer.Option(None, "--target", help="Base URL of the services under test."),
    multiplier: float = typer.Option(None, "--multiplier", help="Demand multiple of the scenario's volumes."),
    workers: int = typer.Option(
        None, "--workers", help="Locust worker processes on 127.0.0.1, with a master there (default 1)."
    ),
    master: bool = typer.Option(
        False, "--master", help="Run only the master (with --bind, --expect-workers); with --worker: "
        "--master HOST:PORT, the master to join."
    ),
    bind: str = typer.Option(
        None, "--bind", help="With --master: HOST:PORT the master listens on for workers."
    ),
    expect_workers: int = typer.Option(
        None, "--expect-workers", help="With --master: how many workers to wait for before starting."
    ),
    worker: bool = typer.Option(
        False, "--worker", help="Run a Locust worker here for the master given by --master HOST:PORT."
    ),
    worker_timeout: float = typer.Option(
        60.0, "--worker-timeout", help="Seconds the master waits for its workers (a worker for its master)."
    ),
    lost_after: float = typer.Option(
        10.0, "--lost-after", help="Seconds a worker may miss heartbeats before it is declared lost."
    ),
    source: str = typer.Option(
        None, "--source", help="With --worker: the local address the connection to the master leaves from."
    ),
    speed: float = typer.Option(None, "--speed", help="Time compression (default: the scenario's)."),
    days: int = typer.Option(None, "--days", help="Scenario days to drive."),
    drain: float = typer.Option(
        60.0, "--drain", help="Seconds to keep following dossiers after the last arrival."
    ),
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
    """Load-test TARGET with the scenario's arrival stream (or stages), distributed over Locust workers."""
    if worker:
        _worker(scenario, master, target, source, worker_timeout)
        return
    from lienthong._comparison import twin_prediction
    from lienthong.commands.run import finish
    from lienthong.live import run_load
    from loadtests.distributed import MasterFailed, WorkersMissing

    count = _check(scenario, target, workers, multiplier, speed, master, bind, expect_workers, worker_timeout,
                   lost_after, drain, source)
    engine = {"ui": ui or not headless, "mode": "closed" if closed else "open", "auditor_key": auditor_key,
              "worker_timeout": worker_timeout, "lost_after_s": lost_after, "drain_s": drain}
    if master:
        engine["bind"] = bind
    where = f"master on {bind}, {count} worker(s) on the load machines" if master else \
        f"1 master + {count} worker(s) on 127.0.0.1"

    def work() -> Any:
        with console.status(f"Locust: {where}, driving {target} …") as status:
            view = ClusterView(status.update, console.print, where, worker_timeout)
            try:
                return run_load(scenario, target, workers=count, multiplier=multiplier, speed=speed,
                                days=days, out=out, twin=twin_prediction, progress=view.update, **engine)
            except (WorkersMissing, MasterFailed) as exc:
                status.stop()
                folder = getattr(exc, "folder", None)
                left = f" The run folder {folder} has no report." if folder else ""
                errors.print(f"[red]no test:[/] {exc}.{left}", highlight=False)
                raise typer.Exit(2) from exc

    finish(work)


class ClusterView:
    """The master's heartbeat in the console: one status line (workers, their state and share
    started) and a line per event (a worker connected, done, missing, back, lost, refused)."""

    def __init__(self, status: Any, say: Any, where: str, worker_timeout: float) -> None:
        self.status, self.say, self.where, self.timeout = status, say, where, worker_timeout
        self.t0 = time.time()

    def update(self, doc: dict[str, Any]) -> None:
        if "event" in doc:
            self._event(doc)
        elif doc.get("phase") == "waiting":
            self.status(f"Locust {self.where}: waiting for workers, {doc['connected']} of {doc['expected']} "
                        f"connected ({doc.get('waited_s', 0):.0f} of {self.timeout:g} s)")
        elif doc.get("phase") == "running":
            parts = [self._worker(w) for w in doc["workers"]]
            alive = sum(w["state"] not in ("lost", "missing", "gone", "absent") for w in doc["workers"])
            self.status(f"Locust {self.where}: {alive}/{doc['expected']} workers alive · "
                        + " · ".join(parts))

    @staticmethod
    def _worker(w: dict[str, Any]) -> str:
        share = f" {w['started']}/{w['total']}" if w.get("total") else ""
        minute = f" min {w['minute']:.0f}" if isinstance(w.get("minute"), int | float) else ""
        return f"#{w['index']} {w['state']}{share}{minute}"

    def _event(self, doc: dict[str, Any]) -> None:
        i, event = doc["index"], doc["event"]
        stamp = time.strftime("%H:%M:%S", time.localtime(doc.get("at", time.time())))
        detail = f" ({doc['detail']})" if doc.get("detail") else ""
        if event == "lost":
            share = (f"; {doc.get('started', 0)} of {doc.get('total')} of its arrivals started"
                     if doc.get("total") else "; none of its arrivals started")
            self.say(f"[bold red]{stamp} worker #{i} LOST[/]{detail}{share}: the rest are counted as "
                     "not sent", highlight=False)
        elif event in ("missing", "failed", "refused"):
            self.say(f"[yellow]{stamp} worker #{i} {event}[/]{detail}", highlight=False)
        elif event == "done":
            n = doc.get("bytes") or 0
            size = f", {n / 1e6:.1f} MB" if n >= 1e5 else f", {n / 1e3:.0f} kB"
            size += " of records received"
            self.say(f"{stamp} worker #{i} done{size}{detail}", highlight=False)
        else:
            self.say(f"{stamp} worker #{i} {event}{detail}", highlight=False)


def _worker(scenario: str | None, master: bool, target: str | None, source: str | None,
            timeout: float) -> None:
    """``--worker --master HOST:PORT``: the address is the one word after ``--master``."""
    from loadtests.distributed import run_worker

    if not master or not scenario:
        errors.print("[red]bad input:[/] --worker needs --master HOST:PORT (the master to join)")
        raise typer.Exit(2)
    if target:
        errors.print("[red]bad input:[/] a worker takes the target (and the scenario) from its master; "
                     "give --target to the master")
        raise typer.Exit(2)
    console.print(f"lienthong worker: joining the Locust master at {scenario}"
                  + (f" from {source}" if source else "") + f" (waiting at most {timeout:g} s)")
    try:
        run_worker(scenario, source=source, timeout=timeout)  # does not return: the worker replaces us
    except ValueError as exc:
        errors.print(f"[red]bad input:[/] {exc}")
        raise typer.Exit(2) from exc


def _check(scenario: str | None, target: str | None, workers: int | None, multiplier: float | None,
           speed: float | None, master: bool, bind: str | None, expect_workers: int | None,
           worker_timeout: float, lost_after: float, drain: float, source: str | None) -> int:
    """The number of workers; exits 2 naming the first bad option."""
    from loadtests.distributed import parse_address

    def bad(text: str) -> NoReturn:
        errors.print(f"[red]bad input:[/] {text}")
        raise typer.Exit(2)

    if not scenario:
        bad("a SCENARIO is needed (a worker: lienthong load --worker --master HOST:PORT)")
    if not target or not target.startswith(("http://", "https://")):
        bad(f"--target must be an http(s) URL, got {target!r}")
    if (multiplier is not None and multiplier <= 0) or (speed is not None and speed <= 0):
        bad(f"--multiplier > 0, --speed > 0 (got {multiplier}, {speed})")
    if not worker_timeout > 0 or not lost_after > 0 or not drain >= 0:
        bad(f"--worker-timeout > 0, --lost-after > 0, --drain >= 0 "
            f"(got {worker_timeout}, {lost_after}, {drain})")
    if source:
        bad("--source is for a worker (--worker)")
    if master:
        if workers is not None:
            bad("--workers starts local workers; with --master give --expect-workers N and start the workers "
                "on the load machines")
        if not bind or expect_workers is None or expect_workers < 1:
            bad(f"--master needs --bind HOST:PORT and --expect-workers >= 1 (got {bind!r}, {expect_workers})")
        try:
            parse_address(str(bind), "--bind")
        except ValueError as exc:
            bad(str(exc))
        return int(expect_workers or 0)
    if bind or expect_workers is not None:
        bad("--bind and --expect-workers go with --master")
    if workers is not None and workers < 1:
        bad(f"--workers >= 1 (got {workers})")
    return workers or 1
