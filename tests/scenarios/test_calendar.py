"""Tests for scenarios/calendar.py: exact 2026 dates, the 15:00 cut-off, statutory working days
apart from office hours (staffed Saturdays), and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import holidays
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenarios.calendar import OfficeHours, WorkingCalendar, parse_hhmm

CAL = WorkingCalendar()
SAT_CAL = WorkingCalendar(saturday_hours=(("07:30", "11:30"),))
WEEKEND_CAL = WorkingCalendar(saturday_hours=(("07:30", "11:30"),), sunday_hours=(("08:00", "11:00"),))
VN = holidays.VN(years=range(2022, 2036))
ICT = timezone(timedelta(hours=7))

PROPS = settings(max_examples=150, deadline=None)
instants = st.datetimes(datetime(2022, 1, 1), datetime(2035, 6, 30)).map(
    lambda dt: dt.replace(second=0, microsecond=0)
)
days = st.dates(date(2022, 1, 1), date(2035, 6, 30))
calendars = st.sampled_from([CAL, SAT_CAL, WEEKEND_CAL])


# -- known days ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 2, 13), True),  # Friday before Tết
        *[(date(2026, 2, d), False) for d in range(16, 21)],  # Tết 2026, Mon–Fri
        (date(2026, 2, 23), True),  # first working day after Tết
        (date(2026, 4, 30), False),  # Reunification Day
        (date(2026, 5, 1), False),  # Labour Day
        (date(2026, 9, 2), False),  # National Day
        (date(2026, 3, 7), False),  # Saturday
        (date(2026, 3, 8), False),  # Sunday
        (date(2026, 8, 22), True),  # Saturday worked to compensate for 31/8 (holidays.VN)
    ],
)
def test_known_2026_days(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


_VN = holidays.VN


def _older_holidays_vn(years: Any) -> Any:
    """holidays.VN as a release before 0.109 has it: no 24/11, no 2026 National Day swap."""
    vn = _VN(years=years)
    for d in [d for d in vn if (d.month, d.day) == (11, 24) or d == date(2026, 8, 31)]:
        vn.pop(d)
    vn.weekend_workdays.discard(date(2026, 8, 22))
    assert date(2026, 8, 22) not in vn.weekend_workdays
    return vn


@pytest.mark.parametrize("vn", [_VN, _older_holidays_vn])
def test_2026_culture_day_and_national_day_swap_whatever_the_holidays_release(
    vn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DOMAIN.md §9: from 2026 Vietnamese Culture Day (24/11, Resolution 80-NQ/TW) is a paid
    day off, and in 2026 Monday 31/08 is off, made up on Saturday 22/08: 249 WD in 2026 (261
    weekdays − 12 holidays on weekdays), and 2025's 24/11 (a Monday) stays a working day."""
    monkeypatch.setattr(holidays, "VN", vn)
    cal = WorkingCalendar(years=range(2025, 2028))
    assert not cal.is_working_day(date(2026, 11, 24)) and not cal.is_working_day(date(2027, 11, 24))
    assert not cal.is_working_day(date(2026, 8, 31)) and cal.is_working_day(date(2026, 8, 22))
    assert cal.is_working_day(date(2025, 11, 24))
    year = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    assert sum(cal.is_working_day(d) for d in year) == 249


def test_saturday_hours_open_saturdays_but_not_holidays() -> None:
    # A staffed Saturday is office time, not a statutory working day.
    assert SAT_CAL.is_open_day(date(2026, 3, 7)) and not SAT_CAL.is_working_day(date(2026, 3, 7))
    assert not SAT_CAL.is_open_day(date(2026, 3, 8))
    assert not SAT_CAL.is_open_day(date(2025, 2, 1))  # Saturday, fourth day of Tết 2025
    assert SAT_CAL.is_open(datetime(2026, 3, 7, 11, 29))
    assert not SAT_CAL.is_open(datetime(2026, 3, 7, 11, 30))
    assert SAT_CAL.hours(date(2026, 3, 7)).close == time(11, 30)
    # An official make-up Saturday is a working day on weekday hours, staffed Saturdays or not.
    assert SAT_CAL.is_working_day(date(2026, 8, 22)) and SAT_CAL.hours(date(2026, 8, 22)).close == time(17, 0)


