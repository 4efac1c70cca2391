"""Benchmark of the twin on Dask (``lienthong sim/size --dask``) against the local process pool.

    PYTHONPATH=. .venv/bin/python bench/bench_dask.py [--repeat 3] [--days 28] [--replications 8]
        [--tiny 64]

Prints every round (with the load average) and, for each executor, the best of ``--repeat``
rounds (the scaling figures of its fastest round; the overheads each at their best):

1. **scaling**: hanoi-baseline, ``--days`` × ``--replications`` (metrics only), on the local pool
   with 1 worker (this process) and 2 workers, and on a Dask ``LocalCluster`` of 1 and 2 workers.
   Speed-up is against the same executor with 1 worker; efficiency = speed-up / workers (goal ≥
   0.8 on 2 cores). Each executor is started and warmed up (one 1-day replication per worker:
   the imports) before it is timed; its start-up time is printed apart. Beside wall time, the
   CPU accounting of this process and its descendants (psutil): ``cpu`` is all of it (with the
   in-process Dask scheduler, nannies, workers), ``busiest`` the busiest single process's, and the
   CPU-accounted speed-up = ``busiest`` of the 1-worker run ÷ ``busiest`` of the n-worker run —
   what n free cores would give, steadier than wall time when other jobs hold the cores.
2. **overhead per task**: ``--tiny`` no-op tasks (``abs``) per executor — what submitting,
   scheduling and collecting one task costs — and ``--tiny`` 1-day replications, whose extra cost
   per task over the same replications run in this process is (wall × workers − serial wall) / tasks.

Results are checked equal across executors (per-replication metrics, timings aside). The machines
are shared: compare figures measured in the same run, and quote the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

import scenarios
from sim.replications import Executor, open_executor, run_replications

EXECUTORS = (("local pool", None, 1), ("local pool", None, 2), ("dask", "local", 1), ("dask", "local", 2))


def _load() -> float:
    return round(os.getloadavg()[0], 2)


@contextmanager
def _started(
    dask: str | None, workers: int, scenario: scenarios.Scenario
) -> Iterator[tuple[Executor, float]]:
    """The executor, started and warmed up (each worker has imported the twin), and its start-up time."""
    began = time.perf_counter()
    with open_executor(dask, workers) as executor:
        run_replications(scenario, workers, 1, warmup_days=0, executor=executor)
        yield executor, time.perf_counter() - began


def _cpu() -> dict[int, float]:
    """CPU seconds (user + system) so far of this process and each of its descendants, by pid."""
    me = psutil.Process()
    out: dict[int, float] = {}
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
        except psutil.Error:  # exited meanwhile
            continue
        out[proc.pid] = t.user + t.system
    return out


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    out = fn()
    return time.perf_counter() - began, out


def _accounted(fn: Callable[[], Any]) -> tuple[float, float, float, Any]:
    """Wall seconds, CPU seconds of the process tree and of its busiest process, and ``fn()``."""
    before = _cpu()
    wall, out = _timed(fn)
    spent = [cpu - before.get(pid, 0.0) for pid, cpu in _cpu().items()]
    return wall, sum(spent), max(spent), out


def _strip(replications: list[dict[str, Any]]) -> str:
    return json.dumps([{k: v for k, v in m.items() if k != "wall_s"} for m in replications])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--replications", type=int, default=8)
    parser.add_argument("--tiny", type=int, default=64, help="tasks in the per-task overhead runs")
    args = parser.parse_args()
    scenario = scenarios.load("hanoi-baseline")
    print(f"cores: {os.cpu_count()}  load average: {os.getloadavg()}  scenario hanoi-baseline, "
          f"{args.days} d x {args.replications} replications; {args.tiny} tiny tasks")  # fmt: skip
    best: dict[tuple[str, int], dict[str, float]] = {}
    reference: str | None = None
    for rnd in range(args.repeat):
        for kind, dask, workers in EXECUTORS:
            load = _load()
            with _started(dask, workers, scenario) as (executor, startup):
                wall, cpu, busiest, summary = _accounted(partial(
                    run_replications, scenario, args.replications, args.days, executor=executor))  # fmt: skip
                noop, _ = _timed(partial(executor.map, abs, list(range(args.tiny))))
                tiny, _ = _timed(partial(run_replications, scenario, args.tiny, 1, warmup_days=0,
                                         executor=executor))  # fmt: skip
            same = _strip(summary.replications)
            reference = reference or same
            row = {"wall": wall, "cpu": cpu, "busiest": busiest, "noop": noop, "tiny": tiny,
                   "startup": startup}  # fmt: skip
            key = (kind, workers)
            old = best.get(key, row)
            # the scaling figures of the fastest round; the others each at their best
            fastest = row if wall <= old["wall"] else old
            best[key] = {k: fastest[k] if k in ("wall", "cpu", "busiest") else min(v, old[k])
                         for k, v in row.items()}  # fmt: skip
            print(json.dumps({"round": rnd + 1, "executor": f"{kind}, {workers} worker(s)", **{
                k: round(v, 3) for k, v in row.items()}, "load": [load, _load()],
                "identical": same == reference}))  # fmt: skip
    _table(best, args)


def _table(best: dict[tuple[str, int], dict[str, float]], args: argparse.Namespace) -> None:
    serial_tiny = best[("local pool", 1)]["tiny"]
    print()
    print(f"| executor | workers | {args.days} d × {args.replications} wall | speed-up | efficiency | "
          f"CPU (busiest process) | CPU-accounted speed-up / efficiency | start-up | per no-op task | "
          f"per 1-day replication (overhead) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (kind, workers), row in best.items():
        speed = best[(kind, 1)]["wall"] / row["wall"]
        by_cpu = best[(kind, 1)]["busiest"] / row["busiest"]
        overhead = (row["tiny"] * workers - serial_tiny) / args.tiny
        print(f"| {kind} | {workers} | {row['wall']:.2f} s | {speed:.2f} | {speed / workers:.2f} | "
              f"{row['cpu']:.2f} s ({row['busiest']:.2f} s) | {by_cpu:.2f} / {by_cpu / workers:.2f} | "
              f"{row['startup']:.2f} s | {row['noop'] / args.tiny * 1e3:.2f} ms | "
              f"{row['tiny'] / args.tiny * 1e3:.1f} ms ({overhead * 1e3:+.1f} ms) |")  # fmt: skip
    dask2, pool2 = best[("dask", 2)]["wall"], best[("local pool", 2)]["wall"]
    print(f"\nDask 2 workers vs local pool 2 workers: {pool2 / dask2:.2f}× the speed; "
          f"vs this process: {best[('local pool', 1)]['wall'] / dask2:.2f}×")  # fmt: skip


if __name__ == "__main__":  # the LocalCluster's worker processes re-import this module
    main()
