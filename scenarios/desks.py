"""Desks in time: the one model of an agency's desks, calendar and service times.

Both engines drive this module: the SimPy twin in virtual minutes (``sim.twin``) and the
reference fakes on the compressed wall clock (``fakes``, "agencies in time"), so a step takes the
same time in both for the same draws.

- ``Availability``: open intervals ``[start, end)`` in scenario minutes with the cumulative open
  time before each, so "next opening", "finish ``w`` minutes of work from ``t``" and "open time
  up to ``t``" are one bisection each (scalar) or one ``searchsorted`` (vectorised, for records).
- ``Workdays``: the statutory arithmetic of a ``WorkingCalendar`` — received day with the
  cut-off, deadlines in working days — as table lookups.
- ``Pool``: ``units`` identical desks or servers, open on an ``Availability``, serving tasks
  first come first served; work pauses while closed and resumes at the next opening
  (preemptive-resume on the calendar). A task asked for at ``t`` (asks in time order) is booked
  at once: it starts when the earliest unit is free and open, so its start and end are known
  when it is asked for.
- ``Office``: an agency's desks (its working calendar: lunch, nights, weekends, holidays, Tết,
  closures) and servers (24/7 except its ``outage`` faults) from the scenario.
- ``Draws``: service times of one distribution, drawn in vectorised blocks.
"""

from __future__ import annotations

import heapq
import math
import zlib
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from scenarios.calendar import WorkingCalendar
from scenarios.demand import calendar_for
from scenarios.model import Dist, Scenario

__all__ = ["DAY", "INF", "Availability", "Draws", "Office", "Pool", "StepTimes", "Workdays",
           "outages", "service_rng"]

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


class Pool:
    """``units`` identical desks or servers open on ``avail``, first come first served.

    ``take(t, work)`` books a task asked for at ``t``: it starts when the earliest unit is free
    (and open), works ``work`` minutes of open time and ends; the unit is then free for the next
    task. Asks must come in time order (the twin's event loop, a server's arrivals), which makes
    the booking exactly a FIFO queue in front of ``units`` servers. ``free`` is the state: when
    each unit is next free (a heap; persist it to resume a pool).

    With ``track=True`` the pool also keeps what the twin reports over time: tasks waiting and
    in work at ``now`` and the time integrals of both (``at(now)``).

    Raises ValueError for fewer than one unit or a ``free`` of another length.
    """

    __slots__ = ("always", "avail", "done_work", "free", "pos_sum", "q_done", "q_enq_sum",
                 "running", "track", "units", "waiting")

    def __init__(self, units: int, avail: Availability, free: list[float] | None = None,
                 track: bool = False) -> None:
        if units < 1:
            raise ValueError(f"a pool needs at least one unit, got {units}")
        if free is not None and len(free) != units:
            raise ValueError(f"free has {len(free)} units, the pool {units}")
        self.units, self.avail, self.always = units, avail, avail.always
        self.free = [0.0] * units if free is None else sorted(float(f) for f in free)
        self.track = track
        self.waiting: list[tuple[float, float, float, float, float]] = []  # start, t, pos, end, work
        self.running: list[tuple[float, float, float]] = []  # end, pos, work
        self.done_work = self.pos_sum = self.q_done = self.q_enq_sum = 0.0

    def take(self, t: float, work: float) -> tuple[float, float, float]:
        """Book ``work`` minutes asked for at ``t``: ``(start, position, end)``, position being
        the open time before the start (``avail.office(start)``); ``inf`` when never served."""
        free = self.free[0]
        at = t if free <= t else free
        if self.always:
            start = pos = at
            end = at + work
        else:
            start, pos, end = self.avail.serve(at, work)
        heapq.heapreplace(self.free, end)
        if self.track:
            if start > t:
                self.q_enq_sum += t
                heapq.heappush(self.waiting, (start, t, pos, end, work))
            else:
                self.pos_sum += pos
                heapq.heappush(self.running, (end, pos, work))
        return start, pos, end

    def next_free(self) -> float:
        """When the earliest unit is free (its last booked task's end)."""
        return self.free[0]

    def at(self, now: float) -> tuple[int, float, int, float]:
        """``(waiting, waiting area, in work, busy area)`` at ``now`` (``track=True``; ``now``
        not decreasing between calls): tasks booked and not started, the integral of that count
        up to ``now``, tasks started and not ended, and the open time worked up to ``now``."""
        waiting, running = self.waiting, self.running
        while waiting and waiting[0][0] <= now:
            start, t, pos, end, work = heapq.heappop(waiting)
            self.q_done += start - t
            self.q_enq_sum -= t
            self.pos_sum += pos
            heapq.heappush(running, (end, pos, work))
        while running and running[0][0] <= now:
            _, pos, work = heapq.heappop(running)
            self.done_work += work
            self.pos_sum -= pos
        office = now if self.always else self.avail.office(now)
        return (len(waiting), self.q_done + len(waiting) * now - self.q_enq_sum, len(running),
                self.done_work + len(running) * office - self.pos_sum)


