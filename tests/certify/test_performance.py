"""The declared rate: Hanoi's peak hour × the safety factor, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from certify.performance import MIN_RATE, declared_rate, peak_hour_rate
from scenarios import load


def test_vss_peak_hour_by_hand() -> None:
    s = load("hanoi-baseline")
    d = s.demand
    on = np.asarray(d.online_hour_profile) / sum(d.online_hour_profile)
    desk = np.asarray(d.desk_hour_profile) / sum(d.desk_hour_profile)
    day = max(d.weekday_profile[:5]) / np.mean(d.weekday_profile[:5])
    birth_hour = (0.6 * on + 0.4 * desk).max()
    death_hour = (0.4 * on + 0.6 * desk).max()
    cards = 450 * day * birth_hour * (0.80 + 0.15)            # variants with the bhyt step
    paid = 0.35 + 0.10                                        # pensioner + insured
    deaths = 150 * day * death_hour * (0.45 * paid + 0.10 * 2 * paid)  # funeral (+ survivor)
    assert peak_hour_rate(s, "vss") == pytest.approx((cards + deaths) / 3600, rel=1e-12)


def test_declared_rate_override_and_floor() -> None:
    s = load("hanoi-baseline")
    assert declared_rate(s, "vss", 3.5, 50) == 3.5
    assert declared_rate(s, "vss", None, 100) == pytest.approx(peak_hour_rate(s, "vss") * 100)
    assert declared_rate(s, "social", None, 50) == MIN_RATE
