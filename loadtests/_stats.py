"""Exact (unbucketed) statistics of a sample: percentiles over every value kept (private)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["PERCENTILES", "summary"]

PERCENTILES = (50, 90, 95, 99)


def summary(values: npt.ArrayLike, unit: str = "") -> dict[str, float | int | str | None]:
    """``{"count", "mean", "p50", "p90", "p95", "p99", "max", "unit"}`` of the finite values.

    Percentiles are exact order statistics of the whole sample (numpy's linear interpolation
    between the two nearest ranks), never read off a histogram. Empty → statistics ``None``.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    out: dict[str, float | int | str | None] = {"count": int(x.size), "unit": unit}
    if not x.size:
        out.update({"mean": None, "max": None, **{f"p{p}": None for p in PERCENTILES}})
        return out
    qs = np.percentile(x, PERCENTILES)
    out.update({"mean": float(x.mean()), "max": float(x.max())})
    out.update({f"p{p}": float(q) for p, q in zip(PERCENTILES, qs, strict=True)})
    return out
