"""``scenarios.desks.Timetable``: servers booked ahead of time, as the fakes book a step's system
phase when the step is accepted. Asked in time order it books exactly as the twin's ``Pool``;
asked out of order it never double-books a unit and fills idle time before later bookings."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenarios.desks import Availability, Pool, Timetable

OUTAGES = Availability.up_except([(30.0, 45.0), (200.0, 260.0)])
ALWAYS = Availability.always_open()

asks = st.lists(st.tuples(st.floats(0, 500, allow_nan=False), st.floats(0.1, 40, allow_nan=False)),
                min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(asks=asks, units=st.integers(1, 4), outages=st.booleans())
def test_asked_in_time_order_it_books_as_the_pool(asks: list[tuple[float, float]], units: int,
                                                   outages: bool) -> None:
    avail = OUTAGES if outages else ALWAYS
    pool, table = Pool(units, avail), Timetable(units, avail)
    for t, work in sorted(asks):
        assert table.book(t, work) == pytest.approx(pool.take(t, work))


@settings(max_examples=200, deadline=None)
@given(asks=asks, units=st.integers(1, 3), outages=st.booleans())
def test_asked_in_any_order_no_unit_is_double_booked_and_work_is_whole(
        asks: list[tuple[float, float]], units: int, outages: bool) -> None:
    avail = OUTAGES if outages else ALWAYS
    table = Timetable(units, avail)
    for t, work in asks:
        start, pos, end = table.book(t, work)
        assert start >= t
        assert avail.office(end) - avail.office(start) == pytest.approx(work)
        assert pos == pytest.approx(avail.office(start))
    for unit in table.busy:
        for (a0, a1), (b0, b1) in itertools.pairwise(unit):
            assert a0 <= a1 <= b0 <= b1


def test_work_due_earlier_is_not_queued_behind_work_booked_for_later() -> None:
    table = Timetable(1, ALWAYS)
    assert table.book(100.0, 10.0) == (100.0, 100.0, 110.0)  # a desk phase ends at 100
    assert table.book(0.0, 5.0) == (0.0, 0.0, 5.0)  # a system-only step asked now: not at 110
    assert table.book(96.0, 5.0) == (110.0, 110.0, 115.0)  # does not fit before 100: after
    assert table.book(90.0, 10.0) == (90.0, 90.0, 100.0)  # fits exactly before 100


def test_forget_drops_what_ended_and_keeps_what_is_booked() -> None:
    table = Timetable(2, ALWAYS)
    for t in (0.0, 10.0, 50.0, 60.0):
        table.book(t, 5.0)
    table.forget(20.0)
    assert sorted(b for unit in table.busy for b in unit) == [(50.0, 55.0), (60.0, 65.0)]
    again = Timetable(2, ALWAYS, busy=[list(u) for u in table.busy])
    assert again.book(52.0, 5.0) == table.book(52.0, 5.0)


def test_bad_state_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one unit"):
        Timetable(0, ALWAYS)
    with pytest.raises(ValueError, match="busy has 1 units"):
        Timetable(2, ALWAYS, busy=[[]])