def test_sunday_hours_open_sundays_without_making_them_working_days() -> None:
    assert WEEKEND_CAL.is_open(datetime(2026, 3, 8, 8, 0))
    assert not WEEKEND_CAL.is_working_day(date(2026, 3, 8))
    assert WEEKEND_CAL.next_open(datetime(2026, 3, 7, 12, 0)) == datetime(2026, 3, 8, 8, 0)
    assert WEEKEND_CAL.received_day(datetime(2026, 3, 8, 9, 0)) == date(2026, 3, 9)
    assert WEEKEND_CAL.working_time_between(datetime(2026, 3, 7), datetime(2026, 3, 9)) == timedelta(0)
    assert WEEKEND_CAL.office_time_between(datetime(2026, 3, 7), datetime(2026, 3, 9)) == timedelta(hours=7)


def test_statutory_working_days_of_2022_match_a_hand_count() -> None:
    """2022 has 260 weekdays (it starts on a Saturday: 52 weeks and a Saturday). Holidays on
    weekdays: Mon 3/1 (for New Year's Day, a Saturday), Mon–Fri 31/1–4/2 (Tết), Mon 11/4 (for
    Hùng Kings' Day, a Sunday), Mon–Tue 2–3/5 (for 30/4 and 1/5, a weekend), Thu–Fri 1–2/9
    (National Day): 11 days, so 249 working days — with Saturday desks or without."""
    weekdays = sum((date(2022, 1, 1) + timedelta(days=i)).weekday() < 5 for i in range(365))
    off = [date(2022, 1, 3), *(date(2022, 1, 31) + timedelta(days=i) for i in range(5)), date(2022, 4, 11),
           date(2022, 5, 2), date(2022, 5, 3), date(2022, 9, 1), date(2022, 9, 2)]
    assert (weekdays, len(off)) == (260, 11)
    for cal in (CAL, SAT_CAL, WEEKEND_CAL):
        assert int(cal.working_day_index(date(2022, 1, 1), 365).sum()) == weekdays - len(off) == 249
        assert not any(cal.is_working_day(d) for d in off)
    # desks open on 51 more days: 2022's 53 Saturdays but 1/1 and 30/4 (the old rule counted them all)
    assert int(SAT_CAL.open_day_index(date(2022, 1, 1), 365).sum()) == 249 + 53 - 2


def test_extra_closure_and_extra_working_day() -> None:
    cal = WorkingCalendar(
        extra_closures=[(date(2026, 2, 23), date(2026, 2, 24))],
        extra_working_days=[date(2026, 2, 28)],
    )
    assert not cal.is_working_day(date(2026, 2, 24))
    assert cal.add_working_days(date(2026, 2, 14), 0) == date(2026, 2, 25)
    assert cal.is_working_day(date(2026, 2, 28))
    assert cal.deadline(datetime(2026, 2, 27, 16, 0), 0) == datetime(2026, 2, 28, 17, 0)


# -- cut-off and deadlines ----------------------------------------------------------------


def test_cutoff_1459_counts_today_1500_next_working_day() -> None:
    for cal in (CAL, SAT_CAL):
        assert cal.received_day(datetime(2026, 3, 6, 14, 59)) == date(2026, 3, 6)
        assert cal.received_day(datetime(2026, 3, 6, 15, 0)) == date(2026, 3, 9)  # not Saturday
        assert cal.received_day(datetime(2026, 3, 7, 10, 0)) == date(2026, 3, 9)  # Saturday


