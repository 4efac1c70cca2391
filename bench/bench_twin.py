"""Benchmark of the SimPy twin against bare SimPy, measured in the same run.

    PYTHONPATH=. .venv/bin/python bench/bench_twin.py [--national] [--no-rss] [--no-parallel]

Prints, in order:

1. bare SimPy reference: an M/M/c with ``simpy.Resource`` and one process per customer
   (6 events per customer), events/s and services/s;
2. the twin on one Hanoi year (hanoi-baseline, 365 days, records streamed into the aggregates
   only): wall and CPU time, scheduled events/s, phases (desk or system services)/s, and the
   ratios against the reference — the event-rate ratio (target >= 0.5) and the work ratio
   (services per second, twin ÷ bare);
3. with ``--national``: one year of national-2025 (about 2 M dossiers; target <= 240 s);
4. replications over 2 workers vs 1 (target speed-up >= 1.7), as wall time and as the speed-up
   the workers' CPU accounting allows (what two free cores give; see ``parallel``);
5. peak RSS of one replication vs horizon, each in a fresh process (target: flat).

CPU times are given beside wall times because the machines are shared: a ratio of CPU times is
the steadier figure when other jobs compete for the two cores.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import simpy

import scenarios
from sim import run
from sim.stats import metrics


def bare_mmc(customers: int, c: int = 10, lam: float = 9.0, mu: float = 1.0) -> tuple[int, float, float]:
    """Events, wall and CPU seconds of a bare SimPy M/M/c (one process per customer)."""
    rnd = random.Random(1)
    env = simpy.Environment()
    desks = simpy.Resource(env, c)

    def customer() -> simpy.events.ProcessGenerator:
        with desks.request() as req:
            yield req
            yield env.timeout(rnd.expovariate(mu))

    def source() -> simpy.events.ProcessGenerator:
        for _ in range(customers):
            yield env.timeout(rnd.expovariate(lam))
            env.process(customer())

    env.process(source())
    wall, cpu = time.perf_counter(), time.process_time()
    env.run()
    # per customer: source timeout, Initialize, Request, Timeout, Release, process end
    return 6 * customers + 2, time.perf_counter() - wall, time.process_time() - cpu


def twin_year(name: str, days: int = 365) -> dict[str, float]:
    s = scenarios.load(name)
    wall, cpu = time.perf_counter(), time.process_time()
    r = run(s, days=days, keep=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    phases = r.events - r.arrivals  # one scheduled wake per desk/system phase (plus rare fault waits)
    return {"dossiers": r.arrivals, "events": r.events, "phases": phases, "wall": wall, "cpu": cpu}


def _timed(task: tuple[scenarios.Scenario, int, int]) -> tuple[float, int]:
    """CPU seconds of one replication as ``run_replications`` does it, and the worker's pid."""
    s, r, days = task
    cpu = time.process_time()
    metrics(run(s, days=days, replication=r, keep=False, warmup_days=7.0))
    return time.process_time() - cpu, os.getpid()


def parallel(reps: int, days: int) -> None:
    """Wall speed-up of 2 workers over 1, and the speed-up the CPU accounting allows.

    On a shared machine other jobs take cores away; the second figure (serial CPU ÷ the busiest
    worker's CPU) is what 2 free cores would give, measured in the same run.
    """
    s = scenarios.load("hanoi-baseline")
    tasks = [(s, r, days) for r in range(reps)]
    w1 = time.perf_counter()
    serial_cpu = sum(_timed(t)[0] for t in tasks)
    w1 = time.perf_counter() - w1
    w2 = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        done = list(pool.map(_timed, tasks))
    w2 = time.perf_counter() - w2
    per_worker: dict[int, float] = {}
    for cpu, pid in done:
        per_worker[pid] = per_worker.get(pid, 0.0) + cpu
    bound = serial_cpu / max(per_worker.values())
    print(
        f"replications {reps} x {days} d: 1 worker {w1:.1f} s, 2 workers {w2:.1f} s wall "
        f"-> speed-up {w1 / w2:.2f} (target >= 1.7); CPU-accounted speed-up {bound:.2f} "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )


def rss_child(days: int) -> None:
    s = scenarios.load("hanoi-baseline")
    r = run(s, days=days, keep=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{days} {r.arrivals} {peak:.0f}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--national", action="store_true")
    p.add_argument("--no-rss", action="store_true")
    p.add_argument("--no-parallel", action="store_true")
    p.add_argument("--rss-child", type=int)
    args = p.parse_args()
    if args.rss_child:
        rss_child(args.rss_child)
        return

    n = 300_000
    ev, bw, bc = bare_mmc(n)
    print(
        f"bare SimPy M/M/10: {ev:,} events in {bw:.2f} s wall / {bc:.2f} s CPU "
        f"= {ev / bc:,.0f} events/s, {n / bc:,.0f} services/s (CPU)"
    )

    t = twin_year("hanoi-baseline")
    print(
        f"twin hanoi-baseline 365 d: {t['dossiers']:,.0f} dossiers, {t['events']:,.0f} events, "
        f"{t['phases']:,.0f} phases in {t['wall']:.2f} s wall / {t['cpu']:.2f} s CPU"
    )
    twin_rate, twin_work = t["events"] / t["cpu"], t["phases"] / t["cpu"]
    print(f"  event rate {twin_rate:,.0f}/s -> ratio to bare {twin_rate / (ev / bc):.2f} (target >= 0.5)")
    print(f"  work rate {twin_work:,.0f} services/s -> ratio to bare {twin_work / (n / bc):.2f}")
    print(f"  Hanoi year {t['wall']:.1f} s wall (target <= 15 s)")

    if args.national:
        nat = twin_year("national-2025")
        print(
            f"twin national-2025 365 d: {nat['dossiers']:,.0f} dossiers in {nat['wall']:.1f} s wall / "
            f"{nat['cpu']:.1f} s CPU (target <= 240 s)"
        )

    if not args.no_parallel:
        parallel(reps=4, days=56)

    if not args.no_rss:
        print("peak RSS vs horizon (fresh process each, keep=False):")
        for days in (28, 91, 182, 365):
            out = subprocess.run(
                [sys.executable, __file__, "--rss-child", str(days)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            print(f"  {out[0]:>4} d  {int(out[1]):>8,} dossiers  {out[2]:>5} MB")


if __name__ == "__main__":
    main()
