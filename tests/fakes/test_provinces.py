"""National scope: each of the 34 provinces carries its own population (#15 point 5).

The shares come from fakes/data/provinces_2025.csv (DOMAIN.md §8: 34 provinces after NQ
202/2025/QH15; populations from the merger dossier as published by vietnam.travel, laodong.vn and
vietnamnet.vn [V], the unchanged provinces from a listing [K]). Births and deaths are assumed to
follow population [U], so the national stream's per-province shares must match these.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import scenarios
from fakes import events, people

CSV = Path(people.__file__).parent / "data" / "provinces_2025.csv"


def _source_shares() -> dict[str, float]:
    """PID province code → share of the 34 provinces' population, read from the data file."""
    with CSV.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    total = sum(int(r["population"]) for r in rows)
    return {f"{int(r['code']):03d}": int(r["population"]) / total for r in rows}


def _shares(codes: list[str]) -> dict[str, float]:
    n = len(codes)
    return {k: v / n for k, v in Counter(codes).items()}


def test_the_source_has_the_34_provinces_of_vietnam_provinces() -> None:
    from vietnam_provinces import Province

    source = _source_shares()
    assert sorted(source) == sorted(f"{int(p.code):03d}" for p in Province.iter_all())
    assert len(source) == 34
    # HCMC (~14.0 M) and Hanoi (~8.59 M) lead, Lai Châu (~0.49 M) is the smallest (DOMAIN.md §7)
    ranked = sorted(source, key=source.__getitem__)
    assert ranked[-2:] == ["001", "079"] and ranked[0] == "012"


def test_national_stream_follows_each_provinces_population() -> None:
    """300,000 people of national-2025 and their year (~4,200 births, ~1,900 deaths): the people
    of each province within 0.4 points of its population share, its births and deaths within 1.5
    points (HCMC 12.6 %, Hanoi 7.7 %, Lai Châu 0.4 %: 6,000 events give a standard error of
    at most 0.43 points). With equal provinces every share was 2.9 %."""
    s = scenarios.load("national-2025")
    rng = np.random.default_rng(34)
    pop = people.generate(s, rng, 300_000)
    unit_province = [u.province for u in pop.units]
    source = _source_shares()

    residents = [unit_province[pop.hh_unit[h]] for h in pop.household]
    assert _shares(residents) == pytest.approx(source, abs=0.004)

    ev = events.simulate(pop, s, rng, 365)
    after = ev.population
    who = np.concatenate([ev.births.mother, ev.deaths.person])
    assert who.size > 5000
    happened = [unit_province[after.hh_unit[after.household[i]]] for i in who]
    got = _shares(happened)
    assert set(got) <= set(source)
    assert {k: got.get(k, 0.0) for k in source} == pytest.approx(source, abs=0.015)
