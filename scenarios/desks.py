"""Desks in time: the one model of an agency's desks, calendar and service times.

Both engines drive this module: the SimPy twin in virtual minutes (``sim.twin``) and the
reference fakes on the compressed wall clock (``fakes``, "agencies in time"), so a step takes the
same time in both for the same draws.

- ``Availability``: open intervals ``[start, end)`` in scenario minutes with the cumulative open
  time before each, so "next opening", "finish ``w`` minutes of work from ``t``" and "open time
  up to ``t``" are one bisection each (scalar) or one ``searchsorted`` (vectorised, for records).
- ``Workdays``: the statutory arithmetic of a ``WorkingCalendar`` — received day with the
  cut-off, deadlines in working days — as table lookups, on statutory working time (office
  hours of working days), next to the desks' office hours (staffed Saturdays included).
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

import math
import zlib
from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from heapq import heappop, heappush, heapreplace
from typing import Any

import numpy as np
import numpy.typing as npt

from scenarios.calendar import WorkingCalendar
from scenarios.demand import calendar_for
from scenarios.model import Dist, Scenario

__all__ = ["DAY", "INF", "Availability", "Draws", "Office", "Pool", "StepTimes", "Timetable", "Workdays",
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

    ``avail`` is the office hours (desks receive and serve then, staffed Saturdays included);
    ``statutory`` the working time that limits run on (office hours of working days only): the
    received day, deadlines, ``clock_start`` and ``used_wd`` never count a staffed Saturday.

    Raises ValueError (from the calendar) for days outside its supported years.
    """

    def __init__(self, calendar: WorkingCalendar, start: date, days: int) -> None:
        self.days = days
        begin = datetime.combine(start, datetime.min.time())
        self.avail = Availability(calendar.open_intervals_minutes(begin, days))
        intervals = calendar.working_intervals_minutes(begin, days)
        self.statutory = Availability(intervals)
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
            out = np.where(frac > 0, self.statutory.advance_v(out, frac * self.full_day), out)
        out = np.where(ok & ok2, out, INF)
        return np.where(np.isnan(t), np.nan, out)

    def clock_start(self, t: Floats) -> Floats:
        """When the statutory clock starts: the next working-day opening on or after the received
        day."""
        rd, ok = self.received_day(t)
        out = self.statutory.next_open_v(np.maximum(t, rd * DAY))
        return np.where(np.isnan(t), np.nan, np.where(ok, out, INF))

    def used_wd(self, received: Floats, done: Floats) -> Floats:
        """Working days used, in the convention of statutory limits: 0 = done on the received day
        (the 15:00 rule applied), ``n + f`` = done a fraction ``f`` into the ``n``-th WD after it, so
        ``used_wd <= n`` exactly when ``done`` is no later than ``deadline(received, n)`` (except
        for work finished while the office is closed after that day's closing time)."""
        rd, _ = self.received_day(received)
        base = self.statutory.office_v(rd.astype(np.float64) * DAY)
        with np.errstate(invalid="ignore"):
            return np.maximum((self.statutory.office_v(done) - base) / self.full_day - 1.0, 0.0)

    def elapsed_wd(self, a: Floats, b: Floats) -> Floats:
        """Plain office time in ``[a, b)`` (staffed Saturdays included) in units of a full
        weekday's hours; the statutory count is :meth:`used_wd`."""
        return (self.avail.office_v(b) - self.avail.office_v(a)) / self.full_day


