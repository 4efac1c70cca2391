"""A whole year driven live through the reference fakes with agencies in time (issue #12).
Not a test: run by hand.

    .venv/bin/python bench/bench_live_year.py [--scenario hanoi-baseline] [--days 365]
        [--speed 35040] [--instant] [--multiplier 1.0] [--out /tmp/bench-live]

``lienthong run`` in this process's API form (``lienthong.live.run_scenario``): the fakes and the
Locust load process in their own child processes, the twin's replications on the same stream
afterwards. Prints one JSON line with what the issue asks for:

- wall time of the drive (minute 0 to the last dossier followed) and of the whole run;
- whether the driver kept the schedule (arrivals started > 50 ms late, dropped, not sent; the
  p99 start lag) and the answers' p95 in scenario minutes: the speed is "held" when nothing
  was dropped or not sent, the p99 lag is under a second and a p95 answer is at most 10
  scenario minutes (beyond, the reference fakes' own lag weighs on the times measured);
- the fakes' CPU seconds per accepted dossier (``--instant`` for the same figure without desks);
- the twin-vs-live agreement per group (``comparison.<group>``: attainment, p50/p95 in working
  hours, both with the twin's 95% interval, ``agrees``);
- the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scenarios
from lienthong._comparison import twin_prediction
from lienthong.live import RunSettings, run_scenario

COMPARED = ("measured_attainment", "twin_attainment", "twin_attainment_ci95", "measured_p50_wh",
            "twin_p50_wh_ci95", "measured_p95_wh", "twin_p95_wh_ci95", "agrees")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="hanoi-baseline")
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--speed", type=float, default=35040.0, help="scenario minutes per wall minute")
    p.add_argument("--multiplier", type=float, default=1.0)
    p.add_argument("--instant", action="store_true", help="the fakes answer at once (no desks)")
    p.add_argument("--out", default="/tmp/bench-live")
    p.add_argument("--drain", type=float, default=None, help="seconds (default: the run's own)")
    args = p.parse_args()

    s = scenarios.load(args.scenario)
    stream_s = args.days * 1440 * 60 / args.speed
    settings = RunSettings(speed=args.speed, days=args.days, multiplier=args.multiplier, out=args.out,
                           instant=True if args.instant else None, drain_s=args.drain,
                           max_seconds=stream_s * 1.5 + 600, max_dossiers=10_000_000)
    load_before = os.getloadavg()[0]
    began = time.time()
    out = run_scenario(s, settings, twin=twin_prediction)
    wall = time.time() - began
    m = out.metrics
    driver = m.get("driver", {})
    accepted = sum(m["outcomes"].get(k, 0) for k in ("completed", "rejected", "stuck", "open"))
    fakes_cpu = (m.get("machine") or {}).get("cpu_s", {}).get("fakes")
    end_minute = max((c.get("end_minute") or 0.0) for c in m.get("comparison", {}).values()) \
        if m.get("comparison") else None
    p95 = (m["http"].get("service_ms") or {}).get("p95")
    doc = {
        "scenario": args.scenario, "days": args.days, "speed": args.speed, "multiplier": args.multiplier,
        "agencies": "instant" if args.instant else "in_time",
        "stream_wall_s": round(stream_s, 1),
        "run_wall_s": round(wall, 1),
        "drive_wall_s": round(end_minute * 60 / args.speed, 1) if end_minute else None,
        "arrivals": int(sum(m["outcomes"].values())), "accepted": accepted, "outcomes": m["outcomes"],
        "held": bool(not driver.get("dropped") and not driver.get("not_sent")
                     and (driver.get("start_lag_p99_s") or 0) < 1.0 and p95 is not None
                     and p95 / 1000 * args.speed / 60 <= 10.0),
        "driver": {k: driver.get(k) for k in ("late", "dropped", "not_sent", "start_lag_p99_s",
                                               "start_lag_max_s") if k in driver},
        "response_p95_ms": round(p95, 1) if p95 else None,
        # the run measures the desks only while a hand-off's answer is short in scenario time
        "response_p95_scenario_min": round(p95 / 1000 * args.speed / 60, 1) if p95 else None,
        "open_at_end": m["outcomes"].get("open"),
        "fakes_cpu_s": fakes_cpu,
        "fakes_cpu_ms_per_dossier": round(1000 * fakes_cpu / accepted, 2) if fakes_cpu and accepted else None,
        "load_cpu_s": (m.get("machine") or {}).get("cpu_s", {}).get("load"),
        "comparison": {g: {k: c.get(k) for k in COMPARED} for g, c in m.get("comparison", {}).items()},
        "verdict": out.report.verdict,
        "exit_code": out.exit_code,
        "report": str(out.path / "report.html"),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    print(json.dumps(doc, ensure_ascii=False))


if __name__ == "__main__":
    main()
