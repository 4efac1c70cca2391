"""The warm-up of a run: the scenario's declared one, and the MSER-5 check of it.

The twin starts empty, so its first days under-state queues; the statistics leave out what
was submitted (or became ready) before the warm-up cut. MSER-5 suggests a cut from the data
(the daily mean end-to-end times) to check the declared one against.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from scenarios.model import Scenario

__all__ = ["default_warmup", "mser5"]


def default_warmup(scenario: Scenario, days: int) -> float:
    """The scenario's declared warm-up, or 0 when it does not fit a run of ``days`` days."""
    warm = scenario.sim.warmup_days
    return warm if warm < days else 0.0


def mser5(series: npt.ArrayLike) -> int:
    """MSER-5 truncation point: how many leading observations to drop (a multiple of 5).

    Batches of 5 observations; the cut minimises the squared standard error of the remaining
    batch means, searched over the first half. Raises ValueError for fewer than 10 observations.
    """
    x = np.asarray(series, dtype=float)
    m = x.size // 5
    if m < 2:
        raise ValueError(f"MSER-5 needs at least 10 observations, got {x.size}")
    z = x[: m * 5].reshape(m, 5).mean(axis=1)
    best, best_d = math.inf, 0
    for d in range(m // 2 + 1):
        rest = z[d:]
        stat = float(((rest - rest.mean()) ** 2).sum()) / (rest.size**2)
        if stat < best:
            best, best_d = stat, d
    return best_d * 5