class Pool:
    """``units`` identical desks or servers open on ``avail``, first come first served.

    ``take(t, work)`` books a task asked for at ``t``: it starts when the earliest unit is free
    (and open), works ``work`` minutes of open time and ends; the unit is then free for the next
    task. Asks must come in time order (the twin's event loop, a server's arrivals), which makes
    the booking exactly a FIFO queue in front of ``units`` servers. ``free`` is the state: when
    each unit is next free (a heap; persist it to resume a pool).

    With ``track=True`` the pool also keeps what the twin reports over time: tasks waiting and
    in work at ``now`` and the time integrals of both (``at(now)``). A task waits until a unit is
    free for it; from then until its end it holds the unit (in work), even while that unit waits
    for the calendar to open — so tasks wait only when every unit is taken, as in the twin's
    timeline; its busy area counts open time worked only.

    Raises ValueError for fewer than one unit or a ``free`` of another length.
    """

    __slots__ = ("always", "avail", "done_work", "free", "held", "pos_sum", "q_done", "q_enq_sum",
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
        # Tracking, read lazily by ``at``. A task is ``(end, pos, work)``: in ``waiting`` until it
        # has a unit, preceded by when its unit is free and ``t`` (in booking order, which is the
        # order units free up for them as asks come in time order), else in ``held`` until the
        # next ``at``, which keeps in ``running`` (a heap by end) only those not ended by then —
        # most end within a reading or two and are counted without any heap.
        self.waiting: deque[tuple[float, float, float, float, float]] = deque()
        self.held: list[tuple[float, float, float]] = []
        self.running: list[tuple[float, float, float]] = []
        self.done_work = self.pos_sum = self.q_done = self.q_enq_sum = 0.0

    def take(self, t: float, work: float) -> tuple[float, float, float]:
        """Book ``work`` minutes asked for at ``t``: ``(start, position, end)``, position being
        the open time before the start (``avail.office(start)``); ``inf`` when never served."""
        free = self.free
        at = t if free[0] <= t else free[0]
        if self.always:
            start = pos = at
            end = at + work
        else:
            start, pos, end = self.avail.serve(at, work)
        heapreplace(free, end)
        if self.track:
            if at > t:
                self.q_enq_sum += t
                self.waiting.append((at, t, end, pos, work))
            else:
                self.held.append((end, pos, work))
        return start, pos, end

    def next_free(self) -> float:
        """When the earliest unit is free (its last booked task's end)."""
        return self.free[0]

    def at(self, now: float) -> tuple[int, float, int, float]:
        """``(waiting, waiting area, in work, busy area)`` at ``now`` (``track=True``; ``now``
        not decreasing between calls): tasks booked with no unit free for them yet, the integral
        of that count up to ``now``, tasks holding a unit and not ended (started, or waiting for
        the calendar to open), and the open time worked up to ``now``."""
        waiting, held, running = self.waiting, self.held, self.running
        done_work, pos_sum = self.done_work, self.pos_sum
        if waiting and waiting[0][0] <= now:
            q_done, q_enq_sum = self.q_done, self.q_enq_sum
            while waiting and waiting[0][0] <= now:
                at, t, end, pos, work = waiting.popleft()
                q_done += at - t
                q_enq_sum -= t
                if end <= now:
                    done_work += work
                else:
                    pos_sum += pos
                    heappush(running, (end, pos, work))
            self.q_done, self.q_enq_sum = q_done, q_enq_sum if waiting else 0.0  # no rounding residue
        if held:
            for task in held:
                if task[0] <= now:
                    done_work += task[2]
                else:
                    pos_sum += task[1]
                    heappush(running, task)
            held.clear()
        while running and running[0][0] <= now:
            _, pos, work = heappop(running)
            done_work += work
            pos_sum -= pos
        self.done_work, self.pos_sum = done_work, pos_sum
        office = now if self.always else self.avail.office(now)
        return (len(waiting), self.q_done + len(waiting) * now - self.q_enq_sum, len(running),
                done_work + len(running) * office - pos_sum)


class Timetable:
    """``units`` identical servers open on ``avail``, booked ahead of time in any order.

    The fakes book a step's system phase when the step is accepted, for when its desk phase will
    end: asks do not come in time order. ``book(t, work)`` gives the work the earliest start at
    or after ``t`` on any unit where it fits between the work already booked there (worked only
    while open), so work asked for later but due earlier is not queued behind it. For asks in
    time order this books exactly as :class:`Pool` (first come, first served; tested).
    ``busy`` is the state: each unit's booked ``(start, end)`` intervals, sorted.
    ``forget(before)`` drops intervals that ended before a minute no ask will come before.

    Raises ValueError for fewer than one unit or a ``busy`` of another length.
    """

    __slots__ = ("always", "avail", "busy", "units")

    def __init__(self, units: int, avail: Availability,
                 busy: list[list[tuple[float, float]]] | None = None) -> None:
        if units < 1:
            raise ValueError(f"a timetable needs at least one unit, got {units}")
        if busy is not None and len(busy) != units:
            raise ValueError(f"busy has {len(busy)} units, the timetable {units}")
        self.units, self.avail, self.always = units, avail, avail.always
        self.busy: list[list[tuple[float, float]]] = (
            [[] for _ in range(units)] if busy is None
            else [sorted((float(a), float(b)) for a, b in unit) for unit in busy])

    def _fit(self, unit: list[tuple[float, float]], t: float, work: float) -> tuple[float, float, float, int]:
        """Earliest ``(start, pos, end, index)`` of ``work`` from ``t`` on one unit's intervals."""
        i = bisect_right(unit, (t, INF))
        if i and unit[i - 1][1] > t:  # ``t`` falls inside a booked interval
            i -= 1
        at = t
        while True:
            if i < len(unit) and unit[i][0] <= at:
                at = max(at, unit[i][1])
                i += 1
                continue
            if self.always:
                start, pos, end = at, at, at + work
            else:
                start, pos, end = self.avail.serve(at, work)
            if i == len(unit) or end <= unit[i][0]:
                return start, pos, end, i
            at = max(at, unit[i][1])
            i += 1

    def book(self, t: float, work: float) -> tuple[float, float, float]:
        """Book ``work`` minutes asked for at ``t``: ``(start, position, end)`` (see :class:`Pool`)."""
        best: tuple[float, float, float, int] | None = None
        best_u = 0
        for u, unit in enumerate(self.busy):
            fit = self._fit(unit, t, work)
            if best is None or fit[0] < best[0]:
                best, best_u = fit, u
        assert best is not None
        start, pos, end, i = best
        self.busy[best_u].insert(i, (start, end))
        return start, pos, end

    def unbook(self, start: float, end: float) -> None:
        """Take back a booking (as :meth:`book` returned it). Raises ValueError if there is none."""
        for unit in self.busy:
            i = bisect_left(unit, (start, end))
            if i < len(unit) and unit[i] == (start, end):
                del unit[i]
                return
        raise ValueError(f"no booking ({start}, {end})")

    def forget(self, before: float) -> None:
        """Drop booked intervals that ended at or before ``before``."""
        for u, unit in enumerate(self.busy):
            k = bisect_right(unit, (before, INF))
            while k and unit[k - 1][1] > before:
                k -= 1
            if k:
                self.busy[u] = unit[k:]


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

    ``ahead=True`` is for whoever books a step's system phase when the step is accepted, before
    its desk phase ends (the fakes): the servers are then a :class:`Timetable`, which fills the
    idle time before work booked for later, instead of a :class:`Pool` (which would queue work
    due earlier behind it); ``busy`` is the timetable's saved state (:attr:`Timetable.busy`).
    The twin asks in time order and uses pools for both.

    Raises ValueError (from the calendar) when ``days`` leave its supported years.
    """

    def __init__(self, scenario: Scenario, agency: str, days: int, *, desks: int | None = None,
                 servers: int | None = None, free: dict[str, list[float]] | None = None,
                 track: bool = False, workdays: Workdays | None = None, ahead: bool = False,
                 busy: list[list[tuple[float, float]]] | None = None) -> None:
        spec = scenario.agencies[agency]  # type: ignore[index]
        self.agency = agency
        self.workdays = workdays or Workdays(calendar_for(scenario, agency), scenario.calendar.start, days)
        saved = free or {}
        n_desks = spec.desks if desks is None else desks
        n_servers = spec.servers if servers is None else servers
        self.desks = Pool(n_desks, self.workdays.avail, saved.get("desks"), track) if n_desks else None
        up = Availability.up_except(outages(scenario, agency))
        self.servers: Pool | Timetable | None = None
        if n_servers:
            self.servers = (Timetable(n_servers, up, busy) if ahead
                            else Pool(n_servers, up, saved.get("servers"), track))

    def state(self) -> dict[str, list[float]]:
        """The pools' state, to save and hand back as ``free`` (a timetable's is its ``busy``)."""
        out: dict[str, list[float]] = {}
        if self.desks is not None:
            out["desks"] = list(self.desks.free)
        if isinstance(self.servers, Pool):
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
            servers = self.servers
            sys_start, _, t = (servers.book(t, system_work) if isinstance(servers, Timetable)
                               else servers.take(t, system_work))
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

    def unget(self) -> None:
        """Give the last draw back: the next call returns it again (a booking that was undone)."""
        if self.dist is not None and self.i > 0:
            self.i -= 1
