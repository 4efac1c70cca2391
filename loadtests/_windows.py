"""Degradation and recovery around each incident's fault windows (private).

For every incident of the scenario (the faults sharing an ``incident`` label, else a kind), the
window runs from its first fault's start to its last fault's end (scenario minutes). Against it
the run's records give:

- ``backlog``: dossiers in the system (arrived and not yet terminal) at the window's start, its
  peak (and when), the first minute after the window when it is back under
  ``max(start, 10% of the peak)`` (``drained_minute``; ``None`` if never) and what is left at
  the end of the run;
- submission latency (from the intended start, ms) and the share of failed requests before,
  during and after the window (each side as long as the window, clipped to the run);
- per step, the median time (scenario minutes) of steps *started* before, during and after it;
- end-to-end minutes (median) of dossiers arriving during and after it;
- arrivals, dossiers refused as incomplete (never supplemented in time) and dossiers rejected,
  by arrival before, during and after it.

Everything is exact on the records; a side with no rows is ``None``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from loadtests._records import REQUEST_KINDS
from loadtests.journeys import COMPLETED, FAILED, INCOMPLETE, NOT_SUBMITTED, REJECTED, ScenarioClock
from scenarios.model import Scenario

__all__ = ["backlog_curve", "incident_windows"]

_SUBMIT = REQUEST_KINDS.index("portal.submit")
MAX_HORIZON = 366 * 1440.0  # a year of scenario minutes: the backlog grid is one point a minute


def backlog_curve(journeys: npt.NDArray[np.void], minutes: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Dossiers arrived by each of ``minutes`` and not yet terminal (completed or rejected).

    A dossier refused at the door (incomplete, or never accepted) leaves on arrival; one accepted
    and never finished stays to the end.
    """
    arrived = np.sort(journeys["submitted"])
    finished = np.isin(journeys["outcome"], (COMPLETED, REJECTED, FAILED))
    end = np.where(finished, journeys["completed_minute"], np.inf)
    end = np.where(np.isin(journeys["outcome"], (INCOMPLETE, NOT_SUBMITTED)), journeys["submitted"], end)
    end = np.sort(np.nan_to_num(end, nan=np.inf))
    return np.searchsorted(arrived, minutes, "right") - np.searchsorted(end, minutes, "right")


def _p(values: npt.NDArray[np.float64], q: float) -> float | None:
    values = values[np.isfinite(values)]
    return float(np.percentile(values, q)) if values.size else None


def _sides(start: float, end: float, horizon: float) -> dict[str, tuple[float, float]]:
    span = max(end - start, 1.0)
    return {
        "before": (max(0.0, start - span), start),
        "during": (start, end),
        "after": (end, min(horizon, end + span)),
    }


