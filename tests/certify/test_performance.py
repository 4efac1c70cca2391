"""The declared rate: the national peak for the agency, derived from the catalog, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from certify.performance import NATIONAL, catalog_surge, declared_rate, national_peak, peak_hour_rate
from scenarios import load


def test_vss_national_peak_by_hand() -> None:
    s = load("national-2025")
    d = s.demand
    assert (d.births_per_wd, d.deaths_per_wd) == (5622, 2610)  # 1.4 M and 0.65 M a year / 249 WD
    on = np.asarray(d.online_hour_profile) / sum(d.online_hour_profile)
    desk = np.asarray(d.desk_hour_profile) / sum(d.desk_hour_profile)
    day = max(d.weekday_profile[:5]) / np.mean(d.weekday_profile[:5])   # Monday 1.15 / 1.03
    birth_hour = (0.6 * on + 0.4 * desk).max()
    death_hour = (0.4 * on + 0.6 * desk).max()
    cards = 5622 * day * birth_hour * (0.80 + 0.15)            # variants with the bhyt step
    paid = 0.35 + 0.10                                         # pensioner + insured
    deaths = 2610 * day * death_hour * (0.45 * paid + 0.10 * 2 * paid)  # funeral (+ survivor)
    busiest = (cards + deaths) / 3600
    assert peak_hour_rate(s, "vss") == pytest.approx(busiest, rel=1e-12)
    assert busiest == pytest.approx(0.208, abs=0.001)
    peak = national_peak("vss")
    assert peak["scenario"] == NATIONAL == "national-2025"
    assert (peak["surge"], peak["surge_scenario"]) == (10.0, "incident-f5-vneid-surge")
    assert declared_rate("vss") == pytest.approx(busiest * 10, abs=1e-4)  # ≈ 2.08 requests/s


def test_the_surge_is_the_largest_in_the_catalog() -> None:
    factors = [f.factor or 1.0 for f in load("incident-f5-vneid-surge").faults if f.kind == "surge"]
    assert catalog_surge("police") == (max(factors), "incident-f5-vneid-surge")
    assert [f.factor for f in load("hanoi-tet").faults if f.kind == "surge"] == [None]  # Tết: a shift


@pytest.mark.parametrize(("agency", "expected"), [("police", 5.497), ("health", 2.8895),
                                                  ("justice", 2.8895), ("portal", 2.8895),
                                                  ("social", 0.0835)])
def test_every_agency_has_its_own_peak_and_rate_overrides(agency: str, expected: float) -> None:
    assert declared_rate(agency) == pytest.approx(expected, abs=5e-4)
    assert declared_rate(agency, 3.5) == 3.5
