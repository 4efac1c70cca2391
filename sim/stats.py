"""Statistics of the twin: streaming aggregates, metrics, replications with 95% CIs, checks.

``Accumulator`` consumes the twin's record chunks as they are produced (fixed log-spaced
histograms and sums, so memory does not grow with the horizon); records submitted (dossiers) or
ready (steps) before the declared warm-up are left out of the statistics, except the backlog
at the horizon and the daily series used for MSER-5. ``metrics(result)`` turns one replication
into the plain dict documented in ``sim.records``; ``run_replications`` runs independent
replications in worker processes and ``summarize`` combines them into mean, Student-t 95% CI and
per-replication values. Percentiles are read from histograms with 48 bins per decade
(interpolated; relative error well under 5%). Steps and dossiers still open at the horizon are
right-censored: they enter the duration histograms with their time so far (a lower bound), and
count as late in attainment once past their due time (see ``sim.records``).

Little's law is checked in every metrics dict: ``L`` is the time-average number of dossiers in
the system measured by the twin over the window after warm-up; ``lambda_W`` is the arrival rate
in that window times the mean time those arrivals spent in the system (censored at the
horizon). ``identity_error`` adds the time spent in the window by dossiers submitted before it,
which makes the finite-window form of the law exact: ``ok`` when it is ~0 (the twin's own count of
dossiers in the system agrees with its records: nothing lost or finished twice). ``rel_error`` is
the plain steady-state relation ``L = λW``; ``steady_state_ok`` when it is within
``LITTLE_TOLERANCE`` (short or strongly seasonal windows miss it through edge effects).
"""

from __future__ import annotations

import copy
import functools
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from scenarios.model import AGENCY_IDS, Scenario
from sim.records import DONE, OPEN, REFUSED, SERVICES, SimSummary

if TYPE_CHECKING:
    from sim._sinks import Sink
    from sim.records import SimResult

__all__ = [
    "LITTLE_TOLERANCE",
    "Accumulator",
    "default_warmup",
    "erlang_c_wait",
    "lookup",
    "mean_ci",
    "metrics",
    "mser5",
    "run_replications",
    "student_t",
    "summarize",
    "t_quantile",
]

LITTLE_TOLERANCE = 0.10
_IDENTITY_TOLERANCE = 1e-6
PERCENTILES = (50, 90, 95, 99)
_MIN_EDGES = np.concatenate([[0.0], np.logspace(-3, 6, 9 * 48 + 1)])
_WD_EDGES = np.concatenate([[0.0], np.logspace(-4, 3, 7 * 48 + 1)])
_DAY = 1440.0
_HOUR = 60.0
_WEEK_HOURS = 168


class _Hist:
    """Counts over fixed edges (values past the last edge go to the last bin), plus sum and max."""

    __slots__ = ("counts", "edges", "max", "n", "total", "zeros")

    def __init__(self, edges: npt.NDArray[np.float64]) -> None:
        self.edges = edges
        self.counts = np.zeros(edges.size - 1, dtype=np.int64)
        self.n, self.total, self.max = 0, 0.0, -math.inf
        self.zeros = 0  # exact zeros (e.g. done on the received day: 0 WD), so a percentile can be 0

    def add(self, values: npt.NDArray[np.float64]) -> None:
        v = values[~np.isnan(values)]
        if not v.size:
            return
        i = np.clip(np.searchsorted(self.edges, v, side="right") - 1, 0, self.counts.size - 1)
        self.counts += np.bincount(i, minlength=self.counts.size)
        self.n += v.size
        self.zeros += int(np.count_nonzero(v <= 0))
        self.total += float(v.sum())
        self.max = max(self.max, float(v.max()))

    def summary(self) -> dict[str, float | None]:
        if not self.n:
            return {"mean": None, **{f"p{p}": None for p in PERCENTILES}, "max": None}
        out: dict[str, float | None] = {"mean": self.total / self.n}
        for p in PERCENTILES:
            out[f"p{p}"] = min(self.quantile(p / 100), self.max)
        out["max"] = self.max
        return out

    def quantile(self, q: float) -> float:
        rank = q * self.n
        if rank <= self.zeros:
            return 0.0
        cum = np.cumsum(self.counts)
        i = int(np.searchsorted(cum, rank, side="left"))
        i = min(i, self.counts.size - 1)
        below = cum[i - 1] if i else 0
        frac = (rank - below) / self.counts[i] if self.counts[i] else 0.0
        lo, hi = self.edges[i], self.edges[i + 1]
        if lo <= 0:
            return float(hi * frac)
        return float(lo * (hi / lo) ** frac)


