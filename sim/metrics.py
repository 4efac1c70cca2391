"""The metrics of one replication, and the figure a threshold reads from them.

``metrics(result)`` turns one replication (its streaming :class:`~sim._accumulator.Accumulator`)
into the plain dict documented in ``sim.records``: per service, per step and per agency, the
backlog, the Little's-law check (``sim.queueing``) and the MSER-5 warm-up check
(``sim.warmup``). ``lookup(m, "birth.e2e", "p95")`` reads a threshold's figure from such a dict,
or from a summary of several (``sim.replications.summarize``).
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from scenarios import metrics as metric_names
from scenarios.model import AGENCY_IDS
from sim._accumulator import Accumulator
from sim.queueing import little
from sim.records import SERVICES
from sim.warmup import mser5

if TYPE_CHECKING:
    from sim.records import SimResult

__all__ = ["lookup", "metrics"]

WEEK_HOURS = 168


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
            "throughput_per_day": acc.day_completed[v].tolist(),
            "throughput_per_week": np.pad(acc.day_completed[v], (0, pad)).reshape(weeks, 7)
            .sum(axis=1).tolist(),
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
            "p_wait": _ratio(int(acc.s_waited[k]), int(acc.s_timed[k])),
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
    how = (np.arange(hours) % WEEK_HOURS)[first:]
    out: dict[str, Any] = {}
    for aid, (desks, servers) in result.capacity.items():
        a = AGENCY_IDS.index(aid)
        busy = np.diff(tl["desk_busy_area"][:, a])[first:]
        cap = desks * office[first:, a]
        sbusy = np.diff(tl["sys_busy_area"][:, a])[first:]
        scap = servers * system[first:, a]
        by_hour_busy = np.bincount(how, busy, minlength=WEEK_HOURS)
        by_hour_cap = np.bincount(how, cap, minlength=WEEK_HOURS)
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
    wip_area = float(tl["wip_area"][-1] - tl["wip_area"][first])
    return little(wip_area, span, acc.little_n, acc.little_in, acc.carry_in)


def _mser_days(acc: Accumulator) -> float | None:
    done = acc.day_done.sum(axis=0)
    mean = np.divide(acc.day_e2e.sum(axis=0), done, out=np.full(done.size, np.nan), where=done > 0)
    mean = mean[~np.isnan(mean)]
    if mean.size < 10:
        return None
    return float(mser5(mean))


# -- thresholds ---------------------------------------------------------------------------------


def lookup(m: dict[str, Any], metric: str, stat: str) -> Any:
    """The figure a threshold reads: ``lookup(m, "birth.e2e", "p95")`` (working days).

    ``<service>.e2e``: ``mean``/``pNN``/``max`` of ``e2e_wd``, ``attainment``, ``count`` (done),
    ``rate`` (refusal rate). ``step.<id>``: ``mean``/``pNN``/``max`` of ``elapsed_wd``,
    ``attainment``, ``count``. Raises KeyError naming what is unknown.
    """
    kind, name = metric_names.parse(metric)
    if kind == "e2e" and name in m.get("services", {}):
        svc = m["services"][name]
        table = {"attainment": "attainment", "count": "done", "rate": "refusal_rate"}
        return svc[table[stat]] if stat in table else _dist_stat(svc["e2e_wd"], stat, metric)
    if kind == "step" and name in m.get("steps", {}):
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
