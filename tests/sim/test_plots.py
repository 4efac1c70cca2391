"""Plots from synthetic records (the shapes of sim.records), checked as real PNG files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image

from scenarios import Scenario, load
from scenarios.model import AGENCY_IDS
from sim import plots
from sim.records import DONE, DOSSIER_DTYPE, OPEN, REFUSED, STEP_DTYPE, TIMELINE_DTYPE

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load("hanoi-baseline")


def _png(path: Path) -> tuple[int, int]:
    assert path.read_bytes()[:8] == PNG_MAGIC
    h, w = image.imread(path).shape[:2]
    return w, h


def _timeline(days: int) -> np.ndarray:
    hours = days * 24
    tl = np.zeros(hours, TIMELINE_DTYPE)
    tl["t"] = np.arange(1, hours + 1) * 60.0
    wave = (np.sin(np.arange(hours) / 24 * 2 * np.pi) + 1.5) * 10
    tl["wip"] = (wave * 30).astype(int)
    tl["desk_queue"][:, AGENCY_IDS.index("justice")] = wave.astype(int)
    tl["desk_busy"][:, AGENCY_IDS.index("police")] = (wave / 2).astype(int)
    tl["sys_queue"][:, AGENCY_IDS.index("vss")] = 3
    return tl


def _dossiers() -> np.ndarray:
    d = np.zeros(5, DOSSIER_DTYPE)
    d["service"] = [0, 0, 0, 1, 1]
    d["submitted"] = [0.0, 60.0, 120.0, 30.0, 90.0]
    d["completed"] = [100.0, np.nan, 150.0, 200.0, np.nan]
    d["state"] = [DONE, OPEN, REFUSED, DONE, OPEN]
    return d


def test_open_by_service_counts_exactly() -> None:
    times = np.array([0.0, 60.0, 100.0, 120.0, 150.0, 200.0, 1e6])
    got = plots._open_by_service(_dossiers(), times)
    assert got["birth"].tolist() == [1, 2, 1, 2, 1, 1, 1]
    assert got["death"].tolist() == [0, 1, 2, 2, 2, 1, 1]


def test_backlog_plot(tmp_path: Path, scenario: Scenario) -> None:
    out = plots.backlog_plot(_timeline(14), tmp_path / "backlog.png", scenario=scenario, dossiers=_dossiers())
    assert out == tmp_path / "backlog.png"
    assert _png(out) == (1100, 682)


def test_closed_days_are_the_calendars(scenario: Scenario) -> None:
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    ax = Figure().subplots()
    plots._shade_closed_days(ax, scenario, 14)
    assert all(isinstance(p, Rectangle) for p in ax.patches)
    spans = sorted((p.get_x(), p.get_x() + p.get_width()) for p in ax.patches if isinstance(p, Rectangle))
    assert spans == [(5.0, 7.0), (12.0, 14.0)]  # the two weekends from Monday 9 March 2026


def test_attainment_plot(tmp_path: Path, scenario: Scenario) -> None:
    reps: list[dict[str, Any]] = [
        {"services": {"birth": {"weekly_attainment": [0.99, 0.97 + i / 100, None]},
                      "death": {"weekly_attainment": [0.9, 0.8, 0.85]}}}
        for i in range(3)
    ]  # fmt: skip
    out = plots.attainment_plot(reps, tmp_path / "att.png", scenario=scenario, target=0.95)
    assert _png(out)[0] == 1100


def test_mean_ci_is_student_t() -> None:
    mean, hw = plots._mean_ci(np.array([1.0, 2.0, 3.0, np.nan]))
    assert mean == 2.0
    assert hw == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6)  # t(0.975, 2) = 4.302653
    assert plots._mean_ci(np.array([5.0])) == (5.0, 0.0)


def test_utilisation_heatmap(tmp_path: Path) -> None:
    hours: list[float | None] = [None] * 168
    for day in range(5):
        for h in (8, 9, 10, 13, 14, 15, 16):
            hours[day * 24 + h] = 0.2 + 0.1 * day
    metrics = {
        "agencies": {
            "justice": {"desks": 126, "desk_utilisation": 0.41, "utilisation_by_hour": hours},
            "vss": {"desks": {"mean": 12}, "desk_utilisation": {"mean": 0.7}, "utilisation_by_hour": hours},
            "portal": {"desks": 0, "utilisation_by_hour": hours},
        }
    }
    out = plots.utilisation_heatmap(metrics, tmp_path / "util.png")
    assert _png(out)[0] == 1210
    with pytest.raises(ValueError, match="expected 168"):
        plots.utilisation_heatmap(
            {"agencies": {"vss": {"desks": 1, "utilisation_by_hour": [0.1]}}}, tmp_path / "x.png"
        )


def test_sojourn_plot(tmp_path: Path, scenario: Scenario) -> None:
    rng = np.random.default_rng(1)
    names = tuple(scenario.steps)
    rows = np.zeros(400, STEP_DTYPE)
    rows["step"] = rng.integers(0, 4, rows.size)
    rows["elapsed_wd"] = rng.gamma(2.0, 0.4, rows.size)
    rows["within_limit"] = rows["elapsed_wd"] < 1.5
    rows["done"] = True
    rows["done"][:10] = False
    out = plots.sojourn_plot(rows, names, tmp_path / "soj.png", scenario=scenario)
    assert _png(out) == (1320, 594)
    with pytest.raises(ValueError, match="no finished steps"):
        plots.sojourn_plot(rows[:0], names, tmp_path / "none.png", scenario=scenario)


def test_plots_leave_no_pyplot_state(tmp_path: Path, scenario: Scenario) -> None:
    import sys

    plots.backlog_plot(_timeline(3), tmp_path / "b.png", scenario=scenario)
    assert "matplotlib.pyplot" not in sys.modules or not __import__("matplotlib.pyplot").pyplot.get_fignums()


def test_not_a_png_path_is_refused(tmp_path: Path, scenario: Scenario) -> None:
    with pytest.raises(ValueError, match="PNG"):
        plots.backlog_plot(_timeline(2), tmp_path / "b.svg", scenario=scenario)
