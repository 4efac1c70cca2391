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
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import scenarios
from loadtests._config import LoadConfig
from loadtests._merge import Merged, merge
from loadtests.journeys import ScenarioClock
from loadtests.reconcile import Reconciliation, Submission, reconcile
from loadtests.registers import (
    ContractRegisters,
    ExportRegisters,
    MixedRegisters,
    Registers,
    fetch_exports,
)
from loadtests.results import LiveRun
from scenarios import Scenario
from scenarios.model import AGENCY_IDS

__all__ = ["LivePlan", "Placement", "RunSettings", "drive_live", "place", "plan_live", "with_multiplier"]

Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class RunSettings:
    """The knobs of one run (``None``: the scenario's ``[load]`` value).

    ``crash_after_s`` kills the fakes with SIGKILL that many wall seconds after minute 0 and
    restarts them on the same folder and port (the crash run). ``poll_interval_s`` and
    ``drain_s`` bound how often and how long dossiers are followed after the last arrival.
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
    drain_s: float = 60.0
    crash_after_s: float | None = None
    lead_s: float = 2.5
    nice: int | None = -5
    agencies: Mapping[str, str] = field(default_factory=dict)
    fakes_port: int | None = None


def with_multiplier(s: Scenario, k: float | None) -> Scenario:
    """``s`` at ``k`` times its volumes (``None``: as it is)."""
    if k is None:
        return s
    return s.model_copy(update={"demand": s.demand.model_copy(update={"multiplier": float(k)})})


@dataclass(frozen=True)
class Placement:
    """Where each agency (and the portal) of a run lives: ``urls`` (agency → origin) and which
    of them the run's own reference fakes serve (``embedded``); the others are real systems,
    someone else's implementation of the contract."""

    urls: dict[str, str]
    embedded: tuple[str, ...]

    @property
    def portal(self) -> str:
        """Where dossiers are submitted."""
        return self.urls["portal"]

    def lines(self) -> list[str]:
        """One line per agency: real or fake, and where."""
        return [
            f"{a:8} {'reference fakes (started by this run)' if a in self.embedded else 'real system':38} "
            f"{self.urls[a]}"
            for a in AGENCY_IDS
        ]

    def as_dict(self) -> dict[str, Any]:
        return {a: {"url": self.urls[a], "fake": a in self.embedded} for a in AGENCY_IDS}


def place(s: Scenario, target: str | None, fakes_url: str | None) -> Placement:
    """The placement of scenario ``s`` (its ``agencies.<id>.base_url`` already applied): an agency
    with a base URL is a real system there; the others are at ``target`` when given (someone
    else's whole ecosystem), else served by the run's fakes at ``fakes_url``."""
    urls: dict[str, str] = {}
    for a in AGENCY_IDS:
        spec = s.agencies.get(a)  # type: ignore[call-overload]
        urls[a] = ((spec.base_url if spec is not None else None) or target or str(fakes_url)).rstrip("/")
    embedded = () if target or not fakes_url else tuple(a for a in AGENCY_IDS if urls[a] == fakes_url)
    return Placement(urls, embedded)


def _with_agencies(s: Scenario, urls: Mapping[str, str]) -> Scenario:
    """``s`` with ``agencies.<id>.base_url`` set from ``urls`` (``--agency id=URL``).

    Raises ScenarioError naming an unknown agency or a URL that is not http(s).
    """
    if not urls:
        return s
    agencies = dict(s.agencies)
    for a, url in urls.items():
        if a not in AGENCY_IDS:
            raise scenarios.ScenarioError(
                [(f"agencies.{a}", f"unknown agency {a!r}; expected one of {', '.join(AGENCY_IDS)}")]
            )
        if not url.startswith(("http://", "https://")):
            raise scenarios.ScenarioError([(f"agencies.{a}.base_url", f"{url!r} is not an http(s) URL")])
        agencies[a] = agencies[a].model_copy(update={"base_url": url.rstrip("/")})  # type: ignore[index]
    return s.model_copy(update={"agencies": agencies})


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

    def manifest_settings(self) -> dict[str, Any]:
        """The run's parameters as recorded in its manifest."""
        return {
            "speed": self.speed,
            "days": self.days,
            "multiplier": self.scenario.demand.multiplier,
            "target": self.placement.portal,
            "agencies": self.placement.as_dict(),
            "crash_after_s": self.settings.crash_after_s,
        }


