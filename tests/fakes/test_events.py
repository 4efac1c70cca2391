"""Tests for fakes/events.py: volumes, consistency of the evolving population, records."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from pathlib import Path

import numpy as np
import pytest

import scenarios
from fakes import events, ids, people
from fakes.people import CHILD, GRANDCHILD, OTHER, STATUSES
from scenarios.demand import working_days_per_year

S = scenarios.load("hanoi-baseline")
SHARES: dict[str, float] = {str(k): v for k, v in S.demand.death_status.items()}
MINUTES_PER_DAY = 1440.0


def simulate(size: int, seed: int, days: int = 365, **kw: float) -> events.LifeEvents:
    rng = np.random.default_rng(seed)
    return events.simulate(people.generate(S, rng, size), S, rng, days, **kw)


@pytest.fixture(scope="module")
def year() -> events.LifeEvents:
    """A year of events on a million people (scale = 1e6 / Hanoi's population)."""
    return simulate(1_000_000, seed=21)


def start_day(pop: people.Population) -> int:
    return (pop.start - people.EPOCH).days


# -- volumes -----------------------------------------------------------------------------------


def test_births_and_deaths_per_working_day_match_the_scenario(year: events.LifeEvents) -> None:
    wd = working_days_per_year(S)
    assert year.scale == pytest.approx(1_000_000 / S.region.population)
    births_per_wd = len(year.births) / wd / year.scale
    deaths_per_wd = len(year.deaths) / wd / year.scale
    assert births_per_wd == pytest.approx(S.demand.births_per_wd, rel=0.05)
    assert deaths_per_wd == pytest.approx(S.demand.deaths_per_wd, rel=0.05)


def test_deceased_statuses_match_the_scenario_shares(year: events.LifeEvents) -> None:
    pop = year.population
    shares = np.bincount(pop.status[year.deaths.person], minlength=len(STATUSES)) / len(year.deaths)
    for k, s in enumerate(STATUSES):
        assert shares[k] == pytest.approx(SHARES[s], abs=0.03), s


def test_age_at_death_follows_the_scenario(year: events.LifeEvents) -> None:
    pop = year.population
    age = (start_day(pop) + year.deaths.minute / MINUTES_PER_DAY - pop.dob[year.deaths.person]) / 365.2425
    assert age.mean() == pytest.approx(S.demand.age_at_death.expected, abs=1.5)


# -- consistency -------------------------------------------------------------------------------


def test_events_are_in_time_order_within_the_period(year: events.LifeEvents) -> None:
    for m in (year.births.minute, year.deaths.minute):
        assert (np.diff(m) >= 0).all() and m.min() >= 0 and m.max() < 365 * MINUTES_PER_DAY


def test_mothers_are_15_to_50_and_alive_at_the_birth(year: events.LifeEvents) -> None:
    pop, b = year.population, year.births
    age = (start_day(pop) + b.minute / MINUTES_PER_DAY - pop.dob[b.mother]) / 365.2425
    assert age.min() >= 15 and age.max() < 51
    assert pop.female[b.mother].all()
    second_twins = int((b.multiple == 2).sum()) // 2
    assert np.unique(b.mother).size == len(b) - second_twins  # one delivery per mother; twins share her
    dead_mother = pop.death[b.mother]
    assert (np.isnan(dead_mother) | (dead_mother > b.minute)).all()
    known = b.father >= 0
    dead_father = pop.death[b.father[known]]
    assert (np.isnan(dead_father) | (dead_father > b.minute[known])).all()
    assert (~pop.female[b.father[known]]).all()


def test_no_death_before_birth_and_nobody_dies_twice(year: events.LifeEvents) -> None:
    pop, d = year.population, year.deaths
    assert np.unique(d.person).size == len(d)
    death_day = start_day(pop) + d.minute // MINUTES_PER_DAY
    assert (death_day > pop.dob[d.person]).all()
    assert np.array_equal(pop.death[d.person], d.minute)
    assert np.isnan(np.delete(pop.death, d.person)).all()


def test_births_add_people_to_the_mothers_household(year: events.LifeEvents) -> None:
    pop, b = year.population, year.births
    assert pop.size == year.initial_size + len(b)
    assert np.array_equal(b.child, np.arange(year.initial_size, pop.size))
    assert (pop.dob[b.child] == start_day(pop) + b.minute // MINUTES_PER_DAY).all()
    assert (pop.household[b.child] == pop.household[b.mother]).all()
    assert np.isin(pop.relation[b.child], [CHILD, GRANDCHILD, OTHER]).all()
    assert (pop.pid[b.child] == -1).all() and np.isnan(pop.death[b.child]).all()
    src = np.where(b.father >= 0, b.father, b.mother)
    assert (pop.family[b.child] == pop.family[src]).all()
    assert (pop.mother[b.child] == b.mother).all() and (pop.father[b.child] == b.father).all()
    heads = np.bincount(pop.household[pop.relation == people.HEAD], minlength=pop.households)
    assert (heads == 1).all()
    boys = (~pop.female[b.child]).mean()
    assert boys == pytest.approx(events.BOYS_PER_GIRL / (1 + events.BOYS_PER_GIRL), abs=0.02)


def test_alive_at_tracks_births_and_deaths(year: events.LifeEvents) -> None:
    pop, b, d = year.population, year.births, year.deaths
    for minute in (0.0, 100.5 * MINUTES_PER_DAY, 365 * MINUTES_PER_DAY):
        born = (b.minute // MINUTES_PER_DAY <= minute // MINUTES_PER_DAY).sum()  # births count by day
        died = (d.minute <= minute).sum()
        assert pop.alive_at(minute).sum() == year.initial_size + born - died


# -- records -----------------------------------------------------------------------------------


def test_birth_certificate_has_the_xml9_fields(year: events.LifeEvents) -> None:
    for k in range(0, len(year.births), 1111):
        cert = year.birth_certificate(k)
        for field in (
            "MA_LK",
            "HO_TEN_NND",
            "NGAYSINH_NND",
            "SO_CCCD_NND",
            "MA_THE_TAM",
            "HO_TEN_CON",
            "GIOI_TINH_CON",
            "NGAY_SINH_CON",
            "NOI_SINH_CON",
            "CAN_NANG_CON",
            "SO",
            "QUYEN_SO",
        ):
            assert field in cert
        assert ids.validate_pid(cert["SO_CCCD_NND"]) is None
        assert ids.validate_bhyt(cert["MA_THE_TAM"], expect_group="TE") is None
        assert len(cert["NGAY_SINH_CON"]) == 12 and cert["NGAY_SINH_CON"].isdigit()
        assert cert["NGAY_CT"] >= cert["NGAY_SINH_CON"][:8]
        assert cert["NGAYCAP_CCCD_NND"] < cert["NGAY_SINH_CON"][:8]
        assert cert["GIOI_TINH_CON"] in (1, 2) and 500 <= cert["CAN_NANG_CON"] <= 5500
        assert unicodedata.is_normalized("NFC", cert["HO_TEN_NND"] + cert["HO_TEN_CON"])
        assert cert["HO_TEN_CON"].split()[0] == (cert["HO_TEN_CHA"] or cert["HO_TEN_NND"]).split()[0]
        # LAN_SINH counts deliveries, SO_CON the children of this one (2 for twins), SO_CON_SONG
        # the living children: at most the children born so far, this delivery's included.
        b = year.births
        first_twin = cert["SO_CON"] == 2 and b.mother[k + 1 : k + 2].tolist() == [b.mother[k]]
        born_so_far = b.birth_order[k] + first_twin
        assert cert["SO_CON"] in (1, 2) and 1 <= cert["LAN_SINH"] <= b.birth_order[k]
        assert cert["SO_CON"] <= cert["SO_CON_SONG"] <= born_so_far


def test_certificate_numbers_are_unique_per_facility_and_year(year: events.LifeEvents) -> None:
    keys = {
        (c["MA_TTDV"], c["QUYEN_SO"], c["SO"]) for c in map(year.birth_certificate, range(len(year.births)))
    }
    assert len(keys) == len(year.births)
    temp_cards = {year.birth_certificate(k)["MA_THE_TAM"] for k in range(len(year.births))}
    assert len(temp_cards) == len(year.births)


def test_death_notice_names_the_funeral_payer(year: events.LifeEvents) -> None:
    seen = set()
    for k in range(len(year.deaths)):
        notice = year.death_notice(k)
        assert notice["payer"] == events.FUNERAL_PAYER[notice["status"]]
        seen.add((notice["status"], notice["payer"]))
        if k % 500 == 0:
            assert ids.validate_pid(notice["SO_CCCD"]) is None
            assert notice["NGAY_SINH"] < notice["NGAY_GIO_TU_VONG"][:8]
            assert notice["LOAI_GIAY_TO"] in ("Giấy báo tử", "Văn bản xác nhận việc chết")
    assert seen == {
        ("pensioner", "vss"),
        ("insured", "vss"),
        ("social", "social"),
        ("merit", "social"),
        ("none", "none"),
    }


def test_iteration_merges_both_streams_in_time_order() -> None:
    ev = simulate(20_000, seed=4, days=90)
    recs = list(ev)
    assert len(recs) == len(ev.births) + len(ev.deaths)
    assert [r["minute"] for r in recs] == sorted(r["minute"] for r in recs)
    assert {r["kind"] for r in recs} == {"birth", "death"}


# -- determinism and refusals -------------------------------------------------------------------


def test_same_seed_same_events_and_files(tmp_path: Path) -> None:
    a, b = simulate(30_000, seed=8, days=120), simulate(30_000, seed=8, days=120)
    for field in ("minute", "mother", "father", "child", "facility", "weight_g", "so"):
        assert np.array_equal(getattr(a.births, field), getattr(b.births, field)), field
    assert np.array_equal(a.deaths.person, b.deaths.person)
    counts = [events.write_events(ev, tmp_path / name) for ev, name in ((a, "a"), (b, "b"))]
    assert counts[0] == counts[1]
    for name in ("events.jsonl", "births.csv", "deaths.csv"):
        assert (
            hashlib.sha256((tmp_path / "a" / name).read_bytes()).digest()
            == hashlib.sha256((tmp_path / "b" / name).read_bytes()).digest()
        )
    first = json.loads((tmp_path / "a" / "events.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["kind"] in ("birth", "death")
    c = simulate(30_000, seed=9, days=120)
    assert not np.array_equal(a.births.minute[:10], c.births.minute[:10])


def test_zero_days_gives_no_events() -> None:
    ev = simulate(2000, seed=1, days=0)
    assert len(ev.births) == len(ev.deaths) == 0 and ev.population.size == 2000


def test_refusals() -> None:
    rng = np.random.default_rng(0)
    pop = people.generate(S, rng, 3000)
    with pytest.raises(ValueError, match="days must be"):
        events.simulate(pop, S, rng, -1)
    with pytest.raises(ValueError, match="scale must be positive"):
        events.simulate(pop, S, rng, 10, scale=0)
    with pytest.raises(ValueError, match=r"too few mothers|cannot carry"):
        events.simulate(pop, S, rng, 365, scale=1.0)  # Hanoi's volumes on 3,000 people
    evolved = events.simulate(pop, S, rng, 30).population
    with pytest.raises(ValueError, match="already has deaths"):
        events.simulate(evolved, S, rng, 30)
