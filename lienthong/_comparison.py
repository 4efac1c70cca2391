"""The measured journeys of a live run against the twin on the same arrival stream (private).

The twin (``sim.twin``) is run ``R`` times on the run's own stream (:func:`twin_prediction`):
the replications share the arrivals and differ in their service and supplementation draws.
Both sides are then reduced by one function, :func:`group_figures`, from the same three arrays
per linked group — when each dossier was received, when it was completed (``nan``: not), and
its due minute — censored at the same minute ``E``, the end of the live run's observation:

- a dossier counts once it is received by ``E``; it is *counted* when its outcome is known at
  ``E`` (completed by ``E``, or due by ``E``) and *met* when completed by ``min(due, E)``;
  attainment = met / counted;
- end-to-end times of the dossiers completed by ``E``, from their received time on the
  scenario's main calendar: in working days (``Workdays.used_wd``: 0 = done on the received
  day) and in working hours (statutory working time — office hours of working days, a staffed
  Saturday or Sunday never counted — from the statutory clock start to completion), with
  p50 and p95 (numpy's linear interpolation, like every exact percentile of a live run).

Rejected dossiers (refused by an agency, or never supplemented) are left out of both sides.

The twin's figure is the mean over replications with a Student-t 95% interval; the measured
one has its own sampling error (``sqrt(p(1-p)/n)`` for attainment, the distribution-free
order-statistic interval for a percentile). A group *agrees* when every compared figure
(attainment, p50 and p95 in working hours) lies in the twin's interval widened on each side by
1.96 of those standard errors (:data:`RULE`).
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from loadtests.journeys import COMPLETED, FAILED, OPEN, STUCK, UNTRACKED, ScenarioClock
from scenarios.demand import calendar_for
from scenarios.desks import DAY, Workdays
from scenarios.model import Scenario
from sim.confidence import t_quantile

__all__ = [
    "COMPARED",
    "GROUPS",
    "MIN_REPLICATIONS",
    "RULE",
    "Dossiers",
    "Figures",
    "TwinRun",
    "WipBand",
    "compare",
    "compare_group",
    "end_minute",
    "findings",
    "fmt",
    "fmt_span",
    "group_figures",
    "main_workdays",
    "measured_dossiers",
    "order_statistic_se",
    "replications_for",
    "twin_prediction",
    "twin_runs",
    "wip_band",
]

Floats = npt.NDArray[np.float64]

GROUPS = ("birth", "death")
MIN_REPLICATIONS = 10
Z = 1.96
# The twin runs this many days past the stream, so dossiers of the stream's last day finish
# (deadlines in working days, a weekend or Tết in between) and it sees past the live run's end.
PAST_STREAM_DAYS = 28
# Replications run in a process pool above this many arrivals (below, a pool costs more than
# it saves: one replication of a day's stream takes a few hundredths of a second).
POOL_ABOVE = 10_000
_CALENDAR_MARGIN_DAYS = 150  # deadlines of late dossiers reach past the horizon (as in the twin)
_EPS = 1e-9

# (figure key, label, unit, direction in which the measurement is worse than the twin)
FIGURES: tuple[tuple[str, str, str, int], ...] = (
    ("attainment", "within deadline", "%", -1),
    ("p50_wh", "e2e p50", "WH", +1),
    ("p95_wh", "e2e p95", "WH", +1),
    ("p50_wd", "e2e p50", "WD", +1),
    ("p95_wd", "e2e p95", "WD", +1),
)
COMPARED = ("attainment", "p50_wh", "p95_wh")

RULE = (
    "A group agrees with the twin when each compared figure (share within deadline, e2e p50 and "
    "p95 in working hours) lies inside the twin's 95% interval (mean ± t(0.975, R−1)·sd/√R over "
    "its R replications) widened on each side by the measurement's own sampling error: the larger "
    "of 1.96 × its standard error from its dossiers (√(p(1−p)/n) for the share of n counted "
    "dossiers; for a percentile, half the width of its distribution-free 95% order-statistic "
    "interval ÷ 1.96) and the run-to-run spread of one run on the same stream, as the twin's own "
    "replications show it (t·sd·√(1+1/R) − t·sd/√R: a live run is one run, and waits in one "
    "queue are not independent), both sides censored at the same minute E; working days are "
    "shown, not compared (same-day work reads 0 WD)."
)


# -- the arrays both sides are reduced from ---------------------------------------------------


@dataclass(frozen=True)
class Dossiers:
    """One group's dossiers: received, completed (``nan``: not completed) and due minutes."""

    received: Floats
    completed: Floats
    due: Floats

    def __post_init__(self) -> None:
        sizes = {np.shape(self.received), np.shape(self.completed), np.shape(self.due)}
        if len(sizes) != 1:
            raise ValueError(f"received, completed and due differ in shape: {sorted(sizes)}")

    @classmethod
    def of(cls, received: npt.ArrayLike, completed: npt.ArrayLike, due: npt.ArrayLike) -> Dossiers:
        def f(x: npt.ArrayLike) -> Floats:
            return np.asarray(x, dtype=np.float64).reshape(-1)

        return cls(f(received), f(completed), f(due))


