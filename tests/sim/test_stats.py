"""Tests for sim/stats.py: MSER-5, Student t, Erlang C, histograms, summaries, replications."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scenarios
from sim import NpySink, run
from sim._sinks import read_npy
from sim.records import DONE, OPEN, REFUSED
from sim.stats import (
    _MIN_EDGES,
    _WD_EDGES,
    _Hist,
    erlang_c_wait,
    lookup,
    metrics,
    mser5,
    run_replications,
    student_t,
    summarize,
    t_quantile,
)

BASE = scenarios.load("hanoi-baseline")


def assert_close(a: Any, b: Any, path: str = "") -> None:
    """Equal structures, floats equal to 1e-9 relative."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert b == pytest.approx(a, rel=1e-9, nan_ok=True), path
    else:
        assert a == b, path


def test_mser5_cuts_the_transient() -> None:
    rng = np.random.default_rng(1)
    transient = np.concatenate([np.linspace(50, 10, 40), 10 + rng.normal(0, 1, 160)])
    assert 30 <= mser5(transient) <= 60
    assert mser5(np.r_[np.full(10, 100.0), np.zeros(90)]) == 10  # exactly the biased batches
    assert mser5(np.full(50, 3.0)) == 0
    with pytest.raises(ValueError, match="at least 10 observations, got 9"):
        mser5(np.ones(9))


def test_student_t_quantiles() -> None:
    # reference values (R: qt(p, df)) to 7 significant digits
    assert student_t(1) == pytest.approx(12.70620, rel=1e-6)
    assert student_t(9) == pytest.approx(2.262157, rel=1e-6)
    assert student_t(120) == pytest.approx(1.979930, rel=1e-6)
    assert t_quantile(0.975, 4) == pytest.approx(2.776445, rel=1e-6)
    assert t_quantile(0.95, 2) == pytest.approx(2.919986, rel=1e-6)
    assert t_quantile(0.95, 1000) == pytest.approx(1.646379, rel=1e-6)
    assert t_quantile(0.999, 2) == pytest.approx(22.32712, rel=1e-6)
    assert t_quantile(0.5, 7) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match=r"quantile level must be in \[0.5, 1\), got 1.0"):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError, match="at least 1, got 0"):
        student_t(0)


def test_erlang_c_known_values() -> None:
    assert erlang_c_wait(0.5, 1.0, 1) == pytest.approx(0.5 / (1.0 - 0.5))  # M/M/1: ρ/(μ−λ)
    # M/M/2, λ=1, μ=1: P(wait) = 1/3, Wq = P/(cμ−λ) = 1/3
    assert erlang_c_wait(1.0, 1.0, 2) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="unstable queue: offered load 2 >= 2 servers"):
        erlang_c_wait(2.0, 1.0, 2)


@settings(max_examples=30)
@given(seed=st.integers(0, 2**32), sigma=st.floats(0.2, 2.0))
def test_histogram_percentiles_are_close_to_exact(seed: int, sigma: float) -> None:
    x = np.random.default_rng(seed).lognormal(3.0, sigma, 5000)
    h = _Hist(_MIN_EDGES)
    h.add(x)
    s = h.summary()
    assert s["mean"] == pytest.approx(x.mean())
    assert s["max"] == x.max()
    for p in (50, 90, 95):
        assert s[f"p{p}"] == pytest.approx(np.percentile(x, p), rel=0.03)


def test_histogram_percentiles_of_exact_zeros_are_zero() -> None:
    # most dossiers done on the day received use 0 WD: their percentiles are 0, not a bin's edge
    h = _Hist(_WD_EDGES)
    h.add(np.r_[np.zeros(96), [0.5, 1.0, 2.0, 3.0]])
    s = h.summary()
    assert (s["p50"], s["p90"], s["p95"]) == (0.0, 0.0, 0.0)
    p99 = s["p99"]
    assert p99 is not None and 0.5 <= p99 <= 3.0 and s["max"] == 3.0


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


@pytest.fixture(scope="module")
def month() -> dict:
    return metrics(run(BASE, days=21, warmup_days=7))


def test_metrics_cover_services_steps_agencies_and_little(month: dict) -> None:
    birth = month["services"]["birth"]
    assert (
        birth["deadline_wd"] == 3.0 and birth["arrivals"] == birth["done"] + birth["refused"] + birth["open"]
    )
    assert 0.0 <= birth["attainment"] <= 1.0
    assert len(birth["weekly_attainment"]) == 3
    assert set(month["steps"]) == set(BASE.steps) and month["steps"]["ks"]["agency"] == "justice"
    justice = month["agencies"]["justice"]
    assert 0 < justice["desk_utilisation"] < 1 and len(justice["utilisation_by_hour"]) == 168
    assert justice["utilisation_by_hour"][0] is None  # Monday 00:00-01:00: closed
    assert month["little"]["identity_error"] < 1e-9 and month["little"]["ok"]
    assert len(month["backlog"]["hourly_wip"]) == 21 * 24 + 1
    assert lookup(month, "birth.e2e", "p95") == birth["e2e_wd"]["p95"]
    assert lookup(month, "birth.e2e", "attainment") == birth["attainment"]
    assert lookup(month, "step.ks", "p50") == month["steps"]["ks"]["elapsed_wd"]["p50"]
    with pytest.raises(KeyError, match=r"no metric 'court\.e2e'"):
        lookup(month, "court.e2e", "p95")


def test_a_new_warmup_from_kept_records_equals_a_run_with_it() -> None:
    kept = run(BASE, days=10, warmup_days=0)
    direct = run(BASE, days=10, warmup_days=3, keep=False)
    again, fresh = metrics(kept, warmup_days=3), metrics(direct)
    for m in (again, fresh):
        m.pop("wall_s")
    assert_close(again, fresh)  # summation order differs between chunked and whole records
    with pytest.raises(ValueError, match="needs the records"):
        metrics(direct, warmup_days=1)


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


# One VSS desk for ~57 child cards of 20 minutes a working day: 2.4 desks of work.
OVERLOADED = """
extends = "hanoi-baseline"
[meta]
name = "overloaded"
[demand]
births_per_wd = 60
deaths_per_wd = 10
[agencies.vss]
desks = 1
[steps.bhyt]
agency = "vss"
task = "issue_child_card"
after = ["pid"]
limit_wd = 2
desk_time = { kind = "lognormal", mean = 20.0, cv = 0.5 }
"""


def test_an_overloaded_system_fails_its_deadline_in_the_metrics() -> None:
    """A growing backlog must not look healthy: open dossiers count as late once past due, and
    enter the percentiles with the working days they have used so far (a lower bound)."""
    r = run(scenarios.loads(OVERLOADED), days=14, warmup_days=1)
    birth = metrics(r)["services"]["birth"]
    assert birth["attainment"] < 0.95 and birth["e2e_wd"]["p95"] > 3.0
    d = r.dossiers[(r.dossiers["service"] == 0) & (r.dossiers["submitted"] >= 1440)]
    late = (d["state"] == OPEN) & (d["due"] < r.horizon)
    done = d["state"] == DONE
    assert birth["open_late"] == int(late.sum()) > 0
    assert birth["attainment"] == d["within_deadline"].sum() / (done.sum() + late.sum())
    assert d["within_deadline"][done].mean() > birth["attainment"]  # finished-only overstates it
    timed = d[(d["state"] != REFUSED) & ~np.isnan(d["e2e_wd"])]
    assert birth["e2e_wd"]["max"] == timed["e2e_wd"].max() > d["e2e_wd"][done].max()
