"""The dossier stream of a scenario, shared by the twin and the load tests.

Pipeline, vectorised per service: life events (``scenarios.demand``) → registration lag (the
scenario's ``lag_*_days``, cut at the legal limit: births 60 days, deaths 15) → channel
(``online_share``) → submission time:

- online (24/7): the lag's day is accepted with probability ``weekday_profile[day]/max`` else
  postponed a day (people put it off to Monday), then an hour from ``online_hour_profile``;
- desk: the receiving agency's office day (a day its desks open: a working day, or a staffed
  Saturday) nearest to the lag's day (without Saturday desks a Saturday goes to Friday unless the
  event is later, a Sunday to Monday), an hour from ``desk_hour_profile``, moved to the next
  opening if the office is closed then.

A time before the event itself moves to the next day. Events start before minute 0 (60 days for
births, 15 for deaths) so the first day already carries the backlog of earlier events (warm
start); only submissions inside ``[0, days)`` are kept. ``incomplete`` faults raise the incomplete
share of dossiers submitted in their window.

Surges never invent life events: every dossier is one birth or death of the demand model (one
citizen each), so over any horizon the dossiers equal the life events registered, up to the lag
window at either edge. ``surge`` faults on ``"*"``, ``portal`` or the receiving agency move
existing dossiers (scenarios.model.Fault):

- a shift (``events = [from, to]``): the dossiers of the events of that window that would have
  been submitted before ``end`` are, with probability ``share``, submitted in ``[start, end)``
  instead (the Tết backlog: the closure's events registered after it);
- a concentration (``factor``): above 1 the dossiers due in the ``(factor − 1) × (end − start)``
  after the window come inside it; below 1 a share ``1 − factor`` of the window's dossiers is
  put off to the ``(1 − factor) × (end − start)`` after it.

A moved dossier's new time is spread over the target window: desk dossiers uniformly over the
receiving agency's open hours, online ones by ``online_hour_profile``; never before its event
(such a dossier keeps its time). Extra demand of a named kind (``extra``) adds no dossier: it is
traffic, :func:`traffic`. The stream is generated far enough past the horizon for the surges'
sources, so a shorter run's stream stays a prefix of a longer one's.

Each service and day of life events draws from its own ``SeedSequence`` (the events, their lags,
then one uniform column per purpose in a fixed, append-only order), so adding a field does not
shift the others and a day's dossiers do not depend on the horizon: same seed (and replication)
→ same stream, and a shorter run's stream is a prefix of a longer one's.
"""

from __future__ import annotations

import math
import zlib
from datetime import timedelta

import numpy as np
import numpy.typing as npt

from scenarios.demand import calendar_for, daily_event_rates, event_minutes, start_datetime
from scenarios.model import DEATH_STATUSES, SURGE_EXTRA, Scenario
from sim.records import ARRIVAL_DTYPE, NO_STATUS, SERVICES

__all__ = ["DESK_WORK_DTYPE", "EXTRA_DESK_WORK", "TRAFFIC_DTYPE", "arrivals", "desk_work", "life_events",
           "split_by_index", "traffic"]

LEGAL_LAG_DAYS = {"birth": 60.0, "death": 15.0}
_DAY = 1440.0


class _Streams:
    """Independent generators from one seed: one per purpose, and one per service and day."""

    def __init__(self, seed: int, replication: int) -> None:
        self.seed, self.replication = seed, replication

    def __call__(self, purpose: str, day: int | None = None) -> np.random.Generator:
        key: tuple[int, ...] = (self.replication, zlib.crc32(purpose.encode()))
        if day is not None:
            key += (day + _DAY_KEY_OFFSET,)
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))


