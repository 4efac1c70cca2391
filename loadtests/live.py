"""A live run: one scenario driven end to end and reconciled (the engine behind ``lienthong run``).

:func:`plan_live` resolves the scenario and settings (where each agency is: :class:`Placement`);
:func:`drive_live` starts the reference fakes in a child process for the agencies no one else
serves, starts the load process (Locust in library mode, another child, so gevent's
monkey-patching never reaches this process), replays the scenario's arrival stream compressed by
``speed``, follows every dossier to completion, reconciles the registers and returns a
:class:`~loadtests.results.LiveRun`. The raw records (``load/worker-*.npz``) and the fakes' SQLite
stores go into the run folder it is given; the front door (:mod:`lienthong.live`) owns that
folder and writes the report.

Clock: the load process starts first and prepares its stream and citizens; once it says it is
ready the run plans minute 0 (``t0``) ``lead_s`` ahead, writes it to the fakes' run folder
(``clock.json``), starts the fakes and hands ``t0`` to the load process (``go.json``). So the
fakes and the load process share one scenario clock (across a crash and restart too), and a slow
start of the generator on a busy machine never makes the first arrivals late.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import scenarios
from loadtests._config import LoadConfig
from loadtests._embedded import Embedded, crash
from loadtests._embedded import stop as stop_fakes
from loadtests._machine import Machine
from loadtests._merge import merge
from loadtests.placement import Placement, place, with_agencies, with_multiplier, with_time
from loadtests.reconcile import Reconciliation, reconcile_run
from loadtests.results import LiveRun
from scenarios import Scenario
from scenarios.clock import ScenarioClock
from scenarios.model import live_task_problems

__all__ = ["LivePlan", "RunSettings", "drive_live", "plan_live"]

Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class RunSettings:
    """The knobs of one run (``None``: the scenario's ``[load]`` value).

    ``crash_after_s`` kills the fakes with SIGKILL that many wall seconds after minute 0 and
    restarts them on the same folder and port (the crash run). ``poll_interval_s`` and
    ``drain_s`` bound how often and how long dossiers are followed after the last arrival
    (``drain_s`` None: with agencies in time, until the latest deadline of the stream's dossiers
    has passed on the scenario clock, since a dossier handed in at 23:00 is worked the next
    morning; instant, 60 s). ``max_seconds`` (None: the scenario's, raised to fit the stream
    and a drain of two days when ``days`` asks for more) bounds the whole run. ``instant``
    overrides ``load.agencies`` of the scenario: True, the reference fakes answer every write at
    once (no desks, no calendar); False, agencies in time.
    ``agencies`` swaps agencies (or the portal) for other systems: ``{"vss": "http://…"}``, on
    top of the scenario's ``agencies.<id>.base_url``; the embedded fakes serve the rest, on
    ``fakes_port`` when given (so a real system can be told where to call them beforehand).
    ``nice`` is the scheduling priority given to the fakes' and the load process (when this
    process may raise priorities, i.e. as root; ``None`` leaves them alone): on a machine shared
    with other work, the system under test and the generator measuring it must not be starved,
    or the report measures the machine's load instead of the services. The machine's load
    average and the CPU the fakes used are recorded in the report either way.
    """

    target: str | None = None
    speed: float | None = None
    days: int | None = None
    multiplier: float | None = None
    out: str | Path = "runs"
    seed: int | None = None
    max_seconds: float | None = None
    max_dossiers: int | None = None
    poll_interval_s: float | None = None
    drain_s: float | None = None
    crash_after_s: float | None = None
    lead_s: float = 2.5
    nice: int | None = -5
    agencies: Mapping[str, str] = field(default_factory=dict)
    fakes_port: int | None = None
    instant: bool | None = None


@dataclass(frozen=True)
class LivePlan:
    """A live run resolved from a scenario and its settings, before anything starts: the
    scenario as run (multiplier and agency URLs applied), its pace and where each agency is."""

    scenario: Scenario
    settings: RunSettings
    speed: float
    days: int
    max_seconds: float
    placement: Placement
    fakes_port: int | None
    drain_s: float = 60.0

    def manifest_settings(self) -> dict[str, Any]:
        """The run's parameters as recorded in its manifest."""
        return {
            "speed": self.speed,
            "days": self.days,
            "multiplier": self.scenario.demand.multiplier,
            "target": self.placement.portal,
            "agencies": self.placement.as_dict(),
            "crash_after_s": self.settings.crash_after_s,
            "agencies_in_time": self.scenario.load.agencies == "in_time",
            "drain_s": self.drain_s,
            "max_seconds": self.max_seconds,
        }


