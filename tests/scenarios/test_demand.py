from datetime import date, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scenarios
from scenarios.demand import (
    calendar_for,
    daily_event_rates,
    datetime_to_minute,
    event_minutes,
    lunar_animal,
    minute_to_datetime,
    tet,
    working_days_per_year,
)


@pytest.fixture(scope="module")
def baseline() -> scenarios.Scenario:
    return scenarios.load("hanoi-baseline")


def test_tet_dates_and_animals() -> None:
    assert tet(2024) == date(2024, 2, 10)
    assert tet(2026) == date(2026, 2, 17)
    assert lunar_animal(date(2024, 2, 9)) == "cat"
    assert lunar_animal(date(2024, 2, 10)) == "dragon"
    assert lunar_animal(date(2025, 1, 28)) == "dragon"
    assert lunar_animal(date(2025, 1, 29)) == "snake"


def test_rates_calibrated_to_working_days(baseline: scenarios.Scenario) -> None:
    wd = working_days_per_year(baseline)
    assert 245 <= wd <= 252
    assert daily_event_rates(baseline, "birth", 365).sum() / wd == pytest.approx(450.0)
    assert daily_event_rates(baseline, "death", 365).sum() / wd == pytest.approx(150.0)


def test_dragon_factor_raises_births_only_in_dragon_year(baseline: scenarios.Scenario) -> None:
    data = baseline.model_dump()
    data["demand"]["lunar_year_factor"] = {"dragon": 1.13}
    dragon = scenarios.validate(data)
    plain = daily_event_rates(baseline, "birth", 30, start=date(2024, 3, 1))
    boosted = daily_event_rates(dragon, "birth", 30, start=date(2024, 3, 1))
    assert boosted == pytest.approx(plain * 1.13)
    later = date(2025, 3, 1)
    assert daily_event_rates(dragon, "birth", 30, later) == pytest.approx(
        daily_event_rates(baseline, "birth", 30, later)
    )


def test_unknown_service_and_negative_days(baseline: scenarios.Scenario) -> None:
    with pytest.raises(ValueError, match="unknown service 'brith'"):
        daily_event_rates(baseline, "brith", 3)
    with pytest.raises(ValueError, match="negative number of days: -1"):
        daily_event_rates(baseline, "birth", -1)


def test_unknown_lunar_animal_is_a_scenario_error() -> None:
    with pytest.raises(scenarios.ScenarioError) as err:
        scenarios.loads('extends = "hanoi-baseline"\n[demand.lunar_year_factor]\ndragoon = 1.1\n')
    assert err.value.key == "demand.lunar_year_factor.dragoon"
    assert "did you mean 'dragon'" in str(err.value)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), first_day=st.integers(-60, 5))
def test_event_minutes_sorted_inside_their_days(seed: int, first_day: int) -> None:
    rates = np.array([5.0, 0.0, 12.0, 3.0])
    times = event_minutes(np.random.default_rng(seed), rates, first_day=first_day)
    assert np.all(np.diff(times) >= 0)
    assert times.min(initial=first_day * 1440.0) >= first_day * 1440.0
    assert times.max(initial=first_day * 1440.0) < (first_day + 4) * 1440.0
    assert not np.any((times >= (first_day + 1) * 1440.0) & (times < (first_day + 2) * 1440.0))


def test_same_seed_same_events() -> None:
    rates = np.full(10, 40.0)
    a = event_minutes(np.random.default_rng(7), rates)
    b = event_minutes(np.random.default_rng(7), rates)
    assert np.array_equal(a, b)


def test_minute_datetime_round_trip(baseline: scenarios.Scenario) -> None:
    assert minute_to_datetime(baseline, 0) == datetime(2026, 3, 9, 0, 0)
    assert minute_to_datetime(baseline, 1440 + 9 * 60 + 30) == datetime(2026, 3, 10, 9, 30)
    assert datetime_to_minute(baseline, datetime(2026, 3, 10, 9, 30)) == 1440 + 570


def test_agency_hours_override(baseline: scenarios.Scenario) -> None:
    data = baseline.model_dump()
    data["agencies"]["vss"]["saturday_hours"] = ("07:30-11:30",)
    s = scenarios.validate(data)
    saturday = date(2026, 3, 14)
    assert not calendar_for(s).is_open_day(saturday)
    assert calendar_for(s, "vss").is_open_day(saturday)  # VSS desks open on Saturdays ...
    assert not calendar_for(s, "vss").is_working_day(saturday)  # ... which stay off the WD count
    assert calendar_for(s, "police") is calendar_for(s)


def test_start_outside_calendar_years_is_a_scenario_error() -> None:
    with pytest.raises(scenarios.ScenarioError) as err:
        scenarios.loads('extends = "hanoi-baseline"\n[calendar]\nstart = 2040-01-02\n')
    assert err.value.key == "calendar.start"
    assert "2040-01-02" in str(err.value) and "2022–2035" in str(err.value)
