"""``lienthong load``: Locust's own master and worker processes, on this machine or across hosts.

:func:`drive_load` writes the run's :class:`~loadtests._config.LoadConfig` and starts one Locust
master (headless, or with the web UI on 127.0.0.1). Without ``bind`` it listens on 127.0.0.1 and
``workers`` local worker processes join it; with ``bind="HOST:PORT"`` it listens there and waits
(at most ``worker_timeout`` seconds) for ``workers`` workers started on the load machines by
:func:`run_worker` (``lienthong load --worker --master HOST:PORT``). Either way the workers take
their settings from the master and send their records back over Locust's own channel
(:mod:`loadtests._cluster`), each replaying its share of the arrival stream (``split_by_index`` by
the index Locust assigns); the master writes them into the run folder. A worker lost on the way
(it stopped heartbeating, disconnected or failed) is reported as it happens and its arrivals not
started by its last heartbeat are counted as not sent (:func:`account_lost`), which fails the run.
The parent merges the records, reconciles them through the target's register reads and returns
a :class:`~loadtests.results.LiveRun`; the front door writes the same report as for
``lienthong run``. ``mode="closed"`` runs the stress users with the scenario's stages instead.
The Locust processes run in the caller's folder, whatever it is: every path handed to them is
absolute, and ``-P`` keeps that folder off their ``sys.path``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

import scenarios
from fakes.serve import free_port
from loadtests._config import ENV_VAR, LoadConfig
from loadtests._merge import merge
from loadtests._records import JOURNEY_DTYPE, REQUEST_DTYPE
from loadtests.journeys import NOT_STARTED, STEP_DTYPE
from loadtests.live import _scenario_file
from loadtests.placement import Placement
from loadtests.reconcile import reconcile_run
from loadtests.results import LiveRun, stream_of
from scenarios.clock import ScenarioClock
from scenarios.model import AGENCY_IDS, Scenario
from sim.arrivals import split_by_index

__all__ = ["LOCUSTFILE", "MasterFailed", "WorkersMissing", "account_lost", "drive_load", "parse_address",
           "run_worker", "worker_command"]

LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")
MARKER = "LIENTHONG "  # loadtests._cluster.MARKER (that module imports Locust: not imported here)
Progress = Callable[[dict[str, Any]], None]


class MasterFailed(RuntimeError):
    """The Locust master did not come up (e.g. it could not listen on the address given)."""


class WorkersMissing(RuntimeError):
    """The master gave up waiting: ``connected`` of ``expected`` workers came within the time."""

    def __init__(self, connected: int, expected: int, where: str, waited_s: float, folder: Path) -> None:
        self.connected, self.expected, self.where, self.folder = connected, expected, where, folder
        super().__init__(
            f"{connected} of {expected} Locust worker(s) connected to the master at {where} within "
            f"{waited_s:g} s; nothing was sent (start `lienthong load --worker --master {where}` on each "
            "load machine, or raise --worker-timeout)"
        )


def parse_address(text: str, what: str = "address") -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) → ``(host, port)``; ValueError naming ``what``."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{what} must be HOST:PORT with a port 1-65535, got {text!r}")
    return host, int(port)


def drive_load(
    s: Scenario,
    target: str,
    folder: Path,
    *,
    workers: int = 1,
    speed: float | None = None,
    days: int | None = None,
    ui: bool = False,
    mode: str = "open",
    drain_s: float = 60.0,
    max_seconds: float | None = None,
    stage_scale: float = 1.0,
    auditor_key: str | None = None,
    web_port: int = 8089,
    bind: str | None = None,
    worker_timeout: float = 60.0,
    lost_after_s: float = 10.0,
    progress: Progress | None = None,
) -> LiveRun:
    """Runs a distributed load test of scenario ``s`` (multiplier applied) against ``target``
    with ``folder`` as its run folder, and returns what was measured (see the module docstring).

    ``bind`` (``HOST:PORT``): the master listens there and starts no workers of its own; it waits
    ``worker_timeout`` seconds for ``workers`` of them (:class:`WorkersMissing` when fewer came).
    ``lost_after_s``: how long a worker may miss heartbeats before it is declared lost.
    ``progress`` receives the master's status (``{"phase": "waiting"|"running", …}`` each second)
    and events (``{"event": "connected"|"done"|"lost"|…, "index": i, …}``).
    ``auditor_key`` reads the registers for reconciliation (default: the scenario's ``auditor``).
    Raises ValueError for bad settings and RuntimeError when Locust does not finish.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if not worker_timeout > 0 or not lost_after_s > 0:
        raise ValueError(f"worker_timeout and lost_after_s must be positive, got {worker_timeout}, "
                         f"{lost_after_s}")
    address = parse_address(bind, "--bind") if bind else ("127.0.0.1", free_port())
    cfg = LoadConfig(
        scenario=str(_scenario_file(s, folder)),
        target=target,
        out=str(folder / "load"),
        speed=float(speed or s.load.speed),
        days=int(days or s.load.days),
        t0=0.0,  # minute 0 is chosen by the master when the test starts, once every worker is there
        workers=workers,
        mode=mode,
        keys={name: c.key for name, c in s.callers.items()},
        max_seconds=float(max_seconds or s.load.max_seconds),
        max_dossiers=s.load.max_dossiers,
        poll_interval_s=s.load.poll_interval_s,
        request_timeout_s=s.load.request_timeout_s,
        drain_s=drain_s,
        run_tag=folder.name[-24:],
        stage_scale=stage_scale,
    )
    path = cfg.write(folder / "load" / "config.json")
    master = _Master(path, cfg, folder, address, workers if bind is None else 0, ui, web_port, worker_timeout,
                     lost_after_s, progress)
    cluster = master.run()
    cfg = LoadConfig.read(path)  # with the t0 (and the target's speed) the master chose
    error = account_lost(cfg, folder / "load", cluster)
    merged = merge(folder / "load")
    theirs = Placement(dict.fromkeys(AGENCY_IDS, target.rstrip("/")), ())  # no back door: contract reads
    rec = reconcile_run(s, merged, theirs, cfg, auditor_key)
    return LiveRun(folder, s, cfg, merged, rec, theirs.as_dict(), error=error)


class _Master:
    """The Locust master process (and the local workers, if any), watched to its end."""

    def __init__(self, config: Path, cfg: LoadConfig, folder: Path, address: tuple[str, int], local: int,
                 ui: bool, web_port: int, worker_timeout: float, lost_after_s: float,
                 progress: Progress | None) -> None:
        self.config, self.cfg, self.folder, self.address, self.local = config, cfg, folder, address, local
        self.ui, self.web_port = ui, web_port
        self.worker_timeout, self.lost_after = worker_timeout, lost_after_s
        self.progress = progress or (lambda _doc: None)
        self.where = f"{address[0]}:{address[1]}"
        self.waiting: dict[str, Any] = {}
        self.started = False

    def command(self) -> list[str]:
        host, port = self.address
        cmd = [*_base(self.cfg.target), "--master", "--master-bind-host", host, "--master-bind-port",
               str(port), "--expect-workers", str(self.cfg.workers), "--expect-workers-max-wait",
               f"{self.worker_timeout:g}", "--csv", str(self.folder.resolve() / "load" / "locust")]
        if self.ui:
            return [*cmd, "--web-host", "127.0.0.1", "--web-port", str(self.web_port)]
        return [*cmd, "--headless", "--run-time", f"{int(self.cfg.max_seconds + 60)}s",
                "--exit-code-on-error", "0"]

    def run(self) -> dict[str, Any]:
        """Runs the master to its end; returns ``load/cluster.json`` (the workers' fates)."""
        load = self.folder / "load"
        env = _env(self.worker_timeout, **{ENV_VAR: str(self.config.resolve()),
                                           "LIENTHONG_CLUSTER_STATUS": "1",
                                           "LIENTHONG_LOST_AFTER_S": f"{self.lost_after:g}"})
        log = open(load / "locust-master.log", "ab", buffering=0)  # noqa: SIM115 - closed below
        logs: list[IO[bytes]] = [log]
        procs: list[subprocess.Popen[bytes]] = []
        reader = None
        try:
            master = subprocess.Popen(self.command(), env=env, stdout=subprocess.PIPE, stderr=log)
            procs.append(master)
            reader = threading.Thread(target=self._read, args=(master, log), daemon=True)
            reader.start()
            time.sleep(0.5)
            for w in range(self.local):
                logs.append(open(load / f"locust-{w}.log", "wb"))  # noqa: SIM115 - closed below
                procs.append(subprocess.Popen(worker_command(*self.address), env=env, stdout=logs[-1],
                                              stderr=subprocess.STDOUT))
            bound = None if self.ui else self.cfg.max_seconds + 240 + self.worker_timeout
            code = master.wait(timeout=bound)
            reader.join(timeout=10)
            for p in procs[1:]:
                p.wait(timeout=30)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
                    try:
                        p.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait(timeout=10)
            if reader is not None:
                reader.join(timeout=5)
            for f in logs:
                f.close()
        return self._outcome(code)

    def _read(self, master: subprocess.Popen[bytes], log: IO[bytes]) -> None:
        assert master.stdout is not None
        for raw in master.stdout:
            line = raw.decode("utf-8", "replace")
            if not line.startswith(MARKER):
                log.write(raw)
                continue
            try:
                doc = json.loads(line[len(MARKER):])
            except ValueError:
                continue
            if doc.get("phase") == "waiting":
                self.waiting = doc
            elif doc.get("phase") in ("running", "finished"):
                self.started = True
            with contextlib.suppress(Exception):  # the display must never stop the run
                self.progress({**doc, "where": self.where})
        master.stdout.close()

    def _outcome(self, code: int) -> dict[str, Any]:
        path = self.folder / "load" / "cluster.json"
        cluster: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        log = self.folder / "load" / "locust-master.log"
        if not cluster.get("started") and not self.started and not self.waiting:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            raise MasterFailed(f"the Locust master exited ({code}) before it listened on {self.where}: "
                               + (" | ".join(tail) or f"see {log}"))
        if not cluster.get("started") and not self.started:
            raise WorkersMissing(int(self.waiting.get("connected", 0)), self.cfg.workers, self.where,
                                 self.worker_timeout, self.folder)
        if code not in (0, 1):
            raise RuntimeError(f"the Locust master exited with {code}; see {log}")
        return cluster


def _base(target: str | None = None) -> list[str]:
    cmd = [sys.executable, "-P", "-m", "locust", "-f", str(LOCUSTFILE)]
    return [*cmd, "--host", target] if target else cmd


def _env(worker_timeout: float, **extra: str) -> dict[str, str]:
    return dict(os.environ, PYTHONUNBUFFERED="1", LIENTHONG_WORKER_TIMEOUT=f"{worker_timeout:g}", **extra)


def worker_command(host: str, port: int) -> list[str]:
    """The Locust worker joining the master at ``host:port``."""
    return [*_base(), "--worker", "--master-host", host, "--master-port", str(port),
            "--exit-code-on-error", "0"]


def run_worker(master: str, *, source: str | None = None, timeout: float = 60.0) -> None:
    """``lienthong load --worker --master HOST:PORT``: becomes a Locust worker (this process is
    replaced by it, so signals reach Locust itself). It takes its settings from the master, so this
    machine needs nothing but the installed package. Exits 0 once the master has its records; 2
    when no master answers within ``timeout`` seconds; 3 when the master stops answering.
    Raises ValueError for a bad address."""
    host, port = parse_address(master, "--master")
    if not timeout > 0:
        raise ValueError(f"--worker-timeout must be positive, got {timeout}")
    cmd = worker_command(host, port)
    env = _env(timeout, LIENTHONG_MASTER=f"{host}:{port}" + (f" (from {source})" if source else ""))
    if source:
        env["LIENTHONG_SOURCE"] = source  # its connection to the master leaves from there
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, cmd, env)


