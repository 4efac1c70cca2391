"""Benchmark: the whole Hanoi population with fakes.people vs Faker vi_VN row by row.

Targets (issue 3): ~8.6 M people in <= 20 s, <= 6 GiB peak RSS, and >= 50x the per-row Faker
vi_VN rate for the same fields, measured in the same run. Also times a year of life events on
the full population and prints births and deaths per working day.

    .venv/bin/python bench/bench_people.py [--size N] [--faker-rows N] [--seed S]

Exit code 1 when a target is missed. Personal data is never printed.
"""

from __future__ import annotations

import argparse
import resource
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import scenarios
from fakes import events, people
from fakes._people_data import ethnicities
from scenarios.demand import working_days_per_year

GIB = 2**30


class PeakRss:
    """Samples this process's RSS every 20 ms (ru_maxrss is a cross-check, in KiB on Linux)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._proc = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self._stop.wait(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def faker_rate(rows: int, seed: int, scenario: scenarios.Scenario) -> tuple[float, float]:
    """Rows per second (wall, CPU) of a per-row Faker vi_VN generator of the same fields (no households)."""
    from faker import Faker

    fake = Faker("vi_VN")
    fake.seed_instance(seed)
    wards = [u.name for u in people.region_units(scenario.region)]
    groups = ethnicities()
    eth = OrderedDict((g.name, g.share) for g in groups)
    statuses = OrderedDict((s, 1.0 / len(people.STATUSES)) for s in people.STATUSES)
    started, cpu = time.perf_counter(), time.process_time()
    out = []
    for _ in range(rows):
        sex = fake.random_element(("M", "F"))
        given = fake.first_name_male() if sex == "M" else fake.first_name_female()
        out.append((
            fake.last_name(), fake.middle_name(), given, sex,
            fake.date_of_birth(minimum_age=0, maximum_age=104),
            fake.random_elements(eth, length=1, use_weighting=True)[0], fake.random_element(wards),
            fake.random_element(people.RELATIONS), fake.random_elements(statuses, length=1)[0],
            fake.numerify("001#########"), fake.numerify("01########"),
        ))  # fmt: skip
    return rows / (time.perf_counter() - started), rows / (time.process_time() - cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="hanoi-baseline")
    parser.add_argument("--size", type=int, default=None, help="people (default: the region's population)")
    parser.add_argument("--faker-rows", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=20250701)
    args = parser.parse_args()
    s = scenarios.load(args.scenario)
    size = args.size or s.region.population
    people.generate(s, np.random.default_rng(0), 1000)  # warm caches: name pools, wards, status table

    ref, ref_cpu = faker_rate(args.faker_rows, args.seed, s)
    print(f"Faker vi_VN per row : {ref:12,.0f} rows/s  ({args.faker_rows:,} rows; {ref_cpu:,.0f} per CPU-s)")

    rng = np.random.default_rng(args.seed)
    load_before = psutil.getloadavg()[0]
    with PeakRss() as rss:
        t0, c0 = time.perf_counter(), time.process_time()
        pop = people.generate(s, rng, size)
        gen, cpu = time.perf_counter() - t0, time.process_time() - c0
        t1 = time.perf_counter()
        ev = events.simulate(pop, s, rng, 365)
        evt = time.perf_counter() - t1
    ours = size / gen
    ratio = ours / ref
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    wd = working_days_per_year(s)
    print(f"fakes.people        : {ours:12,.0f} rows/s  ({size:,} people, {pop.households:,} households)")
    print(f"generation time     : {gen:8.2f} s   (target <= 20 s; CPU time {cpu:.2f} s)")
    print(
        f"peak RSS            : {rss.peak / GIB:8.2f} GiB (ru_maxrss {maxrss / GIB:.2f} GiB; target <= 6 GiB)"
    )
    print(
        f"ratio vs Faker      : {ratio:8.1f} x  (target >= 50 x; CPU-time ratio {size / cpu / ref_cpu:.1f} x)"
    )
    per_wd = [len(x) / wd / ev.scale for x in (ev.births, ev.deaths)]
    print(
        f"life events, 365 d  : {evt:8.2f} s   births {len(ev.births):,} ({per_wd[0]:.1f}/WD), "
        f"deaths {len(ev.deaths):,} ({per_wd[1]:.1f}/WD), {wd} WD, scale {ev.scale:.4f}"
    )
    load = " ".join(f"{x:.2f}" for x in psutil.getloadavg())
    print(
        f"load average        : {load} on {psutil.cpu_count()} CPUs at the end, {load_before:.2f} before"
        " generation (other work on the machine)"
    )
    ok = gen <= 20 and max(rss.peak, maxrss) <= 6 * GIB and ratio >= 50
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
