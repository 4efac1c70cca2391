"""The dossier stream of a scenario, shared by the twin and the load tests.

Pipeline, vectorised per service: life events (``scenarios.demand``) → registration lag (the
scenario's ``lag_*_days``, cut at the legal limit: births 60 days, deaths 15) → channel
(``online_share``) → submission time:

- online (24/7): the lag's day is accepted with probability ``weekday_profile[day]/max`` else
  postponed a day (people put it off to Monday), then an hour from ``online_hour_profile``;
- desk: the receiving agency's working day nearest to the lag's day (a Saturday goes to Friday
  unless the event is later, a Sunday to Monday), an hour from
  ``desk_hour_profile``, moved to the next opening if the office is closed then.

A time before the event itself moves to the next day. Events start before minute 0 (60 days for
births, 15 for deaths) so the first day already carries the backlog of earlier events (warm
start); only submissions inside ``[0, days)`` are kept. ``surge`` faults on ``"*"``, ``portal``
or the receiving agency multiply the submission rate inside their window (copies with fresh
citizens and a jitter of ±15 min for factors above 1, thinning below 1); ``incomplete`` faults
raise the incomplete share of dossiers submitted in their window.

Every purpose (events, lag, channel, …) draws from its own ``SeedSequence`` keyed by the purpose's
name, so adding a field does not shift the others: same seed (and replication) → same stream.
"""

from __future__ import annotations

import math
import zlib
from datetime import timedelta

import numpy as np
import numpy.typing as npt

from scenarios.demand import calendar_for, daily_event_rates, event_minutes, start_datetime
from scenarios.model import DEATH_STATUSES, Scenario
from sim.records import ARRIVAL_DTYPE, NO_STATUS, SERVICES

__all__ = ["arrivals", "split_by_index"]

LEGAL_LAG_DAYS = {"birth": 60.0, "death": 15.0}
_DAY = 1440.0
_SURGE_JITTER = 15.0


class _Streams:
    """Independent generators, one per purpose, from one seed (or one parent generator)."""

    def __init__(self, seed: int, replication: int) -> None:
        self.seed, self.replication = seed, replication

    def __call__(self, purpose: str) -> np.random.Generator:
        key = (self.replication, zlib.crc32(purpose.encode()))
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))


def arrivals(
    scenario: Scenario,
    days: int | None = None,
    *,
    rng: np.random.Generator | None = None,
    multiplier: float | None = None,
    replication: int = 0,
) -> npt.NDArray[np.void]:
    """The dossiers submitted in the first ``days`` days (default ``scenario.sim.days``).

    A structured array of ``ARRIVAL_DTYPE`` sorted by ``submitted``. ``rng`` replaces the
    scenario seed (one integer is drawn from it); ``multiplier`` replaces
    ``scenario.demand.multiplier``; ``replication`` selects an independent stream of the same
    scenario. Raises ValueError for negative ``days``, a non-positive ``multiplier`` or a
    negative ``replication``.
    """
    days = scenario.sim.days if days is None else days
    if days < 0:
        raise ValueError(f"negative number of days: {days}")
    if multiplier is not None and not multiplier > 0:
        raise ValueError(f"multiplier must be positive, got {multiplier!r}")
    if replication < 0:
        raise ValueError(f"negative replication: {replication}")
    seed = int(rng.integers(2**63)) if rng is not None else scenario.meta.seed
    streams = _Streams(seed, replication)
    scale = 1.0 if multiplier is None else multiplier / scenario.demand.multiplier
    parts = [
        _service_stream(scenario, code, name, days, scale, streams)
        for code, name in enumerate(SERVICES)
        if name in scenario.services
    ]
    out = np.concatenate(parts) if parts else np.zeros(0, ARRIVAL_DTYPE)
    out = out[np.lexsort((out["citizen"], out["service"], out["submitted"]))]
    out["dossier"] = np.arange(out.size)
    return out