class Accumulator:
    """Streaming aggregates of one replication's records (see the module docstring)."""

    def __init__(self, scenario: Scenario, days: int, warmup_days: float, step_names: Sequence[str]) -> None:
        self.days = days
        self.horizon = days * _DAY
        self.step_names = tuple(step_names)
        self.step_agency = [scenario.steps[n].agency for n in self.step_names]
        self.step_limit = [scenario.steps[n].limit_wd for n in self.step_names]
        self.service_deadlines = {
            sid: {"deadline_wd": svc.deadline_wd, "verification_deadline_wd": svc.verification_deadline_wd}
            for sid, svc in scenario.services.items()
        }
        self.reset(warmup_days)

    def reset(self, warmup_days: float) -> None:
        """Empty every aggregate and set the warm-up cut (ValueError if it does not fit the run)."""
        days = self.days
        if warmup_days < 0 or warmup_days >= days:
            raise ValueError(f"warm-up of {warmup_days:g} days does not fit a run of {days} days")
        self.warmup_days = float(warmup_days)
        self.cut = self.warmup_days * _DAY
        ns = len(self.step_names)
        self.s_count = np.zeros(ns, np.int64)
        self.s_done = np.zeros(ns, np.int64)
        self.s_within = np.zeros(ns, np.int64)
        self.s_open = np.zeros(ns, np.int64)
        self.s_late = np.zeros(ns, np.int64)  # open at the horizon and already past due
        self.s_wait = [_Hist(_MIN_EDGES) for _ in range(ns)]
        self.s_sojourn = [_Hist(_MIN_EDGES) for _ in range(ns)]
        self.s_elapsed = [_Hist(_WD_EDGES) for _ in range(ns)]
        nv = len(SERVICES)
        self.d_states = np.zeros((nv, 3), np.int64)  # after warm-up
        self.d_open_all = np.zeros(nv, np.int64)
        self.d_within = np.zeros(nv, np.int64)
        self.d_late = np.zeros(nv, np.int64)  # open at the horizon and already past due
        self.d_e2e = [_Hist(_WD_EDGES) for _ in range(nv)]
        self.d_sojourn = [_Hist(_MIN_EDGES) for _ in range(nv)]
        self.day_count = np.zeros((nv, days), np.int64)
        self.day_done = np.zeros((nv, days), np.int64)
        self.day_within = np.zeros((nv, days), np.int64)
        self.day_late = np.zeros((nv, days), np.int64)
        self.day_e2e = np.zeros((nv, days))
        self.little_in = 0.0  # censored time in system of arrivals after the cut
        self.little_n = 0
        self.carry_in = 0.0  # time after the cut of dossiers submitted before it
        self.timeline: np.ndarray | None = None

    def add_steps(self, rows: np.ndarray) -> None:
        open_ = ~rows["done"]
        np.add.at(self.s_open, rows["step"][open_].astype(np.int64), 1)
        rows = rows[rows["ready"] >= self.cut]
        step = rows["step"].astype(np.int64)
        np.add.at(self.s_count, step, 1)
        done = rows["done"]
        np.add.at(self.s_done, step[done], 1)
        np.add.at(self.s_within, step[done & rows["within_limit"]], 1)
        np.add.at(self.s_late, step[~done & (rows["due"] < self.horizon)], 1)
        for k in np.unique(step):  # open steps count with their times so far (censored)
            r = rows[step == k]
            self.s_wait[k].add(r["wait"])
            self.s_sojourn[k].add(r["sojourn"])
            self.s_elapsed[k].add(r["elapsed_wd"])

    def add_dossiers(self, rows: np.ndarray) -> None:
        service = rows["service"].astype(np.int64)
        state = rows["state"]
        np.add.at(self.d_open_all, service[state == OPEN], 1)
        sub = rows["submitted"]
        end = np.where(np.isnan(rows["completed"]), self.horizon, rows["completed"])
        early = sub < self.cut
        self.carry_in += float(np.maximum(end[early] - self.cut, 0.0).sum())
        day = np.clip((sub // _DAY).astype(np.int64), 0, self.days - 1)
        done = state == DONE
        late_open = (state == OPEN) & (rows["due"] < self.horizon)  # nan due (not received): False
        np.add.at(self.day_count, (service, day), 1)
        np.add.at(self.day_done, (service[done], day[done]), 1)
        np.add.at(self.day_within, (service[done], day[done]), rows["within_deadline"][done].astype(np.int64))
        np.add.at(self.day_late, (service[late_open], day[late_open]), 1)
        np.add.at(self.day_e2e, (service[done], day[done]), rows["e2e_wd"][done])
        late = ~early
        self.little_in += float((end[late] - sub[late]).sum())
        self.little_n += int(late.sum())
        rows, service, state = rows[late], service[late], state[late]
        late_open = late_open[late]
        np.add.at(self.d_states, (service, state.astype(np.int64)), 1)
        done = state == DONE
        np.add.at(self.d_within, service[done], rows["within_deadline"][done].astype(np.int64))
        np.add.at(self.d_late, service[late_open], 1)
        timed = state != REFUSED  # open dossiers count with their times so far (censored)
        for v in np.unique(service[timed]):
            r = rows[timed & (service == v)]
            self.d_e2e[v].add(r["e2e_wd"])
            self.d_sojourn[v].add(r["sojourn"])

    def add_timeline(self, timeline: np.ndarray) -> None:
        self.timeline = timeline


def default_warmup(scenario: Scenario, days: int) -> float:
    """The scenario's declared warm-up, or 0 when it does not fit a run of ``days`` days."""
    warm = scenario.sim.warmup_days
    return warm if warm < days else 0.0


# -- one replication ---------------------------------------------------------------------------


def metrics(result: SimResult, warmup_days: float | None = None) -> dict[str, Any]:
    """The metrics dict of one replication (schema in ``sim.records``).

    ``warmup_days`` other than the run's own needs the records (a run with ``keep=True``);
    raises ValueError otherwise, or when the warm-up does not fit the run.
    """
    acc: Accumulator = result.accumulator
    if warmup_days is not None and float(warmup_days) != acc.warmup_days:
        if not result.dossiers.size:
            raise ValueError("a different warm-up needs the records: run the twin with keep=True")
        acc = copy.copy(acc)
        acc.reset(float(warmup_days))
        acc.add_steps(result.steps)
        acc.add_dossiers(result.dossiers)
        acc.add_timeline(result.timeline)
    return _metrics(result, acc)


def _metrics(result: SimResult, acc: Accumulator) -> dict[str, Any]:
    return {
        "scenario": result.scenario,
        "seed": result.seed,
        "replication": result.replication,
        "days": result.days,
        "warmup_days": acc.warmup_days,
        "capacity": {a: list(c) for a, c in result.capacity.items()},
        "services": _services(result, acc),
        "steps": _steps(acc),
        "agencies": _agencies(result, acc),
        "backlog": _backlog(acc),
        "little": _little(acc),
        "warmup": {"declared_days": acc.warmup_days, "mser5_days": _mser_days(acc)},
        "events": result.events,
        "wall_s": result.wall_s,
    }


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _services(result: SimResult, acc: Accumulator) -> dict[str, Any]:
    out: dict[str, Any] = {}
    limits: dict[str, dict[str, float]] = acc.service_deadlines  # type: ignore[assignment]
    for v, sid in enumerate(SERVICES):
        if sid not in result.variant_names:
            continue
        done, refused, open_ = (int(x) for x in acc.d_states[v])
        arrivals = done + refused + open_
        weeks = max(1, math.ceil(acc.days / 7))
        pad = weeks * 7 - acc.days
        w_done = np.pad(acc.day_done[v], (0, pad)).reshape(weeks, 7).sum(axis=1)
        w_within = np.pad(acc.day_within[v], (0, pad)).reshape(weeks, 7).sum(axis=1)
        w_judged = w_done + np.pad(acc.day_late[v], (0, pad)).reshape(weeks, 7).sum(axis=1)
        out[sid] = {
            **limits.get(sid, {}),
            "arrivals": arrivals,
            "done": done,
            "refused": refused,
            "open": open_,
            "open_late": int(acc.d_late[v]),
            "attainment": _ratio(int(acc.d_within[v]), done + int(acc.d_late[v])),
            "refusal_rate": _ratio(refused, arrivals),
            "e2e_wd": acc.d_e2e[v].summary(),
            "sojourn_min": acc.d_sojourn[v].summary(),
            "weekly_attainment": [_ratio(int(w), int(d)) for w, d in zip(w_within, w_judged, strict=True)],
        }
    return out


def _steps(acc: Accumulator) -> dict[str, Any]:
    return {
        name: {
            "agency": acc.step_agency[k],
            "limit_wd": acc.step_limit[k],
            "count": int(acc.s_count[k]),
            "open": int(acc.s_open[k]),
            "open_late": int(acc.s_late[k]),
            "attainment": _ratio(int(acc.s_within[k]), int(acc.s_done[k] + acc.s_late[k])),
            "wait_min": acc.s_wait[k].summary(),
            "sojourn_min": acc.s_sojourn[k].summary(),
            "elapsed_wd": acc.s_elapsed[k].summary(),
        }
        for k, name in enumerate(acc.step_names)
    }


def _window(acc: Accumulator) -> tuple[np.ndarray, int]:
    """The hourly timeline and the index of the first snapshot at or after the warm-up cut."""
    tl = acc.timeline
    assert tl is not None, "the run has not finished"
    first = int(np.searchsorted(tl["t"], acc.cut - 1e-9))
    return tl, min(first, tl.size - 1)


def _agencies(result: SimResult, acc: Accumulator) -> dict[str, Any]:
    tl, first = _window(acc)
    hours = tl.size - 1  # snapshots at 0, 60, ..., horizon
    span = tl["t"][-1] - tl["t"][first]
    office = result.office_minutes[:hours]
    system = result.system_minutes[:hours]
    how = (np.arange(hours) % _WEEK_HOURS)[first:]
    out: dict[str, Any] = {}
    for aid, (desks, servers) in result.capacity.items():
        a = AGENCY_IDS.index(aid)
        busy = np.diff(tl["desk_busy_area"][:, a])[first:]
        cap = desks * office[first:, a]
        sbusy = np.diff(tl["sys_busy_area"][:, a])[first:]
        scap = servers * system[first:, a]
        by_hour_busy = np.bincount(how, busy, minlength=_WEEK_HOURS)
        by_hour_cap = np.bincount(how, cap, minlength=_WEEK_HOURS)
        out[aid] = {
            "desks": desks,
            "servers": servers,
            "desk_utilisation": _ratio(float(busy.sum()), float(cap.sum())),
            "system_utilisation": _ratio(float(sbusy.sum()), float(scap.sum())),
            "desk_queue_mean": _ratio(
                float(tl["desk_queue_area"][-1, a] - tl["desk_queue_area"][first, a]), span
            ),
            "system_queue_mean": _ratio(
                float(tl["sys_queue_area"][-1, a] - tl["sys_queue_area"][first, a]), span
            ),
            "utilisation_by_hour": [
                _ratio(float(b), float(c)) if c > 0 else None
                for b, c in zip(by_hour_busy, by_hour_cap, strict=True)
            ],
        }
    return out


def _backlog(acc: Accumulator) -> dict[str, Any]:
    tl = acc.timeline
    assert tl is not None
    return {"open_at_horizon": int(acc.d_open_all.sum()), "hourly_wip": tl["wip"].tolist()}


def _little(acc: Accumulator) -> dict[str, Any]:
    tl, first = _window(acc)
    span = float(tl["t"][-1] - tl["t"][first])
    if span <= 0 or not acc.little_n:
        return {
            "L": None,
            "lambda_per_min": None,
            "W_min": None,
            "lambda_W": None,
            "rel_error": None,
            "identity_error": None,
            "ok": False,
        }
    L = float(tl["wip_area"][-1] - tl["wip_area"][first]) / span
    lam = acc.little_n / span
    W = acc.little_in / acc.little_n
    identity = (acc.little_in + acc.carry_in) / span
    rel = abs(L - lam * W) / L if L else 0.0
    ident = abs(L - identity) / L if L else 0.0
    return {
        "L": L,
        "lambda_per_min": lam,
        "W_min": W,
        "lambda_W": lam * W,
        "rel_error": rel,
        "identity_error": ident,
        "ok": bool(ident <= _IDENTITY_TOLERANCE),
        "steady_state_ok": bool(rel <= LITTLE_TOLERANCE),
    }


def _mser_days(acc: Accumulator) -> float | None:
    done = acc.day_done.sum(axis=0)
    mean = np.divide(acc.day_e2e.sum(axis=0), done, out=np.full(done.size, np.nan), where=done > 0)
    mean = mean[~np.isnan(mean)]
    if mean.size < 10:
        return None
    return float(mser5(mean))


# -- warm-up, CIs, queueing formulas ------------------------------------------------------------


def mser5(series: npt.ArrayLike) -> int:
    """MSER-5 truncation point: how many leading observations to drop (a multiple of 5).

    Batches of 5 observations; the cut minimises the squared standard error of the remaining
    batch means, searched over the first half. Raises ValueError for fewer than 10 observations.
    """
    x = np.asarray(series, dtype=float)
    m = x.size // 5
    if m < 2:
        raise ValueError(f"MSER-5 needs at least 10 observations, got {x.size}")
    z = x[: m * 5].reshape(m, 5).mean(axis=1)
    best, best_d = math.inf, 0
    for d in range(m // 2 + 1):
        rest = z[d:]
        stat = float(((rest - rest.mean()) ** 2).sum()) / (rest.size**2)
        if stat < best:
            best, best_d = stat, d
    return best_d * 5


def student_t(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (for a two-sided 95% CI)."""
    return t_quantile(0.975, df)


@functools.lru_cache(maxsize=256)
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (to about 1e-6).

    Inverts ``P(T <= t) = 1 - I_x(df/2, 1/2) / 2`` with ``x = df / (df + t²)`` by bisection.
    Raises ValueError unless ``0.5 <= p < 1`` and ``df >= 1``.
    """
    if not 0.5 <= p < 1:
        raise ValueError(f"quantile level must be in [0.5, 1), got {p}")
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    tail = 2 * (1 - p)  # P(|T| > t) = I_x(df/2, 1/2)
    lo, hi = 0.0, 1.0
    while _beta_inc(df / 2, 0.5, df / (df + hi * hi)) > tail:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if _beta_inc(df / 2, 0.5, df / (df + mid * mid)) > tail:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-10 * hi:
            break
    return (lo + hi) / 2


def _beta_inc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta ``I_x(a, b)`` (continued fraction, modified Lentz)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast only below the mean
        return 1.0 - _beta_inc(b, a, 1.0 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 500):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * f / a


def mean_ci(values: Sequence[float], level: float = 0.975) -> tuple[float, float | None]:
    """Mean of ``values`` and the Student-t half-width at quantile ``level`` (0.975: the
    two-sided 95% CI; 0.95: a one-sided 95% bound); None with fewer than 2 values.

    Raises ValueError for an empty sequence.
    """
    if not values:
        raise ValueError("no values")
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    sd = math.sqrt(sum((x - mean) ** 2 for x in values) / (n - 1))
    return mean, t_quantile(level, n - 1) * sd / math.sqrt(n)


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of an M/M/c queue (Erlang C): arrival rate ``lam``, service rate ``mu``.

    Raises ValueError unless ``lam, mu > 0``, ``c >= 1`` and ``lam < c * mu`` (stable).
    """
    if lam <= 0 or mu <= 0 or c < 1:
        raise ValueError(f"need lam > 0, mu > 0, c >= 1; got {lam}, {mu}, {c}")
    a = lam / mu
    if a >= c:
        raise ValueError(f"unstable queue: offered load {a:g} >= {c} servers")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)  # Erlang B recursion
    pc = b / (1 - (a / c) * (1 - b))
    return pc / (c * mu - lam)


# -- replications -------------------------------------------------------------------------------

_STATIC = {
    "scenario",
    "seed",
    "days",
    "warmup_days",
    "agency",
    "limit_wd",
    "deadline_wd",
    "verification_deadline_wd",
    "desks",
    "servers",
    "capacity",
    "declared_days",
    "replication",
}


def summarize(per_replication: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Combine replication metric dicts: every figure becomes ``{"mean", "ci95", "values"}``.

    Lists become element-wise means (None ignored), booleans ``all``; configuration keys are
    kept from the first. Raises ValueError for an empty sequence.
    """
    if not per_replication:
        raise ValueError("no replications to summarize")
    out = _combine(list(per_replication), "")
    out["replications"] = len(per_replication)
    out.pop("replication", None)
    return out


def _combine(items: list[Any], key: str) -> Any:
    first = items[0]
    if key in _STATIC:
        return first
    if isinstance(first, dict):
        return {k: _combine([it.get(k) for it in items], k) for k in first}
    if isinstance(first, bool):
        return all(bool(x) for x in items)
    if isinstance(first, list):
        return [_mean_or_none([it[j] if j < len(it) else None for it in items]) for j in range(len(first))]
    if first is None or isinstance(first, int | float):
        return _stat(items)
    return first


def _mean_or_none(values: list[Any]) -> float | None:
    xs = [float(v) for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


def _stat(values: list[Any]) -> dict[str, Any]:
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return {"mean": None, "ci95": None, "values": values}
    mean, half = mean_ci(xs)
    return {"mean": mean, "ci95": None if half is None else [mean - half, mean + half], "values": values}


class _Replication(NamedTuple):
    scenario: Scenario
    replication: int
    days: int
    capacity: dict[str, tuple[int, int]] | None
    warmup_days: float
    seed: int | None
    keep: str  # "none": metrics only; "aggregates": also the SimResult; "records": with its records
    sink: Sink | None


def _replicate(task: _Replication) -> tuple[dict[str, Any], SimResult | None]:
    from sim.twin import run

    result = run(
        task.scenario,
        days=task.days,
        replication=task.replication,
        seed=task.seed,
        capacity=task.capacity,
        keep=task.keep == "records",
        sink=task.sink,
        warmup_days=task.warmup_days,
    )
    return metrics(result), (None if task.keep == "none" else result)


def run_replications(
    scenario: Scenario,
    replications: int | None = None,
    days: int | None = None,
    *,
    workers: int = 2,
    capacity: dict[str, tuple[int, int]] | None = None,
    warmup_days: float | None = None,
    seed: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    first: str = "none",
    first_sink: Sink | None = None,
) -> SimSummary:
    """Independent replications (0..R-1) in ``workers`` processes, combined with 95% CIs.

    Defaults come from ``scenario.sim``; ``progress(done, total)`` is called as each replication
    finishes. ``first`` returns replication 0's ``SimResult`` as ``SimSummary.first`` (for plots,
    so nothing needs rerunning): ``"aggregates"`` (its hourly timeline and streaming aggregates,
    no records) or ``"records"`` (its records kept in memory too); ``first_sink`` receives
    replication 0's records as it runs (in its worker process). Raises ValueError for fewer
    than 1 replication or worker, or another ``first``.
    """
    reps = scenario.sim.replications if replications is None else replications
    days = scenario.sim.days if days is None else days
    warm = default_warmup(scenario, days) if warmup_days is None else warmup_days
    if reps < 1 or workers < 1:
        raise ValueError(f"need at least 1 replication and 1 worker, got {reps} and {workers}")
    if first not in _FIRST:
        raise ValueError(f"first must be one of {', '.join(_FIRST)}, got {first!r}")
    began = time.perf_counter()
    tasks = [
        _Replication(
            scenario,
            r,
            days,
            capacity,
            warm,
            seed,
            first if r == 0 else "none",
            first_sink if r == 0 else None,
        )
        for r in range(reps)
    ]
    results: list[tuple[dict[str, Any], SimResult | None] | None] = [None] * reps
    if workers == 1 or reps == 1:
        for r, task in enumerate(tasks):
            results[r] = _replicate(task)
            if progress:
                progress(r + 1, reps)
    else:
        ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with ProcessPoolExecutor(max_workers=min(workers, reps), mp_context=ctx) as pool:
            futures = {pool.submit(_replicate, task): r for r, task in enumerate(tasks)}
            for finished, fut in enumerate(as_completed(futures), start=1):
                results[futures[fut]] = fut.result()
                if progress:
                    progress(finished, reps)
    per_rep = [r[0] for r in results if r is not None]
    combined = summarize(per_rep)
    combined["wall_s"] = time.perf_counter() - began
    caps = {a: (int(c[0]), int(c[1])) for a, c in per_rep[0]["capacity"].items()}
    return SimSummary(
        scenario=scenario.meta.name,
        seed=scenario.meta.seed if seed is None else seed,
        days=days,
        warmup_days=float(warm),
        capacity=caps,
        metrics=combined,
        replications=per_rep,
        wall_s=combined["wall_s"],
        first=results[0][1] if results[0] is not None else None,
    )


_FIRST = ("none", "aggregates", "records")


# -- thresholds ---------------------------------------------------------------------------------


def lookup(m: dict[str, Any], metric: str, stat: str) -> Any:
    """The figure a threshold reads: ``lookup(m, "birth.e2e", "p95")`` (working days).

    ``<service>.e2e``: ``mean``/``pNN``/``max`` of ``e2e_wd``, ``attainment``, ``count`` (done),
    ``rate`` (refusal rate). ``step.<id>``: ``mean``/``pNN``/``max`` of ``elapsed_wd``,
    ``attainment``, ``count``. Raises KeyError naming what is unknown.
    """
    head, _, name = metric.partition(".")
    if head in m.get("services", {}) and name == "e2e":
        svc = m["services"][head]
        table = {"attainment": "attainment", "count": "done", "rate": "refusal_rate"}
        return svc[table[stat]] if stat in table else _dist_stat(svc["e2e_wd"], stat, metric)
    if head == "step" and name in m.get("steps", {}):
        st = m["steps"][name]
        if stat in ("attainment", "count"):
            return st[stat]
        return _dist_stat(st["elapsed_wd"], stat, metric)
    raise KeyError(
        f"no metric {metric!r} in these results (services: "
        f"{', '.join(m.get('services', {}))}; steps: step.<id>)"
    )


def _dist_stat(dist: dict[str, Any], stat: str, metric: str) -> Any:
    if stat not in dist:
        raise KeyError(f"no statistic {stat!r} for {metric!r}; have {', '.join(dist)}")
    return dist[stat]
