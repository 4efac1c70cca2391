"""Streaming aggregates of one replication: what ``sim.metrics`` reads instead of the records.

:class:`Accumulator` consumes the twin's record chunks as they are produced (fixed log-spaced
histograms and sums, so memory does not grow with the horizon); records submitted (dossiers) or
ready (steps) before the declared warm-up are left out, except the backlog at the horizon and
the daily series used for MSER-5. Percentiles are read from :class:`Histogram` with 48 bins per
decade (interpolated; relative error well under 5%). Steps and dossiers still open at the
horizon are right-censored: they enter the duration histograms with their time so far (a lower
bound), and count as late in attainment once past their due time (see ``sim.records``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from scenarios.model import Scenario
from sim.records import DONE, OPEN, REFUSED, SERVICES

__all__ = ["DAY", "MINUTE_EDGES", "PERCENTILES", "WD_EDGES", "Accumulator", "Histogram"]

PERCENTILES = (50, 90, 95, 99)
MINUTE_EDGES = np.concatenate([[0.0], np.logspace(-3, 6, 9 * 48 + 1)])
WD_EDGES = np.concatenate([[0.0], np.logspace(-4, 3, 7 * 48 + 1)])
DAY = 1440.0
_NO_WAIT = 1e-9  # minutes: a wait at or below this is none (float noise of "served at once")


class Histogram:
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
        self.horizon = days * DAY
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
        self.cut = self.warmup_days * DAY
        ns = len(self.step_names)
        self.s_count = np.zeros(ns, np.int64)
        self.s_done = np.zeros(ns, np.int64)
        self.s_within = np.zeros(ns, np.int64)
        self.s_open = np.zeros(ns, np.int64)
        self.s_late = np.zeros(ns, np.int64)  # open at the horizon and already past due
        self.s_wait = [Histogram(MINUTE_EDGES) for _ in range(ns)]
        self.s_sojourn = [Histogram(MINUTE_EDGES) for _ in range(ns)]
        self.s_elapsed = [Histogram(WD_EDGES) for _ in range(ns)]
        self.s_timed = np.zeros(ns, np.int64)  # steps with a wait (started, or open with one so far)
        self.s_waited = np.zeros(ns, np.int64)  # … of which waited at all: P(wait) = waited / timed
        nv = len(SERVICES)
        self.d_states = np.zeros((nv, 3), np.int64)  # after warm-up
        self.d_open_all = np.zeros(nv, np.int64)
        self.d_within = np.zeros(nv, np.int64)
        self.d_late = np.zeros(nv, np.int64)  # open at the horizon and already past due
        self.d_e2e = [Histogram(WD_EDGES) for _ in range(nv)]
        self.d_sojourn = [Histogram(MINUTE_EDGES) for _ in range(nv)]
        self.day_count = np.zeros((nv, days), np.int64)
        self.day_done = np.zeros((nv, days), np.int64)
        self.day_within = np.zeros((nv, days), np.int64)
        self.day_late = np.zeros((nv, days), np.int64)
        self.day_e2e = np.zeros((nv, days))
        self.day_completed = np.zeros((nv, days), np.int64)  # throughput: by day of completion
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
        timed = ~np.isnan(rows["wait"])
        np.add.at(self.s_timed, step[timed], 1)
        np.add.at(self.s_waited, step[timed & (rows["wait"] > _NO_WAIT)], 1)
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
        day = np.clip((sub // DAY).astype(np.int64), 0, self.days - 1)
        done = state == DONE
        late_open = (state == OPEN) & (rows["due"] < self.horizon)  # nan due (not received): False
        np.add.at(self.day_count, (service, day), 1)
        np.add.at(self.day_done, (service[done], day[done]), 1)
        np.add.at(self.day_within, (service[done], day[done]), rows["within_deadline"][done].astype(np.int64))
        np.add.at(self.day_late, (service[late_open], day[late_open]), 1)
        np.add.at(self.day_e2e, (service[done], day[done]), rows["e2e_wd"][done])
        finished = done & (rows["completed"] < self.horizon)
        done_day = (rows["completed"][finished] // DAY).astype(np.int64)
        np.add.at(self.day_completed, (service[finished], done_day), 1)
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