def plan_live(
    scenario: str | Path | Scenario = "hanoi-baseline", settings: RunSettings | None = None
) -> LivePlan:
    """Resolves a live run. Raises ``scenarios.ScenarioError`` for a bad scenario (or agency
    URL) and ValueError for bad settings."""
    st = settings or RunSettings()
    base = scenario if isinstance(scenario, Scenario) else scenarios.load(scenario)
    s = _with_agencies(with_multiplier(base, st.multiplier), st.agencies)
    speed = float(st.speed or s.load.speed)
    days = int(st.days or s.load.days)
    if not speed > 0 or days < 1:
        raise ValueError(f"speed must be positive and days at least 1, got speed={speed}, days={days}")
    if st.fakes_port is not None and not 0 < st.fakes_port < 65536:
        raise ValueError(f"fakes port must be 1-65535, got {st.fakes_port}")
    fakes_port = st.fakes_port or (None if st.target else _free_port())
    placement = place(s, st.target, f"http://127.0.0.1:{fakes_port}" if fakes_port else None)
    return LivePlan(s, st, speed, days, float(st.max_seconds or s.load.max_seconds), placement, fakes_port)


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
        _Embedded(s, folder, plan.speed, st.lead_s, machine, plan.fakes_port, plan.placement.embedded)
        if plan.placement.embedded and plan.fakes_port
        else None
    )
    stages = _Stages(emit)
    try:
        cfg = _config(s, st, folder, plan.speed, plan.days, plan.max_seconds, embedded, plan.placement)
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
            _stop(embedded.handle)


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


class _Embedded:
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
        t0 = time.time() + self.lead_s
        write_clock(self.dir, ScenarioClock(t0, self.speed))
        self.handle = start_subprocess(
            self.s, self.dir, port=self.port, speed=self.speed, agencies=self.agencies
        )
        self.machine.boost(self.handle.process.pid, "fakes")
        tmp = go_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"t0": t0}), encoding="utf-8")
        tmp.replace(go_file)
        return t0


def _stop(fakes: Any) -> None:
    """Stops the fakes' child and closes its pipe (the handle leaves it open)."""
    fakes.stop()
    proc = getattr(fakes, "process", None)
    if proc is not None and proc.stdout is not None:
        proc.stdout.close()


def _scenario_file(s: Scenario, folder: Path) -> Path:
    path = folder / "scenario.toml"
    path.write_text(scenarios.dump(s), encoding="utf-8")
    return path


