"""The scenario models: durations, distributions, thresholds, money tables and scenario queries."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from scenarios import Dist, Fault, load
from scenarios.model import CalendarSpec, Money, Rate, Threshold, parse_duration


@pytest.mark.parametrize(
    ("text", "minutes"),
    [(90, 90.0), (1.5, 1.5), ("90m", 90.0), ("2h", 120.0), ("3d", 4320.0), ("1d9h30m", 2010.0),
     ("1d8h", 1920.0), ("0.5h", 30.0), (" 2h 15m ", 135.0), ("0m", 0.0)],
)
def test_parse_duration(text: object, minutes: float) -> None:
    assert parse_duration(text) == minutes


@pytest.mark.parametrize("bad", ["", "h", "2x", "1h2d", "-1h", "1.2.3h", True, None, [1], "1 day"])
def test_parse_duration_rejects_naming_value(bad: object) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", [-1, -0.5, float("nan")])
def test_parse_duration_rejects_negative_and_nan(bad: float) -> None:
    with pytest.raises(ValueError, match="negative duration"):
        parse_duration(bad)


@given(st.integers(0, 400), st.integers(0, 23), st.integers(0, 59))
def test_parse_duration_adds_units(d: int, h: int, m: int) -> None:
    assert parse_duration(f"{d}d{h}h{m}m") == d * 1440 + h * 60 + m


@pytest.mark.parametrize(
    ("dist", "expected"),
    [
        (Dist(kind="constant", mean=4.0), 4.0),
        (Dist(kind="exponential", mean=3.0), 3.0),
        (Dist(kind="lognormal", mean=20.0, cv=0.5), 20.0),
        (Dist(kind="gamma", mean=14.0, cv=0.8), 14.0),
        (Dist(kind="uniform", low=0.5, high=6.0), 3.25),
        (Dist(kind="triangular", low=1.0, mode=2.0, high=6.0), 3.0),
    ],
)
def test_dist_sample_mean_matches_expected(dist: Dist, expected: float) -> None:
    draws = dist.sample(np.random.default_rng(1), 200_000)
    assert dist.expected == expected
    assert draws.min() >= 0
    assert draws.mean() == pytest.approx(expected, rel=0.02)


def test_dist_max_truncates_and_same_seed_same_draws() -> None:
    dist = Dist(kind="gamma", mean=14.0, cv=0.8, max=60.0)
    a = dist.sample(np.random.default_rng(5), 10_000)
    b = dist.sample(np.random.default_rng(5), 10_000)
    assert a.max() == 60.0
    assert np.array_equal(a, b)


def test_dist_degenerate_cases() -> None:
    rng = np.random.default_rng(0)
    assert Dist(kind="lognormal", mean=0.0, cv=1.0).sample(rng) == 0.0
    assert list(Dist(kind="gamma", mean=3.0, cv=0.0).sample(rng, 3)) == [3.0, 3.0, 3.0]
    assert Dist(kind="triangular", low=2.0, mode=2.0, high=2.0).sample(rng) == 2.0


def test_dist_rejects_negative_parameters() -> None:
    with pytest.raises(ValidationError):
        Dist(kind="exponential", mean=-1.0)


@pytest.mark.parametrize(
    ("expr", "parts"),
    [("p95 <= 3wd", ("p95", "<=", 3.0, "wd")), ("rate < 0.01", ("rate", "<", 0.01, "")),
     ("p95 <= 1000ms", ("p95", "<=", 1000.0, "ms")), ("attainment >= 95%", ("attainment", ">=", 0.95, "")),
     ("count == 0", ("count", "==", 0.0, ""))],
)
def test_threshold_parts(expr: str, parts: tuple[str, str, float, str]) -> None:
    assert Threshold(metric="birth.e2e", expr=expr).parts == parts


def test_money_amount_on_picks_rate_in_force() -> None:
    money = load("hanoi-baseline").money
    assert money.amount_on(money.base_pay, date(2022, 11, 28)) == 1_490_000
    assert money.amount_on(money.base_pay, date(2023, 7, 1)) == 1_800_000
    assert money.amount_on(money.base_pay, date(2026, 3, 9)) == 2_340_000
    assert money.amount_on(money.standard_level, date(2022, 11, 28)) == 360_000
    assert money.amount_on(money.standard_level, date(2024, 7, 1)) == 500_000


def test_money_before_table_names_the_day() -> None:
    money = Money(base_pay=(Rate(since=date(2019, 7, 1), vnd=1),),
                  standard_level=(Rate(since=date(2021, 7, 1), vnd=1),))
    with pytest.raises(ValueError, match="2019-06-30"):
        money.amount_on(money.base_pay, date(2019, 6, 30))


def test_calendar_start_must_be_monday() -> None:
    with pytest.raises(ValidationError, match="must be a Monday, got 2026-03-08 \\(Sunday\\)"):
        CalendarSpec(start=date(2026, 3, 8))


def test_fault_durations_and_faults_at() -> None:
    s = load("incident-f2-slow-link")
    assert [f.kind for f in s.faults_at(600)] == ["delivery_delay", "latency", "outage"]
    assert [f.kind for f in s.faults_at(600, "police")] == ["outage"]
    assert [f.kind for f in s.faults_at(540, "justice")] == ["delivery_delay", "latency"]
    assert s.faults_at(780) == []  # end is exclusive
    fault = Fault.model_validate({"kind": "outage", "start": "1d8h", "end": "3d"})
    assert (fault.start, fault.end) == (1920.0, 4320.0)


def test_steps_of_and_dossiers_per_wd_of_baseline() -> None:
    s = load("hanoi-baseline")
    assert s.steps_of("police") == ["pid", "tt", "xtt"]
    assert s.steps_of("vss") == ["bhyt", "funeral_vss", "survivor"]
    per_wd = s.dossiers_per_wd()
    assert per_wd["birth"] == {"ks_tt_bhyt": 360.0, "ks_tt": 22.5, "ks_bhyt": 67.5}
    assert per_wd["death"] == pytest.approx(
        {"kt_xtt": 67.5, "kt_xtt_funeral": 67.5, "kt_xtt_funeral_survivor": 15.0})


def test_scenario_is_frozen() -> None:
    s = load("hanoi-baseline")
    with pytest.raises(ValidationError):
        s.meta.seed = 1