def test_deadline_friday_1600_three_working_days() -> None:
    assert CAL.deadline(datetime(2026, 3, 6, 16, 0), 3) == datetime(2026, 3, 12, 17, 0)
    # Before Tết: the clock starts on Monday 23/2, after the holiday week.
    assert CAL.deadline(datetime(2026, 2, 13, 16, 0), 3) == datetime(2026, 2, 26, 17, 0)
    # Saturday desks change nothing: the clock starts on Monday 9/3, not on Saturday 7/3.
    assert SAT_CAL.deadline(datetime(2026, 3, 6, 16, 0), 3) == datetime(2026, 3, 12, 17, 0)


def test_friday_1000_three_working_days_is_wednesday_with_saturday_desks() -> None:
    """Received Friday 10:00, 3 WD: Monday, Tuesday, Wednesday — the staffed Saturday in between
    is office hours, not a working day (the old rule made it Tuesday)."""
    friday = datetime(2026, 3, 6, 10, 0)
    for cal in (CAL, SAT_CAL, WEEKEND_CAL):
        assert cal.received_day(friday) == date(2026, 3, 6)
        assert cal.deadline(friday, 3) == datetime(2026, 3, 11, 17, 0)
        assert cal.add_working_days(date(2026, 3, 6), 1) == date(2026, 3, 9)


def test_a_dossier_received_on_a_staffed_saturday_counts_from_monday() -> None:
    saturday = datetime(2026, 3, 7, 9, 0)  # desks open, before the cut-off
    assert SAT_CAL.is_open(saturday)
    assert SAT_CAL.received_day(saturday) == date(2026, 3, 9)
    assert SAT_CAL.deadline(saturday, 0) == datetime(2026, 3, 9, 17, 0)
    assert SAT_CAL.deadline(saturday, 3) == datetime(2026, 3, 12, 17, 0)
    assert SAT_CAL.deadline(saturday, 3) == CAL.deadline(saturday, 3)


def test_deadline_same_day_and_holidays() -> None:
    assert CAL.deadline(datetime(2026, 3, 6, 9, 0), 0) == datetime(2026, 3, 6, 17, 0)
    assert CAL.deadline(datetime(2026, 4, 29, 10, 0), 1) == datetime(2026, 5, 4, 17, 0)


def test_saturday_receipt_after_closing_rolls_to_monday() -> None:
    assert SAT_CAL.received_day(datetime(2026, 3, 7, 12, 0)) == date(2026, 3, 9)
    assert SAT_CAL.deadline(datetime(2026, 3, 7, 12, 0), 0) == datetime(2026, 3, 9, 17, 0)


def test_a_make_up_saturday_is_a_working_day_with_the_cutoff() -> None:
    # 22/8/2026 is worked to compensate for 31/8 (holidays.VN): weekday hours, the 15:00 rule.
    assert SAT_CAL.received_day(datetime(2026, 8, 22, 14, 59)) == date(2026, 8, 22)
    assert SAT_CAL.received_day(datetime(2026, 8, 22, 15, 0)) == date(2026, 8, 24)
    assert SAT_CAL.deadline(datetime(2026, 8, 22, 10, 0), 0) == datetime(2026, 8, 22, 17, 0)


def test_aware_datetimes_are_converted_to_local() -> None:
    utc = datetime(2026, 3, 6, 7, 59, tzinfo=UTC)  # 14:59 in Hanoi
    assert CAL.received_day(utc) == date(2026, 3, 6)
    assert CAL.deadline(utc, 1) == datetime(2026, 3, 9, 17, 0, tzinfo=ICT)
    assert CAL.next_open(utc.replace(hour=10)) == datetime(2026, 3, 9, 7, 30, tzinfo=ICT)