def plan_live(
    scenario: str | Path | Scenario = "hanoi-baseline", settings: RunSettings | None = None
) -> LivePlan:
    """Resolves a live run. Raises ``scenarios.ScenarioError`` for a bad scenario (or agency
    URL) and ValueError for bad settings."""
    st = settings or RunSettings()
    base = scenario if isinstance(scenario, Scenario) else scenarios.load(scenario)
    s = with_time(with_agencies(with_multiplier(base, st.multiplier), st.agencies), st.instant)
    if not st.target and (problems := live_task_problems(s)):  # the reference fakes serve a part
        raise scenarios.ScenarioError(problems)
    speed = float(st.speed or s.load.speed)
    days = int(st.days or s.load.days)
    if not speed > 0 or days < 1:
        raise ValueError(f"speed must be positive and days at least 1, got speed={speed}, days={days}")
    if st.fakes_port is not None and not 0 < st.fakes_port < 65536:
        raise ValueError(f"fakes port must be 1-65535, got {st.fakes_port}")
    fakes_port = st.fakes_port or (None if st.target else _free_port())
    placement = place(s, st.target, f"http://127.0.0.1:{fakes_port}" if fakes_port else None)
    drain_s = st.drain_s if st.drain_s is not None else default_drain_s(s, days, speed)
    stream_s = days * 1440.0 / speed * 60.0
    max_seconds = float(st.max_seconds or max(s.load.max_seconds, stream_s + min(drain_s, 2 * 86400 / speed)))
    return LivePlan(s, st, speed, days, max_seconds, placement, fakes_port, drain_s)


def default_drain_s(s: Scenario, days: int, speed: float) -> float:
    """How long (wall seconds) to keep following dossiers after the last arrival.

    Instant agencies: 60 s. Agencies in time: until the latest group deadline of a dossier
    submitted on the last day has passed on the scenario clock (its outcome is known then), so
    evening and weekend submissions are followed to the desks' next opening; the run stops
    earlier when every dossier is terminal.
    """
    if s.load.agencies == "instant":
        return 60.0
    from scenarios.demand import calendar_for
    from scenarios.desks import Workdays

    wd = max(max(svc.deadline_wd, svc.verification_deadline_wd) for svc in s.services.values())
    horizon = days * 1440.0
    table = Workdays(calendar_for(s), s.calendar.start, days + int(wd * 3) + 60)
    due = float(table.deadline(np.array([horizon - 1.0]), wd)[0])
    if not np.isfinite(due):  # pragma: no cover - the table reaches far past any deadline
        due = horizon + 14 * 1440.0
    return (due - horizon) / speed * 60.0 + 5.0


def drive_live(plan: LivePlan, folder: Path, *, progress: Progress | None = None) -> LiveRun:
    """Runs ``plan`` end to end with ``folder`` as the run folder (the fakes' stores and the load
    records go under it) and returns what was measured. A failure at any stage (fakes, load,
    reconciliation) is kept in ``LiveRun.error`` rather than raised, with whatever was measured
    before it."""
    s, st = plan.scenario, plan.settings
    emit = progress or (lambda _doc: None)
    emit({"phase": "ecosystem", "lines": plan.placement.lines()})
    machine = Machine(st.nice)
    embedded = (
        Embedded(s, folder, plan.speed, st.lead_s, machine, plan.fakes_port, plan.placement.embedded)
        if plan.placement.embedded and plan.fakes_port
        else None
    )
    stages = _Stages(emit)
    try:
        cfg = _config(plan, folder, embedded)
        emit({"phase": "preparing", "target": cfg.target})
        stages.run("driving the load", _drive, cfg, folder, emit, embedded, st.crash_after_s, machine)
        if embedded is not None and embedded.handle is not None:
            machine.cpu_of(embedded.handle.process.pid, "fakes")
        machine.done()
        emit({"phase": "reconciling"})
        merged = stages.run("merging the load records", merge, Path(cfg.out))
        rec = stages.run("reconciling", reconcile_run, s, merged, plan.placement, cfg) if merged else None
        if rec is None:
            rec = Reconciliation(error=stages.error or "no load records to reconcile")
        return LiveRun(folder, s, cfg, merged, rec, plan.placement.as_dict(), machine.as_dict(), stages.error)
    finally:
        if embedded is not None and embedded.handle is not None:
            stop_fakes(embedded.handle)


class _Stages:
    """Runs the stages of a run, keeping the first failure (``stage: error``) instead of raising,
    so the report is still written with what was measured."""

    def __init__(self, emit: Progress) -> None:
        self.emit, self.error = emit, ""

    def run(self, stage: str, fn: Callable[..., Any], *args: Any) -> Any:
        if self.error:
            return None
        try:
            return fn(*args)
        except Exception as exc:  # reported, not raised: the report must still be written
            self.error = f"{stage} failed: {type(exc).__name__}: {_first_lines(str(exc))}"
            self.emit({"phase": "error", "error": self.error})
            return None


