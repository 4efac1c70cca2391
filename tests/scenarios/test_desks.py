"""Tests for scenarios/desks.py from outside: Pool and Office on hanoi-baseline's calendar (exact
minutes by hand), FIFO, saved state, the tracked counts against a brute force, outages, and the
twin booking through the same Pool and draws."""

from __future__ import annotations

import copy
import math
import tomllib
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scenarios
from scenarios import Scenario, validate
from scenarios.demand import calendar_for
from scenarios.desks import Availability, Draws, Office, Pool, Workdays, service_rng
from sim import ARRIVAL_DTYPE, simulate

S = scenarios.load("hanoi-baseline")
BASE = tomllib.loads((Path(scenarios.__file__).parent / "hanoi-baseline.toml").read_text("utf-8"))
DAY, H = 1440.0, 60.0
# Minute 0 is Monday 2026-03-09 00:00; desks open 07:30-11:30 and 13:00-17:00 on weekdays.
FRI, SAT, NEXT_MON = 4 * DAY, 5 * DAY, 7 * DAY
DESKS = Workdays(calendar_for(S, "justice"), S.calendar.start, 28).avail
OUTAGE = Availability.up_except([(600.0, 700.0), (2000.0, 2300.0)])
PROPS = settings(max_examples=150, deadline=None)


def with_data(**changes: Any) -> Scenario:
    """hanoi-baseline with top-level tables replaced (``faults``, ``steps`` …)."""
    data = copy.deepcopy(BASE)
    data.update(changes)
    return validate(data)


# -- one desk, exact minutes -------------------------------------------------------------------


def test_friday_afternoon_work_resumes_on_monday() -> None:
    pool = Pool(1, DESKS)
    # Friday 16:00, 90 min: 60 until 17:00, the weekend, 30 from Monday 07:30.
    start, pos, end = pool.take(FRI + 16 * H, 90.0)
    assert (start, end) == (FRI + 16 * H, NEXT_MON + 8 * H)
    assert pos == 4 * 480 + 420  # four full days, then 07:30-11:30 and 13:00-16:00
    assert pool.next_free() == NEXT_MON + 8 * H


def test_work_across_lunch_pauses_from_1130_to_1300() -> None:
    pool = Pool(1, DESKS)
    # 30 min before lunch, 30 after; 210 office minutes (07:30-11:00) before the start
    assert pool.take(11 * H, 60.0) == (11 * H, 210.0, 13 * H + 30)


def test_weekend_ask_starts_at_monday_opening_behind_the_friday_task() -> None:
    pool = Pool(1, DESKS)
    pool.take(FRI + 16 * H, 90.0)  # busy until Monday 08:00
    assert pool.take(SAT + 10 * H, 30.0)[::2] == (NEXT_MON + 8 * H, NEXT_MON + 8 * H + 30)
    fresh = Pool(1, DESKS)
    assert fresh.take(SAT + 10 * H, 30.0)[::2] == (NEXT_MON + 7.5 * H, NEXT_MON + 8 * H)


def test_two_units_serve_first_come_first_served() -> None:
    pool = Pool(2, DESKS)
    asks = [(480.0, 100.0), (481.0, 100.0), (482.0, 100.0), (483.0, 100.0), (484.0, 30.0)]
    got = [pool.take(t, w)[::2] for t, w in asks]
    assert got == [
        (480.0, 580.0),
        (481.0, 581.0),
        (580.0, 680.0),  # waits for the first unit
        (581.0, 681.0),  # the second
        (680.0, 800.0),  # 10 min to 11:30, lunch, 20 min from 13:00
    ]


def test_a_pool_needs_units_and_a_matching_state() -> None:
    with pytest.raises(ValueError, match="at least one unit"):
        Pool(0, DESKS)
    with pytest.raises(ValueError, match="free has 1 units"):
        Pool(2, DESKS, free=[0.0])


# -- saved state -------------------------------------------------------------------------------



def _in_time_order(gaps_work: list[tuple[float, float]]) -> list[tuple[float, float]]:
    times = np.cumsum([g for g, _ in gaps_work]).tolist()
    return [(t, w) for t, (_, w) in zip(times, gaps_work, strict=True)]