def test_next_open() -> None:
    assert CAL.next_open(datetime(2026, 3, 6, 9, 0)) == datetime(2026, 3, 6, 9, 0)
    assert CAL.next_open(datetime(2026, 3, 6, 11, 30)) == datetime(2026, 3, 6, 13, 0)
    assert CAL.next_open(datetime(2026, 3, 6, 17, 0)) == datetime(2026, 3, 9, 7, 30)
    assert CAL.next_open(datetime(2026, 2, 14, 8, 0)) == datetime(2026, 2, 23, 7, 30)


# -- office time --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (datetime(2026, 3, 6, 11, 0), datetime(2026, 3, 6, 14, 0), timedelta(hours=1, minutes=30)),
        (datetime(2026, 3, 5, 16, 0), datetime(2026, 3, 6, 8, 30), timedelta(hours=2)),
        (datetime(2026, 3, 6, 16, 0), datetime(2026, 3, 9, 9, 30), timedelta(hours=3)),
        (datetime(2026, 3, 9), datetime(2026, 3, 16), timedelta(hours=40)),
        (datetime(2026, 2, 13, 17), datetime(2026, 2, 23, 7, 30), timedelta(0)),  # Tết
        (datetime(2026, 3, 9, 12), datetime(2026, 3, 9, 11), timedelta(0)),  # b < a
    ],
)
def test_working_time_between(a: datetime, b: datetime, expected: timedelta) -> None:
    assert CAL.working_time_between(a, b) == expected


def test_working_days_between_full_week() -> None:
    assert CAL.working_days_between(datetime(2026, 3, 9), datetime(2026, 3, 16)) == 5.0
    assert CAL.working_days_between(datetime(2026, 3, 9, 13), datetime(2026, 3, 9, 17)) == 0.5
    # Saturday desks add office time, not working time.
    assert SAT_CAL.working_days_between(datetime(2026, 3, 9), datetime(2026, 3, 16)) == 5.0
    assert SAT_CAL.office_time_between(datetime(2026, 3, 9), datetime(2026, 3, 16)) == timedelta(hours=44)


def test_saturday_desks_serve_between_friday_and_monday() -> None:
    friday = datetime(2026, 3, 6, 16, 0)
    assert SAT_CAL.next_open(datetime(2026, 3, 6, 17, 0)) == datetime(2026, 3, 7, 7, 30)
    assert SAT_CAL.working_time_between(friday, datetime(2026, 3, 9, 9, 30)) == timedelta(hours=3)
    assert SAT_CAL.office_time_between(friday, datetime(2026, 3, 9, 9, 30)) == timedelta(hours=7)
    office = SAT_CAL.open_intervals_minutes(datetime(2026, 3, 6, 12, 0), 4)
    working = SAT_CAL.working_intervals_minutes(datetime(2026, 3, 6, 12, 0), 4)
    saturday = [1440 - 270, 1440 - 30]  # 07:30-11:30 on Saturday, from Friday 12:00
    np.testing.assert_array_equal(office, [[60, 300], saturday, [3 * 1440 - 270, 3 * 1440 - 30],
                                           [3 * 1440 + 60, 3 * 1440 + 300]])
    np.testing.assert_array_equal(working, CAL.open_intervals_minutes(datetime(2026, 3, 6, 12, 0), 4))


def test_open_intervals_minutes_friday_noon() -> None:
    got = CAL.open_intervals_minutes(datetime(2026, 3, 6, 12, 0), 4)
    expected = [[60, 300], [3 * 1440 - 270, 3 * 1440 - 30], [3 * 1440 + 60, 3 * 1440 + 300]]
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, expected)


def test_working_day_index_around_tet() -> None:
    got = CAL.working_day_index(date(2026, 2, 13), 11)
    assert got.tolist() == [True, False, False] + [False] * 5 + [False, False, True]


# -- misuse -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["7:30", "24:00", "12:60", "noon", "", "12:3a"])
def test_parse_hhmm_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_hhmm(bad)


def test_parse_hhmm() -> None:
    assert parse_hhmm("07:30") == time(7, 30)