def _first_lines(text: str, n: int = 12) -> str:
    lines = text.strip().splitlines()
    return "\n".join(lines[:2] + (["…"] if len(lines) > n else []) + lines[2:][-(n - 2):])


def _free_port() -> int:
    from fakes.serve import free_port

    return free_port()


def _scenario_file(s: Scenario, folder: Path) -> Path:
    path = folder / "scenario.toml"
    path.write_text(scenarios.dump(s), encoding="utf-8")
    return path


def _config(plan: LivePlan, folder: Path, embedded: Embedded | None) -> LoadConfig:
    s, st, placement, speed, days = plan.scenario, plan.settings, plan.placement, plan.speed, plan.days
    common: dict[str, Any] = dict(
        health_url="" if placement.urls["health"] == placement.portal else placement.urls["health"],
        scenario=str(_scenario_file(s, folder)),
        out=str(folder / "load"),
        speed=speed,
        days=days,
        multiplier=None,
        seed=st.seed,
        max_seconds=plan.max_seconds,
        max_dossiers=int(st.max_dossiers or s.load.max_dossiers),
        poll_interval_s=float(st.poll_interval_s or s.load.poll_interval_s),
        request_timeout_s=s.load.request_timeout_s,
        drain_s=plan.drain_s,
        run_tag=_tag(folder.name),
        progress=True,
    )
    keys = {name: c.key for name, c in s.callers.items()}
    if embedded is not None:
        go = folder / "load" / "go.json"
        return LoadConfig(
            target=placement.portal, t0=0.0, aligned=True, keys=keys, go_file=str(go), **common
        )
    t0, shift, aligned, speed = _align(placement.portal, speed, st.lead_s + _prep_seconds(s, days))
    common["speed"] = speed
    return LoadConfig(
        target=placement.portal, t0=t0, shift_minutes=shift, aligned=aligned, keys=keys, **common
    )


def _tag(folder_name: str) -> str:
    """The run's Idempotency-Key prefix: unique per run folder (its start second and digest), so
    two runs against the same target never replay each other's writes; a restart of the same run
    reuses it."""
    stamp, digest = folder_name[:15], folder_name.rsplit("-", 1)[-1]
    return f"{stamp}-{digest}"[:40]


def _prep_seconds(s: Scenario, days: int) -> float:
    """Rough time the load process needs before minute 0 (imports, stream, citizens)."""
    per_day = (s.demand.births_per_wd + s.demand.deaths_per_wd) * s.demand.multiplier * 1.5
    return 2.0 + per_day * days * 40 / 250_000


def _align(target: str, speed: float, lead_s: float) -> tuple[float, float, bool, float]:
    """``(t0, shift_minutes, aligned, speed)`` for a target: its own clock when ``/healthz``
    reports one (the stream shifted to start ``lead_s`` from now), else ours."""
    import httpx

    now = time.time()
    try:
        info = httpx.get(target.rstrip("/") + "/healthz", timeout=5).json()
        t0, their_speed = float(info["t0"]), float(info["speed"])
    except (httpx.HTTPError, KeyError, TypeError, ValueError):
        return now + lead_s, 0.0, False, speed
    minute_then = float(ScenarioClock(t0, their_speed).minute(now + lead_s))
    return t0, max(0.0, math.ceil(minute_then)), True, their_speed


def _drive(
    cfg: LoadConfig,
    folder: Path,
    emit: Progress,
    embedded: Embedded | None,
    crash_after_s: float | None,
    machine: Machine | None = None,
) -> None:
    """Runs the load process to its end. With ``embedded`` fakes, starts them when the load
    process says it is ready and records the run's ``t0`` in ``cfg`` (and its config file)."""
    path = cfg.write(folder / "load" / "config.json")
    log = open(folder / "load" / "load.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-P", "-m", "loadtests._child", str(path)],
        stdout=subprocess.PIPE,
        stderr=log,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    if machine is not None:
        machine.boost(proc.pid, "load")
    crasher = None
    if embedded is None:
        emit({"phase": "driving", "target": cfg.target, "t0": cfg.t0})
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if doc.get("ready") and embedded is not None and embedded.handle is None:
                cfg.t0 = embedded.start(Path(cfg.go_file))
                cfg.write(path)
                emit({"phase": "driving", "target": cfg.target, "t0": cfg.t0})
                if crash_after_s is not None:
                    crasher = threading.Thread(
                        target=crash,
                        args=(embedded.handle, cfg.t0 + crash_after_s, emit, machine, embedded.agencies),
                        daemon=True,
                    )
                    crasher.start()
                continue
            if machine is not None and doc.get("final"):
                machine.cpu_of(proc.pid, "load")
            emit(doc)
        code = proc.wait(timeout=cfg.max_seconds + 180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        log.close()
    if crasher is not None:
        crasher.join(timeout=60)
    if code != 0:
        tail = (folder / "load" / "load.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"the load process failed (exit {code}):\n{tail}")