def split_by_index(stream: npt.NDArray[np.void], n_workers: int, worker_index: int) -> npt.NDArray[np.void]:
    """The share of ``stream`` for one of ``n_workers`` load workers: rows with
    ``dossier % n_workers == worker_index`` (order kept).

    Raises ValueError for ``n_workers < 1`` or a ``worker_index`` outside ``0..n_workers-1``.
    """
    if n_workers < 1:
        raise ValueError(f"n_workers must be at least 1, got {n_workers}")
    if not 0 <= worker_index < n_workers:
        raise ValueError(f"worker_index {worker_index} is outside 0..{n_workers - 1}")
    return stream[stream["dossier"] % n_workers == worker_index]


# -- one service ----------------------------------------------------------------------------


def _service_stream(
    scenario: Scenario, code: int, name: str, days: int, scale: float, streams: _Streams
) -> npt.NDArray[np.void]:
    service = scenario.services[name]  # type: ignore[index]
    demand = scenario.demand
    lag_dist = demand.lag_birth_days if name == "birth" else demand.lag_death_days
    limit = LEGAL_LAG_DAYS[name]
    warm = math.ceil(limit) + 1
    first = scenario.calendar.start - timedelta(days=warm)
    rates = daily_event_rates(scenario, name, warm + days, start=first) * scale
    events = event_minutes(streams(f"{name}.events"), rates, first_day=-warm)
    n = events.size
    lag = np.minimum(lag_dist.sample(streams(f"{name}.lag"), n), limit) * _DAY
    desk = streams(f"{name}.channel").random(n) >= service.online_share
    receiving = scenario.steps[next(iter(service.variants.values())).steps[0]].agency
    office = _Office(scenario, receiving, warm, days)
    submitted = np.empty(n)
    submitted[~desk] = _online_times(scenario, events[~desk], lag[~desk], limit, streams(f"{name}.online"))
    submitted[desk] = _desk_times(scenario, events[desk], lag[desk], office, streams(f"{name}.desk"))

    rows = np.zeros(n, ARRIVAL_DTYPE)
    rows["service"] = code
    rows["submitted"] = submitted
    rows["channel"] = desk
    rows["citizen"] = np.arange(n)
    rows["variant"] = _categorical(
        streams(f"{name}.variant"), [v.share for v in service.variants.values()], n
    )
    if name == "death":
        shares = [demand.death_status.get(s, 0.0) for s in DEATH_STATUSES]  # type: ignore[call-overload]
        if not any(shares):
            shares = [0.0] * (len(DEATH_STATUSES) - 1) + [1.0]
        rows["status"] = _categorical(streams(f"{name}.status"), shares, n)
    else:
        rows["status"] = NO_STATUS
    rows["verification"] = streams(f"{name}.verification").random(n) < service.verification_share
    rows = _surge(scenario, rows, receiving, office, streams(f"{name}.surge"))
    rows = rows[(rows["submitted"] >= 0) & (rows["submitted"] < days * _DAY)]
    rows["incomplete"] = streams(f"{name}.incomplete").random(rows.size) < _incomplete_share(
        scenario, rows["submitted"], service.incomplete_share, receiving
    )
    return rows


def _categorical(rng: np.random.Generator, weights: list[float], n: int) -> npt.NDArray[np.uint8]:
    cum = np.cumsum(np.asarray(weights, dtype=float))
    idx = np.searchsorted(cum / cum[-1], rng.random(n), side="right")
    return np.minimum(idx, len(weights) - 1).astype(np.uint8)