def _config(
    s: Scenario,
    st: RunSettings,
    folder: Path,
    speed: float,
    days: int,
    max_seconds: float,
    embedded: _Embedded | None,
    placement: Placement,
) -> LoadConfig:
    common: dict[str, Any] = dict(
        health_url="" if placement.urls["health"] == placement.portal else placement.urls["health"],
        scenario=str(_scenario_file(s, folder)),
        out=str(folder / "load"),
        speed=speed,
        days=days,
        multiplier=None,
        seed=st.seed,
        max_seconds=max_seconds,
        max_dossiers=int(st.max_dossiers or s.load.max_dossiers),
        poll_interval_s=float(st.poll_interval_s or s.load.poll_interval_s),
        request_timeout_s=s.load.request_timeout_s,
        drain_s=st.drain_s,
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


class Machine:
    """What the run saw of the machine: load average, priorities set, CPU used by the children."""

    def __init__(self, nice: int | None) -> None:
        self.nice = nice
        self.cores = os.cpu_count() or 1
        self.load_start = os.getloadavg()[0]
        self.load_end = float("nan")
        self.started = time.time()
        self.niced: dict[str, int] = {}
        self.cpu_s: dict[str, float] = {}
        self.wall_s = float("nan")

    def boost(self, pid: int, name: str) -> None:
        """Sets every thread of process ``pid`` and of its descendants to ``self.nice`` (silently
        skipped where not allowed)."""
        if self.nice is None:
            return
        tids = []
        for p in [pid, *_descendants(pid)]:
            try:
                tids += [int(t) for t in os.listdir(f"/proc/{p}/task")]
            except OSError:
                tids.append(p)
        try:
            for tid in tids:
                os.setpriority(os.PRIO_PROCESS, tid, self.nice)
        except OSError:
            return
        self.niced[name] = self.nice

    def cpu_of(self, pid: int, name: str) -> None:
        """Records the CPU seconds (user + system) process ``pid`` and its descendants have used."""
        try:
            import psutil

            procs = [psutil.Process(pid)]
            procs += procs[0].children(recursive=True)
            total = 0.0
            for proc in procs:
                t = proc.cpu_times()
                total += t.user + t.system
            self.cpu_s[name] = round(total, 2)
        except Exception:  # the process may be gone; the figure is only informative
            pass

    def done(self) -> None:
        self.load_end = os.getloadavg()[0]
        self.wall_s = time.time() - self.started

    def as_dict(self) -> dict[str, Any]:
        return {
            "cores": self.cores,
            "load_avg_start": round(self.load_start, 2),
            "load_avg_end": round(self.load_end, 2),
            "nice": self.niced,
            "cpu_s": self.cpu_s,
            "wall_s": round(self.wall_s, 1),
        }


def _descendants(pid: int) -> list[int]:
    try:
        import psutil

        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except Exception:  # psutil missing or the process gone: the process alone
        return []


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
    minute_then = (now + lead_s - t0) * their_speed / 60.0
    return t0, max(0.0, math.ceil(minute_then)), True, their_speed


def _drive(
    cfg: LoadConfig,
    folder: Path,
    emit: Progress,
    embedded: _Embedded | None,
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
                        target=_crash,
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


def _crash(fakes: Any, at: float, emit: Progress, machine: Machine | None = None,
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


def reconcile_run(s: Scenario, merged: Merged, placement: Placement, cfg: LoadConfig,
                  auditor_key: str | None = None) -> Reconciliation:
    """Reconciles a run's submissions with the registers, each read through the agency that owns
    it (the contract's register reads at its URL, with ``auditor_key``, default the scenario's
    ``auditor`` caller), or from ``/admin/export`` for the agencies the run's own fakes serve
    (the fast path)."""
    auditor = s.callers.get("auditor")
    contract = ContractRegisters(placement.urls, auditor_key or (auditor.key if auditor else None))
    try:
        sources: dict[str, Registers] = dict.fromkeys(AGENCY_IDS, contract)
        admin = s.callers.get("admin")
        if placement.embedded and admin is not None:
            try:
                exports = fetch_exports(placement.urls[placement.embedded[0]], admin.key, placement.embedded)
            except Exception:  # the fakes cannot export (e.g. gone): read them like anyone else
                exports = None
            if exports is not None:
                fast = ExportRegisters(exports, "admin export of the reference fakes")
                sources.update(dict.fromkeys(placement.embedded, fast))
        submissions = [Submission(**d) for d in merged.submissions]
        return reconcile(s, submissions, MixedRegisters(sources), days=run_days(s, cfg))
    finally:
        contract.close()


def run_days(s: Scenario, cfg: LoadConfig, until: float | None = None) -> list[date]:
    """The scenario dates a run covered on its clock: from its first arrival to ``until`` (wall,
    default now), at most 400."""
    clock = _clock_of(cfg)
    first = cfg.shift_minutes / 1440.0
    last = max(first, float(clock.minute(time.time() if until is None else until)) / 1440.0)
    n = min(400, int(last) - int(first) + 1)
    return [s.calendar.start + timedelta(days=int(first) + d) for d in range(n)]


def _reconcile(s: Scenario, merged: Merged, target: str, *, cfg: LoadConfig,
               auditor_key: str | None = None) -> Reconciliation:
    """Reconciliation of a run whose whole ecosystem is at ``target`` (someone else's, read
    through the contract: no admin back door)."""
    placement = Placement(dict.fromkeys(AGENCY_IDS, target.rstrip("/")), ())
    return reconcile_run(s, merged, placement, cfg, auditor_key)


def _clock_of(cfg: LoadConfig) -> ScenarioClock:
    return ScenarioClock(t0=cfg.t0, speed=cfg.speed)
