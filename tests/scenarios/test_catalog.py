"""The shipped catalog: every file loads, derived figures match the stated assumptions."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta

import pytest

from scenarios import catalog, dump, load, loads
from scenarios.demand import calendar_for, daily_event_rates, minute_to_datetime, working_days_per_year
from scenarios.loader import CATALOG_DIR

NAMES = catalog()
INCIDENTS = {
    "F1": "incident-f1-slow-pid",
    "F2": "incident-f2-slow-link",
    "F3": "incident-f3-code-mismatch",
    "F4": "incident-f4-cutover",
    "F5": "incident-f5-vneid-surge",
    "F6": "incident-f6-residence-deadline-surge",
    "F7": "incident-f7-outage",
    "F8": "incident-f8-card-expiry",
    "F9": "incident-f9-incomplete",
    "F10": "incident-f10-lost-attachment",
}


def test_catalog_lists_the_issue_scenarios() -> None:
    expected = {"hanoi-baseline", "hanoi-2022", "hanoi-tet", "hanoi-dragon-year", "national-2025",
                *INCIDENTS.values()}
    assert expected <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_file_loads_with_its_own_name_and_round_trips(name: str) -> None:
    s = load(name)
    assert s.meta.name == name
    assert loads(dump(s)) == s


@pytest.mark.parametrize("name", [n for n in NAMES if n != "hanoi-baseline"])
def test_derived_files_are_short_extends(name: str) -> None:
    raw = tomllib.loads((CATALOG_DIR / f"{name}.toml").read_text(encoding="utf-8"))
    assert raw["extends"] in NAMES
    assert "steps" not in raw and "services" not in raw  # workflows come from the base


@pytest.mark.parametrize(("incident", "name"), sorted(INCIDENTS.items()))
def test_incident_scenarios_tag_their_faults(incident: str, name: str) -> None:
    s = load(name)
    assert s.meta.tags == ("incident", incident)
    assert s.faults, f"{name} has no faults"
    assert {f.incident for f in s.faults} == {incident}
    assert f"{incident} (DOMAIN.md §10)" in s.meta.description
    # degradation then recovery inside the live run
    assert max(f.end for f in s.faults) <= s.load.days * 1440
    assert all(f.end > f.start for f in s.faults)


def test_baseline_volumes() -> None:
    s = load("hanoi-baseline")
    per_wd = s.dossiers_per_wd()
    assert sum(per_wd["birth"].values()) == 450.0
    assert sum(per_wd["death"].values()) == pytest.approx(150.0)


@pytest.mark.parametrize("name", ["hanoi-2022", "hanoi-tet", "hanoi-dragon-year", *INCIDENTS.values()])
def test_hanoi_variants_keep_baseline_volumes(name: str) -> None:
    assert load(name).dossiers_per_wd() == load("hanoi-baseline").dossiers_per_wd()


def test_dragon_year_raises_births_by_13_percent() -> None:
    dragon, base = load("hanoi-dragon-year"), load("hanoi-baseline")
    assert dragon.demand.lunar_year_factor == {"dragon": 1.13}
    # the calendar sits inside 2024's Dragon year (from 10/02/2024) and births registered in the
    # run (lag <= 60 days) were born in it
    start = dragon.calendar.start
    assert start - timedelta(days=60) >= date(2024, 2, 10)
    days = 28
    rates = daily_event_rates(dragon, "birth", days)
    plain = daily_event_rates(base.model_copy(update={"calendar": dragon.calendar}), "birth", days)
    assert rates.sum() / plain.sum() == pytest.approx(1.13)
    assert daily_event_rates(dragon, "death", days).sum() == pytest.approx(
        daily_event_rates(base.model_copy(update={"calendar": dragon.calendar}), "death", days).sum())


def test_national_volumes_match_stated_yearly_figures() -> None:
    s = load("national-2025")
    wd = working_days_per_year(s)
    assert wd == 249
    per_wd = s.dossiers_per_wd()
    assert sum(per_wd["birth"].values()) * wd == pytest.approx(1_400_000, rel=1e-3)
    assert sum(per_wd["death"].values()) * wd == pytest.approx(650_000, rel=1e-3)
    region = s.region
    assert (region.scope, region.provinces, region.units, region.communes) == ("national", 34, "counts", 3321)
    assert s.region.population == 100_300_000
    # capacities scale with the volume (~12.5 × Hanoi)
    base = load("hanoi-baseline")
    assert s.agencies["vss"].desks / base.agencies["vss"].desks == pytest.approx(12.5)
    assert s.agencies["justice"].desks == s.region.communes


def test_hanoi_2022_pilot_structure() -> None:
    s = load("hanoi-2022")
    assert (s.region.units, s.region.districts, s.region.communes) == ("counts", 30, 579)
    assert s.agencies["vss"].level == "district"
    assert s.agencies["social"].level == "district"
    assert "Lao động – Thương binh và Xã hội" in s.agencies["social"].name_vi
    assert s.calendar.saturday_hours == ("07:30-11:30",)
    start = s.calendar.start
    assert s.money.amount_on(s.money.base_pay, start) == 1_490_000
    assert s.money.amount_on(s.money.standard_level, start) == 360_000
    assert calendar_for(s).is_working_day(start + timedelta(days=5))  # Saturday desks
    assert "pilot_volumes" in s.assumptions


def test_tet_closure_and_surge() -> None:
    s = load("hanoi-tet")
    cal = calendar_for(s)
    start = s.calendar.start
    assert start == date(2027, 2, 1)
    weekdays = [d for d in (start + timedelta(days=i) for i in range(14)) if d.weekday() < 5]
    closed = [d for d in weekdays if not cal.is_working_day(d)]
    assert closed == [date(2027, 2, d) for d in (3, 4, 5, 8, 9, 10)]
    (surge,) = s.faults
    assert surge.kind == "surge" and surge.factor == 1.6
    assert minute_to_datetime(s, surge.start).date() == date(2027, 2, 11)  # first day back
    back = [minute_to_datetime(s, surge.start).date() + timedelta(days=i) for i in range(7)]
    assert sum(cal.is_working_day(d) for d in back) == 5  # the first working week
    assert 40 <= s.sim.days <= 45
    # the live run covers the closure and the backlog's clearance (into the last week of February)
    assert s.load.days * 1440 * 60 / s.load.speed <= 11 * 60
    assert start + timedelta(days=s.load.days) >= date(2027, 2, 26)


def test_extends_keeps_untouched_base_values() -> None:
    base = load("hanoi-baseline")
    for name in NAMES:
        s = load(name)
        assert s.steps == base.steps
        assert s.services == base.services
        assert s.callers == base.callers
        assert s.money == base.money
        assert s.demand.death_status == base.demand.death_status
        assert set(base.assumptions) <= set(s.assumptions)
    tet = load("hanoi-tet")
    assert tet.region == base.region
    assert tet.agencies == base.agencies
    assert tet.thresholds == base.thresholds
    assert tet.calendar.weekday_hours == base.calendar.weekday_hours
    national = load("national-2025")
    assert national.agencies["justice"].name_vi == base.agencies["justice"].name_vi
    assert national.region.id_code == base.region.id_code


def test_extending_a_catalog_file_chains() -> None:
    f7 = load("incident-f7-outage")
    pilot = load("hanoi-2022")
    assert f7.region == pilot.region
    assert f7.agencies == pilot.agencies
    assert f7.calendar.saturday_hours == ("07:30-11:30",)
    assert f7.calendar.start == date(2022, 9, 12)


@pytest.mark.parametrize("name", NAMES)
def test_every_assumption_cites_a_source(name: str) -> None:
    for key, assumption in load(name).assumptions.items():
        assert assumption.value and assumption.source, key
