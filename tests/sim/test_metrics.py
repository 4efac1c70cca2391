"""Tests for sim/metrics.py: services, steps, agencies, Little, warm-up, censoring, lookup."""

from __future__ import annotations

import numpy as np
import pytest

import scenarios
from sim import simulate
from sim.metrics import lookup, metrics
from sim.records import DONE, OPEN, REFUSED
from tests.sim.conftest import assert_close

BASE = scenarios.load("hanoi-baseline")


@pytest.fixture(scope="module")
def month() -> dict:
    return metrics(simulate(BASE, days=21, warmup_days=7))


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
    kept = simulate(BASE, days=10, warmup_days=0)
    direct = simulate(BASE, days=10, warmup_days=3, keep=False)
    again, fresh = metrics(kept, warmup_days=3), metrics(direct)
    for m in (again, fresh):
        m.pop("wall_s")
    assert_close(again, fresh)  # summation order differs between chunked and whole records
    with pytest.raises(ValueError, match="needs the records"):
        metrics(direct, warmup_days=1)


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
    r = simulate(scenarios.loads(OVERLOADED), days=14, warmup_days=1)
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
