"""PNG figures of the twin's records and summaries, for the run reports.

Every function draws on its own ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot, no
global state), saves a PNG at ``path`` and returns that path. Labels are English, with the
Vietnamese name of a step shown once beside it.

- :func:`backlog_plot` — open dossiers per service and open steps per agency, hour by hour,
  non-working days shaded (from one replication's records);
- :func:`attainment_plot` — SLA attainment by week per service, 95% CI bars across replications;
- :func:`utilisation_heatmap` — desk utilisation, agency × hour of the week;
- :func:`sojourn_plot` — distribution (ECDF) of each step's time in working days vs its limit;
- :func:`capacity_plot` — the capacity–attainment curve examined by :func:`sim.sizing.size`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from scenarios.demand import calendar_for
from scenarios.model import AGENCY_IDS, Scenario
from sim.confidence import mean_ci
from sim.records import OPEN, SERVICES

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from sim.sizing import SizingResult

__all__ = ["attainment_plot", "backlog_plot", "capacity_plot", "sojourn_plot", "utilisation_heatmap"]

_DAY = 1440.0
_DPI = 110
_SERVICE_COLOURS = {"birth": "#1f77b4", "death": "#7f3fbf"}
_AGENCY_COLOURS = {
    "health": "#8c564b",
    "justice": "#1f77b4",
    "police": "#d62728",
    "vss": "#2ca02c",
    "social": "#ff7f0e",
    "portal": "#7f7f7f",
}
_ACRONYMS = {"pid": "PID", "bhyt": "BHYT", "id": "ID"}
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    out = Path(path)
    if out.suffix.lower() != ".png":
        raise ValueError(f"plots are PNG files, got {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=_DPI, facecolor="white")
    return out


def _shade_closed_days(ax: Axes, scenario: Scenario, days: int) -> None:
    """Grey bands over the calendar's non-working days (weekends, holidays, Tết)."""
    working = calendar_for(scenario).working_day_index(scenario.calendar.start, days)
    closed = np.flatnonzero(~working)
    for first, last in _runs(closed):
        ax.axvspan(first, last + 1, color="#e9ecef", zorder=0, lw=0)