# Uniform columns drawn per event, in this order, after the event times and lags (append only:
# a new column must go last so the existing ones keep their draws).
_COLUMNS = (
    "channel",
    "variant",
    "status",
    "verification",
    "incomplete",
    "thin",
    "copy",
    *(f"accept{k}" for k in range(14)),
    "online_hour",
    "online_minute",
    "desk_hour",
    "desk_minute",
    "desk_hour2",
    "desk_minute2",
)
_POSTPONE_DAYS = 14
_DAY_KEY_OFFSET = 1 << 20
_BLOCK_DAYS = 16


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
    receiving = scenario.steps[next(iter(service.variants.values())).steps[0]].agency
    span = _span_days(scenario, days)
    if scenario.demand.rate is not None:
        return _rate_stream(scenario, code, name, days, span, scale, streams, receiving)
    limit = LEGAL_LAG_DAYS[name]
    warm = math.ceil(limit) + 1
    first = scenario.calendar.start - timedelta(days=warm)
    rates = daily_event_rates(scenario, name, warm + span, start=first) * scale
    office = _Office(scenario, receiving, warm, span)
    parts, citizens = [], 0
    # Blocks of days bound the memory of the uniform columns; each day keeps its own generator.
    for lo in range(0, rates.size, _BLOCK_DAYS):
        events, lag, u = _events(scenario, name, rates[lo : lo + _BLOCK_DAYS], lo - warm, streams)
        rows = _rows(scenario, code, name, events, lag, u, office)
        rows["citizen"] = citizens + np.arange(rows.size)
        citizens += rows.size
        near = (rows["submitted"] >= 0) & (rows["submitted"] < span * _DAY)
        parts.append((rows[near], events[near], {c: u[c][near] for c in _KEPT}))
    rows = np.concatenate([p[0] for p in parts])
    ev = np.concatenate([p[1] for p in parts])
    u_all = {c: np.concatenate([p[2][c] for p in parts]) for c in _KEPT}
    return _finish(scenario, name, rows, ev, u_all, receiving, office, days)


_KEPT = ("incomplete", "thin", "copy")


def _span_days(scenario: Scenario, days: int) -> int:
    """Days of stream to generate: the horizon, or further when a surge moves dossiers from
    later (its sources must not depend on the horizon)."""
    reach = 0.0
    for f in scenario.faults:
        if f.kind != "surge" or f.extra is not None:
            continue
        if f.events is not None:
            reach = max(reach, f.end, f.events[1])
        elif f.factor is not None:
            reach = max(reach, f.end + abs(f.factor - 1.0) * (f.end - f.start))
    return max(days, math.ceil(reach / _DAY))


def _finish(scenario: Scenario, name: str, rows: npt.NDArray[np.void], ev: npt.NDArray[np.float64],
            u: dict[str, npt.NDArray[np.float64]], receiving: str, office: _Office,
            days: int) -> npt.NDArray[np.void]:
    """Surges, the window ``[0, days)`` and the incomplete share, on a service's rows."""
    service = scenario.services[name]  # type: ignore[index]
    rows = _surge(scenario, rows, ev, u, receiving, office)
    keep = (rows["submitted"] >= 0) & (rows["submitted"] < days * _DAY)
    rows, u_incomplete = rows[keep], u["incomplete"][keep]
    share = _incomplete_share(scenario, rows["submitted"], service.incomplete_share, receiving)
    rows["incomplete"] = u_incomplete < share
    return rows


def _rate_stream(scenario: Scenario, code: int, name: str, days: int, span: int, scale: float,
                 streams: _Streams, receiving: str) -> npt.NDArray[np.void]:
    """The explicit arrival-rate mode (``demand.rate``): a homogeneous Poisson process of
    submissions at the hourly rate, every minute of every day; each day from its own generator.
    A submission is its own event (no lag)."""
    rate = scenario.demand.rate
    assert rate is not None
    per_day = (rate.births_per_hour if name == "birth" else rate.deaths_per_hour) * 24.0 \
        * scenario.demand.multiplier * scale
    times: list[npt.NDArray[np.float64]] = []
    columns: dict[str, list[npt.NDArray[np.float64]]] = {c: [] for c in _COLUMNS}
    for day in range(span):
        rng = streams(f"{name}.rate", day)
        times.append(event_minutes(rng, np.array([per_day]), first_day=day))
        for c in _COLUMNS:
            columns[c].append(rng.random(times[-1].size))
    u = {c: np.concatenate(v) if v else np.zeros(0) for c, v in columns.items()}
    submitted = np.concatenate(times) if times else np.zeros(0)
    rows = _attributes(scenario, code, name, u)
    rows["submitted"] = submitted
    rows["citizen"] = np.arange(rows.size)
    office = _Office(scenario, receiving, 0, span)
    return _finish(scenario, name, rows, submitted.copy(), u, receiving, office, days)


