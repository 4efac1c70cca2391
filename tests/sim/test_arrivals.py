"""Tests for sim/arrivals.py: determinism, calibration, channels, surges, splitting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scenarios
from scenarios import Scenario
from scenarios.demand import calendar_for, start_datetime, working_days_per_year
from scenarios.desks import Availability
from scenarios.model import SURGE_EXTRA
from sim import ARRIVAL_DTYPE, arrivals, split_by_index
from sim.arrivals import LEGAL_LAG_DAYS, desk_work, life_events, traffic

BASE = scenarios.load("hanoi-baseline")


def with_faults(s: Scenario, *faults: dict[str, Any]) -> Scenario:
    data = s.model_dump(mode="python")
    data["faults"] = list(faults)
    return scenarios.validate(data)


@pytest.fixture(scope="module")
def year() -> np.ndarray:
    return arrivals(BASE, 365)


def test_same_seed_same_stream_and_replications_differ() -> None:
    a, b = arrivals(BASE, 14), arrivals(BASE, 14)
    assert a.dtype == ARRIVAL_DTYPE and a.tobytes() == b.tobytes()
    assert arrivals(BASE, 14, replication=1).tobytes() != a.tobytes()
    assert arrivals(BASE, 14, rng=np.random.default_rng(5)).tobytes() != a.tobytes()


def test_shorter_horizon_is_a_prefix_of_the_longer_one() -> None:
    long, short = arrivals(BASE, 14), arrivals(BASE, 7)
    assert long[: short.size].tobytes() == short.tobytes()


def test_stream_is_sorted_and_well_formed(year: np.ndarray) -> None:
    assert (np.diff(year["submitted"]) >= 0).all()
    assert year["dossier"].tolist() == list(range(year.size))
    assert year["submitted"].min() >= 0 and year["submitted"].max() < 365 * 1440
    births, deaths = year[year["service"] == 0], year[year["service"] == 1]
    assert (births["status"] == 255).all() and (deaths["status"] < 5).all()
    assert births["variant"].max() < 3 and deaths["variant"].max() < 3
    for part in (births, deaths):
        assert np.unique(part["citizen"]).size == part.size  # one dossier per life event


def test_volume_is_calibrated_per_working_day(year: np.ndarray) -> None:
    wd = working_days_per_year(BASE)
    births = (year["service"] == 0).sum() / wd
    deaths = (year["service"] == 1).sum() / wd
    # Poisson noise on ~112k births is ~0.3%; the year's edges (warm start, lags past the horizon) ~1%.
    assert births == pytest.approx(450, rel=0.03)
    assert deaths == pytest.approx(150, rel=0.03)
    assert arrivals(BASE, 28, multiplier=2.0).size == pytest.approx(2 * arrivals(BASE, 28).size, rel=0.05)


def test_the_first_day_is_not_empty() -> None:
    first = arrivals(BASE, 1)
    assert first.size > 300  # Monday carries the lags of events from before the start


def test_channel_mix_and_shares(year: np.ndarray) -> None:
    births = year[year["service"] == 0]
    online = (births["channel"] == 0).mean()
    assert online == pytest.approx(BASE.services["birth"].online_share, abs=0.01)
    variant = np.bincount(births["variant"], minlength=3) / births.size
    assert variant == pytest.approx([0.80, 0.05, 0.15], abs=0.01)
    assert births["verification"].mean() == pytest.approx(0.05, abs=0.005)
    assert births["incomplete"].mean() == pytest.approx(0.03, abs=0.005)
    deaths = year[year["service"] == 1]
    status = np.bincount(deaths["status"], minlength=5) / deaths.size
    assert status == pytest.approx([0.35, 0.10, 0.10, 0.05, 0.40], abs=0.015)


def test_desk_dossiers_arrive_only_in_office_hours(year: np.ndarray) -> None:
    cal = calendar_for(BASE, "justice")
    open_ = Availability(cal.open_intervals_minutes(start_dt := start_datetime(BASE), 370))
    desk = year["submitted"][year["channel"] == 1]
    assert (open_.next_open_v(desk) == desk).all()
    assert start_dt.weekday() == 0
    online = year["submitted"][year["channel"] == 0]
    assert (open_.next_open_v(online) != online).mean() > 0.5  # online runs round the clock


def test_saturday_desks_receive_but_the_volume_follows_working_days() -> None:
    """hanoi-2022 staffs Saturday mornings: desk dossiers arrive on Saturdays too, yet the year's
    volume is births per WD × statutory working days (Mon–Fri), not × days desks open."""
    s = scenarios.load("hanoi-2022")
    year = arrivals(s, 365)
    desk = year[year["channel"] == 1]
    saturday = (desk["submitted"] // 1440) % 7 == 5  # minute 0 is a Monday
    assert 0.03 < saturday.mean() < 0.15
    wd = working_days_per_year(s)
    assert wd == 250 and calendar_for(s).open_day_index(s.calendar.start, 365).sum() == 299
    assert (year["service"] == 0).sum() / wd == pytest.approx(s.demand.births_per_wd, rel=0.02)


def _people(a: np.ndarray) -> list[tuple[int, int]]:
    return sorted(zip(a["service"].tolist(), a["citizen"].tolist(), strict=True))


def test_a_concentration_moves_dossiers_into_the_window_and_adds_none() -> None:
    """``factor`` alone: above 1 the dossiers due in the (f − 1) × length after the window come
    inside it; below 1 a share 1 − f of the window's is put off to just after it. Same people."""
    window = {"start": 2 * 1440.0, "end": 3 * 1440.0}  # Wednesday
    surged = with_faults(BASE, {"kind": "surge", "agency": "*", "factor": 3.0, **window})
    thinned = with_faults(BASE, {"kind": "surge", "agency": "*", "factor": 0.5, **window})
    base, up, down = arrivals(BASE, 7), arrivals(surged, 7), arrivals(thinned, 7)

    def count(a: np.ndarray, lo: float, hi: float) -> int:
        return int(((a["submitted"] >= lo) & (a["submitted"] < hi)).sum())

    assert _people(up) == _people(base) == _people(down)  # no dossier added or lost
    # Thursday's and Friday's dossiers came on Wednesday, but for those whose event was later
    # than the time drawn for them (never before the event)
    pulled = count(base, 3 * 1440, 5 * 1440)
    assert count(up, 2 * 1440, 3 * 1440) + count(up, 3 * 1440, 5 * 1440) == count(base, 2 * 1440, 5 * 1440)
    assert count(up, 3 * 1440, 5 * 1440) < 0.15 * pulled
    assert count(up, 5 * 1440, 7 * 1440) == count(base, 5 * 1440, 7 * 1440)
    inside = count(base, 2 * 1440, 3 * 1440)
    assert count(down, 2 * 1440, 3 * 1440) == pytest.approx(0.5 * inside, rel=0.1)
    assert count(down, 3 * 1440, 3.5 * 1440) == count(base, 3 * 1440, 3.5 * 1440) + inside - count(
        down, 2 * 1440, 3 * 1440)