def incident_windows(
    s: Scenario,
    journeys: npt.NDArray[np.void],
    steps: npt.NDArray[np.void],
    requests: npt.NDArray[np.void],
    clock: ScenarioClock,
    horizon: float,
) -> dict[str, dict[str, Any]]:
    """``{incident: figures}`` for every incident of ``s`` (see the module docstring).

    ``horizon`` is the run's last scenario minute (the end of the drain); ValueError when it
    is not within ``0..MAX_HORIZON``.
    """
    groups: dict[str, list[Any]] = {}
    for f in s.faults:
        groups.setdefault(f.incident or f.kind, []).append(f)
    req_min = clock.minute(requests["intended"]) if requests.size else np.zeros(0)
    if not (np.isfinite(horizon) and 0 <= horizon <= MAX_HORIZON):
        raise ValueError(f"horizon must be 0..{MAX_HORIZON:g} scenario minutes, got {horizon!r}")
    grid = np.arange(0.0, horizon + 1.0, 1.0)
    curve = backlog_curve(journeys, grid)
    out: dict[str, dict[str, Any]] = {}
    for name, faults in groups.items():
        start = float(min(f.start for f in faults))
        end = float(max(f.end for f in faults))
        sides = _sides(start, end, horizon)
        out[name] = {
            "kinds": sorted({f"{f.kind}@{f.agency}" for f in faults}),
            "start_minute": start,
            "end_minute": end,
            "arrivals": {k: int(_count(journeys["submitted"], a, b)) for k, (a, b) in sides.items()},
            "refused_incomplete": {
                k: int(_count(journeys["submitted"][journeys["outcome"] == INCOMPLETE], a, b))
                for k, (a, b) in sides.items()
            },
            "rejected": {
                k: int(_count(journeys["submitted"][journeys["outcome"] == REJECTED], a, b))
                for k, (a, b) in sides.items()
            },
            "failed": {
                k: int(_count(journeys["submitted"][journeys["outcome"] == FAILED], a, b))
                for k, (a, b) in sides.items()
            },
            "backlog": _backlog(grid, curve, start, end),
            "submit_latency_p95_ms": {
                k: _p(_lat(requests, req_min, a, b), 95) for k, (a, b) in sides.items()
            },
            "error_share": {k: _errors(requests, req_min, a, b) for k, (a, b) in sides.items()},
            "step_p50_minutes": _steps(steps, sides),
            "e2e_p50_minutes": {
                k: _p(_e2e(journeys, a, b), 50) for k, (a, b) in sides.items() if k != "before"
            },
        }
    return out


def _count(values: npt.NDArray[np.float64], a: float, b: float) -> int:
    return int(np.count_nonzero((values >= a) & (values < b)))


def _backlog(
    grid: npt.NDArray[np.float64], curve: npt.NDArray[np.int64], start: float, end: float
) -> dict[str, Any]:
    at_start = int(curve[min(int(start), curve.size - 1)]) if curve.size else 0
    after = grid >= start
    peak_i = int(np.argmax(np.where(after, curve, -1))) if curve.size else 0
    peak = int(curve[peak_i]) if curve.size else 0
    calm = max(at_start, int(0.1 * peak))
    later = np.flatnonzero((grid >= max(end, grid[peak_i] if curve.size else end)) & (curve <= calm))
    return {
        "at_start": at_start,
        "peak": peak,
        "peak_minute": float(grid[peak_i]) if curve.size else None,
        "drained_minute": float(grid[later[0]]) if later.size else None,
        "left_at_end": int(curve[-1]) if curve.size else 0,
    }


def _lat(
    requests: npt.NDArray[np.void], req_min: npt.NDArray[np.float64], a: float, b: float
) -> npt.NDArray[np.float64]:
    sel = (requests["kind"] == _SUBMIT) & (req_min >= a) & (req_min < b)
    return np.asarray((requests["end"][sel] - requests["intended"][sel]) * 1000.0, dtype=np.float64)


def _errors(
    requests: npt.NDArray[np.void], req_min: npt.NDArray[np.float64], a: float, b: float
) -> float | None:
    sel = (req_min >= a) & (req_min < b)
    return float(np.mean(~requests["ok"][sel])) if sel.any() else None


def _steps(steps: npt.NDArray[np.void], sides: dict[str, tuple[float, float]]) -> dict[str, Any]:
    done = steps[(steps["status"] == "done") & np.isfinite(steps["started"]) & np.isfinite(steps["finished"])]
    out: dict[str, Any] = {}
    for sid in sorted(set(done["step"].tolist())):
        rows = done[done["step"] == sid]
        took = rows["finished"] - rows["started"]
        out[sid] = {
            k: _p(took[(rows["started"] >= a) & (rows["started"] < b)], 50) for k, (a, b) in sides.items()
        }
    return out


def _e2e(journeys: npt.NDArray[np.void], a: float, b: float) -> npt.NDArray[np.float64]:
    sel = (journeys["outcome"] == COMPLETED) & (journeys["submitted"] >= a) & (journeys["submitted"] < b)
    return np.asarray(journeys["completed_minute"][sel] - journeys["submitted"][sel], dtype=np.float64)
