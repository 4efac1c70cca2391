"""Tests for sim/warmup.py: MSER-5."""

from __future__ import annotations

import numpy as np
import pytest

from sim.warmup import mser5


def test_mser5_cuts_the_transient() -> None:
    rng = np.random.default_rng(1)
    transient = np.concatenate([np.linspace(50, 10, 40), 10 + rng.normal(0, 1, 160)])
    assert 30 <= mser5(transient) <= 60
    assert mser5(np.r_[np.full(10, 100.0), np.zeros(90)]) == 10  # exactly the biased batches
    assert mser5(np.full(50, 3.0)) == 0
    with pytest.raises(ValueError, match="at least 10 observations, got 9"):
        mser5(np.ones(9))
