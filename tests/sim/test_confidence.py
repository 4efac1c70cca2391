"""Tests for sim/confidence.py: Student t quantiles against R."""

from __future__ import annotations

import pytest

from sim.confidence import student_t, t_quantile


def test_student_t_quantiles() -> None:
    # reference values (R: qt(p, df)) to 7 significant digits
    assert student_t(1) == pytest.approx(12.70620, rel=1e-6)
    assert student_t(9) == pytest.approx(2.262157, rel=1e-6)
    assert student_t(120) == pytest.approx(1.979930, rel=1e-6)
    assert t_quantile(0.975, 4) == pytest.approx(2.776445, rel=1e-6)
    assert t_quantile(0.95, 2) == pytest.approx(2.919986, rel=1e-6)
    assert t_quantile(0.95, 1000) == pytest.approx(1.646379, rel=1e-6)
    assert t_quantile(0.999, 2) == pytest.approx(22.32712, rel=1e-6)
    assert t_quantile(0.5, 7) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match=r"quantile level must be in \[0.5, 1\), got 1.0"):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError, match="at least 1, got 0"):
        student_t(0)