# Longest delay from a life event to its dossier: the legal limit (60 days), then at most two
# weeks of putting it off or of closed offices (an 8-day Tết closure and a weekend), or a shift.
_SLACK_DAYS = 16


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**62), days=st.integers(1, 90),
    name=st.sampled_from(["hanoi-tet", "incident-f5-vneid-surge", "incident-f6-residence-deadline-surge",
                          "incident-f9-incomplete", "hanoi-baseline"]),
)
def test_linked_dossiers_are_the_life_events_registered(seed: int, days: int, name: str) -> None:
    """Over any horizon every dossier is one life event of the demand model (none invented by a
    surge), submitted after it and within the lag window, and every event older than the lag
    window has its dossier. ~1 s for 12 examples."""
    s = scenarios.load(name)
    s = s.model_copy(update={"meta": s.meta.model_copy(update={"seed": seed})})
    a, events = arrivals(s, days), life_events(s, days)
    for code, service in enumerate(("birth", "death")):
        part, ev = a[a["service"] == code], events[service]
        assert (part["citizen"] < ev.size).all(), "a dossier of no life event"
        assert np.unique(part["citizen"]).size == part.size
        when = ev[part["citizen"]]
        lag = LEGAL_LAG_DAYS[service] + _SLACK_DAYS
        assert (when <= part["submitted"]).all() and (part["submitted"] - when <= lag * 1440).all()
        due = np.flatnonzero((ev >= 0) & (ev < days * 1440 - lag * 1440))
        assert np.isin(due, part["citizen"]).all(), "an event past its lag window has no dossier"