# asks in time order (gaps of 0 make ties), work from 0 to 600 minutes
asks = st.lists(st.tuples(st.floats(0.0, 600.0), st.floats(0.0, 600.0)), min_size=1, max_size=30).map(
    _in_time_order
)


@PROPS
@given(asks, st.integers(1, 3), st.integers(0, 30), st.sampled_from([DESKS, OUTAGE]))
def test_a_pool_rebuilt_from_free_books_as_the_original(
    tasks: list[tuple[float, float]], units: int, cut: int, avail: Availability
) -> None:
    cut = min(cut, len(tasks))
    whole = Pool(units, avail)
    first = [whole.take(t, w) for t, w in tasks[:cut]]
    resumed = Pool(units, avail, free=list(whole.free))
    again = Pool(units, avail)
    assert [again.take(t, w) for t, w in tasks[:cut]] == first
    assert [resumed.take(t, w) for t, w in tasks[cut:]] == [whole.take(t, w) for t, w in tasks[cut:]]


def test_office_state_round_trip() -> None:
    office = Office(S, "vss", 28, desks=2, servers=1)
    for t in (480.0, 490.0, 500.0, 1000.0):
        office.serve(t, 200.0, 5.0)
    saved = office.state()
    assert set(saved) == {"desks", "servers"} and len(saved["desks"]) == 2
    back = Office(S, "vss", 28, desks=2, servers=1, free=saved)
    assert back.serve(1010.0, 200.0, 5.0) == office.serve(1010.0, 200.0, 5.0)


# -- tracked counts ------------------------------------------------------------------------------


def _waiting_area(booked: list[tuple[float, float, float]], units: int, now: float) -> float:
    """The integral up to ``now`` of tasks that find every unit held (asked, not ended, beyond
    ``units``), from the booked ``(t, start, end)`` alone."""
    points = sorted({0.0, now, *(x for t, _, e in booked for x in (t, e) if x < now)})
    area = 0.0
    for a, b in pairwise(points):
        outstanding = sum(1 for t, _, e in booked if t <= a < e)
        area += max(0, outstanding - units) * (b - a)
    return area


@PROPS
@given(asks, st.lists(st.floats(0.0, 12_000.0), min_size=1, max_size=8), st.integers(1, 3),
       st.sampled_from([DESKS, OUTAGE]))
def test_tracked_counts_match_a_brute_force(
    tasks: list[tuple[float, float]], queries: list[float], units: int, avail: Availability
) -> None:
    pool = Pool(units, avail, track=True)
    booked: list[tuple[float, float, float]] = []
    todo = iter(tasks)
    nxt = next(todo, None)
    for now in sorted(queries):
        while nxt is not None and nxt[0] <= now:  # the pool sees asks and reads in time order
            booked.append((nxt[0], *pool.take(*nxt)[::2]))
            nxt = next(todo, None)
        waiting, waiting_area, in_work, busy_area = pool.at(now)
        outstanding = sum(1 for _, _, e in booked if now < e)
        # FIFO on identical units: a task waits only while every unit is held
        assert in_work == min(units, outstanding)
        assert waiting == outstanding - in_work
        assert sum(1 for _, s, e in booked if s <= now < e) <= in_work  # started ones hold a unit
        assert waiting_area == pytest.approx(_waiting_area(booked, units, now), rel=1e-9, abs=1e-6)
        worked = sum(max(0.0, avail.office(min(now, e)) - avail.office(s)) for _, s, e in booked)
        assert busy_area == pytest.approx(worked, rel=1e-9, abs=1e-6)


def test_a_task_waits_only_while_every_unit_is_held() -> None:
    pool = Pool(1, DESKS, track=True)
    pool.take(20 * H, 30.0)  # Monday 20:00: the desk is its at once, work at Tuesday 07:30
    pool.take(21 * H, 30.0)  # waits for the desk until Tuesday 08:00
    assert pool.at(22 * H) == (1, 1 * H, 1, 0.0)
    tuesday = DAY + 7.5 * H
    w, area, busy, worked = pool.at(tuesday + 45)  # second task in work for 15 min
    assert (w, busy) == (0, 1)
    assert area == pytest.approx(tuesday + 30 - 21 * H)
    assert worked == pytest.approx(45.0)