def _rows(
    scenario: Scenario,
    code: int,
    name: str,
    events: npt.NDArray[np.float64],
    lag: npt.NDArray[np.float64],
    u: dict[str, npt.NDArray[np.float64]],
    office: _Office,
) -> npt.NDArray[np.void]:
    """Arrival rows of these events (citizen left 0; ``incomplete`` decided after surges)."""
    rows = _attributes(scenario, code, name, u)
    desk = rows["channel"].astype(bool)
    on = ~desk
    on_u = {k: v[on] for k, v in u.items()}
    desk_u = {k: v[desk] for k, v in u.items()}
    rows["submitted"][on] = _online_times(scenario, events[on], lag[on], LEGAL_LAG_DAYS[name], on_u)
    rows["submitted"][desk] = _desk_times(scenario, events[desk], lag[desk], office, desk_u)
    return rows


def _attributes(scenario: Scenario, code: int, name: str,
                u: dict[str, npt.NDArray[np.float64]]) -> npt.NDArray[np.void]:
    """Rows with everything but the submission time (and citizen): service, channel, variant,
    status of the deceased, verification, from the uniform columns ``u``."""
    service = scenario.services[name]  # type: ignore[index]
    demand = scenario.demand
    desk = u["channel"] >= service.online_share
    rows = np.zeros(desk.size, ARRIVAL_DTYPE)
    rows["service"] = code
    rows["channel"] = desk
    rows["variant"] = _categorical(u["variant"], [v.share for v in service.variants.values()])
    if name == "death":
        shares = [demand.death_status.get(s, 0.0) for s in DEATH_STATUSES]  # type: ignore[call-overload]
        if not any(shares):
            shares = [0.0] * (len(DEATH_STATUSES) - 1) + [1.0]
        rows["status"] = _categorical(u["status"], shares)
    else:
        rows["status"] = NO_STATUS
    rows["verification"] = u["verification"] < service.verification_share
    return rows


def _events(
    scenario: Scenario, name: str, rates: npt.NDArray[np.float64], first_day: int, streams: _Streams
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], dict[str, npt.NDArray[np.float64]]]:
    """Event minutes, lags (minutes) and uniform columns; each day drawn from its own generator,
    so a day's events do not depend on the horizon (a shorter run is a prefix of a longer one)."""
    lag_dist = scenario.demand.lag_birth_days if name == "birth" else scenario.demand.lag_death_days
    limit = LEGAL_LAG_DAYS[name]
    times, lags = [], []
    columns: dict[str, list[npt.NDArray[np.float64]]] = {c: [] for c in _COLUMNS}
    for k, rate in enumerate(rates):
        day = first_day + k
        rng = streams(name, day)
        t = event_minutes(rng, rate[None], first_day=day)
        times.append(t)
        lags.append(np.minimum(np.asarray(lag_dist.sample(rng, t.size), dtype=float), limit) * _DAY)
        for c in _COLUMNS:
            columns[c].append(rng.random(t.size))
    return (
        np.concatenate(times),
        np.concatenate(lags),
        {c: np.concatenate(v) for c, v in columns.items()},
    )


def _categorical(
    u: npt.NDArray[np.float64], weights: list[float] | tuple[float, ...]
) -> npt.NDArray[np.uint8]:
    cum = np.cumsum(np.asarray(weights, dtype=float))
    idx = np.searchsorted(cum / cum[-1], u, side="right")
    return np.minimum(idx, len(weights) - 1).astype(np.uint8)


