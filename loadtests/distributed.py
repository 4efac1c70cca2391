"""``lienthong load``: Locust's own master and worker processes on 127.0.0.1.

:func:`drive_load` writes the run's :class:`~loadtests._config.LoadConfig`, starts one Locust
master (headless, or with the web UI on 127.0.0.1) and ``workers`` worker processes, each of
which replays its share of the arrival stream (``split_by_index`` by the worker index Locust
assigns). Every worker tells the master when its share is done; the master then quits. The
parent merges the workers' records, reconciles them through the target's register reads and
returns a :class:`~loadtests.results.LiveRun`; the front door writes the same report as for
``lienthong run``. ``mode="closed"`` runs the stress users with the
scenario's stages instead. The Locust processes run in the caller's folder, whatever it is: every
path handed to them is absolute, and ``-P`` keeps that folder off their ``sys.path``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from fakes.serve import free_port
from loadtests._config import ENV_VAR, LoadConfig
from loadtests._merge import merge
from loadtests.live import _align, _prep_seconds, _scenario_file
from loadtests.placement import Placement
from loadtests.reconcile import reconcile_run
from loadtests.results import LiveRun
from scenarios.model import AGENCY_IDS, Scenario

__all__ = ["LOCUSTFILE", "drive_load"]

LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")


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
) -> LiveRun:
    """Runs a distributed load test of scenario ``s`` (multiplier applied) against ``target``
    with ``folder`` as its run folder, and returns what was measured (see the module docstring).

    ``auditor_key`` reads the registers for reconciliation (default: the scenario's ``auditor``).
    Raises ValueError for bad settings and RuntimeError when Locust does not finish.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    speed = float(speed or s.load.speed)
    days = int(days or s.load.days)
    t0, shift, aligned, speed = _align(target, speed, 6.0 + _prep_seconds(s, days))
    cfg = LoadConfig(
        scenario=str(_scenario_file(s, folder)),
        target=target,
        out=str(folder / "load"),
        speed=speed,
        days=days,
        t0=t0,
        shift_minutes=shift,
        aligned=aligned,
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
    _locust(path, cfg, workers, ui, folder, web_port)
    merged = merge(folder / "load")
    theirs = Placement(dict.fromkeys(AGENCY_IDS, target.rstrip("/")), ())  # no back door: contract reads
    rec = reconcile_run(s, merged, theirs, cfg, auditor_key)
    return LiveRun(folder, s, cfg, merged, rec, theirs.as_dict())


def _locust(config: Path, cfg: LoadConfig, workers: int, ui: bool, folder: Path, web_port: int) -> None:
    env = dict(os.environ, **{ENV_VAR: str(config.resolve())}, PYTHONUNBUFFERED="1")
    port = free_port()
    base = [sys.executable, "-P", "-m", "locust", "-f", str(LOCUSTFILE), "--host", cfg.target]
    master_cmd = [
        *base,
        "--master",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        str(port),
        "--expect-workers",
        str(workers),
        "--csv",
        str(folder.resolve() / "load" / "locust"),
    ]
    if ui:
        master_cmd += ["--web-host", "127.0.0.1", "--web-port", str(web_port)]
    else:
        master_cmd += [
            "--headless",
            "--run-time",
            f"{int(cfg.max_seconds + 60)}s",
            "--exit-code-on-error",
            "0",
        ]
    logs = [open(folder / "load" / f"locust-{n}.log", "wb") for n in ("master", *map(str, range(workers)))]  # noqa: SIM115
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen(master_cmd, env=env, stdout=logs[0], stderr=subprocess.STDOUT))
        time.sleep(0.5)
        for w in range(workers):
            cmd = [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
            procs.append(subprocess.Popen(cmd, env=env, stdout=logs[w + 1], stderr=subprocess.STDOUT))
        code = procs[0].wait(timeout=cfg.max_seconds + 240 if not ui else None)
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
        for f in logs:
            f.close()
    if code not in (0, 1):
        raise RuntimeError(
            f"the Locust master exited with {code}; see {folder / 'load' / 'locust-master.log'}"
        )