def test_misuse_names_the_bad_value() -> None:
    with pytest.raises(ValueError, match="negative working days: -1"):
        CAL.add_working_days(date(2026, 3, 6), -1)
    with pytest.raises(ValueError, match="negative working days: -2"):
        CAL.deadline(datetime(2026, 3, 6), -2)
    with pytest.raises(ValueError, match=r"year 2040 .* 2022-2035"):
        CAL.is_working_day(date(2040, 1, 1))
    with pytest.raises(ValueError, match="beyond the supported range"):
        CAL.add_working_days(date(2035, 12, 28), 10)
    with pytest.raises(ValueError, match="13:00-12:00"):
        OfficeHours.parse([("13:00", "12:00")])
    with pytest.raises(ValueError, match="11:00-12:00 starts before"):
        WorkingCalendar(weekday_hours=[("07:30", "11:30"), ("11:00", "12:00")])
    with pytest.raises(ValueError, match="2026-03-02 to 2026-03-01"):
        WorkingCalendar(extra_closures=[(date(2026, 3, 2), date(2026, 3, 1))])
    with pytest.raises(ValueError, match="2026-04-30"):
        WorkingCalendar(extra_working_days=[date(2026, 4, 30)])
    with pytest.raises(ValueError, match="Mars/Olympus"):
        WorkingCalendar(tz="Mars/Olympus")


# -- properties ---------------------------------------------------------------------------


@PROPS
@given(calendars, days)
def test_is_working_day_matches_holidays_vn(cal: WorkingCalendar, d: date) -> None:
    """Mon–Fri minus holidays plus make-up days, whatever desks are staffed."""
    expected = d not in VN and (d.weekday() < 5 or d in VN.weekend_workdays)
    assert cal.is_working_day(d) is expected
    assert cal.is_open_day(d) is (expected or (d not in VN and bool(cal.hours(d).intervals)))


@PROPS
@given(calendars, instants, instants, st.integers(0, 30), st.integers(0, 30))
def test_deadline_monotone(
    cal: WorkingCalendar, r1: datetime, r2: datetime, n1: int, n2: int
) -> None:
    (r1, r2), (n1, n2) = sorted((r1, r2)), sorted((n1, n2))
    assert cal.deadline(r1, n1) <= cal.deadline(r2, n1)
    assert cal.deadline(r1, n1) <= cal.deadline(r1, n2)


@PROPS
@given(calendars, instants, st.integers(0, 30))
def test_deadline_on_a_working_day_at_closing(cal: WorkingCalendar, received: datetime, n: int) -> None:
    due = cal.deadline(received, n)
    assert due.date() not in VN
    assert due.weekday() < 5 or due.date() in VN.weekend_workdays
    assert due.time() == time(17, 0)
    assert due > received


@PROPS
@given(calendars, days, st.integers(0, 40), st.integers(0, 40))
def test_add_working_days_is_additive(cal: WorkingCalendar, d: date, n: int, m: int) -> None:
    d = cal.add_working_days(d, 0)
    assert cal.add_working_days(cal.add_working_days(d, n), m) == cal.add_working_days(d, n + m)


@PROPS
@given(calendars, instants, instants, instants)
def test_working_time_additive(cal: WorkingCalendar, a: datetime, m: datetime, b: datetime) -> None:
    a, m, b = sorted((a, m, b))
    assert cal.working_time_between(a, b) == (
        cal.working_time_between(a, m) + cal.working_time_between(m, b)
    )
    assert cal.working_time_between(b, a) == timedelta(0)


@PROPS
@given(calendars, instants, st.integers(1, 10), st.data())
def test_open_intervals_agree_with_is_open(
    cal: WorkingCalendar, start: datetime, n_days: int, data: st.DataObject
) -> None:
    intervals = cal.open_intervals_minutes(start, n_days)
    assert (np.diff(intervals.ravel()) >= 0).all()  # sorted, disjoint
    minutes_left = n_days * 1440 - (start.hour * 60 + start.minute)
    for offset in data.draw(st.lists(st.integers(0, minutes_left - 1), min_size=1, max_size=20)):
        inside = bool(((intervals[:, 0] <= offset) & (offset < intervals[:, 1])).any())
        assert inside is cal.is_open(start + timedelta(minutes=offset))