@dataclass(frozen=True)
class Figures:
    """What :func:`group_figures` finds in one group's dossiers at minute ``end``.

    ``received``: dossiers received by ``end``; ``counted``: of those, outcome known at ``end``;
    ``met``: completed by ``min(due, end)``; ``wd``/``wh``: sorted end-to-end working days and
    hours of the ``completed`` ones.
    """

    end: float
    received: int
    counted: int
    met: int
    wd: Floats
    wh: Floats

    @property
    def completed(self) -> int:
        return int(self.wd.size)

    @property
    def attainment(self) -> float | None:
        return self.met / self.counted if self.counted else None

    def value(self, key: str) -> float | None:
        """``"attainment"``, ``"p50_wd"``, ``"p95_wh"``, …; None when there is nothing to measure."""
        if key == "attainment":
            return self.attainment
        q, unit = key[1:].split("_")
        x = self.wd if unit == "wd" else self.wh
        return float(np.percentile(x, float(q))) if x.size else None

    def se(self, key: str) -> float | None:
        """The measurement's standard error of :meth:`value` (None when it has no value)."""
        if key == "attainment":
            p = self.attainment
            return None if p is None else math.sqrt(p * (1.0 - p) / self.counted)
        q, unit = key[1:].split("_")
        return order_statistic_se(self.wd if unit == "wd" else self.wh, float(q) / 100.0)


def main_workdays(scenario: Scenario, until_minute: float) -> Workdays:
    """The scenario's main working calendar (what statutory deadlines run on), up to
    ``until_minute`` and the twin's margin past it."""
    days = math.ceil(max(until_minute, 0.0) / DAY) + 1 + _CALENDAR_MARGIN_DAYS
    return Workdays(calendar_for(scenario), scenario.calendar.start, days)


def group_figures(d: Dossiers, end: float, workdays: Workdays) -> Figures:
    """Attainment and end-to-end times of one group's dossiers as known at minute ``end``.

    The one function both the measured run and every replication of the twin go through.
    A dossier received after ``end`` (or never) is not there yet; one completed after ``end``
    is open at ``end``.
    """
    here = np.isfinite(d.received) & (d.received <= end)
    r, c, due = d.received[here], d.completed[here], d.due[here]
    with np.errstate(invalid="ignore"):
        done = np.isfinite(c) & (c <= end)
        known = done | (due <= end)
        met = done & (c <= due)
    rd, cd = r[done], c[done]
    wd = workdays.used_wd(rd, cd) if rd.size else np.zeros(0)
    # statutory working hours: office hours of working days only, never a staffed Saturday's
    office = workdays.statutory.office_v
    wh = np.maximum(office(cd) - office(workdays.clock_start(rd)), 0.0) / 60.0 if rd.size else np.zeros(0)
    return Figures(
        end=float(end),
        received=int(r.size),
        counted=int(known.sum()),
        met=int(met.sum()),
        wd=np.sort(np.asarray(wd, dtype=np.float64)),
        wh=np.sort(np.asarray(wh, dtype=np.float64)),
    )


