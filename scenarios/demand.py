"""Demand arithmetic shared by the twin, the people generator and the load tests.

Life events (births, deaths) happen on every calendar day; dossiers are counted per working day.
``daily_event_rates`` calibrates the daily event rate so that, over the year starting at the
scenario's start, events ÷ working days equals ``births_per_wd`` (or ``deaths_per_wd``) times the
multiplier, before the month profile and the lunar-year factor reshape it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays
import numpy as np

from scenarios.calendar import WorkingCalendar
from scenarios.model import LUNAR_ANIMALS, CalendarSpec, Scenario

__all__ = [
    "calendar_for",
    "daily_event_rates",
    "datetime_to_minute",
    "event_minutes",
    "lunar_animal",
    "minute_to_datetime",
    "start_datetime",
    "tet",
    "working_days_per_year",
]

MINUTES_PER_DAY = 1440.0


def calendar_for(scenario: Scenario, agency: str | None = None) -> WorkingCalendar:
    """The working calendar of the scenario, or of one agency when it overrides its hours."""
    spec = scenario.calendar
    ag = scenario.agencies.get(agency) if agency else None  # type: ignore[call-overload]
    hours = tuple(own if ag is not None and (own := getattr(ag, f"{kind}_hours")) is not None
                  else getattr(spec, f"{kind}_hours")
                  for kind in ("weekday", "saturday", "sunday", "holiday"))
    return _calendar(spec, *hours)


@lru_cache(maxsize=64)
def _calendar(spec: CalendarSpec, weekday: tuple[str, ...], saturday: tuple[str, ...],
              sunday: tuple[str, ...], holiday: tuple[str, ...]) -> WorkingCalendar:
    return WorkingCalendar(
        weekday_hours=_pairs(weekday),
        saturday_hours=_pairs(saturday),
        sunday_hours=_pairs(sunday),
        holiday_hours=_pairs(holiday),
        cutoff=spec.cutoff,
        extra_closures=spec.closures,
        extra_working_days=spec.extra_working_days,
        tz=spec.timezone,
    )


def _pairs(intervals: tuple[str, ...]) -> list[tuple[str | time, str | time]]:
    """``"07:30-11:30"`` strings as ``(open, close)`` pairs."""
    return [(iv[:5], iv[6:]) for iv in intervals]


def start_datetime(scenario: Scenario) -> datetime:
    """Minute 0 of the scenario: its start Monday at 00:00 local time (naive)."""
    return datetime.combine(scenario.calendar.start, time(0, 0))


def minute_to_datetime(scenario: Scenario, minute: float) -> datetime:
    """The local datetime of a scenario minute."""
    return start_datetime(scenario) + timedelta(minutes=float(minute))


def datetime_to_minute(scenario: Scenario, dt: datetime) -> float:
    """The scenario minute of a local (naive) datetime."""
    return (dt - start_datetime(scenario)).total_seconds() / 60.0


def working_days_per_year(scenario: Scenario) -> int:
    """Working days in the 365 days from the scenario start (desk calendar)."""
    return int(calendar_for(scenario).working_day_index(scenario.calendar.start, 365).sum())


@lru_cache(maxsize=512)
def tet(year: int) -> date:
    """The first day of the lunar new year (Tết) falling in Gregorian ``year``."""
    for day, name in holidays.country_holidays("VN", years=year, language="en_US").items():
        if name == "Lunar New Year":
            return day
    raise ValueError(f"no Lunar New Year found for year {year}")


def lunar_animal(d: date) -> str:
    """The zodiac animal of the lunar year containing ``d`` (Vietnamese zodiac: cat, not rabbit)."""
    year = d.year if d >= tet(d.year) else d.year - 1
    return LUNAR_ANIMALS[(year - 2020) % 12]


def daily_event_rates(scenario: Scenario, service: str, days: int, start: date | None = None) -> np.ndarray:
    """Expected life events per calendar day for ``days`` days from ``start`` (default: scenario start).

    Raises ValueError for an unknown service or a negative number of days.
    """
    if service not in ("birth", "death"):
        raise ValueError(f"unknown service {service!r}; expected 'birth' or 'death'")
    if days < 0:
        raise ValueError(f"negative number of days: {days}")
    start = start or scenario.calendar.start
    d = scenario.demand
    per_wd = (d.births_per_wd if service == "birth" else d.deaths_per_wd) * d.multiplier
    base = per_wd * working_days_per_year(scenario) / 365.0
    profile = d.birth_month_profile if service == "birth" else d.death_month_profile
    dates = [start + timedelta(days=i) for i in range(days)]
    month_w = np.asarray(profile, dtype=float) / _year_mean(profile)
    rates = base * month_w[[x.month - 1 for x in dates]]
    if service == "birth" and d.lunar_year_factor:
        rates *= np.array([d.lunar_year_factor.get(lunar_animal(x), 1.0) for x in dates])
    return rates


def _year_mean(profile: tuple[float, ...]) -> float:
    """Day-weighted mean of a month profile over a 365-day year."""
    lengths = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)
    return float(np.dot(profile, lengths) / lengths.sum())


def event_minutes(rng: np.random.Generator, rates: np.ndarray, first_day: int = 0) -> np.ndarray:
    """Sorted event times (minutes from the scenario start) of a Poisson process with daily rates.

    ``first_day`` is the day offset of ``rates[0]`` (negative for days before the start).
    """
    counts = rng.poisson(np.asarray(rates, dtype=float))
    day = np.repeat(np.arange(len(counts), dtype=float) + first_day, counts)
    return np.sort(day * MINUTES_PER_DAY + rng.uniform(0.0, MINUTES_PER_DAY, day.size))
