"""The open-model driver: schedule, bounds, drops and exact statistics (no HTTP, no patching)."""

from __future__ import annotations

import time

import gevent
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtests._stats import summary
from loadtests.driver import OpenModelDriver, wall_offsets


def test_wall_offsets_compress_minutes_by_speed() -> None:
    assert wall_offsets([0.0, 60.0, 720.0], 720.0).tolist() == [0.0, 5.0, 60.0]


def test_wall_offsets_refuse_a_non_positive_speed() -> None:
    with pytest.raises(ValueError, match="speed must be positive, got 0"):
        wall_offsets([1.0], 0)


@given(st.lists(st.floats(0, 1e6), max_size=50), st.floats(1e-3, 1e5))
def test_wall_offsets_scale_linearly(minutes: list[float], speed: float) -> None:
    out = wall_offsets(sorted(minutes), speed)
    assert np.allclose(out * speed / 60.0, sorted(minutes))


def test_every_arrival_starts_at_its_time_whatever_the_action_takes() -> None:
    starts: list[tuple[int, float]] = []

    def slow(i: int, due: float) -> None:
        starts.append((i, time.time() - due))
        gevent.sleep(0.3)  # a slow response must not delay the next arrival

    t0 = time.time() + 0.05
    stats = OpenModelDriver(np.arange(20) * 0.01, slow, max_seconds=5).run(t0)
    assert [i for i, _ in starts] == list(range(20))
    assert max(lag for _, lag in starts) < 0.05
    assert (stats.scheduled, stats.started, stats.dropped, stats.not_sent, stats.unfinished) == (
        20,
        20,
        0,
        0,
        0,
    )
    assert stats.start_lag_s.size == 20


def test_max_count_bounds_the_stream() -> None:
    seen: list[int] = []
    stats = OpenModelDriver(np.zeros(10), lambda i, _: seen.append(i), max_seconds=2, max_count=4).run(
        time.time()
    )
    assert seen == [0, 1, 2, 3]
    assert stats.started == 4


def test_a_full_in_flight_cap_drops_arrivals_and_counts_them() -> None:
    def hold(i: int, due: float) -> None:
        gevent.sleep(0.2)

    stats = OpenModelDriver(np.zeros(5), hold, max_seconds=2, max_in_flight=2).run(time.time())
    assert (stats.started, stats.dropped) == (2, 3)


def test_the_time_bound_stops_sending_and_counts_what_was_not_sent() -> None:
    stats = OpenModelDriver(np.array([0.0, 0.05, 10.0, 20.0]), lambda i, d: None, max_seconds=0.3).run(
        time.time()
    )
    assert (stats.started, stats.not_sent) == (2, 2)


def test_the_drain_kills_actions_still_running_at_the_bound() -> None:
    stats = OpenModelDriver(np.zeros(3), lambda i, d: gevent.sleep(5), max_seconds=0.3).run(time.time())
    assert (stats.started, stats.unfinished) == (3, 3)
    assert stats.wall_end - stats.wall_start < 2


@pytest.mark.parametrize(
    ("due", "message"),
    [(np.array([1.0, 0.0]), "sorted"), (np.array([np.nan]), "finite"), (np.zeros((2, 2)), "1-D")],
)
def test_bad_schedules_are_refused(due: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OpenModelDriver(due, lambda i, d: None, max_seconds=1)


def test_summary_percentiles_are_exact_order_statistics() -> None:
    values = np.arange(1, 101, dtype=float)
    s = summary(values, "ms")
    # rank-interpolated order statistics: p90 of 1..100 lies between the 90th and 91st value
    assert (s["count"], s["mean"], s["max"], s["p50"]) == (100, 50.5, 100.0, 50.5)
    assert s["p90"] == pytest.approx(90.1, abs=1e-12)
    assert s["p95"] == pytest.approx(95.05, abs=1e-12)
    assert s["p99"] == pytest.approx(99.01, abs=1e-12)


def test_summary_of_nothing_is_none_not_zero() -> None:
    s = summary([np.nan], "wd")
    assert s["count"] == 0 and s["p95"] is None and s["max"] is None


def test_worker_mode_makes_arrivals_late_instead_of_dropping_them() -> None:
    starts: list[tuple[int, float]] = []

    def hold(i: int, due: float) -> None:
        starts.append((i, time.time() - due))
        gevent.sleep(0.2)

    stats = OpenModelDriver(np.zeros(5), hold, max_seconds=3, workers=2).run(time.time())
    assert [i for i, _ in starts] == [0, 1, 2, 3, 4]
    assert (stats.started, stats.dropped, stats.not_sent, stats.unfinished) == (5, 0, 0, 0)
    lags = [lag for _, lag in starts]
    assert max(lags[:2]) < 0.1 and min(lags[2:4]) >= 0.19 and lags[4] >= 0.39  # waited for a free worker
    assert stats.late == 3


def test_worker_mode_keeps_the_schedule_when_workers_are_free() -> None:
    seen: list[float] = []
    t0 = time.time() + 0.05
    stats = OpenModelDriver(
        np.arange(10) * 0.02, lambda i, due: seen.append(time.time() - due), max_seconds=3, workers=4
    ).run(t0)
    assert stats.started == 10 and max(seen) < 0.05 and stats.start_lag_s.size == 10