@PROPS
@given(calendars, instants)
def test_next_open_is_open_and_no_earlier(cal: WorkingCalendar, dt: datetime) -> None:
    opening = cal.next_open(dt)
    assert opening >= dt and cal.is_open(opening)
    assert cal.working_time_between(dt, opening) == timedelta(0)


@PROPS
@given(instants)
def test_aware_and_naive_agree(dt: datetime) -> None:
    aware = dt.replace(tzinfo=ICT).astimezone(UTC)
    assert CAL.deadline(aware, 2).replace(tzinfo=None) == CAL.deadline(dt, 2)
    assert CAL.is_open(aware) is CAL.is_open(dt)


def test_desks_open_around_the_clock_with_24_00() -> None:
    from scenarios import loads
    from scenarios.demand import calendar_for

    s = loads('extends = "hanoi-baseline"\n[meta]\nname = "t"\n[calendar]\nweekday_hours = ["00:00-24:00"]\n')
    cal = calendar_for(s)
    monday = datetime(2026, 3, 9, tzinfo=timezone(timedelta(hours=7)))
    spans = cal.open_intervals_minutes(monday, 7)
    open_minutes = float(np.sum(spans[:, 1] - spans[:, 0]))
    assert abs(open_minutes - 5 * 1440) < 1e-3  # five whole weekdays, the weekend closed
    # 23:30 on a Monday is office time; the cut-off rule still applies to the received day
    assert cal.is_open(monday + timedelta(hours=23, minutes=30))


def test_sunday_and_holiday_hours_open_desks_without_making_working_days() -> None:
    """2 September 2026 (National Day, a Wednesday) and Sunday 6 September: open with their own
    hours, neither counts toward a time limit; an extra closure stays closed whatever the hours."""
    cal = WorkingCalendar(sunday_hours=[("08:00", "12:00")], holiday_hours=[("00:00", "24:00")],
                          extra_closures=[(date(2026, 9, 3), date(2026, 9, 3))])
    national_day, sunday, closure = date(2026, 9, 2), date(2026, 9, 6), date(2026, 9, 3)
    assert cal.is_open_day(national_day) and not cal.is_working_day(national_day)
    assert cal.is_open(datetime(2026, 9, 2, 3, 0)) and cal.is_open(datetime(2026, 9, 2, 23, 59))
    assert cal.is_open_day(sunday) and not cal.is_working_day(sunday)
    assert cal.is_open(datetime(2026, 9, 6, 9, 0)) and not cal.is_open(datetime(2026, 9, 6, 13, 0))
    assert not cal.is_open_day(closure) and not cal.is_open(datetime(2026, 9, 3, 12, 0))
    # Fri 28/08 + 1 WD: 31/08 swapped day off, 1–2/09 National Day (open), 3/09 closed → Fri 4/09
    assert cal.add_working_days(date(2026, 8, 28), 1) == date(2026, 9, 4)


def test_around_the_clock_every_day_is_open_all_day() -> None:
    from scenarios import loads
    from scenarios.demand import calendar_for

    s = loads('extends = "hanoi-baseline"\n[calendar]\naround_the_clock = true\n')
    cal = calendar_for(s)
    for d in (date(2026, 3, 14), date(2026, 3, 15), date(2026, 4, 30)):  # Sat, Sun, Reunification Day
        assert cal.is_open(datetime(d.year, d.month, d.day, 0, 0))
        assert cal.is_open(datetime(d.year, d.month, d.day, 23, 59))
    assert not cal.is_working_day(date(2026, 4, 30))