def _hour_times(
    rng: np.random.Generator, profile: tuple[float, ...], day: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    hour = _categorical(rng, list(profile), day.size).astype(float)
    return day * _DAY + hour * 60.0 + rng.uniform(0.0, 60.0, day.size)


def _online_times(
    scenario: Scenario,
    events: npt.NDArray[np.float64],
    lag: npt.NDArray[np.float64],
    limit: float,
    rng: np.random.Generator,
) -> npt.NDArray[np.float64]:
    weights = np.asarray(scenario.demand.weekday_profile, dtype=float)
    accept = weights / weights.max()
    day = np.floor((events + lag) / _DAY)
    last = np.floor(events / _DAY) + limit
    pending = np.ones(day.size, dtype=bool)
    for _ in range(14):  # a postponed submission moves one day at a time, at most two weeks
        pending &= rng.random(day.size) >= accept[day.astype(np.int64) % 7]
        pending &= day < last
        if not pending.any():
            break
        day[pending] += 1
    t = _hour_times(rng, scenario.demand.online_hour_profile, day)
    return np.where(t < events, t + _DAY, t)


class _Office:
    """Working days and open intervals of the receiving agency over the stream's window."""

    def __init__(self, scenario: Scenario, agency: str, warm: int, days: int) -> None:
        cal = calendar_for(scenario, agency)
        span = warm + days + 60
        first = scenario.calendar.start - timedelta(days=warm)
        self.offset = warm
        self.working_days = np.flatnonzero(cal.working_day_index(first, span)).astype(float) - warm
        begin = start_datetime(scenario) - timedelta(days=warm)
        self.intervals = cal.open_intervals_minutes(begin, span) - warm * _DAY

    def next_working_day(self, day: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        i = np.minimum(np.searchsorted(self.working_days, day), self.working_days.size - 1)
        return self.working_days[i]

    def nearest_working_day(
        self, day: npt.NDArray[np.float64], earliest: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """The working day closest to ``day`` (ties: the later), not before ``earliest``."""
        after = self.next_working_day(day)
        i = np.maximum(np.searchsorted(self.working_days, day) - 1, 0)
        before = self.working_days[i]
        use_before = (before >= earliest) & (day - before < after - day)
        return np.where(use_before, before, after)

    def next_open(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``t`` where open, else the next opening (clipped to the window's last opening)."""
        starts, ends = self.intervals[:, 0], self.intervals[:, 1]
        i = np.minimum(np.searchsorted(ends, t, side="right"), ends.size - 1)
        return np.maximum(t, starts[i])


def _desk_times(
    scenario: Scenario,
    events: npt.NDArray[np.float64],
    lag: npt.NDArray[np.float64],
    office: _Office,
    rng: np.random.Generator,
) -> npt.NDArray[np.float64]:
    day = office.nearest_working_day(np.floor((events + lag) / _DAY), np.floor(events / _DAY))
    t = _hour_times(rng, scenario.demand.desk_hour_profile, day)
    late = t < events
    t[late] = _hour_times(rng, scenario.demand.desk_hour_profile, office.next_working_day(day[late] + 1))
    return office.next_open(t)


def _applies(fault_agency: str, receiving: str) -> bool:
    return fault_agency in ("*", "portal", receiving)


def _surge(
    scenario: Scenario,
    rows: npt.NDArray[np.void],
    receiving: str,
    office: _Office,
    rng: np.random.Generator,
) -> npt.NDArray[np.void]:
    next_citizen = rows.size
    for fault in scenario.faults:
        if fault.kind != "surge" or not _applies(fault.agency, receiving) or fault.factor is None:
            continue
        t = rows["submitted"]
        inside = (t >= fault.start) & (t < fault.end)
        if fault.factor < 1:
            rows = rows[~inside | (rng.random(rows.size) < fault.factor)]
            continue
        base = rows[inside]
        extra = np.floor(fault.factor - 1) + (rng.random(base.size) < (fault.factor - 1) % 1)
        copies = np.repeat(base, extra.astype(np.int64))
        jitter = copies["submitted"] + rng.uniform(-_SURGE_JITTER, _SURGE_JITTER, copies.size)
        jitter = np.clip(jitter, fault.start, np.nextafter(fault.end, -np.inf))
        desk = copies["channel"] == 1
        jitter[desk] = office.next_open(jitter[desk])
        copies["submitted"] = jitter
        copies["citizen"] = next_citizen + np.arange(copies.size)
        next_citizen += copies.size
        rows = np.concatenate([rows, copies])
    return rows


def _incomplete_share(
    scenario: Scenario, submitted: npt.NDArray[np.float64], base: float, receiving: str
) -> npt.NDArray[np.float64]:
    share = np.full(submitted.size, base)
    for fault in scenario.faults:
        if fault.kind == "incomplete" and _applies(fault.agency, receiving) and fault.rate is not None:
            inside = (submitted >= fault.start) & (submitted < fault.end)
            share[inside] = np.maximum(share[inside], fault.rate)
    return share
