"""PNG plots of a live run: throughput, latency and backlog over scenario time (private)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt

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


def _finish(fig: Any, ax: Any, scenario: Scenario, path: Path, xlabel: str, ylabel: str, title: str) -> Path:
    """Shades the fault windows, labels the axes, saves the figure to ``path`` and closes it."""
    _shade(ax, scenario)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
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
    twin_wip: list[float] | None = None,
) -> dict[str, Path]:
    """Writes ``throughput.png``, ``latency.png`` and ``backlog.png``; returns their paths.

    Safe to call from several threads at once (runs in parallel): matplotlib is not, so the
    plots are drawn one run at a time.
    """
    with _LOCK:
        return _plot_all(scenario, journeys, requests, clock, folder, twin_wip)


def _plot_all(
    scenario: Scenario,
    journeys: npt.NDArray[np.void],
    requests: npt.NDArray[np.void],
    clock: ScenarioClock,
    folder: Path,
    twin_wip: list[float] | None,
) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    span = float(np.nanmax(clock.minute(journeys["intended"]))) / 60.0 if journeys.size else 24.0
    width = max(0.25, span / 48.0)
    paths = {
        "throughput": _throughput(scenario, journeys, clock, folder / "throughput.png", width),
        "latency": _latency(scenario, requests, clock, folder / "latency.png", width),
        "backlog": _backlog(scenario, journeys, clock, folder / "backlog.png", twin_wip),
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
    twin_wip: list[float] | None,
) -> Path:
    fig, ax = plt.subplots(figsize=(9, 3.6))
    # ends on the portal's own completion timestamps (not when a poll saw them: polls back off)
    acc = np.sort(clock.minute(j["accepted"][np.isfinite(j["accepted"])]) / 60.0)
    fin = np.sort(
        j["completed_minute"][np.isfinite(j["accepted"]) & np.isfinite(j["completed_minute"])] / 60.0
    )
    grid = np.linspace(0.0, max(acc.max() if acc.size else 1.0, fin.max() if fin.size else 1.0), 400)
    open_ = np.searchsorted(acc, grid, side="right") - np.searchsorted(fin, grid, side="right")
    in_system = backlog_curve(j, grid * 60.0)
    ax.plot(grid, in_system, label="measured: arrived, not yet completed or rejected")
    ax.plot(grid, open_, lw=0.8, label="of which accepted (202)")
    if twin_wip:
        hours = np.arange(len(twin_wip))
        keep = hours <= grid[-1] + 1
        ax.plot(hours[keep], np.asarray(twin_wip)[keep], ls="--", label="twin: dossiers in the system")
    return _finish(fig, ax, scenario, path, "scenario time (hours)", "dossiers open", "Backlog")
