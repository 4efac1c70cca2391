"""The load test's synthetic mothers: drawn by the fakes' one fertility schedule (#15 point 5).

Each birth arrival of a live run gets a mother from ``fakes.people.mother_weights`` — the ASFR
schedule and birth-order shares of ``fakes/_people_data.py``, which the fakes' life events use —
and her e-birth certificate's ``birth_order`` is her rank-th child: one more than her children
in the population (XML9's SO_CON is the number of children of the delivery, not the rank).
"""

from __future__ import annotations

from datetime import date
from functools import cache

import numpy as np
import pytest

import scenarios
from loadtests._payloads import CitizenPayloads
from loadtests.results import LoadConfig, stream_of


@cache
def _certificates() -> tuple[CitizenPayloads, list[tuple[int, dict]]]:
    scenario = scenarios.load("hanoi-baseline")
    stream = stream_of(scenario, LoadConfig(days=3))
    payloads = CitizenPayloads(scenario, stream)
    births = stream[stream["service"] == 0]
    return payloads, [(int(a["dossier"]), payloads.certificate(a)[2]) for a in births]


def _age(cert: dict) -> float:
    days = date.fromisoformat(cert["child_birth_date"]) - date.fromisoformat(cert["mother_birth_date"])
    return days.days / 365.2425


def test_mothers_age_follows_the_fertility_schedule() -> None:
    """DOMAIN.md §8: mean age of women giving birth 28.8 (2024) [V]; the schedule's own mean
    28.76. Uniform 18-45 mothers (the old draw) average about 31.5."""
    _, certs = _certificates()
    ages = np.array([_age(c) for _, c in certs])
    assert ages.size > 1000
    assert ages.mean() == pytest.approx(28.8, abs=0.8)
    assert ages.min() >= 15.0 and ages.max() < 50.0
    assert np.mean((ages >= 25) & (ages < 30)) > np.mean((ages >= 20) & (ages < 25))  # peak at 25-29


def test_birth_order_is_the_mothers_rank_and_follows_hanois_shares() -> None:
    """DOMAIN.md §8 'Births by order, simulation', Hanoi: 1st 48 %, 2nd 42 %, 3rd 8.5 %, 4th+
    1.5 % [U] (10 % third-or-later; 7.28 % in Q1 2012 [V], §7)."""
    payloads, certs = _certificates()
    pop = payloads.pop
    for n, cert in certs:
        mother = int(payloads.person[n])
        assert cert["birth_order"] == int(np.count_nonzero(pop.mother == mother)) + 1
    order = np.array([c["birth_order"] for _, c in certs])
    shares = [np.mean(order == 1), np.mean(order == 2), np.mean(order == 3), np.mean(order >= 4)]
    assert shares == pytest.approx([0.48, 0.42, 0.085, 0.015], abs=0.04)
