"""``lienthong load``: 1 Locust master + 2 workers on 127.0.0.1 against the reference fakes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import scenarios
from fakes.serve import start_subprocess
from lienthong.live import run_load
from loadtests._config import LoadConfig
from loadtests._merge import merge
from loadtests._replay import stream_of


def test_two_workers_split_the_stream_by_index_and_reconcile(tmp_path: Path) -> None:
    s = scenarios.load("hanoi-baseline")
    speed = 1440 * 60 / 6.0
    handle = start_subprocess(s, tmp_path / "fakes", speed=speed)
    try:
        out = run_load(
            "hanoi-baseline",
            handle.base_url,
            workers=2,
            multiplier=0.2,
            speed=speed,
            out=tmp_path,
            drain_s=20,
            max_seconds=90,
        )
    finally:
        handle.stop()
        if handle.process is not None and handle.process.stdout is not None:
            handle.process.stdout.close()
    merged = merge(out.path / "load")
    assert merged.workers == 2
    shares = [json.loads((out.path / "load" / f"worker-{w}.json").read_text()) for w in (0, 1)]
    assert sorted(sh["worker"] for sh in shares) == [0, 1]
    cfg = LoadConfig.read(out.path / "load" / "config.json")
    stream = stream_of(scenarios.load(cfg.scenario), cfg)
    # together the workers covered the whole stream exactly once, each its own index class
    assert merged.journeys["dossier"].tolist() == stream["dossier"].tolist()
    w0 = np.load(out.path / "load" / "worker-0.npz")["journeys"]["dossier"]
    assert set(w0 % 2) == {0}
    assert out.reconciliation.passed, out.reconciliation.violations[:5]
