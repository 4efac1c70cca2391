"""Tests for sim/replications.py: summaries with t intervals, parallel replications."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import scenarios
from sim import NpySink
from sim._sinks import read_npy
from sim.metrics import metrics
from sim.replications import run_replications, summarize
from tests.sim.conftest import assert_close

BASE = scenarios.load("hanoi-baseline")


def test_summarize_gives_mean_and_t_interval() -> None:
    reps = [
        {"scenario": "x", "a": 1.0, "b": {"c": 2, "ok": True}, "l": [1.0, None]},
        {"scenario": "x", "a": 2.0, "b": {"c": 4, "ok": False}, "l": [3.0, None]},
        {"scenario": "x", "a": 3.0, "b": {"c": 6, "ok": True}, "l": [5.0, 1.0]},
    ]
    out = summarize(reps)
    assert out["scenario"] == "x" and out["replications"] == 3
    half = 4.302653 * 1.0 / math.sqrt(3)  # t(0.975, 2)
    assert out["a"]["mean"] == 2.0 and out["a"]["values"] == [1.0, 2.0, 3.0]
    assert out["a"]["ci95"] == pytest.approx([2.0 - half, 2.0 + half], rel=1e-6)
    assert out["b"]["c"]["mean"] == 4.0 and out["b"]["ok"] is False
    assert out["l"] == [3.0, 1.0]
    assert summarize(reps[:1])["a"]["ci95"] is None
    with pytest.raises(ValueError, match="no replications"):
        summarize([])


def test_parallel_replications_equal_serial_ones(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    par = run_replications(BASE, 2, 4, workers=2, warmup_days=1, progress=lambda d, t: seen.append((d, t)),
                           first="records", first_sink=NpySink(tmp_path))  # fmt: skip
    ser = run_replications(BASE, 2, 4, workers=1, warmup_days=1, first="aggregates")
    # replication 0 comes back from its worker: records, sink and timeline, no rerun needed
    assert par.first is not None and ser.first is not None and par.first.replication == 0
    assert par.first.dossiers.size == par.first.arrivals > 0 and ser.first.dossiers.size == 0
    assert read_npy(tmp_path, "steps").tobytes() == par.first.steps.tobytes()
    assert par.first.timeline.tobytes() == ser.first.timeline.tobytes()
    assert_close({**metrics(par.first), "wall_s": 0.0}, {**par.replications[0], "wall_s": 0.0})
    assert run_replications(BASE, 1, 2, workers=1).first is None
    with pytest.raises(ValueError, match="first must be one of none, aggregates, records, got 'all'"):
        run_replications(BASE, 1, 2, first="all")
    assert seen == [(1, 2), (2, 2)]
    for a, b in zip(par.replications, ser.replications, strict=True):
        a, b = dict(a), dict(b)
        a.pop("wall_s"), b.pop("wall_s")
        assert_close(a, b)
    birth = par.metrics["services"]["birth"]["attainment"]
    assert len(birth["values"]) == 2 and par.metrics["replications"] == 2
    assert par.replications[0]["services"] != par.replications[1]["services"]  # independent streams
