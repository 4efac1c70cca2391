"""Plain ``locust -f loadtests/locustfile.py`` against the reference fakes, as a QA engineer starts it.

Locust runs as a subprocess (bounded by its own ``-t`` or the shape, and by a timeout here), so
this process is never monkey-patched by gevent. Open mode: the scenario's arrival stream; closed
mode: the scenario's stages through :class:`loadtests.shape.ScenarioShape`.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import scenarios
from fakes.serve import Handle, start_subprocess

ROOT = Path(__file__).resolve().parents[2]
SPEED = 1440 * 60 / 8.0  # a scenario day in 8 s


@pytest.fixture
def fakes(tmp_path: Path) -> Iterator[Handle]:
    handle = start_subprocess(scenarios.load("hanoi-baseline"), tmp_path / "fakes", speed=SPEED)
    try:
        yield handle
    finally:
        handle.stop()
        if handle.process is not None and handle.process.stdout is not None:
            handle.process.stdout.close()


def _locust(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--headless", "--only-summary"]
    return subprocess.run(
        cmd + args,
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _stats(prefix: Path) -> dict[str, dict[str, str]]:
    with open(f"{prefix}_stats.csv", encoding="utf-8") as fh:
        return {row["Name"]: row for row in csv.DictReader(fh)}


def test_plain_locust_headless_replays_the_stream_for_its_run_time(fakes: Handle, tmp_path: Path) -> None:
    out, prefix = tmp_path / "load", tmp_path / "locust"
    env = {"LIENTHONG_OUT": str(out), "LIENTHONG_SPEED": str(SPEED), "LIENTHONG_MULTIPLIER": "0.1"}
    args = ["-u", "1", "-r", "1", "-t", "6s", "--host", fakes.base_url, "--csv", str(prefix)]
    done = _locust(args, env, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    stats = _stats(prefix)
    for name in ("/health/birth-certificates", "/portal/dossiers", "/portal/dossiers/{id}"):
        assert int(stats[name]["Request Count"]) > 0, name
        assert int(stats[name]["Failure Count"]) == 0, name
    # the replay's own records were written whether it finished or -t stopped it
    summary = json.loads((out / "worker-0.json").read_text())
    assert summary["driver"]["started"] > 0 and summary["driver"]["dropped"] == 0
    assert len(summary["submissions"]) > 0


def test_closed_model_users_follow_the_scenario_stages_and_stop(fakes: Handle, tmp_path: Path) -> None:
    prefix = tmp_path / "closed"
    env = {
        "LIENTHONG_OUT": str(tmp_path / "load"),
        "LIENTHONG_SPEED": str(SPEED),
        "LIENTHONG_MODE": "closed",
        "LIENTHONG_STAGE_SCALE": "0.05",  # the 1 m / 2 m / 1 m stages in 3 s / 6 s / 3 s
    }
    done = _locust(["--host", fakes.base_url, "--csv", str(prefix)], env, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    stats = _stats(prefix)
    for name in ("/health/birth-certificates", "/portal/dossiers", "/portal/dossiers/{id}"):
        assert int(stats[name]["Request Count"]) > 0, name
    with open(f"{prefix}_stats_history.csv", encoding="utf-8") as fh:
        users = [int(row["User Count"]) for row in csv.DictReader(fh)]
    stages = scenarios.load("hanoi-baseline").load.stages
    assert max(users) == max(st.users for st in stages)  # the second stage's 100 users were reached
    assert users[-1] <= stages[-1].users + 20  # ramping down at the end; the shape then stopped Locust