# -- Office --------------------------------------------------------------------------------------


def test_office_desks_follow_the_calendar_and_servers_stop_for_outages() -> None:
    s = with_data(faults=[{"kind": "outage", "agency": "police", "start": 600, "end": 700}])
    office = Office(s, "police", 14, desks=1, servers=1)
    assert office.desks is not None and office.servers is not None
    assert office.desks.avail is office.workdays.avail
    assert office.servers.take(595.0, 10.0) == (595.0, 595.0, 705.0)  # 5 min, the outage, 5 min
    assert office.servers.take(620.0, 10.0)[::2] == (705.0, 715.0)  # behind it, after the outage
    two = Office(s, "police", 14, desks=1, servers=2).servers
    assert two is not None
    two.take(595.0, 10.0)
    assert two.take(620.0, 10.0)[::2] == (700.0, 710.0)  # a free server still waits the outage out
    other = Office(s, "justice", 14, servers=1).servers  # not justice's outage
    assert other is not None and other.take(620.0, 10.0)[::2] == (620.0, 630.0)


def test_office_serves_a_step_desk_then_system() -> None:
    s = with_data(faults=[{"kind": "outage", "agency": "*", "start": 1000, "end": 1100}])
    office = Office(s, "vss", 14, desks=1, servers=1)
    # desk 16:30-17:00 and 10 min Tuesday from 07:30; the system after the desk
    t = office.serve(16.5 * H, 40.0, 5.0)
    assert (t.ready, t.start, t.desk_end) == (16.5 * H, 16.5 * H, DAY + 7.5 * H + 10)
    assert (t.sys_start, t.end) == (DAY + 7.5 * H + 10, DAY + 7.5 * H + 15)
    behind = office.serve(DAY + 7.5 * H + 12, None, 5.0)  # asked while the one server works on it
    assert (behind.start, behind.end) == (DAY + 7.5 * H + 15, DAY + 7.5 * H + 20)
    fresh = Office(s, "vss", 14, desks=1, servers=1)
    system_only = fresh.serve(990.0, None, 20.0)  # 10 min, the outage, 10 min
    assert (system_only.start, system_only.end) == (990.0, 1110.0) and math.isnan(system_only.desk_end)
    assert fresh.serve(16 * H, None, None).end == 16 * H
    health = Office(s, "health", 14)  # no desks
    assert health.desks is None
    with pytest.raises(ValueError, match="no desks"):
        health.serve(0.0, 10.0, None)


# -- the twin books through the same Pool and draws -----------------------------------------------


def _one_step(desk_time: dict[str, Any], desks: int) -> Scenario:
    data = copy.deepcopy(BASE)
    ks = {"agency": "justice", "task": "register_birth", "limit_wd": 0, "desk_time": desk_time}
    data["steps"] = {"ks": ks}
    birth = data["services"]["birth"]
    birth["variants"] = {"only": {"steps": ["ks"], "share": 1.0}}
    data["services"] = {"birth": birth}
    data["thresholds"] = [t for t in data["thresholds"] if not t["metric"].startswith("death.")]
    data["faults"] = []
    data["agencies"]["justice"]["desks"] = desks
    return validate(data)


