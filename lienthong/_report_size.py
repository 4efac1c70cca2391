"""The sizing report: verdict, the capacities examined and the capacity–attainment curve from a
``SizingResult``, and its ``points.csv``."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lienthong._report_sim import est
from lienthong.report import Check, Figure, KeyFigure, Report, Section, Table
from scenarios.model import Scenario

if TYPE_CHECKING:
    from sim.sizing import SizingResult

__all__ = ["size_report", "size_verdict", "write_points_csv"]


def size_verdict(result: SizingResult) -> str:
    """The first sentence: the capacity that meets the target, or that none up to the last tried does."""
    answer = ", ".join(f"{a} {_plural(c, result.resources[a])}" for a, c in result.capacity.items())
    bounds = ", ".join(f"{a} {b}" for a, b in result.lower_bounds.items())
    target, confidence = result.target.text, result.confidence
    if not result.feasible:
        return f"No capacity up to {answer} meets {target} with {confidence:.0%} confidence."
    return (
        f"{target} holds with {confidence:.0%} confidence at {answer} "
        f"(offered-load floors: {bounds}); one fewer misses the target or falls under the offered load."
    )


def size_report(
    scenario: Scenario, result: SizingResult, curve: Path | None, *, meta: Mapping[str, str]
) -> Report:
    """The whole report of a ``lienthong size`` run (``curve``: the plot, None when out of reach)."""
    tgt, verdict = result.target, size_verdict(result)
    examined = (
        f"Each row: {result.replications} replications of {result.days} days; the figure is the mean ± "
        f"the one-sided {result.confidence:.0%} bound, which must satisfy the target."
    )
    return Report(
        title=f"{scenario.meta.name} — sizing for {tgt.text}",
        verdict=verdict,
        key_figures=[
            KeyFigure(f"{a} {result.resources[a]}", c, note=f"bound {result.lower_bounds[a]}")
            for a, c in result.capacity.items()
        ],
        sections=[
            Section("Capacities examined", text=[examined], tables=[_points_table(result)]),
            Section("Capacity–attainment curve", figures=[Figure("Curve", curve)] if curve else []),
        ],
        checks=[Check("target reachable", result.feasible, verdict)],
        metrics={
            "target": tgt.text,
            "capacity": result.capacity,
            "full": result.full,
            "lower_bounds": result.lower_bounds,
            "offered_load": result.offered,
            "points": [p.__dict__ for p in result.points],
            "notes": result.notes,
        },
        notes=result.notes,
        meta=meta,
    )


def _points_table(result: SizingResult) -> Table:
    rows: list[list[Any]] = [
        [
            p.agency or "all",
            ", ".join(f"{a} {c}" for a, c in p.vector.items()),
            est({"mean": p.value, "ci95": [p.low, p.high]} if not math.isnan(p.value) else None),
            "yes" if p.meets else "no",
        ]
        for p in result.points
    ]
    return Table("Search", ["varied", "capacity", result.target.label, "meets"], rows)


def _plural(n: int, resource: str) -> str:
    return f"{n} {resource[:-1] if n == 1 else resource}"


def write_points_csv(result: SizingResult, path: Path) -> Path:
    """Every capacity examined: the vector, the mean and bounds, whether it meets, the replications."""
    agencies = list(result.capacity)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["varied", *agencies, "mean", "low", "high", "meets", "values"])
        for p in result.points:
            values = " ".join(f"{v:.6g}" for v in p.values)
            w.writerow(
                [p.agency or "all", *(p.vector[a] for a in agencies), p.value, p.low, p.high, p.meets, values]
            )
    return path
