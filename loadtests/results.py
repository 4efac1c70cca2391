"""What a live run or a load test hands back to the front door (public).

:class:`LiveRun` is the result of :func:`loadtests.live.drive_live` and
:func:`loadtests.distributed.drive_load`: where the raw records are, the settings the load
processes ran with, the merged records, the reconciliation, where each agency was, what the run
saw of the machine, and the first error of a stage that failed. The records behind it and the
views the report draws (journeys, HTTP figures, incident windows, backlog) are re-exported here so
other rooms never reach into this room's private modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from loadtests._config import LoadConfig
from loadtests._merge import Merged, http_metrics, merge
from loadtests._records import REQUEST_KINDS
from loadtests._traffic import traffic_section
from loadtests._windows import backlog_curve, incident_windows
from loadtests.reconcile import Reconciliation
from scenarios.model import Scenario
from sim.arrivals import arrivals

__all__ = [
    "REQUEST_KINDS",
    "LiveRun",
    "LoadConfig",
    "Merged",
    "backlog_curve",
    "http_metrics",
    "incident_windows",
    "merge",
    "stream_of",
    "traffic_section",
]


@dataclass
class LiveRun:
    """One live run's measurements (``merged`` is None when the load produced no records)."""

    folder: Path
    scenario: Scenario
    config: LoadConfig
    merged: Merged | None
    reconciliation: Reconciliation
    ecosystem: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def stream_of(scenario: Scenario, cfg: LoadConfig) -> npt.NDArray[np.void]:
    """The arrival stream a run with ``cfg`` replays (and the twin simulates on the same days)."""
    full = arrivals(scenario, days=cfg.days, multiplier=cfg.multiplier)
    return full[: cfg.max_dossiers]