def _hour_times(
    u_hour: npt.NDArray[np.float64],
    u_minute: npt.NDArray[np.float64],
    profile: tuple[float, ...],
    day: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    hour = _categorical(u_hour, profile).astype(float)
    return day * _DAY + hour * 60.0 + u_minute * 60.0


def _online_times(
    scenario: Scenario,
    events: npt.NDArray[np.float64],
    lag: npt.NDArray[np.float64],
    limit: float,
    u: dict[str, npt.NDArray[np.float64]],
) -> npt.NDArray[np.float64]:
    weights = np.asarray(scenario.demand.weekday_profile, dtype=float)
    accept = weights / weights.max()
    day = np.floor((events + lag) / _DAY)
    last = np.floor(events / _DAY) + limit
    pending = np.ones(day.size, dtype=bool)
    for k in range(_POSTPONE_DAYS):  # a postponed submission moves a day at a time, two weeks at most
        pending &= u[f"accept{k}"] >= accept[day.astype(np.int64) % 7]
        pending &= day < last
        day[pending] += 1
    t = _hour_times(u["online_hour"], u["online_minute"], scenario.demand.online_hour_profile, day)
    return np.where(t < events, t + _DAY, t)


class _Office:
    """Office days (desks open: working days and staffed Saturdays) and open intervals of the
    receiving agency over the stream's window."""

    def __init__(self, scenario: Scenario, agency: str, warm: int, days: int) -> None:
        cal = calendar_for(scenario, agency)
        span = warm + days + 60
        first = scenario.calendar.start - timedelta(days=warm)
        self.office_days = np.flatnonzero(cal.open_day_index(first, span)).astype(float) - warm
        begin = start_datetime(scenario) - timedelta(days=warm)
        self.intervals = cal.open_intervals_minutes(begin, span) - warm * _DAY

    def next_office_day(self, day: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        i = np.minimum(np.searchsorted(self.office_days, day), self.office_days.size - 1)
        return self.office_days[i]

    def nearest_office_day(
        self, day: npt.NDArray[np.float64], earliest: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """The office day closest to ``day`` (ties: the later), not before ``earliest``."""
        after = self.next_office_day(day)
        i = np.maximum(np.searchsorted(self.office_days, day) - 1, 0)
        before = self.office_days[i]
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
    u: dict[str, npt.NDArray[np.float64]],
) -> npt.NDArray[np.float64]:
    profile = scenario.demand.desk_hour_profile
    day = office.nearest_office_day(np.floor((events + lag) / _DAY), np.floor(events / _DAY))
    t = _hour_times(u["desk_hour"], u["desk_minute"], profile, day)
    late = t < events
    later = office.next_office_day(day[late] + 1)
    t[late] = _hour_times(u["desk_hour2"][late], u["desk_minute2"][late], profile, later)
    return office.next_open(t)


def _applies(fault_agency: str, receiving: str) -> bool:
    return fault_agency in ("*", "portal", receiving)


def _surge(
    scenario: Scenario,
    rows: npt.NDArray[np.void],
    ev: npt.NDArray[np.float64],
    u: dict[str, npt.NDArray[np.float64]],
    receiving: str,
    office: _Office,
) -> npt.NDArray[np.void]:
    """Rows after every surge fault (a copy): shifts and concentrations move dossiers, in the
    fault order; none is added or removed. Fault ``i`` uses the rows' ``thin`` (who moves) and
    ``copy`` (where to) uniforms turned by ``i`` golden-ratio steps, so faults draw apart."""
    rows = rows.copy()
    for i, fault in enumerate(scenario.faults):
        if fault.kind != "surge" or fault.extra is not None or not _applies(fault.agency, receiving):
            continue
        t = rows["submitted"]
        who = (u["thin"] + _GOLDEN * i) % 1.0
        where = (u["copy"] + _GOLDEN * i) % 1.0
        start, end = fault.start, fault.end
        if fault.events is not None:
            lo, hi = fault.events
            share = 1.0 if fault.share is None else fault.share
            move = (ev >= lo) & (ev < hi) & (t < end) & (who < share)
            target = (start, end)
        elif fault.factor is not None and fault.factor > 1:
            move = (t >= end) & (t < end + (fault.factor - 1.0) * (end - start))
            target = (start, end)
        elif fault.factor is not None and fault.factor < 1:
            move = (t >= start) & (t < end) & (who >= fault.factor)
            target = (end, end + (1.0 - fault.factor) * (end - start))
        else:
            continue
        idx = np.flatnonzero(move)
        new = _spread(scenario, where[idx], rows["channel"][idx] == 1, target, office)
        ok = np.isfinite(new) & (new >= ev[idx])
        rows["submitted"][idx[ok]] = new[ok]
    return rows


_GOLDEN = 0.6180339887498949


def _spread(scenario: Scenario, u: npt.NDArray[np.float64], desk: npt.NDArray[np.bool_],
            window: tuple[float, float], office: _Office) -> npt.NDArray[np.float64]:
    """Times in ``window`` from uniforms ``u``: desk rows uniformly over the office's open time
    inside it, online rows by ``online_hour_profile`` (NaN where the window has no such time)."""
    lo, hi = window
    out = np.full(u.size, np.nan)
    iv = office.intervals
    desk_seg = np.column_stack([np.maximum(iv[:, 0], lo), np.minimum(iv[:, 1], hi)])
    desk_seg = desk_seg[desk_seg[:, 1] > desk_seg[:, 0]]
    hours = np.arange(math.floor(lo / 60.0), math.ceil(hi / 60.0), dtype=float) * 60.0
    online_seg = np.column_stack([np.maximum(hours, lo), np.minimum(hours + 60.0, hi)])
    profile = np.asarray(scenario.demand.online_hour_profile, dtype=float)
    online_w = profile[(hours // 60.0).astype(np.int64) % 24]
    for mask, seg, weight in ((desk, desk_seg, np.ones(len(desk_seg))), (~desk, online_seg, online_w)):
        if not mask.any() or seg.size == 0:
            continue
        mass = (seg[:, 1] - seg[:, 0]) * weight
        cum = np.cumsum(mass)
        if cum[-1] <= 0:
            continue
        x = u[mask] * cum[-1]
        k = np.minimum(np.searchsorted(cum, x, side="right"), len(cum) - 1)
        before = cum[k] - mass[k]
        frac = np.where(mass[k] > 0, (x - before) / np.where(mass[k] > 0, mass[k], 1.0), 0.0)
        out[mask] = np.minimum(seg[k, 0] + np.clip(frac, 0.0, 1.0) * (seg[k, 1] - seg[k, 0]),
                               np.nextafter(hi, -np.inf))
    return out


# -- traffic: extra demand of a named kind ------------------------------------------------------

#: One row per request of non-dossier traffic: scenario minute, kind (index into
#: ``scenarios.model.SURGE_EXTRA``) and the fault it comes from (index into ``scenario.faults``).
TRAFFIC_DTYPE = np.dtype([("minute", "f8"), ("extra", "u1"), ("fault", "u2")])


def traffic(
    scenario: Scenario,
    days: int | None = None,
    *,
    multiplier: float | None = None,
    replication: int = 0,
    stream: npt.NDArray[np.void] | None = None,
) -> npt.NDArray[np.void]:
    """The non-dossier traffic of the scenario's ``extra`` surges in the first ``days`` days.

    A fault with ``factor`` f adds ``(f − 1) ×`` the dossiers the stream (``stream``, default
    :func:`arrivals` with the same arguments) submits in its window to agencies it applies to
    (fractional part drawn), at uniform times inside the window cut at the horizon; each fault
    from its own generator. Sorted by minute; ``TRAFFIC_DTYPE``.
    """
    days = scenario.sim.days if days is None else days
    extras = [(i, f) for i, f in enumerate(scenario.faults) if f.kind == "surge" and f.extra is not None]
    if not extras:
        return np.zeros(0, TRAFFIC_DTYPE)
    if stream is None:
        stream = arrivals(scenario, days, multiplier=multiplier, replication=replication)
    receiving = {code: scenario.steps[next(iter(scenario.services[n].variants.values())).steps[0]].agency
                 for code, n in enumerate(SERVICES) if n in scenario.services}
    streams = _Streams(scenario.meta.seed, replication)
    parts = []
    for i, f in extras:
        applies = np.array([_applies(f.agency, receiving.get(c, "")) for c in range(len(SERVICES))])
        hi = min(f.end, days * _DAY)
        t = stream["submitted"]
        n = int(np.count_nonzero(applies[stream["service"]] & (t >= f.start) & (t < hi)))
        rng = streams(f"traffic{i}")
        want = (float(f.factor or 1.0) - 1.0) * n
        count = int(want) + int(rng.random() < want % 1.0)
        rows = np.zeros(count, TRAFFIC_DTYPE)
        rows["minute"] = np.sort(rng.uniform(f.start, hi, count)) if hi > f.start else []
        rows["extra"] = SURGE_EXTRA.index(str(f.extra))
        rows["fault"] = i
        parts.append(rows)
    out = np.concatenate(parts)
    return out[np.argsort(out["minute"], kind="stable")]


#: Extra demand that is work at an agency's desks in the twin: the agency and the step task whose
#: ``desk_time`` one request takes (a standalone residence registration is a ``register_residence``
#: at police). VNeID traffic is system load only (the twin assumes a perfect portal).
EXTRA_DESK_WORK: dict[str, tuple[str, str]] = {"residence_registration": ("police", "register_residence")}
DESK_WORK_DTYPE = np.dtype([("minute", "f8"), ("agency", "U8"), ("work", "f8")])


def desk_work(scenario: Scenario, days: int | None = None, *, replication: int = 0,
              stream: npt.NDArray[np.void] | None = None) -> npt.NDArray[np.void]:
    """The desk work of the scenario's extra demand (:data:`EXTRA_DESK_WORK`) for the twin: one
    row per request of :func:`traffic` whose kind works at desks, with the agency and the minutes
    of desk time (a draw of the step's ``desk_time``; none when the scenario has no such step),
    sorted by minute. Not dossiers: it takes desk time from the linked dossiers, nothing else."""
    days = scenario.sim.days if days is None else days
    rows = traffic(scenario, days, replication=replication, stream=stream)
    out = np.zeros(0, DESK_WORK_DTYPE)
    for extra, (agency, task) in EXTRA_DESK_WORK.items():
        step = next((st for st in scenario.steps.values() if st.agency == agency and st.task == task), None)
        mine = rows[rows["extra"] == SURGE_EXTRA.index(extra)]
        if step is None or step.desk_time is None or not mine.size:
            continue
        part = np.zeros(mine.size, DESK_WORK_DTYPE)
        part["minute"], part["agency"] = mine["minute"], agency
        rng = _Streams(scenario.meta.seed, replication)(f"desk_work.{extra}")
        part["work"] = np.asarray(step.desk_time.sample(rng, mine.size), dtype=float)
        out = np.concatenate([out, part])
    return out[np.argsort(out["minute"], kind="stable")]


def life_events(
    scenario: Scenario, days: int | None = None, *, replication: int = 0
) -> dict[str, npt.NDArray[np.float64]]:
    """The birth and death minutes of the demand model (the events :func:`arrivals` registers),
    per service, from the legal lag limit before minute 0 to ``days``: the same draws."""
    days = scenario.sim.days if days is None else days
    streams = _Streams(scenario.meta.seed, replication)
    out: dict[str, npt.NDArray[np.float64]] = {}
    for name in SERVICES:
        if name not in scenario.services or scenario.demand.rate is not None:
            continue
        warm = math.ceil(LEGAL_LAG_DAYS[name]) + 1
        first = scenario.calendar.start - timedelta(days=warm)
        rates = daily_event_rates(scenario, name, warm + days, start=first)
        times = [_events(scenario, name, rates[lo : lo + _BLOCK_DAYS], lo - warm, streams)[0]
                 for lo in range(0, rates.size, _BLOCK_DAYS)]
        out[name] = np.concatenate(times) if times else np.zeros(0)
    return out


def _incomplete_share(
    scenario: Scenario, submitted: npt.NDArray[np.float64], base: float, receiving: str
) -> npt.NDArray[np.float64]:
    share = np.full(submitted.size, base)
    for fault in scenario.faults:
        if fault.kind == "incomplete" and _applies(fault.agency, receiving) and fault.rate is not None:
            inside = (submitted >= fault.start) & (submitted < fault.end)
            share[inside] = np.maximum(share[inside], fault.rate)
    return share