def test_hanoi_tet_registers_the_closures_events_after_it_and_adds_none() -> None:
    """hanoi-tet's dossiers are its registered life events: the shift moves the closure's events
    (03–10/02) into the first working week back (11–17/02) and adds none. ~0.5 s."""
    tet = scenarios.load("hanoi-tet")
    calm = tet.model_copy(update={"faults": ()})
    a, b, events = arrivals(tet, 42), arrivals(calm, 42), life_events(tet, 42)
    assert _people(a) == _people(b)
    births = a[a["service"] == 0]
    born = events["birth"][births["citizen"]]
    closure = (born >= 2 * 1440) & (born < 10 * 1440)
    registered = births["submitted"][closure]
    assert closure.sum() > 2000  # ~8 days of births
    # none of them registered during the closure; those due by 18/02 all came 11–17/02
    assert not ((registered >= 2 * 1440) & (registered < 10 * 1440)).any()
    assert ((registered >= 10 * 1440) & (registered < 17 * 1440)).mean() > 0.5
    day = np.bincount((births["submitted"] // 1440).astype(int), minlength=42)
    normal_week = day[17:38].sum() / 3  # 18/02 – 10/03 (measured 2,000)
    assert day[10:17].sum() > 1.2 * normal_week  # the backlog week (measured 2,657)
    assert day[2:10].sum() < 0.7 * normal_week  # the closure (8 days, online only: 1,181)
    assert day[10] < 2 * 450  # spread over the week, not piled on the first day (719)
    short = arrivals(tet, 12)  # the shift's sources do not depend on the horizon
    assert a[: short.size].tobytes() == short.tobytes()


def test_extra_demand_is_traffic_not_dossiers() -> None:
    """F5/F6's surges are traffic of a named kind: (f − 1) × the window's dossiers as requests,
    inside the window; the dossier stream is the one without the surge."""
    for name, extra in (("incident-f5-vneid-surge", "vneid_traffic"),
                        ("incident-f6-residence-deadline-surge", "residence_registration")):
        s = scenarios.load(name)
        (fault,) = [f for f in s.faults if f.kind == "surge"]
        calm = s.model_copy(update={"faults": tuple(f for f in s.faults if f.kind != "surge")})
        a = arrivals(s, 2)
        assert a.tobytes() == arrivals(calm, 2).tobytes()
        t = traffic(s, 2, stream=a)
        inside = int(((a["submitted"] >= fault.start) & (a["submitted"] < fault.end)).sum())
        assert t.size == pytest.approx((fault.factor - 1) * inside, abs=1)
        assert ((t["minute"] >= fault.start) & (t["minute"] < fault.end)).all()
        assert {SURGE_EXTRA[k] for k in t["extra"]} == {extra}
    assert traffic(BASE, 2).size == 0


def test_residence_registrations_are_police_desk_work_for_the_twin() -> None:
    """F6's standalone registrations are police desk time (the register_residence step's), one
    per request, inside the window; VNeID traffic is no desk work. ~0.2 s."""
    s = scenarios.load("incident-f6-residence-deadline-surge")
    (fault,) = [f for f in s.faults if f.kind == "surge"]
    work = desk_work(s, 7)
    assert work.size == traffic(s, 7).size > 1000 and set(work["agency"].tolist()) == {"police"}
    assert ((work["minute"] >= fault.start) & (work["minute"] < fault.end)).all()
    assert work["work"].mean() == pytest.approx(s.steps["tt"].desk_time.mean, rel=0.1)  # 12 min
    assert desk_work(scenarios.load("incident-f5-vneid-surge"), 2).size == 0


def test_incomplete_fault_raises_the_share_in_its_window() -> None:
    fault = {"kind": "incomplete", "agency": "justice", "start": 0.0, "end": 2 * 1440.0, "rate": 0.5}
    a = arrivals(with_faults(BASE, fault), 4)
    early = a["submitted"] < 2 * 1440
    assert a["incomplete"][early].mean() == pytest.approx(0.5, abs=0.05)
    assert a["incomplete"][~early].mean() < 0.1


def test_split_by_index_partitions_the_stream() -> None:
    a = arrivals(BASE, 3)
    parts = [split_by_index(a, 3, k) for k in range(3)]
    joined = np.sort(np.concatenate(parts), order="dossier")
    assert joined.tobytes() == a.tobytes()
    assert all((np.diff(p["submitted"]) >= 0).all() for p in parts)
    with pytest.raises(ValueError, match=r"worker_index 3 is outside 0\.\.2"):
        split_by_index(a, 3, 3)
    with pytest.raises(ValueError, match="n_workers must be at least 1"):
        split_by_index(a, 0, 0)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="negative number of days: -1"):
        arrivals(BASE, -1)
    with pytest.raises(ValueError, match="multiplier must be positive"):
        arrivals(BASE, 1, multiplier=0)


@settings(max_examples=15)
@given(
    seed=st.integers(0, 2**62), days=st.integers(1, 10),
    name=st.sampled_from(["hanoi-baseline", "hanoi-tet", "hanoi-2022"]),
)
def test_stream_invariants(seed: int, days: int, name: str) -> None:
    s = scenarios.load(name)
    a = arrivals(s, days, rng=np.random.default_rng(seed))
    assert (np.diff(a["submitted"]) >= 0).all()
    assert ((a["submitted"] >= 0) & (a["submitted"] < days * 1440)).all()
    assert a["dossier"].tolist() == list(range(a.size))
    # desk submissions fall on the receiving agency's office days (its working days and staffed Saturdays)
    day = (a["submitted"][a["channel"] == 1] // 1440).astype(int)
    office = calendar_for(s, "justice").open_day_index(s.calendar.start, days + 1)
    assert office[day].all()
    assert s.calendar.start + timedelta(days=int(day.max(initial=0))) >= s.calendar.start


def test_the_rate_mode_is_a_poisson_process_around_the_clock() -> None:
    """``[demand.rate]``: λ per hour every hour of every day (weekends and holidays alike), no
    profiles; a shorter run's stream is a prefix of a longer one's."""
    s = scenarios.loads('extends = "hanoi-baseline"\n'
                        '[demand.rate]\nbirths_per_hour = 6.0\ndeaths_per_hour = 1.0\n')
    a = arrivals(s, days=56)
    births = a[a["service"] == 0]["submitted"]
    assert births.size == pytest.approx(6.0 * 24 * 56, rel=0.03)
    by_hour = np.bincount((births % 1440 // 60).astype(int), minlength=24)
    assert by_hour.min() > 0.8 * by_hour.mean()  # flat over the day: no hour profile
    by_weekday = np.bincount((births // 1440 % 7).astype(int), minlength=7)
    assert by_weekday.min() > 0.9 * by_weekday.mean()  # Sundays as busy as Mondays
    assert (a[a["service"] == 1].size) == pytest.approx(24 * 56, rel=0.1)
    short = arrivals(s, days=7)
    assert np.array_equal(short["submitted"], a["submitted"][a["submitted"] < 7 * 1440])