def _runs(idx: npt.NDArray[np.int64]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted integers as (first, last) pairs."""
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) != 1)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks], [idx[-1]]))
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def _day_axis(ax: Axes, scenario: Scenario, days: int) -> None:
    """X axis in days from the start: a date label per day (short runs) or per Monday."""
    start = scenario.calendar.start
    step = 1 if days <= 10 else 7 * max(1, math.ceil(days / 7 / 10))
    ticks = np.arange(0, days + 1, step)
    ax.set_xticks(ticks, [f"{start + timedelta(days=int(d)):%a\n%d %b}" for d in ticks], fontsize=8)
    if step > 1:
        ax.set_xticks(np.arange(days + 1), minor=True)
    ax.set_xlim(0, days)


def _step_label(scenario: Scenario, step: str) -> str:
    s = scenario.steps[step]
    english = " ".join(_ACRONYMS.get(w, w) for w in s.task.split("_"))
    return f"{step}: {english} ({s.name_vi})" if s.name_vi else f"{step}: {english}"


# --- backlog -------------------------------------------------------------------------------------


def backlog_plot(
    timeline: npt.NDArray[Any],
    path: str | Path,
    *,
    scenario: Scenario,
    dossiers: npt.NDArray[Any] | None = None,
    agencies: Sequence[str] | None = None,
) -> Path:
    """Open work hour by hour: dossiers per service (top) and steps per agency (bottom).

    ``timeline`` is a ``TIMELINE_DTYPE`` table of one replication; ``dossiers`` its
    ``DOSSIER_DTYPE`` table (when kept; else the top panel shows all open dossiers). Agencies
    default to those with work on the timeline. Raises ValueError for an empty timeline.
    """
    if timeline.size == 0:
        raise ValueError("empty timeline: nothing to plot")
    t_days = timeline["t"] / _DAY
    days = max(1, math.ceil(float(t_days[-1])))
    fig = _figure(10, 6.2)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(1, 1.2))
    for ax in (top, bottom):
        _shade_closed_days(ax, scenario, days)
        ax.grid(axis="y", color="#dddddd", lw=0.6)
        ax.set_axisbelow(True)
    if dossiers is not None and dossiers.size:
        for sid, series in _open_by_service(dossiers, timeline["t"]).items():
            top.plot(t_days, series, color=_SERVICE_COLOURS.get(sid), lw=1.4, label=f"{sid} group")
    else:
        top.plot(t_days, timeline["wip"], color="#333333", lw=1.4, label="all dossiers")
    top.set_ylabel("open dossiers")
    top.set_title("Backlog: dossiers submitted and not yet finished", loc="left", fontsize=11)
    top.legend(loc="upper left", fontsize=8, frameon=False)
    open_steps = timeline["desk_queue"] + timeline["desk_busy"] + timeline["sys_queue"] + timeline["sys_busy"]
    chosen = (
        list(agencies)
        if agencies is not None
        else [a for i, a in enumerate(AGENCY_IDS) if open_steps[:, i].any()]
    )
    for a in chosen:
        i = AGENCY_IDS.index(a)
        bottom.plot(t_days, open_steps[:, i], color=_AGENCY_COLOURS.get(a), lw=1.2, label=a)
    bottom.set_ylabel("open steps (queued + in work)")
    bottom.set_title("Open steps per agency", loc="left", fontsize=11)
    bottom.legend(
        loc="upper left", fontsize=8, frameon=True, framealpha=0.9, ncols=min(6, max(1, len(chosen)))
    )
    _day_axis(bottom, scenario, days)
    bottom.set_xlabel("grey bands: non-working days (weekends, holidays)", fontsize=8, color="#555555")
    return _save(fig, path)


def _open_by_service(
    dossiers: npt.NDArray[Any], times: npt.NDArray[np.float64]
) -> dict[str, npt.NDArray[np.int64]]:
    """Dossiers open at each time: submitted at or before it and not yet done or refused."""
    out: dict[str, npt.NDArray[np.int64]] = {}
    for code, sid in enumerate(SERVICES):
        mine = dossiers[dossiers["service"] == code]
        if mine.size == 0:
            continue
        # ``completed`` is the finish or refusal time; open dossiers (nan) never leave.
        finished = np.where((mine["state"] == OPEN) | np.isnan(mine["completed"]), np.inf, mine["completed"])
        started = np.sort(mine["submitted"])
        ended = np.sort(finished)
        out[sid] = np.searchsorted(started, times, side="right") - np.searchsorted(ended, times, side="right")
    return out


# --- attainment by week --------------------------------------------------------------------------


def _mean_ci(samples: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Mean and 95% half-width (t) of the finite samples; half-width 0 with one sample."""
    x = samples[np.isfinite(samples)]
    if x.size == 0:
        return math.nan, math.nan
    mean, half = mean_ci(x.tolist())
    return mean, 0.0 if half is None else half


def attainment_plot(
    replications: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    scenario: Scenario,
    target: float | None = None,
) -> Path:
    """SLA attainment (share finished within the deadline) by week and service.

    ``replications`` are the per-replication metric dicts (``SimSummary.replications``), each
    with ``services.<id>.weekly_attainment``; bars are the mean, error bars the 95% CI across
    replications. ``target`` draws a line (e.g. 0.95). Raises ValueError without replications.
    """
    if not replications:
        raise ValueError("no replications to plot")
    fig = _figure(10, 3.8)
    ax = fig.subplots()
    services = [s for s in SERVICES if s in replications[0].get("services", {})]
    weeks, lowest = 0, 1.0 if target is None else target
    for k, sid in enumerate(services):
        table = _weekly(replications, sid)
        weeks = max(weeks, table.shape[1])
        stats = [_mean_ci(table[:, w]) for w in range(table.shape[1])]
        means = np.array([m for m, _ in stats])
        hws = np.array([h for _, h in stats])
        x = np.arange(table.shape[1]) + (k - (len(services) - 1) / 2) * 0.12
        deadline = next(v.deadline_wd for key, v in scenario.services.items() if key == sid)
        ax.errorbar(
            x,
            means,
            yerr=hws,
            color=_SERVICE_COLOURS.get(sid),
            marker="o",
            ms=5,
            lw=1.4,
            capsize=3,
            label=f"{sid} group (deadline {deadline:g} WD)",
        )
        if np.isfinite(means - hws).any():
            lowest = min(lowest, float(np.nanmin(means - hws)))
    if target is not None:
        ax.axhline(target, color="#cf222e", lw=1.2, ls="--", label=f"target {target:.0%}")
    ax.set_ylim(max(0.0, math.floor(lowest * 10 - 0.5) / 10), 1.005)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    start = scenario.calendar.start
    labels = [f"week {w + 1}\n{start + timedelta(weeks=w):%d %b}" for w in range(weeks)]
    ax.set_xticks(range(weeks), labels, fontsize=8)
    ax.set_xlim(-0.5, weeks - 0.5)
    ax.set_ylabel("on time (open past due = late)")
    n = len(replications)
    ax.set_title(
        f"SLA attainment by week (mean of {n} replication{'s' * (n > 1)}, 95% CI)", loc="left", fontsize=11
    )
    ax.legend(loc="lower left", fontsize=8, frameon=True, framealpha=0.9)
    ax.grid(axis="y", color="#dddddd", lw=0.6)
    ax.set_axisbelow(True)
    return _save(fig, path)


def _weekly(replications: Sequence[Mapping[str, Any]], sid: str) -> npt.NDArray[np.float64]:
    rows = [r["services"][sid].get("weekly_attainment") or [] for r in replications]
    width = max((len(r) for r in rows), default=0)
    table = np.full((len(rows), width), np.nan)
    for i, row in enumerate(rows):
        table[i, : len(row)] = [np.nan if v is None else v for v in row]
    return table


# --- utilisation heat map ------------------------------------------------------------------------


def utilisation_heatmap(
    metrics: Mapping[str, Any], path: str | Path, *, agencies: Sequence[str] | None = None
) -> Path:
    """Desk utilisation by agency (rows) and hour of the week (columns, Monday 00h first).

    ``metrics`` is a metrics dict (one replication's or a summary's) with
    ``agencies.<id>.utilisation_by_hour`` (168 values, None when the office is closed).
    Agencies default to those with desks. Raises ValueError when none has hourly values.
    """
    table = metrics.get("agencies", {})
    names = (
        list(agencies)
        if agencies is not None
        else [
            a
            for a in AGENCY_IDS
            if a in table and _value(table[a].get("desks")) and table[a].get("utilisation_by_hour")
        ]
    )
    if not names:
        raise ValueError("no agency with hourly utilisation to plot")
    grid = np.full((len(names), 168), np.nan)
    for i, a in enumerate(names):
        hours = table[a]["utilisation_by_hour"]
        if len(hours) != 168:
            raise ValueError(f"agencies.{a}.utilisation_by_hour has {len(hours)} values, expected 168")
        grid[i] = [np.nan if v is None else _value(v) for v in hours]
    fig = _figure(11, 1.2 + 0.42 * len(names))
    ax = fig.subplots()
    ax.set_facecolor("#f1f3f5")
    image = ax.imshow(
        np.ma.masked_invalid(grid), aspect="auto", cmap="YlOrRd", vmin=0, vmax=1, interpolation="nearest"
    )
    labels = [f"{a} ({_desks(table[a])} desks, {_share(table[a].get('desk_utilisation'))})" for a in names]
    ax.set_yticks(range(len(names)), labels, fontsize=8)
    ax.set_xticks(np.arange(0, 168, 24) + 11.5, _WEEKDAYS, fontsize=8)
    ax.set_xticks(np.arange(0, 169, 24) - 0.5, minor=True)
    ax.tick_params(axis="x", which="major", length=0)
    ax.grid(axis="x", which="minor", color="white", lw=2)
    ax.set_title("Desk utilisation by hour of the week (grey: office closed)", loc="left", fontsize=11)
    bar = fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
    bar.ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    return _save(fig, path)


def _value(v: Any) -> float:
    """A plain number from a stat (a float, or a summary's ``{"mean": …}``); nan if absent."""
    if isinstance(v, Mapping):
        v = v.get("mean")
    return math.nan if v is None else float(v)


def _desks(entry: Mapping[str, Any]) -> str:
    d = _value(entry.get("desks"))
    return "?" if math.isnan(d) else f"{d:g}"


def _share(v: Any) -> str:
    x = _value(v)
    return "–" if math.isnan(x) else f"{x:.0%} busy"


# --- per-step time distribution ------------------------------------------------------------------


def sojourn_plot(
    steps: npt.NDArray[Any],
    step_names: Sequence[str],
    path: str | Path,
    *,
    scenario: Scenario,
) -> Path:
    """Per step: the ECDF of its time in working days (ready → end, office time) vs its limit.

    ``steps`` is a ``STEP_DTYPE`` table (one replication, kept records); ``step_names`` maps its
    ``step`` codes to the scenario's step ids. The share within the statutory limit (the
    15:00 rule, ``within_limit``) is printed on each panel. Raises ValueError without finished steps.
    """
    done = steps[steps["done"]]
    present = [i for i in range(len(step_names)) if np.any(done["step"] == i)]
    if not present:
        raise ValueError("no finished steps to plot")
    cols = min(3, len(present))
    rows = math.ceil(len(present) / cols)
    fig = _figure(4.0 * cols, 2.7 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, code in zip(axes, present, strict=False):
        _step_panel(ax, done[done["step"] == code], step_names[code], scenario)
    for ax in axes[len(present) :]:
        ax.set_visible(False)
    fig.suptitle(
        "Time per step in working days (ECDF) against its statutory limit", x=0.01, ha="left", fontsize=11
    )
    return _save(fig, path)


def _step_panel(ax: Axes, rows: npt.NDArray[Any], step: str, scenario: Scenario) -> None:
    x = np.sort(rows["elapsed_wd"])
    y = np.arange(1, x.size + 1) / x.size
    limit = scenario.steps[step].limit_wd
    within = float(np.mean(rows["within_limit"]))
    late = within < 0.95
    ax.step(x, y, where="post", color="#cf222e" if late else "#1f77b4", lw=1.5)
    if limit:
        ax.axvline(limit, color="#555555", ls="--", lw=1)
        ax.text(limit, 0.04, f" limit {limit:g} WD", fontsize=7, color="#555555")
    else:
        ax.text(
            0.98,
            0.04,
            "limit: same WD (15:00 rule)",
            fontsize=7,
            color="#555555",
            ha="right",
            transform=ax.transAxes,
        )
    p95 = float(np.quantile(x, 0.95))
    ax.set_title(_wrap(_step_label(scenario, step), 44), fontsize=8.5, loc="left")
    ax.text(
        0.98,
        0.5,
        f"within limit {within:.1%}\np95 {p95:.2f} WD\nn = {x.size:,}",
        transform=ax.transAxes,
        ha="right",
        va="center",
        fontsize=7.5,
        color="#cf222e" if late else "#1a7f37",
    )
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, max(float(x[-1]), (limit or 0) * 1.15, 0.05))
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel("working days", fontsize=7.5)
    ax.tick_params(labelsize=7)
    ax.grid(color="#eeeeee", lw=0.6)


def _wrap(text: str, width: int) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    return "\n".join(lines)


# --- capacity–attainment curve -------------------------------------------------------------------


def capacity_plot(result: SizingResult, path: str | Path) -> Path:
    """The capacity–attainment curve of a sizing search, one panel per sized agency: the
    target's figure (mean and one-sided confidence bounds) at each capacity examined with the
    other agencies at their answers, the target line and the capacity chosen."""
    agencies = [a for a in result.capacity if result.curve(a)]
    if not agencies:
        raise ValueError("the sizing result has no points to plot")
    fig = _figure(max(5.0, 4.2 * len(agencies)), 3.6)
    axes = np.atleast_1d(fig.subplots(1, len(agencies), squeeze=False)).ravel()
    target = result.target
    for ax, agency in zip(axes, agencies, strict=True):
        pts = result.curve(agency)
        x = np.array([p.vector[agency] for p in pts], dtype=float)
        y = np.array([p.value for p in pts])
        lo = np.array([p.low for p in pts])
        hi = np.array([p.high for p in pts])
        ok = np.array([p.meets for p in pts])
        ax.fill_between(x, lo, hi, color="#1f77b4", alpha=0.15, lw=0, label=f"{result.confidence:.0%} bounds")
        ax.plot(x, y, color="#1f77b4", lw=1.2, marker="", zorder=2)
        ax.scatter(x[ok], y[ok], color="#1a7f37", zorder=3, s=26, label="meets target")
        ax.scatter(x[~ok], y[~ok], color="#cf222e", zorder=3, s=26, marker="x", label="misses target")
        ax.axhline(target.value, color="#555555", ls="--", lw=1, label=f"target {target.text}")
        chosen = result.capacity.get(agency)
        if chosen is not None:
            ax.axvline(chosen, color="#1a7f37", lw=1, alpha=0.6)
            ax.text(chosen, ax.get_ylim()[1], f" chosen: {chosen}", va="top", fontsize=8, color="#1a7f37")
        ax.set_xlabel(f"{agency} {result.resources.get(agency, result.resource)}")
        ax.set_ylabel(target.label)
        ax.grid(color="#eeeeee", lw=0.6)
        if agency == agencies[0]:
            ax.legend(fontsize=7, frameon=True, framealpha=0.9, loc="best")
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(f"Capacity–attainment curve for {target.text}", x=0.01, ha="left", fontsize=11)
    return _save(fig, path)