def account_lost(cfg: LoadConfig, out: Path, cluster: dict[str, Any]) -> str:
    """Writes the records of each lost worker that did not deliver its own: its arrivals not started
    by its last heartbeat as *not started* journeys (counted as ``not_sent``), the dossiers its
    heartbeats said were accepted (reconciled like any other) and what was lost with it. Returns
    the sentence that fails the run ("" when no worker was lost)."""
    lost = [rec for rec in cluster.get("lost") or () if not (out / f"worker-{rec['index']}.json").exists()]
    if not lost:
        return ""
    if cfg.mode != "open":  # closed-model users have no share of the stream to account for
        return "; ".join(f"Locust worker {r['index']} was lost ({r.get('reason', 'lost')})" for r in lost)
    full = stream_of(scenarios.load(cfg.scenario), cfg)
    clock = ScenarioClock(cfg.t0, cfg.speed)
    sentences = []
    for rec in lost:
        index = int(rec["index"])
        share = split_by_index(full, cfg.workers, index).copy()
        share["submitted"] += cfg.shift_minutes
        heard = rec.get("progress") or {}
        started = min(int(heard.get("started") or 0), int(share.size))
        unsent = share[started:]  # the driver starts the share in order: these had not started
        rows = np.zeros(unsent.size, JOURNEY_DTYPE)
        for name in ("dossier", "service", "variant", "channel", "status", "verification", "incomplete",
                     "submitted"):
            rows[name] = unsent[name]
        rows["intended"] = clock.wall(unsent["submitted"])
        for name in ("started", "accepted", "finished", "completed_minute"):
            rows[name] = np.nan
        rows["outcome"] = NOT_STARTED
        stem = out / f"worker-{index}"
        np.savez(stem.with_suffix(".npz"), journeys=rows, requests=np.zeros(0, REQUEST_DTYPE),
                 steps=np.zeros(0, STEP_DTYPE))
        subs = rec.get("submissions") or []
        last = rec.get("last_heard")
        when = time.strftime("%H:%M:%S", time.localtime(float(last))) if last else "never"
        minute = heard.get("minute")
        info = {k: v for k, v in rec.items() if k != "submissions"}
        info.update(not_sent=int(unsent.size), sent_unrecorded=started, submissions_known=len(subs))
        driver = {"scheduled": started, "started": started, "not_sent": int(unsent.size), "lost_workers": 1,
                  "lost_sent_unrecorded": started}
        doc = {"worker": index, "workers": cfg.workers, "t0": cfg.t0, "speed": cfg.speed, "driver": driver,
               "submissions": subs, "arrivals": int(share.size), "end_minute": None, "lost": info}
        stem.with_suffix(".json").write_text(json.dumps(doc), encoding="utf-8")
        at = f", scenario minute {minute:.0f}" if isinstance(minute, int | float) else ""
        sentences.append(
            f"Locust worker {index} was lost ({rec.get('reason', 'lost')}; last heard at {when}{at}): "
            f"{unsent.size} of its {share.size} arrivals had not been sent and are counted as not sent; "
            f"{started} were sent but their records were lost with it (the {len(subs)} dossiers its "
            "heartbeats reported are reconciled; what it sent after its last heartbeat is unknown, and "
            "cards or payments made for those show as records no dossier asked for)"
        )
    return "; ".join(sentences)
