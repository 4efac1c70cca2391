"""Calendars as minute arrays: fast open-time arithmetic for the twin's hot loop and its records.

``Availability`` is a sorted list of open intervals ``[start, end)`` in scenario minutes with the
cumulative open time before each, so "next opening", "finish ``w`` minutes of work from ``t``"
and "open time up to ``t``" are one bisection each (scalar, for the event loop) or one
``searchsorted`` (vectorised, for records). ``Workdays`` adds the statutory arithmetic of a
``WorkingCalendar`` — received day with the cut-off, deadlines in working days — as table lookups
checked against the calendar's own ``deadline`` in the tests.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from scenarios.calendar import WorkingCalendar

__all__ = ["Availability", "Workdays"]

DAY = 1440.0
INF = math.inf
Floats = npt.NDArray[np.float64]


class Availability:
    """Open intervals ``[start, end)`` in minutes (sorted, disjoint); closed elsewhere.

    Raises ValueError when the intervals are not an ``(k, 2)`` array of increasing, disjoint pairs.
    """

    def __init__(self, intervals: npt.ArrayLike) -> None:
        iv = np.asarray(intervals, dtype=float).reshape(-1, 2)
        iv = iv[iv[:, 1] > iv[:, 0]]
        if iv.size and (np.any(iv[1:, 0] < iv[:-1, 1])):
            raise ValueError("open intervals overlap or are not sorted")
        self.starts_a, self.ends_a = iv[:, 0].copy(), iv[:, 1].copy()
        lengths = self.ends_a - self.starts_a
        self.cum_a = np.concatenate([[0.0], np.cumsum(lengths)[:-1]]) if iv.size else np.zeros(0)
        self.cum_end_a = self.cum_a + lengths
        self._starts, self._ends = self.starts_a.tolist(), self.ends_a.tolist()
        self._cum, self._cum_end = self.cum_a.tolist(), self.cum_end_a.tolist()
        self.always = iv.shape[0] == 1 and iv[0, 0] <= 0.0 and iv[0, 1] == INF

    @classmethod
    def always_open(cls) -> Availability:
        return cls([[0.0, INF]])

    @classmethod
    def up_except(cls, outages: list[tuple[float, float]]) -> Availability:
        """Open from minute 0 on, except during ``outages`` (may overlap, any order)."""
        edges: list[tuple[float, float]] = []
        for s, e in sorted(outages):
            if edges and s <= edges[-1][1]:
                edges[-1] = (edges[-1][0], max(edges[-1][1], e))
            else:
                edges.append((s, e))
        out, t = [], 0.0
        for s, e in edges:
            if s > t:
                out.append((t, s))
            t = max(t, e)
        out.append((t, INF))
        return cls(out)

    # -- scalar (event loop) ---------------------------------------------------------------

    def next_open(self, t: float) -> float:
        """``t`` when open, else the next opening (``inf`` if none)."""
        i = bisect_right(self._ends, t)
        if i == len(self._ends):
            return INF
        s = self._starts[i]
        return t if t >= s else s

    def advance(self, t: float, work: float) -> float:
        """When ``work`` minutes of open time, started at ``t``, are done (``inf`` if never)."""
        i = bisect_right(self._ends, t)
        if i == len(self._ends):
            return INF
        s = self._starts[i]
        target = self._cum[i] + (t - s if t > s else 0.0) + work
        j = bisect_left(self._cum_end, target, i)
        if j == len(self._ends):
            return INF
        return self._starts[j] + (target - self._cum[j])

    def serve(self, t: float, work: float) -> tuple[float, float, float]:
        """``(start, position, end)`` of ``work`` begun at ``t``: the opening it starts at, the
        open time before that start (``office(start)``), and when it is done (``inf``: never)."""
        i = bisect_right(self._ends, t)
        if i == len(self._ends):
            return INF, INF, INF
        s = self._starts[i]
        start = t if t > s else s
        pos = self._cum[i] + (start - s)
        target = pos + work
        j = bisect_left(self._cum_end, target, i)
        if j == len(self._ends):
            return start, pos, INF
        return start, pos, self._starts[j] + (target - self._cum[j])

    def office(self, t: float) -> float:
        """Open time in ``[0, t)``."""
        i = bisect_right(self._starts, t) - 1
        if i < 0:
            return 0.0
        return self._cum[i] + min(t, self._ends[i]) - self._starts[i]

    # -- vectorised (records) --------------------------------------------------------------

    def office_v(self, t: Floats) -> Floats:
        """``office`` of every element (``nan`` stays ``nan``)."""
        if not self.starts_a.size:
            return np.zeros_like(t)
        i = np.searchsorted(self.starts_a, t, side="right") - 1
        ok = i >= 0
        j = np.maximum(i, 0)
        with np.errstate(invalid="ignore"):
            val = self.cum_a[j] + np.minimum(t, self.ends_a[j]) - self.starts_a[j]
        return np.where(ok, val, np.where(np.isnan(t), np.nan, 0.0))

    def next_open_v(self, t: Floats) -> Floats:
        i = np.searchsorted(self.ends_a, t, side="right")
        inside = i < self.ends_a.size
        j = np.minimum(i, max(self.ends_a.size - 1, 0))
        return np.where(inside, np.maximum(t, self.starts_a[j]), INF)

    def advance_v(self, t: npt.NDArray[Any], work: npt.NDArray[Any]) -> Floats:
        i = np.searchsorted(self.ends_a, t, side="right")
        n = self.ends_a.size
        ii = np.minimum(i, n - 1)
        target = self.cum_a[ii] + np.maximum(t - self.starts_a[ii], 0.0) + work
        j = np.searchsorted(self.cum_end_a, target, side="left")
        jj = np.minimum(j, n - 1)
        return np.where((i < n) & (j < n), self.starts_a[jj] + target - self.cum_a[jj], INF)


class Workdays:
    """Statutory arithmetic of one ``WorkingCalendar`` over ``days`` days from ``start`` (minute 0).

    Raises ValueError (from the calendar) for days outside its supported years.
    """

    def __init__(self, calendar: WorkingCalendar, start: date, days: int) -> None:
        self.days = days
        begin = datetime.combine(start, datetime.min.time())
        intervals = calendar.open_intervals_minutes(begin, days)
        self.avail = Availability(intervals)
        self.working = calendar.working_day_index(start, days)
        day_of = np.floor(intervals[:, 0] / DAY).astype(np.int64)
        close = np.full(days, -1.0)
        np.maximum.at(close, day_of, intervals[:, 1] - day_of * DAY)
        self.close = np.where(close >= 0, close, np.nan)
        cutoff = calendar.cutoff.hour * 60 + calendar.cutoff.minute
        self.cutoff = np.minimum(self.close, float(cutoff))
        self.wd_days = np.flatnonzero(self.working)
        counts = np.cumsum(self.working, dtype=np.int64)
        self.rank_before: npt.NDArray[np.int64] = counts - self.working  # WDs before day d
        self.rank_through: npt.NDArray[np.int64] = counts  # WDs up to and including day d
        self.full_day = calendar.weekday_hours.duration / timedelta(minutes=1)

    def _wd(self, rank: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        ok = rank < self.wd_days.size
        return self.wd_days[np.minimum(rank, self.wd_days.size - 1)], ok

    def received_day(self, t: Floats) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Day index on which the clock starts for a dossier received at ``t``, and validity."""
        d = np.clip(np.floor(np.nan_to_num(t, nan=0.0, posinf=0.0) / DAY), 0, self.days - 1).astype(np.int64)
        tod = t - d * DAY
        with np.errstate(invalid="ignore"):
            same = self.working[d] & (tod < self.cutoff[d])
        nxt, ok = self._wd(self.rank_through[d])
        ok &= np.isfinite(t) & (t < self.days * DAY)
        return np.where(same, d, nxt), ok | (same & np.isfinite(t))

    def deadline(self, t: Floats, wd: Floats | float) -> Floats:
        """Closing minute of the ``wd``-th WD after the received day (fractions: office time on).

        ``nan`` for a ``nan`` time, ``inf`` beyond the table.
        """
        wd_a = np.broadcast_to(np.asarray(wd, dtype=float), np.shape(t))
        rd, ok = self.received_day(t)
        whole = np.floor(wd_a).astype(np.int64)
        day, ok2 = self._wd(self.rank_before[rd] + whole)
        out = day * DAY + self.close[day]
        frac = wd_a - whole
        if np.any(frac > 0):
            out = np.where(frac > 0, self.avail.advance_v(out, frac * self.full_day), out)
        out = np.where(ok & ok2, out, INF)
        return np.where(np.isnan(t), np.nan, out)

    def clock_start(self, t: Floats) -> Floats:
        """When the statutory clock starts: the next opening on or after the received day."""
        rd, ok = self.received_day(t)
        out = self.avail.next_open_v(np.maximum(t, rd * DAY))
        return np.where(np.isnan(t), np.nan, np.where(ok, out, INF))

    def used_wd(self, received: Floats, done: Floats) -> Floats:
        """Working days used, in the convention of statutory limits: 0 = done on the received day
        (the 15:00 rule applied), ``n + f`` = done a fraction ``f`` into the ``n``-th WD after it, so
        ``used_wd <= n`` exactly when ``done`` is no later than ``deadline(received, n)`` (except
        for work finished while the office is closed after that day's closing time)."""
        rd, _ = self.received_day(received)
        base = self.avail.office_v(rd.astype(np.float64) * DAY)
        with np.errstate(invalid="ignore"):
            return np.maximum((self.avail.office_v(done) - base) / self.full_day - 1.0, 0.0)

    def elapsed_wd(self, a: Floats, b: Floats) -> Floats:
        """Office time in ``[a, b)`` in working days (full weekday hours)."""
        return (self.avail.office_v(b) - self.avail.office_v(a)) / self.full_day