@pytest.mark.parametrize(
    "desk_time", [{"kind": "constant", "mean": 45.0}, {"kind": "lognormal", "mean": 45.0, "cv": 0.8}]
)
def test_twin_steps_are_what_the_pool_books(desk_time: dict[str, Any]) -> None:
    s = _one_step(desk_time, desks=2)
    times = np.sort(np.random.default_rng(3).uniform(0.0, 4 * DAY, 120))
    arrivals = np.zeros(times.size, ARRIVAL_DTYPE)
    arrivals["dossier"] = np.arange(times.size)
    arrivals["submitted"] = times
    arrivals["status"] = 255
    r = simulate(s, days=14, stream=arrivals)
    steps = np.sort(r.steps, order="dossier")
    assert steps["done"].all() and steps.size == times.size
    # the same work: the twin's draws are Draws on service_rng("twin.desk.<step>")
    draw = Draws(s.steps["ks"].desk_time, service_rng(s.meta.seed, 0, "twin.desk.ks"))
    work = [draw() for _ in times]
    assert steps["desk_time"].tolist() == work
    office = Office(s, "justice", 14 + 150)
    assert office.desks is not None
    booked = [office.desks.take(t, w) for t, w in zip(times.tolist(), work, strict=True)]
    assert steps["start"].tolist() == [b[0] for b in booked]
    assert steps["end"].tolist() == steps["desk_end"].tolist() == [b[2] for b in booked]


def test_an_undone_draw_is_handed_out_again_even_across_a_block_boundary() -> None:
    s = scenarios.load("hanoi-baseline")
    dist = s.steps["ks"].desk_time
    plain = Draws(dist, service_rng(1, 0, "x"), block=3)
    expected = [plain() for _ in range(7)]
    draws = Draws(dist, service_rng(1, 0, "x"), block=3)
    got = []
    for _ in range(7):
        draws()          # booked, then undone (the write failed) …
        draws.unget()
        got.append(draws())  # … so the next booking gets the same draw
    assert got == expected


# -- staffed Saturdays: office hours, not working days ------------------------------------------

PILOT = scenarios.load("hanoi-2022")  # Saturday desks 07:30-11:30; minute 0 is Monday 2022-11-28
PILOT_DAYS = Workdays(calendar_for(PILOT), PILOT.calendar.start, 80)


def test_saturday_desks_serve_but_the_statutory_clock_skips_saturday() -> None:
    days = PILOT_DAYS
    friday_10, saturday_9 = np.array([FRI + 10 * H]), np.array([SAT + 9 * H])
    # desks work on Saturday morning: Friday 16:30, 60 min → 30 on Friday, 30 from Saturday 07:30
    assert Pool(1, days.avail).take(FRI + 16.5 * H, 60.0)[::2] == (FRI + 16.5 * H, SAT + 8 * H)
    assert days.working[[4, 5, 6, 7]].tolist() == [True, False, False, True]
    # Friday 10:00 with 3 WD: Monday, Tuesday, Wednesday 17:00 (not Tuesday)
    assert days.deadline(friday_10, 3.0).tolist() == [NEXT_MON + 2 * DAY + 17 * H]
    # received on Saturday: the clock starts on Monday, as for a dossier received on Sunday
    assert days.received_day(saturday_9)[0].tolist() == [7]
    assert days.clock_start(saturday_9).tolist() == [NEXT_MON + 7.5 * H]
    assert days.deadline(saturday_9, 3.0).tolist() == [NEXT_MON + 3 * DAY + 17 * H]
    # Saturday's office hours do not count as working time: done Monday 17:00 is 1 WD after Friday
    assert days.used_wd(friday_10, np.array([NEXT_MON + 17 * H])).tolist() == [1.0]
    assert days.used_wd(saturday_9, np.array([NEXT_MON + 17 * H])).tolist() == [0.0]
    # ... while the plain office time includes Saturday's 4 hours
    assert days.elapsed_wd(np.array([FRI + 17 * H]), np.array([NEXT_MON + 7.5 * H])).tolist() == [0.5]


@PROPS
@given(st.floats(0, 50 * DAY, allow_nan=False), st.integers(0, 8))
def test_pilot_minute_deadlines_match_the_calendar(t: float, n: int) -> None:
    from scenarios.demand import datetime_to_minute, minute_to_datetime

    cal = calendar_for(PILOT)
    expected = datetime_to_minute(PILOT, cal.deadline(minute_to_datetime(PILOT, t), n))
    assert PILOT_DAYS.deadline(np.array([t]), n)[0] == pytest.approx(expected, abs=1e-6)
    done = np.array([expected])
    assert PILOT_DAYS.used_wd(np.array([t]), done)[0] == pytest.approx(n, abs=1e-9)