def order_statistic_se(values: npt.ArrayLike, q: float) -> float | None:
    """Standard error of the ``q`` quantile of ``values`` from its distribution-free 95%
    interval: the order statistics at ranks ``n·q ± 1.96·sqrt(n·q·(1−q))`` (clipped to the
    sample), half the width between them ÷ 1.96. None for an empty sample."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    if not n:
        return None
    centre, half = n * q, Z * math.sqrt(n * q * (1.0 - q))
    lo = min(max(math.floor(centre - half), 1), n)
    hi = min(max(math.ceil(centre + half), 1), n)
    return float(x[hi - 1] - x[lo - 1]) / 2.0 / Z


# -- the measured side ------------------------------------------------------------------------


def measured_dossiers(
    scenario: Scenario, journeys: npt.NDArray[np.void], clock: ScenarioClock, workdays: Workdays
) -> dict[str, Dossiers]:
    """Each group's accepted dossiers of a live run: received when the portal accepted them,
    completed at the portal's ``completed_minute`` (``nan`` for one open, stuck, failed or untracked), due
    ``Service.limits_wd`` working days after (the variant's own limit where it has one)."""
    accepted = np.asarray(clock.minute(journeys["accepted"]), dtype=np.float64)
    outcome = journeys["outcome"]
    followed = np.isfinite(accepted) & np.isin(outcome, (COMPLETED, OPEN, STUCK, UNTRACKED, FAILED))
    out: dict[str, Dossiers] = {}
    for code, group in enumerate(GROUPS):
        if group not in scenario.services:
            continue
        svc = scenario.services[group]
        sel = followed & (journeys["service"] == code)
        received = accepted[sel]
        completed = np.where(outcome[sel] == COMPLETED, journeys["completed_minute"][sel], np.nan)
        limit = svc.limits_wd(journeys["variant"][sel], journeys["verification"][sel])
        due = workdays.deadline(received, limit.astype(np.float64)) if received.size else np.zeros(0)
        out[group] = Dossiers.of(received, completed, due)
    return out


def end_minute(merged: Any, clock: ScenarioClock) -> float:
    """``E``: the scenario minute the live run stopped following dossiers.

    ``merged.end_minute`` when the load process reported it; else the latest minute observed in
    the records (the last request's end, the last completion or poll that saw one).
    """
    told = getattr(merged, "end_minute", None)
    if told is not None and math.isfinite(float(told)):
        return float(told)
    seen = [0.0]
    j, r = merged.journeys, merged.requests
    for minutes in (
        clock.minute(r["end"]) if r.size else np.zeros(0),
        j["completed_minute"] if j.size else np.zeros(0),
        clock.minute(j["finished"]) if j.size else np.zeros(0),
    ):
        m = np.asarray(minutes, dtype=np.float64)
        m = m[np.isfinite(m)]
        if m.size:
            seen.append(float(m.max()))
    return max(seen)


# -- the twin's side --------------------------------------------------------------------------


@dataclass(frozen=True)
class TwinRun:
    """One replication of the twin on the stream: each group's dossiers as a live run would have
    followed them, dossiers in the system at every hour from minute 0 (``wip``, the twin's own
    timeline), its metrics in brief (``services``), and when each dossier arrived and left
    (sorted; ``inf``: still in at the horizon) for :meth:`backlog`."""

    replication: int
    horizon: float
    dossiers: dict[str, Dossiers]
    wip: Floats
    services: dict[str, Any]
    arrived: Floats = field(default_factory=lambda: np.zeros(0))
    left: Floats = field(default_factory=lambda: np.zeros(0))

    def backlog(self, minutes: npt.ArrayLike) -> Floats:
        """Dossiers arrived by each minute and not yet completed or rejected, counted as a live
        run counts them (``loadtests.results.backlog_curve``): one the run would not have had
        accepted (never supplemented, or only after the stream's end) leaves on arrival."""
        m = np.asarray(minutes, dtype=np.float64)
        inside = np.searchsorted(self.arrived, m, "right") - np.searchsorted(self.left, m, "right")
        return inside.astype(np.float64)


def replications_for(scenario: Scenario) -> int:
    """``R``: the scenario's replications, at least :data:`MIN_REPLICATIONS`."""
    return max(MIN_REPLICATIONS, int(scenario.sim.replications))


def _one_run(
    scenario: Scenario, stream: npt.NDArray[np.void], days: int, replication: int, stream_end: float
) -> TwinRun:
    """Replication ``replication`` over ``days`` days. A live run supplements an incomplete
    dossier only before the stream's end (``stream_end``); one the twin receives later, like one
    never supplemented or refused, is left out of the dossiers compared."""
    from sim.metrics import metrics
    from sim.records import DONE, OPEN, REFUSED
    from sim.twin import simulate

    res = simulate(scenario, days=days, stream=stream, replication=replication, warmup_days=0)
    rows = res.dossiers
    received = rows["received"]
    with np.errstate(invalid="ignore"):
        unfollowed = ~np.isfinite(received) | (rows["incomplete"] & (received > stream_end))
    dossiers: dict[str, Dossiers] = {}
    for code, group in enumerate(GROUPS):
        if group not in scenario.services:
            continue
        g = rows[(rows["service"] == code) & (rows["state"] != REFUSED) & ~unfollowed]
        completed = np.where(g["state"] == DONE, g["completed"], np.nan)
        dossiers[group] = Dossiers.of(g["received"], completed, g["due"])
    left = np.where(rows["state"] == OPEN, np.inf, rows["completed"])
    left = np.where(unfollowed, rows["submitted"], left)
    fields = ("arrivals", "done", "refused", "open", "attainment", "e2e_wd")
    m = metrics(res)
    services = {k: {f: v.get(f) for f in fields} for k, v in m["services"].items()}
    return TwinRun(replication, res.horizon, dossiers, res.timeline["wip"].astype(np.float64), services,
                   np.sort(rows["submitted"].astype(np.float64)), np.sort(left.astype(np.float64)))


def _one_run_task(args: tuple[Scenario, npt.NDArray[np.void], int, int, float]) -> TwinRun:
    return _one_run(*args)


def twin_runs(
    scenario: Scenario,
    stream: npt.NDArray[np.void],
    days: int,
    replications: int,
    workers: int | None = None,
    pool_above: int = POOL_ABOVE,
    stream_end: float = math.inf,
) -> list[TwinRun]:
    """Replications ``0..replications-1`` of the twin on ``stream`` over ``days`` days, in
    replication order: in a pool of ``workers`` processes (default: up to 2) for a stream of
    more than ``pool_above`` arrivals, else in this process. ``stream_end``: the minute after
    which the live run supplements no incomplete dossier (see :class:`TwinRun`)."""
    if replications < 1:
        raise ValueError(f"need at least 1 replication, got {replications}")
    tasks = [(scenario, stream, days, r, stream_end) for r in range(replications)]
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers < 2 or stream.size <= pool_above:
        return [_one_run_task(t) for t in tasks]
    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with ProcessPoolExecutor(max_workers=min(workers, replications), mp_context=ctx) as pool:
        return list(pool.map(_one_run_task, tasks))


def twin_prediction(scenario: Scenario, stream: npt.NDArray[np.void], days: int) -> dict[str, Any]:
    """The twin on the run's own arrival stream, :func:`replications_for` times, running
    :data:`PAST_STREAM_DAYS` days past it so its dossiers finish and it sees past the live
    run's end.

    ``{"services": per group the mean over replications of arrivals, done, refused, open,
    attainment, e2e_wd (censored at the twin's horizon, not at the run's end), "hourly_wip":
    mean dossiers in the system per hour, "runs": [TwinRun …], "replications": R,
    "horizon_minutes"}``.
    """
    runs = twin_runs(scenario, stream, days + PAST_STREAM_DAYS, replications_for(scenario),
                     stream_end=days * DAY)
    return {
        "services": _mean_services([r.services for r in runs]),
        "hourly_wip": np.mean([r.wip for r in runs], axis=0).tolist(),
        "runs": runs,
        "replications": len(runs),
        "horizon_minutes": runs[0].horizon,
    }


def _mean_services(per_run: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    def mean(values: Sequence[Any]) -> Any:
        if values and isinstance(values[0], Mapping):
            return {k: mean([v.get(k) for v in values]) for k in values[0]}
        xs = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if not xs:
            return None
        m = sum(xs) / len(xs)
        return int(m) if all(float(x).is_integer() and x == xs[0] for x in xs) else m

    return {g: {f: mean([r[g][f] for r in per_run]) for f in per_run[0][g]} for g in per_run[0]}


# -- the comparison ---------------------------------------------------------------------------


def _mean_sd(values: Sequence[float | None]) -> tuple[list[float], float, float]:
    """The values present, their mean and sample sd (0 with fewer than two)."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return xs, math.nan, 0.0
    mean = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return xs, mean, sd


def _interval(values: Sequence[float | None]) -> tuple[float | None, list[float] | None]:
    """Mean and Student-t 95% interval of the values present (a point when all are equal)."""
    xs, mean, sd = _mean_sd(values)
    if not xs:
        return None, None
    if min(xs) == max(xs):  # identical replications: a point, exactly
        return xs[0], ([xs[0], xs[0]] if len(xs) > 1 else None)
    if len(xs) < 2:
        return mean, None
    half = t_quantile(0.975, len(xs) - 1) * sd / math.sqrt(len(xs))
    return mean, [mean - half, mean + half]


def _spread(values: Sequence[float | None]) -> float:
    """How much wider than the interval of the mean the 95% prediction interval of one more run
    is: ``t·sd·(√(1+1/R) − 1/√R)`` over the replications' values (0 with fewer than two)."""
    xs, _, sd = _mean_sd(values)
    r = len(xs)
    if r < 2:
        return 0.0
    return t_quantile(0.975, r - 1) * sd * (math.sqrt(1 + 1 / r) - 1 / math.sqrt(r))


def _figure(key: str, measured: Figures, twin: Sequence[Figures]) -> dict[str, Any]:
    value, se = measured.value(key), measured.se(key)
    values = [f.value(key) for f in twin]
    mean, ci = _interval(values)
    error = None if se is None else max(Z * se, _spread(values))
    widened = None if ci is None or error is None else [ci[0] - error, ci[1] + error]
    agrees, none_completed = None, None
    if value is not None and widened is not None:
        agrees = widened[0] - _EPS <= value <= widened[1] + _EPS
    elif key != "attainment" and measured.received and (value is None) != (mean is None):
        # one side completed dossiers by E and the other none: as far apart as they can be
        agrees, none_completed = False, "measured" if value is None else "twin"
    return {"measured": value, "measured_se": se, "twin": mean, "twin_ci95": ci, "widened": widened,
            "agrees": agrees, "compared": key in COMPARED, "none_completed": none_completed}


def compare_group(measured: Figures, twin: Sequence[Figures]) -> dict[str, Any]:
    """One group's ``comparison`` entry from the measured figures and one per replication."""
    figs = {key: _figure(key, measured, twin) for key, *_ in FIGURES}
    verdicts = [figs[k]["agrees"] for k in COMPARED if figs[k]["agrees"] is not None]
    out: dict[str, Any] = {
        "measured_attainment": figs["attainment"]["measured"],
        "twin_attainment": figs["attainment"]["twin"],
        "twin_attainment_ci95": figs["attainment"]["twin_ci95"],
        "measured_p95_wh": figs["p95_wh"]["measured"],
        "twin_p95_wh": figs["p95_wh"]["twin"],
        "twin_p95_wh_ci95": figs["p95_wh"]["twin_ci95"],
        "agrees": all(verdicts) if verdicts else None,
    }
    for key in ("p50_wh", "p50_wd", "p95_wd"):
        out[f"measured_{key}"] = figs[key]["measured"]
        out[f"twin_{key}"] = figs[key]["twin"]
        out[f"twin_{key}_ci95"] = figs[key]["twin_ci95"]
    out.update({
        "measured_received": measured.received,
        "measured_counted": measured.counted,
        "measured_met": measured.met,
        "measured_completed": measured.completed,
        "twin_counted": _interval([float(f.counted) for f in twin])[0],
        "replications": len(twin),
        "end_minute": measured.end,
        "compared": list(COMPARED),
        "figures": figs,
        "rule": RULE,
    })
    if out["agrees"] is None:
        out["why_null"] = (
            "no dossier of this group was received by the end of the run" if not measured.received
            else f"of the {measured.received} dossiers received, none was completed by E on either side "
            "and none measured was past due: nothing to compare yet"
        )
    return out


def compare(
    scenario: Scenario,
    measured: Mapping[str, Dossiers],
    runs: Sequence[TwinRun],
    end: float,
    *,
    shift_minutes: float = 0.0,
    workdays: Workdays | None = None,
) -> dict[str, Any]:
    """``{group: comparison entry}`` for every group of the scenario, both sides censored at
    ``end`` (the live run's minute; the twin's stream starts ``shift_minutes`` earlier).

    ``end`` beyond the twin's horizon is brought back to it, on both sides, so neither knows
    more than the other. Raises ValueError without replications.
    """
    if not runs:
        raise ValueError("no replications of the twin to compare with")
    run_end = float(end)
    end = min(run_end, min(r.horizon for r in runs) + shift_minutes)
    wd = workdays or main_workdays(scenario, end + abs(shift_minutes))
    out: dict[str, Any] = {}
    for group in GROUPS:
        if group not in scenario.services:
            continue
        empty = Dossiers.of([], [], [])
        mine = group_figures(measured.get(group, empty), end, wd)
        theirs = [group_figures(r.dossiers.get(group, empty), end - shift_minutes, wd) for r in runs]
        out[group] = compare_group(mine, theirs)
        if end < run_end:
            out[group]["run_end_minute"] = run_end  # E brought back to the twin's horizon
    return out


def fmt(x: float | None, unit: str = "") -> str:
    """A figure as the comparison prints it: ``'98.4%'``, ``'0.93 WH'``, ``'14.2 WH'``."""
    if x is None:
        return "–"
    if unit == "%":
        return f"{x * 100:.1f}%"
    number = f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"
    return f"{number} {unit}".strip()


def fmt_span(span: Sequence[float] | None, unit: str = "") -> str:
    """An interval: ``'[6.10, 7.90] WH'``, ``'[97.1%, 99.0%]'``; ``'–'`` for none."""
    if span is None:
        return "–"
    if unit == "%":
        return f"[{fmt(span[0], unit)}, {fmt(span[1], unit)}]"
    return f"[{fmt(span[0])}, {fmt(span[1])}] {unit}".strip()


def findings(comparison: Mapping[str, Any]) -> dict[str, str]:
    """``{group: sentence}`` for each group that disagrees with the twin, naming every figure
    outside its widened interval and which way."""
    out: dict[str, str] = {}
    for group, c in comparison.items():
        if c.get("agrees") is not False:
            continue
        worse: list[str] = []
        better: list[str] = []
        for key, label, unit, bad in FIGURES:
            f = c["figures"][key]
            if not f["compared"] or f["agrees"] is not False:
                continue
            if f["none_completed"] == "measured":
                above = True
                text = (f"measured {label}: none of the {c['measured_received']} dossiers received was "
                        f"completed by E, while the twin's is {fmt(f['twin'], unit)}")
            elif f["none_completed"] == "twin":
                above = False
                text = (f"measured {label} {fmt(f['measured'], unit)}, while the twin completes none of them "
                        "by E")
            else:
                above = f["measured"] > f["widened"][1]
                text = (f"measured {label} {fmt(f['measured'], unit)} is {'above' if above else 'below'} "
                        f"the twin's 95% interval {fmt_span(f['twin_ci95'], unit)} widened by its sampling "
                        f"error to {fmt_span(f['widened'], unit)}")
            (worse if (1 if above else -1) == bad else better).append(text)
        parts = []
        if worse:
            parts.append("; ".join(worse) + ": the system under test adds delay the twin does not know "
                         "about (e.g. slow polling, hand-off latency)")
        if better:
            parts.append("; ".join(better) + ": the system under test is faster than the twin (its desk or "
                         "system times are shorter than the scenario's, or work is skipped)")
        out[group] = f"{group}: " + "; and ".join(parts) + "."
    return out


# -- backlog over time ------------------------------------------------------------------------


@dataclass(frozen=True)
class WipBand:
    """The twin's dossiers in the system at ``hours`` across replications: the mean, the 95%
    interval of the mean, and the 95% prediction interval of one replication."""

    hours: Floats
    mean: Floats
    ci: tuple[Floats, Floats]
    pi: tuple[Floats, Floats]
    replications: int


def wip_band(runs: Sequence[TwinRun], minutes: npt.ArrayLike | None = None) -> WipBand | None:
    """:class:`WipBand` of the replications' backlog at ``minutes`` (:meth:`TwinRun.backlog`),
    or without ``minutes`` of their own hourly timeline (``wip``); None without replications."""
    if not runs:
        return None
    if minutes is None:
        n = min(r.wip.size for r in runs)
        w = np.stack([r.wip[:n] for r in runs])
        x = np.arange(n, dtype=np.float64)
    else:
        m = np.asarray(minutes, dtype=np.float64)
        w = np.stack([r.backlog(m) for r in runs])
        x, n = m / 60.0, m.size
    mean = w.mean(axis=0)
    k = len(runs)
    if k < 2:
        return WipBand(x, mean, (mean, mean), (mean, mean), k)
    sd = w.std(axis=0, ddof=1)
    t = t_quantile(0.975, k - 1)
    ci, pi = t * sd / math.sqrt(k), t * sd * math.sqrt(1.0 + 1.0 / k)
    zero = np.zeros(n)
    low = (np.maximum(mean - ci, zero), np.maximum(mean - pi, zero))
    return WipBand(x, mean, (low[0], mean + ci), (low[1], mean + pi), k)
