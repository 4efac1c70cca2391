"""Issue #14's fuzzing target, measured: schemathesis with every check, its four phases and N
examples per operation, with the shipped hooks (``fakes.fuzzing``), against the fakes served with
instant agencies in a child process on 127.0.0.1. Prints the figures of bench/RESULTS.md *Fuzzing
target*: requests, cases per phase, each check's passes and failures, positive writes accepted.

    PYTHONPATH=. .venv/bin/python bench/bench_fuzz_target.py -n 100 --seed 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from fakes.serve import start_subprocess, stop_process

CHECKS = ["--checks", "all", "--phases", "examples,coverage,fuzzing,stateful"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=100, help="examples per operation")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        handle = start_subprocess("hanoi-baseline", Path(tmp) / "run", instant=True)
        report = Path(tmp) / "run.ndjson"
        cmd = [str(Path(sys.executable).with_name("schemathesis")), "run", handle.base_url + "/openapi.json",
               *CHECKS, "-n", str(args.n), "--seed", str(args.seed), "--no-color",
               "--report", "ndjson", "--report-ndjson-path", str(report)]
        t0 = time.perf_counter()
        try:
            done = subprocess.run(cmd, env={**os.environ, "SCHEMATHESIS_HOOKS": "fakes.fuzzing"}, cwd=tmp,
                                  capture_output=True, text=True, check=False)
        finally:
            wall = time.perf_counter() - t0
            assert handle.process is not None
            stop_process(handle.process)
        events = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    checks: Counter[tuple[str, str]] = Counter()
    phases: Counter[str] = Counter()
    writes: Counter[str] = Counter()
    requests = 0
    for event in events:
        if "ScenarioFinished" not in event:
            continue
        finished = event["ScenarioFinished"]
        rec = finished["recorder"]
        phases[finished["phase"]] += len(rec.get("cases", {}))
        for results in rec.get("checks", {}).values():
            checks.update((c["name"], c["status"]) for c in results)
        for case_id, inter in rec.get("interactions", {}).items():
            requests += 1
            case = rec["cases"].get(case_id, {}).get("value", {})
            mode = (case.get("meta") or {}).get("generation", {}).get("mode")
            if case.get("method") == "POST" and mode == "positive" and inter.get("response"):
                status = inter["response"]["status_code"]
                writes["2xx" if status < 300 else str(status)] += 1
    print(f"exit {done.returncode}; wall {wall:.0f} s; requests {requests}; cases per phase {dict(phases)}")
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:])
    print(f"positive writes answered: {dict(writes)}")
    print("| check | passed | failed |\n|---|---|---|")
    for name in sorted({n for n, _ in checks}):
        print(f"| {name} | {checks[(name, 'success')]:,} | {checks[(name, 'failure')]:,} |")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
