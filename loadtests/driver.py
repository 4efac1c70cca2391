"""The open-model arrival driver: work starts when the stream says, whatever the responses do.

A closed-model load generator (N users, each waiting for its answer) slows down when the system
slows down and so hides the queueing it should measure ("coordinated omission"). This driver
instead starts each arrival in its own greenlet at its intended wall time, ``t0 + due_s[i]``; a
late response never delays the next arrival. Latency is read from the intended start, and the
driver counts arrivals that started late (the generator itself fell behind) and arrivals it
dropped (the in-flight cap was reached, or the time bound ran out before they were due).

The driver only needs gevent (Locust's event loop), not Locust itself, so it can be used under a
Locust user, a plain script or a benchmark. Every loop is bounded in time (``max_seconds``) and
count (``max_count``).

>>> import numpy as np
>>> hits = []
>>> d = OpenModelDriver(np.array([0.0, 0.01]), lambda i, due: hits.append(i), max_seconds=1)
>>> d.run(time.time()).started
2
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import gevent
import gevent.pool
import numpy as np
import numpy.typing as npt

from scenarios.clock import ScenarioClock

__all__ = ["DriverStats", "OpenModelDriver", "wall_offsets"]

Action = Callable[[int, float], object]


def wall_offsets(minutes: npt.ArrayLike, speed: float) -> npt.NDArray[np.float64]:
    """Scenario minutes → wall seconds from the stream's minute 0: ``minutes * 60 / speed``.

    Raises ValueError for a speed that is not positive.
    """
    if not speed > 0:
        raise ValueError(f"speed must be positive, got {speed!r}")
    return np.asarray(ScenarioClock(0.0, float(speed)).wall(np.asarray(minutes, dtype=np.float64)))


@dataclass
class DriverStats:
    """What the driver did with its arrivals.

    ``scheduled`` arrivals were due inside the bounds; ``started`` ran; ``late`` started more than
    ``late_after_s`` after their intended time; ``dropped`` found the in-flight cap full;
    ``not_sent`` were still in the future when ``max_seconds`` ran out; ``unfinished`` were
    still running when the drain ended (they were killed). ``start_lag_s`` holds, per started
    arrival, how late its greenlet began (exact, in order of start).
    """

    scheduled: int = 0
    started: int = 0
    late: int = 0
    dropped: int = 0
    not_sent: int = 0
    unfinished: int = 0
    first_due: float = float("nan")
    last_due: float = float("nan")
    wall_start: float = float("nan")
    wall_end: float = float("nan")
    last_started: float = float("nan")
    start_lag_s: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def achieved_rate(self) -> float:
        """Arrivals started per second, from the actual start times of the first and last one."""
        first, last = self.first_due + self._lag(0), self.last_started
        return (self.started - 1) / (last - first) if self.started > 1 and last > first else float("nan")

    def _lag(self, k: int) -> float:
        return float(self.start_lag_s[k]) if self.start_lag_s.size > k else 0.0

    def as_dict(self) -> dict[str, float | int]:
        """The counters (and the lag's max and p99) as plain JSON data."""
        lag = self.start_lag_s
        return {
            "scheduled": self.scheduled,
            "started": self.started,
            "late": self.late,
            "dropped": self.dropped,
            "not_sent": self.not_sent,
            "unfinished": self.unfinished,
            "start_lag_p99_s": float(np.percentile(lag, 99)) if lag.size else 0.0,
            "start_lag_max_s": float(lag.max()) if lag.size else 0.0,
        }


class OpenModelDriver:
    """Starts ``action(i, intended_wall_time)`` for each arrival ``i`` at ``t0 + due_s[i]``.

    ``due_s`` are seconds from ``t0``, non-decreasing. At most ``max_count`` arrivals (default:
    all) are considered and at most ``max_in_flight`` actions run at once (one greenlet per
    arrival; a full cap drops the arrival); with ``workers=N`` instead, N long-lived greenlets
    take the arrivals in order (a busy pool makes arrivals late, never dropped); :meth:`run` returns
    within ``max_seconds`` of ``t0`` (or of the call, if later) plus nothing else: the drain of
    in-flight actions is part of the same budget. Raises ValueError for unsorted or non-finite
    ``due_s`` and for non-positive bounds.
    """

    def __init__(
        self,
        due_s: npt.ArrayLike,
        action: Action,
        *,
        max_seconds: float,
        max_count: int | None = None,
        max_in_flight: int = 100_000,
        late_after_s: float = 0.05,
        drain_s: float | None = None,
        workers: int | None = None,
    ) -> None:
        due = np.asarray(due_s, dtype=np.float64)
        if due.ndim != 1 or not np.all(np.isfinite(due)):
            raise ValueError("due_s must be a 1-D array of finite seconds")
        if due.size and np.any(np.diff(due) < 0):
            raise ValueError("due_s must be sorted (non-decreasing)")
        for name, value in (("max_seconds", max_seconds), ("max_in_flight", max_in_flight)):
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be positive, got {workers}")
        if max_count is not None and max_count < 0:
            raise ValueError(f"max_count must be non-negative, got {max_count}")
        self.due = due if max_count is None else due[:max_count]
        self.action = action
        self.max_seconds = float(max_seconds)
        self.max_in_flight = int(max_in_flight)
        self.late_after_s = float(late_after_s)
        self.drain_s = drain_s
        self.workers = workers
        self.stats = DriverStats()
        self._lags: list[float] = []
        self._stopped = False

    def stop(self) -> None:
        """Asks :meth:`run` to stop sending (in-flight actions still drain)."""
        self._stopped = True

    def run(self, t0: float) -> DriverStats:
        """Replays the arrivals against wall clock origin ``t0``; blocks (cooperatively)."""
        stats, due = self.stats, self.due
        stats.wall_start = time.time()
        deadline = max(t0, stats.wall_start) + self.max_seconds
        pool = gevent.pool.Pool(self.max_in_flight if self.workers is None else self.workers)
        i = self._send(pool, t0, deadline) if self.workers is None else self._feed(pool, t0, deadline)
        stats.not_sent = int(due.size - i)
        stats.scheduled = int(np.count_nonzero(t0 + due[:i] < deadline)) if i else 0
        drain_until = deadline if self.drain_s is None else min(deadline, time.time() + self.drain_s)
        pool.join(timeout=max(0.0, drain_until - time.time()))
        stats.unfinished = len(pool)
        pool.kill(block=True, timeout=5)
        stats.start_lag_s = np.asarray(self._lags, dtype=np.float64)
        stats.late = int(np.count_nonzero(stats.start_lag_s > self.late_after_s))
        stats.wall_end = time.time()
        return stats

    def _send(self, pool: gevent.pool.Pool, t0: float, deadline: float) -> int:
        """Fires arrivals as they fall due; returns how many were handled (fired or dropped)."""
        due, n, i = self.due, self.due.size, 0
        if n:
            self.stats.first_due, self.stats.last_due = t0 + due[0], t0 + due[0]
        while i < n and not self._stopped:
            now = time.time()
            if now >= deadline:
                break
            wait = t0 + due[i] - now
            if wait > 0:
                gevent.sleep(min(wait, deadline - now))
                continue
            while i < n and t0 + due[i] <= now:
                self._fire(pool, i, t0 + float(due[i]))
                i += 1
            self.stats.last_due = t0 + float(due[i - 1])
            gevent.sleep(0)
        return i

    def _feed(self, pool: gevent.pool.Pool, t0: float, deadline: float) -> int:
        """Worker mode: ``workers`` long-lived greenlets take the arrivals in order, each waiting
        for its intended time; with every worker busy the next arrival starts late (its lag
        recorded, its latency still read from the intended start) rather than being dropped.
        Saves a greenlet per arrival; bounds the work in flight. Returns how many were taken."""
        due, n = self.due, int(self.due.size)
        if n:
            self.stats.first_due = self.stats.last_due = t0 + float(due[0])
        taken = [0]

        def worker() -> None:
            while not self._stopped:
                i = taken[0]
                if i >= n:
                    return
                intended = t0 + float(due[i])
                if intended >= deadline or time.time() >= deadline:
                    return
                taken[0] = i + 1
                self.stats.last_due = intended
                wait = intended - time.time()
                if wait > 0:
                    gevent.sleep(wait)
                self._start(i, intended)

        for _ in range(self.workers or 1):
            pool.spawn(worker)
        while taken[0] < n and not self._stopped and time.time() < deadline and len(pool):
            gevent.sleep(0.05)
        return taken[0]

    def _fire(self, pool: gevent.pool.Pool, i: int, intended: float) -> None:
        if pool.full():
            self.stats.dropped += 1
            return
        pool.spawn(self._start, i, intended)

    def _start(self, i: int, intended: float) -> None:
        now = time.time()
        self._lags.append(now - intended)
        self.stats.last_started = now
        self.stats.started += 1
        self.action(i, intended)
