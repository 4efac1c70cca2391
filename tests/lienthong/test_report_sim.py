"""Tests for lienthong/_report_sim.py: the twin's verdict when both groups fail."""

from __future__ import annotations

from typing import Any

from lienthong._report_sim import flat_metrics, sim_verdict
from lienthong.report import evaluate_thresholds
from scenarios import load


def _stat(mean: float) -> dict[str, Any]:
    return {"mean": mean, "ci95": [mean * 0.9, mean * 1.1], "values": [mean]}


def _dist(p95: float) -> dict[str, Any]:
    return {k: _stat(p95) for k in ("mean", "p50", "p90", "p95", "p99", "max")}


def _step(agency: str, limit: float, attainment: float, p95: float) -> dict[str, Any]:
    return {"agency": agency, "limit_wd": limit, "attainment": _stat(attainment), "elapsed_wd": _dist(p95)}


def test_each_failing_group_is_blamed_on_its_own_worst_step() -> None:
    s = load()
    m = {
        "services": {
            "birth": {"deadline_wd": 3.0, "attainment": _stat(0.28), "e2e_wd": _dist(6.9)},
            "death": {"deadline_wd": 6.0, "attainment": _stat(0.93), "e2e_wd": _dist(6.3)},
        },
        "steps": {
            "ks": _step("justice", 0.0, 1.0, 0.0),
            "bhyt": _step("vss", 2.0, 0.24, 6.9),  # the worst of all, but a birth step only
            "kt": _step("justice", 0.0, 1.0, 0.0),
            "survivor": _step("vss", 5.0, 0.81, 6.1),
        },
    }
    results = evaluate_thresholds(s.thresholds, flat_metrics(m))
    assert sim_verdict(s, m, results) == (
        "No: the vss step bhyt (issue child card) fails — 76% late, p95 6.9 WD vs a 2 WD limit, so the "
        "birth group misses its deadline (birth p95 6.9 WD vs 3 WD, 28% on time); and the vss step "
        "survivor (settle survivor benefit) fails — 19% late, p95 6.1 WD vs a 5 WD limit, so the death "
        "group misses its deadline (death p95 6.3 WD vs 6 WD, 93% on time)."
    )
