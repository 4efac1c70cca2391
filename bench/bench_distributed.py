"""Locust distributed (issue #16): requests per second with 1 vs 2 workers against the reference
fakes, and the share lost to coordination. Not a test: run by hand.

    .venv/bin/python bench/bench_distributed.py [--repeats 3] [--speed 4320] [--multipliers 0.5,4]

The reference fakes (instant: every write answered at once, no desks) run in their own process
for the whole benchmark; each round drives hanoi-baseline, one scenario day at ``--speed``,
through ``lienthong load``'s engine (one Locust master and 1 or 2 Locust workers, all on this
machine, the workers sending their records to the master over Locust's channel), once per
multiplier and worker count, alternating 1 and 2 workers so both see the same machine. The
reconciliation is left out (it reads every dossier back; its cost is not the load's).

Per run, one JSON line:

- ``req_s``: requests answered ÷ the span from the first request's start to the last one's end
  (the open model: at a rate the target holds this is the offered rate; past it, the target's
  capacity); ``ok_s`` counts only the requests that succeeded (a timeout is a request, not an
  answer); ``late``/``not_sent``/``dropped`` from the driver, ``p95_ms`` from the intended start;
- CPU seconds (psutil, sampled every 0.2 s, plus the children reaped) of the master, the workers
  and the fakes, and per 1,000 requests: the master's CPU is pure coordination (it sends no
  request); ``gen_cpu_per_kreq`` is master + workers;
- ``shipped_kb``: the workers' records sent to the master (compressed);
- the machine's load average before and after.

At the end, per multiplier, the best of the repeats (highest ``ok_s``) for 1 and 2 workers and
``scaling`` = ok/s(2 workers) ÷ (2 × ok/s(1 worker)): 1 is perfect scaling; what is missing
is lost to coordination or to a shared bottleneck (the CPU columns say which).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scenarios
from fakes.serve import free_port, start_subprocess
from loadtests._config import LoadConfig
from loadtests._merge import merge
from loadtests.distributed import _Master
from loadtests.live import _scenario_file
from loadtests.placement import with_multiplier


class _CPU:
    """CPU seconds of this process's descendants by role, sampled until stopped."""

    def __init__(self) -> None:
        self.last: dict[int, tuple[str, float]] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        me = psutil.Process()
        while not self.stop.is_set():
            for child in me.children(recursive=True):
                try:
                    cmd = " ".join(child.cmdline())
                    t = child.cpu_times()
                except psutil.Error:
                    continue
                role = "worker" if " --worker" in cmd else "master" if " --master " in cmd else ""
                if role:
                    self.last[child.pid] = (role, t.user + t.system)
            self.stop.wait(0.2)

    def done(self) -> dict[str, float]:
        self.stop.set()
        self.thread.join(timeout=5)
        out: dict[str, float] = {"master": 0.0, "worker": 0.0}
        for role, cpu in self.last.values():
            out[role] += cpu
        return out


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _cpu_of(proc: psutil.Process | None) -> float:
    if proc is None:
        return float("nan")
    t = proc.cpu_times()
    return t.user + t.system


