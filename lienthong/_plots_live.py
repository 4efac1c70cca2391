"""PNG plots of a live run: throughput, latency and backlog over scenario time (private)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt

from lienthong._comparison import TwinRun, main_workdays, wip_band
from loadtests.journeys import ScenarioClock
from loadtests.results import REQUEST_KINDS, backlog_curve
from scenarios.model import Scenario

__all__ = ["plot_all"]

_LOCK = threading.Lock()


def _bins(hours: npt.NDArray[np.float64], width: float) -> npt.NDArray[np.float64]:
    finite = hours[np.isfinite(hours)]
    hi = float(finite.max()) if finite.size else 1.0
    return np.arange(0.0, hi + width, width)


def _shade(ax: Any, scenario: Scenario) -> None:
    for f in scenario.faults:
        color = "tab:orange" if f.kind in ("surge", "incomplete") else "tab:red"
        ax.axvspan(f.start / 60.0, f.end / 60.0, color=color, alpha=0.08, lw=0)


def _finish(
    fig: Any, ax: Any, scenario: Scenario, path: Path, xlabel: str, ylabel: str, title: str,
    legend_below: bool = False,
) -> Path:
    """Shades the fault windows, labels the axes, saves the figure to ``path`` and closes it."""
    _shade(ax, scenario)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if legend_below:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False)
    else:
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_all(
    scenario: Scenario,
    journeys: npt.NDArray[np.void],
    requests: npt.NDArray[np.void],
    clock: ScenarioClock,
    folder: Path,
    twin: Sequence[TwinRun] = (),
    *,
    end_minute: float | None = None,
    shift_minutes: float = 0.0,
) -> dict[str, Path]:
    """Writes ``throughput.png``, ``latency.png`` and ``backlog.png``; returns their paths.

    ``twin``: the twin's replications on the same stream (their backlog drawn as the mean and
    bands across them, ``shift_minutes`` later when the stream was shifted);
    ``end_minute``: E, the end of the run's observation (a dotted line on the backlog).

    Safe to call from several threads at once (runs in parallel): matplotlib is not, so the
    plots are drawn one run at a time.
    """
    with _LOCK:
        return _plot_all(scenario, journeys, requests, clock, folder, twin, end_minute, shift_minutes)


def _plot_all(
    scenario: Scenario,
    journeys: npt.NDArray[np.void],
    requests: npt.NDArray[np.void],
    clock: ScenarioClock,
    folder: Path,
    twin: Sequence[TwinRun],
    end_minute: float | None,
    shift_minutes: float,
) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    span = float(np.nanmax(clock.minute(journeys["intended"]))) / 60.0 if journeys.size else 24.0
    width = max(0.25, span / 48.0)
    paths = {
        "throughput": _throughput(scenario, journeys, clock, folder / "throughput.png", width),
        "latency": _latency(scenario, requests, clock, folder / "latency.png", width),
        "backlog": _backlog(
            scenario, journeys, clock, folder / "backlog.png", twin, end_minute, shift_minutes
        ),
    }
    return paths


def _throughput(
    scenario: Scenario, j: npt.NDArray[np.void], clock: ScenarioClock, path: Path, w: float
) -> Path:
    fig, ax = plt.subplots(figsize=(9, 3.6))
    series = (
        ("intended", "arrivals due"),
        ("accepted", "accepted (202)"),
        ("finished", "completed or rejected"),
    )
    allh = np.concatenate([clock.minute(j[f]) / 60.0 for f, _ in series]) if j.size else np.zeros(0)
    edges = _bins(allh, w)
    for field, label in series:
        h = clock.minute(j[field]) / 60.0
        counts, _ = np.histogram(h[np.isfinite(h)], edges)
        ax.step(edges[:-1], counts / w, where="post", label=label)
    return _finish(
        fig,
        ax,
        scenario,
        path,
        "scenario time (hours from the start Monday 00:00)",
        "dossiers per scenario hour",
        "Throughput",
    )


def _latency(scenario: Scenario, r: npt.NDArray[np.void], clock: ScenarioClock, path: Path, w: float) -> Path:
    fig, ax = plt.subplots(figsize=(9, 3.6))
    h = clock.minute(r["intended"]) / 60.0
    edges = _bins(h, w)
    idx = np.digitize(h, edges) - 1
    lat = (r["end"] - r["intended"]) * 1000.0
    svc = (r["end"] - r["start"]) * 1000.0
    submit = r["kind"] == REQUEST_KINDS.index("portal.submit")
    for values, sel, label in (
        (lat, submit, "submission p95, from intended start"),
        (svc, submit, "submission p95, service time"),
        (svc, np.ones(r.size, bool), "all requests p50, service time"),
    ):
        q = 50 if "p50" in label else 95
        ys = [
            np.percentile(values[sel & (idx == k)], q) if np.any(sel & (idx == k)) else np.nan
            for k in range(edges.size - 1)
        ]
        ax.plot(edges[:-1] + w / 2, ys, marker=".", label=label)
    ax.set_yscale("log")
    return _finish(
        fig, ax, scenario, path, "scenario time (hours)", "ms (log)", "Latency (exact percentiles per bin)"
    )


def _backlog(
    scenario: Scenario,
    j: npt.NDArray[np.void],
    clock: ScenarioClock,
    path: Path,
    twin: Sequence[TwinRun],
    end_minute: float | None,
    shift_minutes: float,
) -> Path:
    fig, ax = plt.subplots(figsize=(10, 5.0))
    # ends on the portal's own completion timestamps (not when a poll saw them: polls back off)
    acc = np.sort(clock.minute(j["accepted"][np.isfinite(j["accepted"])]) / 60.0)
    fin = np.sort(
        j["completed_minute"][np.isfinite(j["accepted"]) & np.isfinite(j["completed_minute"])] / 60.0
    )
    last = max(acc.max() if acc.size else 1.0, fin.max() if fin.size else 1.0)
    if end_minute is not None and np.isfinite(end_minute):
        last = max(last, end_minute / 60.0)
    grid = np.linspace(0.0, last, 600)
    open_ = np.searchsorted(acc, grid, side="right") - np.searchsorted(fin, grid, side="right")
    in_system = backlog_curve(j, grid * 60.0)
    band = wip_band(twin, grid * 60.0 - shift_minutes)
    if band is not None:
        ax.fill_between(grid, band.pi[0], band.pi[1], color="0.55", alpha=0.2, lw=0,
                        label=f"twin: where one of its {band.replications} replications falls 95% "
                        "of the time")
        ax.fill_between(grid, band.ci[0], band.ci[1], color="0.3", alpha=0.35, lw=0,
                        label="twin: 95% interval of its mean")
        ax.plot(grid, band.mean, color="0.1", ls="--", lw=1.3, label="twin: mean over its replications")
    ax.plot(grid, in_system, color="tab:blue", lw=1.8,
            label="measured: arrived, not yet completed or rejected")
    ax.plot(grid, open_, color="tab:cyan", lw=0.9, label="measured: of which accepted (202)")
    if end_minute is not None and np.isfinite(end_minute):
        ax.axvline(end_minute / 60.0, color="tab:purple", ls=":", lw=1.2,
                   label="E: end of the run's observation")
    _closed(ax, scenario, grid[-1] * 1.03)
    _day_ticks(ax, grid[-1])
    ax.set_xlim(0.0, grid[-1] * 1.03)
    ax.set_ylim(bottom=0.0)
    return _finish(fig, ax, scenario, path, "scenario time (hours from the start Monday 00:00)",
                   "dossiers in the system", "Backlog: measured vs the twin on the same stream",
                   legend_below=True)


def _closed(ax: Any, scenario: Scenario, last_hour: float) -> None:
    """Light background where the desks of the scenario's main calendar are closed (nights,
    lunch, weekends, holidays): where the twin's backlog waits for the next opening."""
    avail = main_workdays(scenario, last_hour * 60.0).avail
    starts, ends = avail.starts_a / 60.0, avail.ends_a / 60.0
    gaps = zip(np.concatenate([[0.0], ends]), np.concatenate([starts, [np.inf]]), strict=True)
    first = True
    for lo, hi in gaps:
        if lo >= last_hour:
            break
        if hi > lo:
            ax.axvspan(lo, min(hi, last_hour), color="0.5", alpha=0.07, lw=0,
                       label="desks closed (main calendar)" if first else None)
            first = False


def _day_ticks(ax: Any, last_hour: float) -> None:
    """When the run spans days: ticks every 6, 12 or 24·k hours and a faint line at each midnight."""
    if last_hour <= 30:
        return
    days = max(1, int(np.ceil(last_hour / 24 / 14)))
    step = 6 if last_hour <= 54 else 12 if last_hour <= 108 else 24 * days
    ax.set_xticks(np.arange(0.0, last_hour + 1, step))
    for midnight in np.arange(24.0, last_hour, 24.0):
        ax.axvline(midnight, color="0.8", lw=0.6, zorder=0)
