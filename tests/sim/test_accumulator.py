"""Tests for sim/_accumulator.py: histogram percentiles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim._accumulator import MINUTE_EDGES, WD_EDGES, Histogram


@settings(max_examples=30)
@given(seed=st.integers(0, 2**32), sigma=st.floats(0.2, 2.0))
def test_histogram_percentiles_are_close_to_exact(seed: int, sigma: float) -> None:
    x = np.random.default_rng(seed).lognormal(3.0, sigma, 5000)
    h = Histogram(MINUTE_EDGES)
    h.add(x)
    s = h.summary()
    assert s["mean"] == pytest.approx(x.mean())
    assert s["max"] == x.max()
    for p in (50, 90, 95):
        assert s[f"p{p}"] == pytest.approx(np.percentile(x, p), rel=0.03)


def test_histogram_percentiles_of_exact_zeros_are_zero() -> None:
    # most dossiers done on the day received use 0 WD: their percentiles are 0, not a bin's edge
    h = Histogram(WD_EDGES)
    h.add(np.r_[np.zeros(96), [0.5, 1.0, 2.0, 3.0]])
    s = h.summary()
    assert (s["p50"], s["p90"], s["p95"]) == (0.0, 0.0, 0.0)
    p99 = s["p99"]
    assert p99 is not None and 0.5 <= p99 <= 3.0 and s["max"] == 3.0
