from __future__ import annotations

import math
from pathlib import Path

import pytest

from scenarios import Scenario, load, loads
from sim import plots
from sim.metrics import lookup
from sim.replications import run_replications
from sim.sizing import SizingResult, Target, offered_load, parse_target, size
from tests.sim.conftest import tiny_toml

TINY = tiny_toml(days=14, replications=3, warmup_days=2)


@pytest.fixture(scope="module")
def tiny() -> Scenario:
    return loads(TINY)


@pytest.fixture(scope="module")
def sized(tiny: Scenario) -> SizingResult:
    # In the statutory convention 0 WD is "done on the received day": a quarter of a WD more
    # for 95% of births needs justice and police above their offered-load bounds.
    return size(tiny, "birth.p95 <= 0.25wd", confidence=0.95, replications=3, days=14, workers=2)


def test_parse_targets() -> None:
    assert parse_target("birth.p95 <= 3wd") == Target("birth.p95 <= 3wd", "birth.e2e", "p95", "<=", 3.0, "wd")
    assert parse_target("death.attainment >= 95%") == Target(
        "death.attainment >= 95%", "death.e2e", "attainment", ">=", 0.95, ""
    )
    assert parse_target(" step.bhyt.p95 <= 2wd ").metric == "step.bhyt"
    assert parse_target("birth.e2e.p90 < 2.5wd").stat == "p90"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("brith.p95 <= 3wd", "unknown service 'brith'"),
        ("step.bhty.p95 <= 3wd", "unknown step 'bhty'"),
        ("birth.p42 <= 3wd", "unknown statistic 'p42'"),
        ("birth.p95 <= 3000ms", "working days, not 'ms'"),
        ("birth.p95 is small", "not a target"),
        ("birth.count >= 3", "not a sizing target"),
    ],
)
def test_bad_targets_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_target(text, load())


def test_offered_load_on_hanoi_baseline() -> None:
    s = load()
    # register birth 450/WD and death 150/WD, 20 min each, over 8 open hours.
    assert offered_load(s, "justice", "desks") == pytest.approx((450 * 20 + 150 * 20) / 480)
    # child card for 95% of births, 8 min each
    assert offered_load(s, "vss", "desks", ["bhyt"]) == pytest.approx(450 * 0.95 * 8 / 480)
    # funeral (pensioner+insured 45%) 35 min and survivor (45%) 45 min on the variants that carry them
    funeral = 150 * (0.45 + 0.10) * 0.45 * 35
    survivor = 150 * 0.10 * 0.45 * 45
    assert offered_load(s, "vss", "desks", ["funeral_vss", "survivor"]) == pytest.approx(
        (funeral + survivor) / 480
    )
    with pytest.raises(ValueError, match="'staff'"):
        offered_load(s, "vss", "staff")


def _check(s: Scenario, full: dict[str, tuple[int, int]], target: Target) -> tuple[bool, float]:
    """An independent run at ``full`` capacity: does the 95% one-sided upper bound hold?"""
    summary = run_replications(s, 3, 14, workers=2, capacity=full, warmup_days=2)
    values = lookup(summary.metrics, target.metric, target.stat)["values"]
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    high = mean + 2.919986 * sd / math.sqrt(n)  # t(0.95, 2)
    return high <= target.value, high


def test_found_capacity_meets_and_one_less_does_not(tiny: Scenario, sized: SizingResult) -> None:
    assert sized.feasible and sized.resources == {"justice": "desks", "police": "desks", "vss": "desks"}
    ok, high = _check(tiny, sized.full, sized.target)
    assert ok, f"upper bound {high} at {sized.full}"
    checked = []
    for agency, c in sized.capacity.items():
        if c == 1:
            continue  # no fewer to try
        fewer = dict(sized.full)
        desks, servers = fewer[agency]
        fewer[agency] = (desks - 1, servers)
        ok, high = _check(tiny, fewer, sized.target)
        assert not ok, f"{agency} at {c - 1} desks still meets the target (upper bound {high})"
        checked.append(agency)
    assert checked == ["justice", "police"]  # both sized above their offered-load bounds
    assert all(sized.capacity[a] > sized.lower_bounds[a] for a in checked)
    assert sized.notes == []  # no answer under its offered load


def test_search_starts_at_the_offered_load_bound_and_fails_below_it(sized: SizingResult) -> None:
    # Pooled desks: the bound counts all of an agency's steps (justice also registers deaths).
    assert sized.offered["justice"] == pytest.approx((30 * 20 + 10 * 20) / 480)
    assert sized.lower_bounds == {a: math.floor(sized.offered[a]) + 1 for a in sized.capacity}
    assert sized.points[0].agency is None and sized.points[0].vector == sized.lower_bounds
    # Under its offered load justice's backlog grows: the open dossiers make the target fail.
    under = [p for p in sized.points if p.vector["justice"] < sized.offered["justice"]]
    assert under and not any(p.meets for p in under)
    assert min(p.value for p in under) > 1.0  # p95 of births over 1 WD, not a near miss


def test_points_carry_their_confidence_bounds(sized: SizingResult) -> None:
    final = next(p for p in sized.points if p.vector == sized.capacity)
    assert final.meets and final.high <= 0.25 and final.low <= final.value <= final.high
    assert (
        sized.evaluations == len(sized.points) == len({tuple(sorted(p.vector.items())) for p in sized.points})
    )


def test_capacity_plot(tmp_path: Path, sized: SizingResult) -> None:
    out = plots.capacity_plot(sized, tmp_path / "curve.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_size_rejects_bad_settings(tiny: Scenario) -> None:
    with pytest.raises(ValueError, match="at least 2 replications"):
        size(tiny, "birth.p95 <= 1wd", replications=1)
    with pytest.raises(ValueError, match=r"agency 'social' does no step of birth\.e2e"):
        size(tiny, "birth.p95 <= 1wd", agencies=["social"])
    with pytest.raises(ValueError, match="confidence"):
        size(tiny, "birth.p95 <= 1wd", confidence=1.0)
