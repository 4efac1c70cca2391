"""Working-day calendar of a Vietnamese public office: statutory working days and office hours.

Two notions, kept apart:

- **Statutory working days (WD)** count time limits: Monday to Friday, minus public holidays
  (``holidays.VN``: New Year, Tết, Hùng Kings, 30/4, 1/5, National Day and their substitute days
  off; from 2026 Vietnamese Culture Day, 24/11, and the 2026 swap of 31/08 for Saturday 22/08,
  which :data:`CULTURE_DAY_SINCE` and :data:`SWAPS` encode with their sources), minus any
  extra closure (an extended Tết break), plus official make-up working days
  (``holidays.VN``'s weekend workdays and ``extra_working_days``, worked on weekday hours) —
  whatever desks are staffed. Deadlines, the 15:00 rule, WD counts and the demand's per-WD
  volumes use them. A dossier received at or after the 15:00 cut-off starts its clock on the next
  WD (Decree 63/2024, Art. 7(2)); one received on a day that is not a WD (a staffed Saturday)
  likewise on the next WD, since the processing clock runs only on WDs (DOMAIN.md §9).
- **Office hours** are when desks receive and serve: weekday hours on every WD, plus
  ``saturday_hours`` on Saturdays and ``sunday_hours`` on Sundays that are neither holidays nor
  closures. A staffed Saturday is office time for receiving and serving only: it never counts
  toward a time limit.

Everything is precomputed once per calendar as per-day tables over the supported years, so a
lookup is an index, not a loop: ``add_working_days`` reads a cumulative count of working days
and ``working_time_between`` a cumulative count of statutory working time, because the SimPy
twin and the journey reports call them millions of times.

Naive datetimes are local wall time of the calendar's zone (Asia/Ho_Chi_Minh); aware ones are
converted to it. Results keep the caller's style: naive in, naive out; aware in, aware (local) out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import numpy as np
import numpy.typing as npt

__all__ = ["CULTURE_DAY_SINCE", "SWAPS", "OfficeHours", "WorkingCalendar", "parse_hhmm"]

_US_PER_MINUTE = 60_000_000
# Kind of day: closed; a statutory working day (weekday hours); a staffed Saturday or Sunday that
# is not a working day (its own hours: office time, not working time).
_CLOSED, _WORKING, _SATURDAY, _SUNDAY, _HOLIDAY = 0, 1, 2, 3, 4
_OPEN_KINDS = (_WORKING, _SATURDAY, _SUNDAY, _HOLIDAY)

# Public holidays and make-up days beyond the 2019 Labour Code's 11 days (Art. 112; DOMAIN.md §9),
# decided with sources and applied whatever the installed ``holidays`` release says (it has them
# from 0.109; an older one lacks them), so the working days of a scenario do not depend on it:
# - 24/11 every year from 2026, Vietnamese Culture Day, a paid day off (Politburo Resolution
#   80-NQ/TW, 2026; laodong.vn "Thống nhất chọn ngày 24/11 là Ngày Văn hóa Việt Nam, nghỉ hưởng
#   lương"; the source the ``holidays`` package cites) [V]. On a weekend it gets no substitute day
#   here, as no rule for one was found [U].
# - 2026 National Day: Monday 31/08 off, made up on Saturday 22/08 (the 2026 public-sector
#   schedule, thuvienphapluat.vn "Lịch nghỉ lễ Quốc khánh 2/9 năm 2026"; ``holidays`` 0.109) [V].
CULTURE_DAY_SINCE = 2026
SWAPS: dict[date, date] = {date(2026, 8, 31): date(2026, 8, 22)}  # day off -> make-up working day

# Office hours as given by a caller: OfficeHours, or ("HH:MM", "HH:MM") pairs (strings or times).
HoursSpec: TypeAlias = "OfficeHours | Iterable[tuple[str | time, str | time]]"


def parse_hhmm(s: str) -> time:
    """The ``time`` of an ``"HH:MM"`` string (24-hour clock, 00:00–23:59).

    Raises ``ValueError`` naming the string when it is not of that form.
    """
    hh, sep, mm = s.partition(":") if isinstance(s, str) else ("", "", "")
    ok = sep and len(hh) == 2 and len(mm) == 2 and hh.isdigit() and mm.isdigit()
    if not ok or int(hh) > 23 or int(mm) > 59:
        raise ValueError(f"not an HH:MM time (00:00-23:59): {s!r}")
    return time(int(hh), int(mm))


def _as_time(t: str | time) -> time:
    return t if isinstance(t, time) else parse_hhmm(t)


def _as_closing(t: str | time) -> time:
    """A closing time: ``"24:00"`` is the end of the day (desks open until midnight, 24/7 with
    ``"00:00-24:00"``), the last instant ``time.max`` — a microsecond short of midnight."""
    return time.max if t == "24:00" else _as_time(t)


def _us(t: time) -> int:
    """Microseconds since midnight."""
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


@dataclass(frozen=True)
class OfficeHours:
    """One day's open intervals ``[open, close)``, increasing and not overlapping.

    ``OfficeHours(((time(7, 30), time(11, 30)), (time(13, 0), time(17, 0))))``; empty means closed.
    Raises ``ValueError`` naming the interval when an interval is empty or out of order.
    """

    intervals: tuple[tuple[time, time], ...] = ()

    def __post_init__(self) -> None:
        previous_close: time | None = None
        for opening, closing in self.intervals:
            if not opening < closing:
                raise ValueError(
                    f"office interval does not increase: {opening:%H:%M}-{closing:%H:%M}"
                )
            if previous_close is not None and opening < previous_close:
                raise ValueError(
                    f"office interval {opening:%H:%M}-{closing:%H:%M} starts before the previous "
                    f"one closes at {previous_close:%H:%M}"
                )
            previous_close = closing

    @classmethod
    def parse(cls, spec: HoursSpec) -> OfficeHours:
        """Office hours from ``(("07:30", "11:30"), ...)`` pairs (strings or times; a closing
        ``"24:00"`` is midnight at the end of the day)."""
        if isinstance(spec, OfficeHours):
            return spec
        return cls(tuple((_as_time(a), _as_closing(b)) for a, b in spec))

    @property
    def duration(self) -> timedelta:
        """Total open time of the day."""
        return timedelta(microseconds=sum(_us(b) - _us(a) for a, b in self.intervals))

    @property
    def close(self) -> time | None:
        """The last closing time, or None when closed all day."""
        return self.intervals[-1][1] if self.intervals else None

    def minutes(self) -> npt.NDArray[np.float64]:
        """The intervals as minutes since midnight, shape ``(k, 2)``."""
        pairs = [(_us(a) / _US_PER_MINUTE, _us(b) / _US_PER_MINUTE) for a, b in self.intervals]
        return np.array(pairs, dtype=np.float64).reshape(-1, 2)


class WorkingCalendar:
    """Statutory working days and office hours over the years ``min(years)``..``max(years)``.

    ``weekday_hours`` are the office hours of every working day; ``saturday_hours`` and
    ``sunday_hours`` (empty: closed) open desks on weekend days that are neither holidays nor
    closures, without making them working days; ``holiday_hours`` (empty: closed) open them on
    public holidays (never on ``extra_closures``), still not working days — with all four set to
    ``00:00-24:00`` desks work around the clock.

    Raises ``ValueError`` for bad hours or cut-off strings, an empty or unknown span of years, an
    unknown time zone, a closure that ends before it starts, a date outside the span, or an extra
    working day that falls on a holiday or a closure.
    """

    def __init__(
        self,
        *,
        weekday_hours: HoursSpec = (("07:30", "11:30"), ("13:00", "17:00")),
        saturday_hours: HoursSpec = (),
        sunday_hours: HoursSpec = (),
        holiday_hours: HoursSpec = (),
        cutoff: str | time = "15:00",
        years: Iterable[int] = range(2022, 2036),
        extra_closures: Iterable[tuple[date, date]] = (),
        extra_working_days: Iterable[date] = (),
        tz: str = "Asia/Ho_Chi_Minh",
    ) -> None:
        self.weekday_hours = OfficeHours.parse(weekday_hours)
        self.saturday_hours = OfficeHours.parse(saturday_hours)
        self.sunday_hours = OfficeHours.parse(sunday_hours)
        self.holiday_hours = OfficeHours.parse(holiday_hours)
        if not self.weekday_hours.intervals:
            raise ValueError("weekday_hours is empty: a calendar needs open hours on weekdays")
        self.cutoff = _as_time(cutoff)
        self.tz = _zone(tz)
        span = sorted(set(years))
        if not span:
            raise ValueError("years is empty")
        self.first_year, self.last_year = span[0], span[-1]
        self._first = date(self.first_year, 1, 1).toordinal()
        self._hours = (OfficeHours(), self.weekday_hours, self.saturday_hours, self.sunday_hours,
                       self.holiday_hours)
        kinds = self._day_kinds(list(extra_closures), list(extra_working_days))
        self._build_tables(kinds)

    # -- construction -----------------------------------------------------------------------

    def _day_kinds(self, closures: list[tuple[date, date]], extra: list[date]) -> list[int]:
        """Kind of every day of the span: closed, working day, staffed Saturday or Sunday."""
        vn = holidays.VN(years=range(self.first_year, self.last_year + 1))
        public = {d.toordinal() for d in vn}
        public |= {date(y, 11, 24).toordinal()
                   for y in range(max(self.first_year, CULTURE_DAY_SINCE), self.last_year + 1)}
        public |= {off.toordinal() for off in SWAPS if self._covers(off)}
        closed: set[int] = set()
        for start, end in closures:
            closed.update(self._closure_days(start, end))
        self._public = public - closed
        working = {d.toordinal() for d in (*vn.weekend_workdays, *SWAPS.values()) if self._covers(d)}
        closed |= public
        for d in extra:
            if self._index(d) + self._first in closed:
                raise ValueError(f"extra working day {d} falls on a holiday or closure")
            working.add(d.toordinal())
        n = date(self.last_year, 12, 31).toordinal() - self._first + 1
        return [self._kind(self._first + i, closed, working) for i in range(n)]

    def _closure_days(self, start: date, end: date) -> range:
        """Ordinals of an inclusive closure; ValueError when it ends before it starts."""
        if end < start:
            raise ValueError(f"extra closure ends before it starts: {start} to {end}")
        return range(self._index(start) + self._first, self._index(end) + self._first + 1)

    def _covers(self, d: date) -> bool:
        return self.first_year <= d.year <= self.last_year

    def _kind(self, ordinal: int, closed: set[int], working: set[int]) -> int:
        weekday = date.fromordinal(ordinal).weekday()
        if ordinal in closed:
            return _HOLIDAY if ordinal in self._public and self.holiday_hours.intervals else _CLOSED
        if ordinal in working or weekday < 5:
            return _WORKING
        if weekday == 5 and self.saturday_hours.intervals:
            return _SATURDAY
        return _SUNDAY if weekday == 6 and self.sunday_hours.intervals else _CLOSED

    def _build_tables(self, kinds: list[int]) -> None:
        # Python lists serve scalar lookups (faster than numpy scalars); arrays serve bulk ones.
        self._kinds = kinds
        self._kind_array = np.array(kinds, dtype=np.int8)
        self._working = [k == _WORKING for k in kinds]
        self._working_array = self._kind_array == _WORKING
        self._open_array = self._kind_array != _CLOSED
        self._wd = [i for i, w in enumerate(self._working) if w]  # day index of the nth WD
        self._wd_before = [0, *np.cumsum(self._working_array).tolist()]  # WDs before day i
        self._open_days = np.flatnonzero(self._open_array).tolist()  # day index of the nth open day
        self._open_before = [0, *np.cumsum(self._open_array).tolist()]  # open days before day i
        day_us = np.array([self._hours[k].duration // timedelta(microseconds=1) for k in kinds],
                          dtype=np.int64)
        self._us_before = [0, *np.cumsum(day_us).tolist()]  # office time before day i
        self._wd_us_before = [0, *np.cumsum(np.where(self._working_array, day_us, 0)).tolist()]
        self._intervals_us = [[(_us(a), _us(b)) for a, b in h.intervals] for h in self._hours]
        self._full_day = self.weekday_hours.duration

    # -- conversions ------------------------------------------------------------------------

    def _index(self, d: date) -> int:
        """Day index of ``d`` in the span; ValueError naming the year when outside it."""
        if not self._covers(d):
            raise ValueError(
                f"year {d.year} of {d.isoformat()} is outside the supported range "
                f"{self.first_year}-{self.last_year}"
            )
        return d.toordinal() - self._first

    def _date(self, index: int) -> date:
        return date.fromordinal(self._first + index)

    def _local(self, dt: datetime) -> datetime:
        """``dt`` as naive local wall time."""
        return dt if dt.tzinfo is None else dt.astimezone(self.tz).replace(tzinfo=None)

    def _like(self, local: datetime, original: datetime) -> datetime:
        """``local`` in the style of ``original``: naive, or aware in the calendar's zone."""
        return local if original.tzinfo is None else local.replace(tzinfo=self.tz)

    def _nth_working_index(self, n: int) -> int:
        """Day index of the ``n``-th working day of the span (0-based)."""
        if n >= len(self._wd):
            last = self._date(self._wd[-1]) if self._wd else None
            raise ValueError(
                f"working day beyond the supported range {self.first_year}-{self.last_year} "
                f"(last working day {last})"
            )
        return self._wd[n]

    # -- days -------------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Whether ``d`` is a statutory working day (a staffed Saturday is not).

        Raises ``ValueError`` outside the supported years.
        """
        return self._working[self._index(d)]

    def is_open_day(self, d: date) -> bool:
        """Whether desks open on ``d`` (a working day, or a staffed Saturday or Sunday).

        Raises ``ValueError`` outside the supported years.
        """
        return bool(self._open_array[self._index(d)])

    def hours(self, d: date) -> OfficeHours:
        """The office hours of ``d`` (Saturday hours on a staffed Saturday; empty when closed)."""
        return self._hours[self._kinds[self._index(d)]]

    def add_working_days(self, d: date, n: int) -> date:
        """The ``n``-th working day after ``d``; ``n=0`` is ``d`` if it works, else the next WD.

        Raises ``ValueError`` for a negative ``n`` or a result outside the supported years.
        """
        if n < 0:
            raise ValueError(f"negative working days: {n}")
        return self._date(self._nth_working_index(self._wd_before[self._index(d)] + n))

    def _next_working_index(self, index: int) -> int:
        """Index of the first working day strictly after day ``index``."""
        return self._nth_working_index(self._wd_before[index + 1])

    def working_day_index(self, start: date, days: int) -> npt.NDArray[np.bool_]:
        """Bool array over the ``days`` calendar days from ``start``: True on statutory working days.

        Raises ``ValueError`` for negative ``days`` or days outside the supported years.
        """
        first = self._check_window(start, days)
        return self._working_array[first : first + days].copy()

    def open_day_index(self, start: date, days: int) -> npt.NDArray[np.bool_]:
        """Bool array over the ``days`` calendar days from ``start``: True on days desks open.

        Raises ``ValueError`` for negative ``days`` or days outside the supported years.
        """
        first = self._check_window(start, days)
        return self._open_array[first : first + days].copy()

    def _check_window(self, start: date, days: int) -> int:
        if days < 0:
            raise ValueError(f"negative number of days: {days}")
        first = self._index(start)
        if days:
            self._index(self._date(first + days - 1))
        return first

    # -- instants ---------------------------------------------------------------------------

    def is_open(self, dt: datetime) -> bool:
        """Whether the office is open at ``dt`` (inside an ``[open, close)`` interval of its day)."""
        local = self._local(dt)
        now = _us(local.time())
        return any(a <= now < b for a, b in self._intervals_of(local.date()))

    def _intervals_of(self, d: date) -> list[tuple[int, int]]:
        return self._intervals_us[self._kinds[self._index(d)]]

    def next_open(self, dt: datetime) -> datetime:
        """``dt`` if the office is open then, else the next opening instant.

        Raises ``ValueError`` when that instant is outside the supported years.
        """
        local = self._local(dt)
        now = _us(local.time())
        for a, b in self._intervals_of(local.date()):
            if now < b:
                return dt if a <= now else self._like(_at(local.date(), a), dt)
        day = self._date(self._next_open_index(self._index(local.date())))
        return self._like(_at(day, self._intervals_of(day)[0][0]), dt)

    def _next_open_index(self, index: int) -> int:
        """Index of the first day desks open strictly after day ``index``."""
        n = self._open_before[index + 1]
        if n >= len(self._open_days):
            raise ValueError(
                f"office opening beyond the supported range {self.first_year}-{self.last_year}"
            )
        return int(self._open_days[n])

    def received_day(self, received_at: datetime) -> date:
        """The day the statutory clock starts for a dossier received at ``received_at``.

        The same day when it is a working day and the dossier arrives before the cut-off (or
        before that day's closing time, if earlier); else the next working day — also for a
        dossier received on a staffed Saturday or Sunday, which is office time but not a working
        day. Raises ``ValueError`` outside the supported years.
        """
        local = self._local(received_at)
        index = self._index(local.date())
        if self._working[index] and local.time() < self._cutoff_of(index):
            return local.date()
        return self._date(self._next_working_index(index))

    def _cutoff_of(self, index: int) -> time:
        close = self._hours[self._kinds[index]].close
        return self.cutoff if close is None else min(self.cutoff, close)

    def deadline(self, received_at: datetime, working_days: int) -> datetime:
        """Closing time of the ``working_days``-th WD after the received day (0: that day).

        Raises ``ValueError`` for negative ``working_days`` or a date outside the supported years.
        """
        if working_days < 0:
            raise ValueError(f"negative working days: {working_days}")
        day = self.add_working_days(self.received_day(received_at), working_days)
        close = self.hours(day).close
        assert close is not None  # a working day always has hours
        return self._like(datetime.combine(day, close), received_at)

    # -- office time ------------------------------------------------------------------------

    def _us_until(self, local: datetime, *, working: bool) -> int:
        """Office time (``working``: on working days only), in microseconds, from the start of the
        span to ``local``."""
        index = self._index(local.date())
        kind = self._kinds[index]
        if working and kind != _WORKING:
            return self._wd_us_before[index]
        now = _us(local.time())
        today = sum(max(0, min(b, now) - a) for a, b in self._intervals_us[kind])
        return (self._wd_us_before if working else self._us_before)[index] + today

    def _between(self, a: datetime, b: datetime, *, working: bool) -> timedelta:
        start, end = self._local(a), self._local(b)
        if end <= start:
            return timedelta(0)
        us = self._us_until(end, working=working) - self._us_until(start, working=working)
        return timedelta(microseconds=us)

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Statutory working time within ``[a, b)``: office hours of working days only (a staffed
        Saturday's hours do not count); zero when ``b <= a``.

        Raises ``ValueError`` when either end is outside the supported years.
        """
        return self._between(a, b, working=True)

    def office_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Office time within ``[a, b)``: every open hour, staffed Saturdays and Sundays included;
        zero when ``b <= a``.

        Raises ``ValueError`` when either end is outside the supported years.
        """
        return self._between(a, b, working=False)

    def working_days_between(self, a: datetime, b: datetime) -> float:
        """``working_time_between(a, b)`` in units of a full weekday's office hours."""
        return self.working_time_between(a, b) / self._full_day

    def open_intervals_minutes(self, start: datetime, days: int) -> npt.NDArray[np.float64]:
        """Office intervals ``[open, close)`` (when desks receive and serve, staffed Saturdays
        and Sundays included) as minutes since ``start``, shape ``(k, 2)``, sorted.

        Covers the ``days`` calendar days from ``start.date()`` (local); intervals are clipped
        to begin no earlier than ``start``. Raises ``ValueError`` for negative ``days`` or days
        outside the supported years.
        """
        return self._intervals_minutes(start, days, _OPEN_KINDS)

    def working_intervals_minutes(self, start: datetime, days: int) -> npt.NDArray[np.float64]:
        """As :meth:`open_intervals_minutes`, for the office hours of working days only: the
        statutory working time that time limits run on."""
        return self._intervals_minutes(start, days, (_WORKING,))

    def _intervals_minutes(
        self, start: datetime, days: int, wanted: tuple[int, ...]
    ) -> npt.NDArray[np.float64]:
        local = self._local(start)
        first = self._check_window(local.date(), days)
        kinds = self._kind_array[first : first + days]
        parts = [self._kind_intervals(kinds, kind) for kind in wanted]
        out = np.concatenate(parts)
        out = out[np.argsort(out[:, 0], kind="stable")]
        out -= _us(local.time()) / _US_PER_MINUTE
        out = out[out[:, 1] > 0]
        np.maximum(out, 0.0, out=out)
        return out

    def _kind_intervals(self, kinds: npt.NDArray[np.int8], kind: int) -> npt.NDArray[np.float64]:
        """Intervals of all days of one kind, in minutes since the window's first midnight."""
        day_offsets = np.flatnonzero(kinds == kind).astype(np.float64) * 1440.0
        per_day = self._hours[kind].minutes()
        return (day_offsets[:, None, None] + per_day[None, :, :]).reshape(-1, 2)


def _at(d: date, us: int) -> datetime:
    return datetime.combine(d, time()) + timedelta(microseconds=us)


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone: {tz!r}") from err
