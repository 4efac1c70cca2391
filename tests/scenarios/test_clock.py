"""Tests for scenarios/clock.py: the compressed clock, its date-times and its ``clock.json``."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scenarios
from scenarios.clock import CLOCK_FILE, CalendarClock, ScenarioClock, read, write

BASE = scenarios.load("hanoi-baseline")  # calendar start Monday 2026-03-09
ICT = timezone(timedelta(hours=7))


def test_a_minute_per_wall_second_at_speed_60() -> None:
    clock = ScenarioClock(t0=1000.0, speed=60.0)
    assert clock.minute(1000.0) == 0.0 and clock.minute(1090.0) == 90.0
    assert clock.wall(90.0) == 1090.0 and clock.wall_seconds(90.0) == 90.0


def test_minutes_and_walls_convert_arrays() -> None:
    clock = ScenarioClock(t0=10.0, speed=720.0)
    assert clock.minute(np.array([10.0, 15.0, 70.0])).tolist() == [0.0, 60.0, 720.0]
    assert clock.wall(np.array([0.0, 60.0])).tolist() == [10.0, 15.0]


def test_minute_defaults_to_now() -> None:
    clock = ScenarioClock(t0=time.time() - 60.0, speed=1.0)
    assert 1.0 <= clock.minute() < 1.1


@pytest.mark.parametrize("speed", [0, -1.0, float("nan")])
def test_a_speed_that_is_not_positive_is_refused(speed: float) -> None:
    with pytest.raises(ValueError, match=f"speed must be positive, got {speed!r}"):
        ScenarioClock(t0=0.0, speed=speed)


@given(st.floats(1e9, 2e9), st.floats(1.0, 1e4), st.floats(0.0, 1e6))
def test_wall_inverts_minute(t0: float, speed: float, minute: float) -> None:
    clock = ScenarioClock(t0, speed)  # epoch seconds: the wall keeps ~1e-7 s, a minute ~1e-4
    assert clock.minute(clock.wall(minute)) == pytest.approx(minute, rel=1e-9, abs=1e-3)


def test_minute_0_is_the_calendar_start_at_midnight_in_hanoi() -> None:
    clock = CalendarClock.of(BASE, time.time(), 1.0)
    assert clock.origin == datetime(2026, 3, 9, tzinfo=ICT)
    assert clock.origin.isoformat() == "2026-03-09T00:00:00+07:00"
    assert clock.today() == date(2026, 3, 9)


def test_now_runs_speed_times_faster_than_the_wall() -> None:
    clock = CalendarClock.of(BASE, time.time() - 60.0, 1440.0)  # a wall minute is a day
    assert clock.today() == date(2026, 3, 10)
    assert clock.now() - clock.origin >= timedelta(days=1)


def test_clock_json_holds_t0_and_speed(tmp_path: Path) -> None:
    path = write(tmp_path / "run", ScenarioClock(12.5, 60.0))
    assert path == tmp_path / "run" / CLOCK_FILE
    assert json.loads(path.read_text()) == {"t0": 12.5, "speed": 60.0}
    assert read(tmp_path / "run") == ScenarioClock(12.5, 60.0)


def test_no_clock_json_reads_none(tmp_path: Path) -> None:
    assert read(tmp_path) is None


def test_a_broken_clock_json_is_named(tmp_path: Path) -> None:
    (tmp_path / CLOCK_FILE).write_text(json.dumps({"t0": 1.0}))
    with pytest.raises(ValueError, match=r"clock\.json: not a clock"):
        read(tmp_path)


def test_a_run_folder_starts_a_clock_once_and_a_restart_continues_it(tmp_path: Path) -> None:
    before = time.time()
    first = CalendarClock.for_run(BASE, tmp_path / "run", speed=120.0)
    assert before <= first.t0 <= time.time() and first.speed == 120.0
    again = CalendarClock.for_run(BASE, tmp_path / "run", speed=5.0)  # the saved speed wins
    assert (again.t0, again.speed, again.origin) == (first.t0, 120.0, first.origin)


def test_a_run_folder_clock_defaults_to_the_scenario_speed(tmp_path: Path) -> None:
    assert CalendarClock.for_run(BASE, tmp_path).speed == BASE.load.speed
