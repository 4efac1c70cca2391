"""The reference fakes a live run starts for the agencies no one else serves (private): started on
the run's clock once the load process is ready, stopped at the end, killed and restarted on the
same folder and port for the crash run."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loadtests._machine import Machine
from loadtests.journeys import ScenarioClock
from scenarios import Scenario

__all__ = ["Embedded", "crash", "stop"]

Progress = Callable[[dict[str, Any]], None]


class Embedded:
    """The reference fakes of this run (the agencies in ``agencies``) on ``port``, started by
    :meth:`start` once the load process is ready."""

    def __init__(self, s: Scenario, folder: Path, speed: float, lead_s: float, machine: Machine,
                 port: int, agencies: tuple[str, ...]) -> None:
        self.s, self.dir, self.speed, self.lead_s, self.machine = s, folder / "fakes", speed, lead_s, machine
        self.port, self.agencies = port, agencies
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.handle: Any = None

    def start(self, go_file: Path) -> float:
        """Plans minute 0, starts the fakes on that clock, tells the load process; returns t0."""
        from fakes.serve import start_subprocess
        from scenarios.clock import write as write_clock

        self.dir.mkdir(parents=True, exist_ok=True)
        planned: list[float] = []

        def plan() -> None:  # the child has imported everything: the lead is left for the rest
            planned.append(time.time() + self.lead_s)
            write_clock(self.dir, ScenarioClock(planned[0], self.speed))

        self.handle = start_subprocess(
            self.s, self.dir, port=self.port, speed=self.speed, agencies=self.agencies, primed=plan
        )
        t0 = planned[0]
        self.machine.boost(self.handle.process.pid, "fakes")
        tmp = go_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"t0": t0}), encoding="utf-8")
        tmp.replace(go_file)
        return t0


def stop(fakes: Any) -> None:
    """Stops the fakes' child and closes its pipe (the handle leaves it open)."""
    fakes.stop()
    proc = getattr(fakes, "process", None)
    if proc is not None and proc.stdout is not None:
        proc.stdout.close()


def crash(fakes: Any, at: float, emit: Progress, machine: Machine | None = None,
           agencies: tuple[str, ...] | None = None) -> None:
    """SIGKILL the fakes at wall time ``at`` and restart them on the same folder and port."""
    from urllib.parse import urlparse

    from fakes.serve import start_subprocess

    time.sleep(max(0.0, at - time.time()))
    port = urlparse(fakes.base_url).port
    fakes.kill()
    if fakes.process.stdout is not None:
        fakes.process.stdout.close()
    emit({"phase": "crashed", "at": time.time()})
    scenario_path = fakes.run_dir.parent / "scenario.toml"
    for _ in range(50):
        try:
            fresh = start_subprocess(str(scenario_path), fakes.run_dir, port=port or 0, agencies=agencies)
            break
        except RuntimeError:
            time.sleep(0.2)
    else:
        raise RuntimeError("the fakes did not restart after the crash")
    fakes.process = fresh.process
    if machine is not None and fresh.process is not None:
        machine.boost(fresh.process.pid, "fakes")
    emit({"phase": "restarted", "at": time.time()})