def one_run(s: Any, target: str, workers: int, speed: float, folder: Path) -> dict[str, Any]:
    """One load of ``s`` (multiplier applied) with ``workers`` local workers; the figures."""
    folder.mkdir(parents=True)
    cfg = LoadConfig(scenario=str(_scenario_file(s, folder)), target=target, out=str(folder / "load"),
                     speed=speed, days=1, workers=workers, keys={n: c.key for n, c in s.callers.items()},
                     max_seconds=600.0, max_dossiers=10_000_000, poll_interval_s=s.load.poll_interval_s,
                     request_timeout_s=s.load.request_timeout_s, drain_s=60.0, run_tag=folder.name[-24:])
    path = cfg.write(folder / "load" / "config.json")
    load0, reaped0, began = os.getloadavg()[0], _children_cpu(), time.time()
    cpu = _CPU()
    master = _Master(path, cfg, folder, ("127.0.0.1", free_port()), workers, False, 8089, 60.0, 10.0, None)
    cluster = master.run()
    sampled = cpu.done()
    reaped = _children_cpu() - reaped0
    merged = merge(folder / "load")
    req = merged.requests
    span = float(req["end"].max() - req["start"].min()) if req.size else float("nan")
    lat = (req["end"] - req["intended"]) * 1000.0
    d = merged.driver
    kreq = max(1, req.size) / 1000.0
    return {
        "workers": workers,
        "arrivals": int(merged.journeys.size),
        "requests": int(req.size),
        "errors": int(np.count_nonzero(~req["ok"])),
        "req_s": round(req.size / span, 1) if span > 0 else None,
        "ok_s": round(int(np.count_nonzero(req["ok"])) / span, 1) if span > 0 else None,
        "p95_ms": round(float(np.percentile(lat, 95)), 1) if req.size else None,
        "late": int(d.get("late", 0)),
        "not_sent": int(d.get("not_sent", 0)),
        "dropped": int(d.get("dropped", 0)),
        "master_cpu_s": round(sampled["master"], 2),
        "workers_cpu_s": round(sampled["worker"], 2),
        "reaped_cpu_s": round(reaped, 2),
        "master_cpu_per_kreq": round(sampled["master"] / kreq, 3),
        "gen_cpu_per_kreq": round((sampled["master"] + sampled["worker"]) / kreq, 3),
        "shipped_kb": round(sum(v["bytes"] for v in cluster["done"].values()) / 1e3, 1),
        "lost": len(cluster["lost"]),
        "wall_s": round(time.time() - began, 1),
        "load": [round(load0, 2), round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--speed", type=float, default=4320.0,
                   help="scenario minutes per wall minute (4320: a day in 20 s)")
    p.add_argument("--multipliers", default="0.5,4",
                   help="demand multiples of hanoi-baseline, comma-separated")
    p.add_argument("--out", default="")
    args = p.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-distributed-"))
    base = scenarios.load("hanoi-baseline")
    fakes = start_subprocess(base, out / "fakes", speed=args.speed, instant=True)
    fakes_proc = psutil.Process(fakes.process.pid) if fakes.process is not None else None
    print(f"cores: {os.cpu_count()}  load average: {os.getloadavg()}  fakes: {fakes.base_url} (instant)",
          flush=True)
    best: dict[tuple[float, int], dict[str, Any]] = {}
    try:
        for m in (float(x) for x in args.multipliers.split(",")):
            s = with_multiplier(base, m)
            for r in range(args.repeats):
                for workers in ((1, 2) if r % 2 == 0 else (2, 1)):
                    f0 = _cpu_of(fakes_proc)
                    row = one_run(s, fakes.base_url, workers, args.speed, out / f"m{m:g}-r{r}-w{workers}")
                    row["fakes_cpu_s"] = round(_cpu_of(fakes_proc) - f0, 2)
                    row.update(multiplier=m, repeat=r)
                    print(json.dumps(row), flush=True)
                    key = (m, workers)
                    if key not in best or (row["ok_s"] or 0) > (best[key]["ok_s"] or 0):
                        best[key] = row
    finally:
        fakes.stop()
    for m in sorted({k[0] for k in best}):
        one, two = best.get((m, 1)), best.get((m, 2))
        if one and two and one["ok_s"] and two["ok_s"]:
            print(json.dumps({"multiplier": m, "best_ok_s_1": one["ok_s"], "best_ok_s_2": two["ok_s"],
                              "scaling": round(two["ok_s"] / (2 * one["ok_s"]), 3),
                              "ratio_2_to_1": round(two["ok_s"] / one["ok_s"], 3),
                              "master_cpu_s_2": two["master_cpu_s"],
                              "master_cpu_per_kreq_2": two["master_cpu_per_kreq"],
                              "gen_cpu_per_kreq": [one["gen_cpu_per_kreq"], two["gen_cpu_per_kreq"]]}),
                  flush=True)


if __name__ == "__main__":
    main()