def outages(scenario: Scenario, agency: str) -> list[tuple[float, float]]:
    """The ``outage`` windows (minutes) of ``agency``'s systems, ``"*"`` included."""
    return [(f.start, f.end) for f in scenario.faults if f.kind == "outage" and f.agency in (agency, "*")]


@dataclass(frozen=True, slots=True)
class StepTimes:
    """When one step's work was asked for, started, left the desk, reached the system and
    ended (minutes; ``nan`` for a phase the step does not have)."""

    ready: float
    start: float
    desk_end: float
    sys_start: float
    end: float


class Office:
    """An agency's desks and servers: desks open on its working calendar, servers up except
    during its outages.

    ``days`` bounds the calendar tables (work that would end past them never ends). ``desks``
    and ``servers`` override the scenario's counts; ``free`` gives the pools' saved states
    (``{"desks": [...], "servers": [...]}``, see :attr:`Pool.free`).

    Raises ValueError (from the calendar) when ``days`` leave its supported years.
    """

    def __init__(self, scenario: Scenario, agency: str, days: int, *, desks: int | None = None,
                 servers: int | None = None, free: dict[str, list[float]] | None = None,
                 track: bool = False, workdays: Workdays | None = None) -> None:
        spec = scenario.agencies[agency]  # type: ignore[index]
        self.agency = agency
        self.workdays = workdays or Workdays(calendar_for(scenario, agency), scenario.calendar.start, days)
        saved = free or {}
        n_desks = spec.desks if desks is None else desks
        n_servers = spec.servers if servers is None else servers
        self.desks = Pool(n_desks, self.workdays.avail, saved.get("desks"), track) if n_desks else None
        down = outages(scenario, agency)
        self.servers = (Pool(n_servers, Availability.up_except(down), saved.get("servers"), track)
                        if n_servers else None)

    def state(self) -> dict[str, list[float]]:
        """The pools' state, to save and hand back as ``free``."""
        out: dict[str, list[float]] = {}
        if self.desks is not None:
            out["desks"] = list(self.desks.free)
        if self.servers is not None:
            out["servers"] = list(self.servers.free)
        return out

    def serve(self, ready: float, desk_work: float | None, system_work: float | None) -> StepTimes:
        """Book one step asked for at ``ready``: ``desk_work`` minutes at a desk (None: no desk
        phase), then ``system_work`` minutes on a server (None: none), the desk released
        before the system phase. Both phases are booked now, in the order steps are asked for.

        Raises ValueError when the step needs desks or servers the agency does not have.
        """
        start = desk_end = sys_start = nan = math.nan
        t = ready
        if desk_work is not None:
            if self.desks is None:
                raise ValueError(f"agency {self.agency!r} has no desks for a step with desk time")
            start, _, t = self.desks.take(t, desk_work)
            desk_end = t
        if system_work is not None:
            if self.servers is None:
                raise ValueError(f"agency {self.agency!r} has no servers for a step with system time")
            sys_start, _, t = self.servers.take(t, system_work)
            if start != start:
                start = sys_start
        return StepTimes(ready, start if start == start else ready, desk_end, sys_start,
                         t if t == t else nan)


def service_rng(seed: int, replication: int, purpose: str) -> np.random.Generator:
    """The generator of one kind of draw (``purpose``, e.g. ``"twin.desk.ks"``) in one
    replication: independent of every other purpose and replication."""
    key = (replication, zlib.crc32(purpose.encode()))
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


class Draws:
    """Draws of one distribution (``None``: always 0) handed out one by one from vectorised
    blocks, times ``scale``."""

    __slots__ = ("block", "buf", "dist", "i", "rng", "scale")

    def __init__(self, dist: Dist | None, rng: np.random.Generator, scale: float = 1.0,
                 block: int = 4096) -> None:
        self.dist, self.rng, self.scale, self.block = dist, rng, scale, block
        self.buf: list[float] = []
        self.i = 0

    def __call__(self) -> float:
        if self.dist is None:
            return 0.0
        if self.i >= len(self.buf):
            self.buf = (np.asarray(self.dist.sample(self.rng, self.block)) * self.scale).tolist()
            self.i = 0
        self.i += 1
        return self.buf[self.i - 1]
