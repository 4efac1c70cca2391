"""Life events: the births and deaths of a population over a simulated period.

``simulate(population, scenario, rng, days)`` draws event times from the scenario's demand
(:func:`scenarios.demand.daily_event_rates` and :func:`scenarios.demand.event_minutes`, the same
calibration the twin uses) scaled to the population's size, then picks who is involved:

- **deaths**: the age at death is drawn from ``demand.age_at_death`` and a living person of
  that age is chosen at random, so the hazard is age-specific (deaths at age *a* ÷ people of age
  *a*). The deceased's status decides the funeral payer (:data:`FUNERAL_PAYER`). Only people
  alive at the start can die in the period, so nobody dies before being born.
- **births**: a share TWIN_DELIVERIES of the deliveries are twins (two children, same mother,
  father, day, hospital). Mothers are drawn so that the births follow, at once, the age schedule
  of the age-specific fertility rates (births to women of each five-year group ∝ ASFR × women
  of that group, whatever their marital status: marriage only decides *which* women of a group
  give birth, a wife ``1 / UNMARRIED_FERTILITY`` times likelier than a woman without a husband
  in the household) and the region's birth-order shares (:func:`fakes._people_data.
  birth_order_shares`: the k-th child goes to a woman with k − 1 children in the population),
  by iterative proportional fitting of one weight per (age group, children) cell. A woman gives
  birth only if her last child was born at least BIRTH_INTERVAL_MIN_DAYS before, at 15–50, alive,
  and at most once in the period. The father is her husband (alive at the birth) or unknown, and
  the child joins the mother's household.

The evolved population holds the newborns (no PID yet: police issue it, see
:func:`fakes.people.issue_pids`) and every death minute. Hospital data follow BHXH table XML9
(e-birth certificate, *giấy chứng sinh*) and a death notice (*giấy báo tử*) modelled on form
Mẫu 02 (DOMAIN.md §4). Facility codes are synthetic.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from fakes import ids
from fakes._people_data import (
    ASFR,
    ASFR_AGES,
    BIRTH_INTERVAL_MIN_DAYS,
    TWIN_DELIVERIES,
    birth_order_shares,
    ethnicities,
    name_pools,
)
from fakes._sorting import float_order
from fakes.people import (
    BHYT_CODES,
    CHILD,
    DAYS_PER_YEAR,
    F64,
    GRANDCHILD,
    HEAD,
    I32,
    I64,
    MAX_AGE,
    OTHER,
    PERSON_COLUMNS,
    RELATIONS,
    SPOUSE,
    STATUSES,
    U8,
    U16,
    B,
    Population,
    draw,
    draw_names,
    rake,
)
from scenarios.demand import daily_event_rates, event_minutes
from scenarios.model import Scenario

__all__ = [
    "FUNERAL_PAYER",
    "Births",
    "Deaths",
    "Facility",
    "LifeEvents",
    "simulate",
    "write_events",
]

#: Funeral payer by status of the deceased (DOMAIN.md §2, §6): VSS for pensioners and the
#: insured, the social-affairs authority for social-protection beneficiaries and people with merit.
FUNERAL_PAYER: Final = {
    "pensioner": "vss", "insured": "vss", "social": "social", "merit": "social", "none": "none",
}  # fmt: skip

# ASSUMPTIONS [K/U] (the fertility figures, ASFR and the birth-order shares are in fakes._people_data):
UNMARRIED_FERTILITY: Final = 0.05  # fertility of women without a husband in the household ÷ wives' [U]
BOYS_PER_GIRL: Final = 1.11  # sex ratio at birth, 2019 census ~111 [K]
CAESAREAN: Final = 0.45  # share of caesarean births in Hanoi hospitals [U]
UNDER_32_WEEKS: Final = 0.015  # [U]
WEIGHT_G: Final = ((3150.0, 420.0), (1500.0, 350.0))  # N(mean, sd) grams: term, under 32 weeks [U]
DIED_IN_FACILITY: Final = 0.4  # deaths in a health facility (a death notice); the rest at home [U]
STAFF_PER_FACILITY: Final = 8
TZ: Final = timezone(timedelta(hours=7))

CAUSES: Final = ("Bệnh", "Già yếu", "Tai nạn giao thông", "Tai nạn khác")
_CAUSE_P: Final = {  # by age band: under 50, 50-79, 80+ [U]
    0: (0.65, 0.0, 0.25, 0.10),
    1: (0.88, 0.05, 0.04, 0.03),
    2: (0.50, 0.48, 0.01, 0.01),
}


@dataclass(frozen=True)
class Facility:
    """A health facility issuing birth certificates and/or death notices (code is synthetic).

    ``births``/``deaths`` are its relative weights among the province's facilities (a maternity
    hospital issues no death notices in this model).
    """

    code: str
    name: str
    province: str
    births: float
    deaths: float


# Real maternity and general hospitals of Hanoi; their 5-digit codes here are synthetic [U].
_HANOI: Final = (  # name, birth weight, death weight [U]
    ("Bệnh viện Phụ sản Hà Nội", 5.0, 0.0),
    ("Bệnh viện Phụ sản Trung ương", 4.0, 0.0),
    ("Bệnh viện Bạch Mai", 1.5, 5.0),
    ("Bệnh viện Đa khoa Đức Giang", 1.5, 1.5),
    ("Bệnh viện Đa khoa Hà Đông", 1.5, 1.5),
    ("Bệnh viện Thanh Nhàn", 1.0, 1.5),
    ("Bệnh viện Đa khoa Xanh Pôn", 1.0, 1.5),
    ("Bệnh viện Đa khoa Sơn Tây", 1.0, 1.0),
    ("Bệnh viện Đa khoa Đông Anh", 1.0, 1.0),
    ("Bệnh viện Đa khoa Sóc Sơn", 0.7, 0.7),
    ("Bệnh viện Đa khoa Mê Linh", 0.7, 0.7),
)


def facilities(population: Population) -> tuple[Facility, ...]:
    """Facilities of the population's provinces: Hanoi's hospitals, else one general hospital each."""
    provinces = dict.fromkeys((u.province, u.province_name) for u in population.units)
    out: list[Facility] = []
    for code, name in provinces:
        if code == "001" and population.region.scope == "province":
            out += [Facility(f"01{i + 1:03d}", n, code, b, d) for i, (n, b, d) in enumerate(_HANOI)]
        else:
            out.append(Facility(f"{code[1:]}001", f"Bệnh viện Đa khoa {name}", code, 1.0, 1.0))
    return tuple(out)


@dataclass(eq=False)
class Births:
    """Births in time order. Rows index the evolved population; ``father`` is -1 when unknown.

    ``facility`` indexes LifeEvents.facilities; ``attendant``/``recorder`` index its staff
    roster; ``so`` is the certificate's entry number at its facility in its year; ``card_bhxh``
    the BHXH number behind the temporary card code (MA_THE_TAM); ``id_issued`` the day the
    mother's ID card was issued (days since 1970-01-01); ``cert_day`` the certificate's day.
    ``birth_order`` is the child's rank among its mother's children (twins: k and k + 1);
    ``delivery`` her deliveries so far, this one included (LAN_SINH); ``multiple`` the children
    of this delivery (SO_CON: 2 for twins, who are consecutive rows); ``living_children`` her
    living children, this delivery's included (SO_CON_SONG). The XML9 fields read so [K]: the
    data standard's descriptions were not at hand.
    """

    minute: F64
    child: I64
    mother: I64
    father: I64
    facility: U16
    weight_g: I32
    caesarean: B
    under_32_weeks: B
    birth_order: I32
    delivery: I32
    multiple: U8
    living_children: I32
    attendant: U8
    recorder: U8
    so: I32
    card_bhxh: I64
    id_issued: I32
    cert_day: I32

    def __len__(self) -> int:
        return int(self.minute.size)


@dataclass(eq=False)
class Deaths:
    """Deaths in time order: ``person`` rows of the population; ``facility`` -1 for a death at home."""

    minute: F64
    person: I64
    facility: I32
    cause: U8
    so: I32
    notice_day: I32

    def __len__(self) -> int:
        return int(self.minute.size)


@dataclass(eq=False)
class LifeEvents:
    """The events of a period and the population they leave behind."""

    births: Births
    deaths: Deaths
    population: Population
    initial_size: int
    days: int
    scale: float
    facilities: tuple[Facility, ...]
    staff: tuple[tuple[str, ...], ...]

    def birth_certificate(self, k: int) -> dict[str, Any]:
        """Birth ``k`` as an e-birth certificate (XML9 field names) plus context fields."""
        return _certificate(self, k)

    def death_notice(self, k: int) -> dict[str, Any]:
        """Death ``k`` as a death notice (Mẫu 02 content, XML-style names) plus context fields."""
        return _notice(self, k)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Every event as a record, in time order (births before deaths at equal minutes)."""
        kinds = np.concatenate([np.zeros(len(self.births), np.int8), np.ones(len(self.deaths), np.int8)])
        index = np.concatenate([np.arange(len(self.births)), np.arange(len(self.deaths))])
        minutes = np.concatenate([self.births.minute, self.deaths.minute])
        for j in np.lexsort((kinds, minutes)):
            k = int(index[j])
            yield self.birth_certificate(k) if kinds[j] == 0 else self.death_notice(k)


# --------------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------------


def simulate(
    population: Population,
    scenario: Scenario,
    rng: np.random.Generator,
    days: int = 365,
    *,
    scale: float | None = None,
) -> LifeEvents:
    """Births and deaths over ``days`` days from the scenario start, and the evolved population.

    ``scale`` multiplies the scenario's demand (default: population size ÷
    ``scenario.region.population``, so a smaller population sees proportionally fewer events).
    Raises ValueError for negative ``days``, a non-positive scale, a population that already
    evolved (it must start with nobody dead and nobody born after the start), or one too small
    to carry the events.
    """
    _check(population, days, scale)
    scale = population.size / scenario.region.population if scale is None else float(scale)
    death_rng, birth_rng, detail_rng = rng.spawn(3)
    death_minute = event_minutes(death_rng, daily_event_rates(scenario, "death", days) * scale)
    deceased = _pick_deceased(death_rng, population, scenario, death_minute)
    death = population.death.copy()
    death[deceased] = death_minute
    pop = population.replace(death=death)
    birth_minute = event_minutes(birth_rng, daily_event_rates(scenario, "birth", days) * scale)
    birth_minute, second = _twin_pairs(birth_rng, birth_minute)
    kin = _Kin.of(pop)
    shares = birth_order_shares(scenario.region.scope)
    mother, father = _pick_parents(birth_rng, pop, birth_minute, second, kin, shares)
    pop, child = _add_newborns(birth_rng, pop, birth_minute, mother, father)
    fac = facilities(population)
    births = _birth_details(detail_rng, pop, fac, birth_minute, child, mother, father, second, kin)
    deaths = _death_details(detail_rng, pop, fac, death_minute, deceased)
    staff = _staff(detail_rng, len(fac))
    return LifeEvents(births, deaths, pop, population.size, days, scale, fac, staff)


def _check(population: Population, days: int, scale: float | None) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ValueError(f"days must be a non-negative int, not {days!r}")
    if scale is not None and not scale > 0:
        raise ValueError(f"scale must be positive, not {scale!r}")
    if not np.isnan(population.death).all():
        raise ValueError("population already has deaths: simulate from a freshly generated population")


def _pick_deceased(rng: np.random.Generator, pop: Population, scenario: Scenario, minute: F64) -> I64:
    """One distinct person per death, of the drawn age at death (nearest younger age if none left)."""
    age0 = pop.age_years(0.0)
    bucket_of = np.clip(age0, 0, MAX_AGE).astype(np.uint8)
    by_bucket = np.argsort(bucket_of, kind="stable")  # radix sort on uint8
    counts = np.bincount(bucket_of, minlength=MAX_AGE + 1)
    starts = np.cumsum(counts) - counts
    at_death = scenario.demand.age_at_death.sample(rng, minute.size)
    want = np.clip(np.floor(at_death - minute / 1440.0 / DAYS_PER_YEAR), 0, MAX_AGE).astype(np.int64)
    chosen = np.full(minute.size, -1, dtype=np.int64)
    carry = np.empty(0, dtype=np.int64)
    for b in range(MAX_AGE, -1, -1):  # oldest first; overflow moves to the next younger age
        events = np.concatenate([carry, np.flatnonzero(want == b)])
        take = min(int(counts[b]), events.size)
        picks = rng.choice(int(counts[b]), take, replace=False) if take else np.empty(0, np.int64)
        chosen[events[:take]] = by_bucket[starts[b] + picks]
        carry = events[take:]
    if carry.size:
        raise ValueError(f"population of {pop.size} cannot carry {minute.size} deaths")
    return chosen


def _partners(pop: Population) -> I64:
    """Each woman's husband in her household (head ↔ spouse), else -1, for every row."""
    rows = np.arange(pop.size)
    head = np.full(pop.households, -1, dtype=np.int64)
    spouse = np.full(pop.households, -1, dtype=np.int64)
    head[pop.household[pop.relation == HEAD]] = rows[pop.relation == HEAD]
    spouse[pop.household[pop.relation == SPOUSE]] = rows[pop.relation == SPOUSE]
    partner = np.where(pop.relation == HEAD, spouse[pop.household], -1)
    partner = np.where(pop.relation == SPOUSE, head[pop.household], partner)
    return np.where(pop.female & (partner >= 0) & ~pop.female[np.maximum(partner, 0)], partner, -1)


@dataclass(frozen=True)
class _Kin:
    """Each woman's children before the period: how many (``children``) and the day of the last
    (``last``, far past if none); :meth:`deliveries` counts a few mothers' deliveries."""

    children: I64
    last: I32
    kids: I64  # the rows with a mother, and their mothers and dates of birth
    mums: I32
    dobs: I32

    @classmethod
    def of(cls, pop: Population) -> _Kin:
        kids = np.flatnonzero(pop.mother >= 0)
        mums, dobs = pop.mother[kids], pop.dob[kids]
        children = np.bincount(mums, minlength=pop.size)
        last = np.full(pop.size, np.iinfo(np.int32).min // 2, dtype=np.int32)
        np.maximum.at(last, mums, dobs)
        return cls(children, last, kids, mums, dobs)

    def deliveries(self, mothers: I64) -> I64:
        """The deliveries of each of ``mothers`` before the period: her children on distinct days
        (only twins share a date of birth)."""
        chosen = np.zeros(self.children.size, dtype=bool)
        chosen[mothers] = True
        mine = np.flatnonzero(chosen[self.mums])
        key = (self.mums[mine].astype(np.int64) << 32) | (self.dobs[mine].astype(np.int64) & 0xFFFFFFFF)
        key.sort()  # (a sort and a step test: far cheaper than np.unique's hashing here)
        days = key[np.r_[True, key[1:] != key[:-1]][: key.size]] >> 32  # one per (mother, day), by mother
        return np.searchsorted(days, mothers, side="right") - np.searchsorted(days, mothers)


def _twin_pairs(rng: np.random.Generator, minute: F64) -> tuple[F64, B]:
    """Make some consecutive births twins: (minutes, True for the second twin of a pair).

    Births are taken two by two in time order; a pair becomes twins with probability 2t/(1+t)
    (t = TWIN_DELIVERIES), so that t of every delivery is a twin one and the number of children
    stays the scenario's. The second twin is born 1-20 minutes after the first, the same day
    (never after the next birth, so the order is kept).
    """
    n = minute.size
    chosen = np.flatnonzero(rng.random(n // 2) < 2 * TWIN_DELIVERIES / (1 + TWIN_DELIVERIES))
    first, later = 2 * chosen, 2 * chosen + 1
    day_end = (minute[first] // 1440 + 1) * 1440 - 0.001
    out = minute.copy()
    after = np.minimum(minute[first] + rng.uniform(1, 20, chosen.size), day_end)
    out[later] = np.minimum(after, minute[later])
    second = np.zeros(n, dtype=bool)
    second[later] = True
    return out, second


def _pick_parents(
    rng: np.random.Generator, pop: Population, minute: F64, second: B, kin: _Kin, shares: tuple[float, ...]
) -> tuple[I64, I64]:
    """A distinct mother per delivery and her husband if alive, else -1 (twins share both).

    Women are grouped in cells: age group a (at mid-period) × j children (j = 3 for 3 or more).
    Factors r[a], c[j] are raked (fakes.people.rake) so that births are ∝ ASFR[a] × (women of group a) over
    the age groups and ∝ ``shares`` over the orders; the seed of a cell is its women's
    propensity: wives 1, others UNMARRIED_FERTILITY, times the part of the period she is free to
    give birth in (her last child BIRTH_INTERVAL_MIN_DAYS before). Each delivery draws a cell
    from that fit and takes the next woman of the cell's queue (a random order where wives come
    1/UNMARRIED_FERTILITY times likelier first: Efraimidis-Spirakis keys) able to give birth at
    its minute (_can_give_birth). Drawing the cell first keeps both margins even where the
    likeliest women of a cell are few (a weighted draw over all women would run out of them); a
    cell that runs out passes its deliveries to the other cells of the age group.
    """
    husband = _partners(pop)
    deliveries = np.flatnonzero(~second)
    at = minute[deliveries]
    lo, hi = ASFR_AGES
    groups, orders = len(ASFR), len(shares)
    width = (hi - lo) / groups
    mid = float(minute[-1] / 2) if minute.size else 0.0
    span = float(minute[-1] / 1440.0) + 1.0 if minute.size else 1.0
    age_mid = pop.age_years(mid)
    women = np.flatnonzero(pop.female & (age_mid >= lo) & (age_mid < hi))
    group = ((age_mid[women] - lo) // width).astype(np.int64)
    exposure = np.bincount(group, minlength=groups)
    free_from = (kin.last[women].astype(np.float64) + BIRTH_INTERVAL_MIN_DAYS) - _start_day(pop)
    free = np.clip((span - free_from) / span, 0.0, 1.0)
    married = np.where(husband[women] >= 0, 1.0, UNMARRIED_FERTILITY)
    cell = group * orders + np.minimum(kin.children[women], orders - 1)
    seed = np.bincount(cell, weights=married * free, minlength=groups * orders).astype(np.float64)
    seed = seed.reshape(groups, orders)
    r, c = rake(seed, np.asarray(ASFR) * exposure, np.asarray(shares))
    fit = (r[:, None] * c[None, :] * seed).ravel()
    keep = free > 0
    women, cell, married = women[keep], cell[keep], married[keep]
    # The queues: women by cell, then by a weighted random key in [0, 1) (ES key k ↦ k / (1 + k)).
    key = rng.exponential(size=women.size) / married
    queue_order = float_order(cell + key / (1.0 + key))
    queue, queue_cell = women[queue_order], cell[queue_order]
    first = np.searchsorted(queue_cell, np.arange(fit.size))
    end = np.searchsorted(queue_cell, np.arange(fit.size), side="right")
    used = np.zeros(fit.size, dtype=np.int64)
    wanted = np.zeros(0, dtype=np.int64)
    if deliveries.size:  # (rng.choice, not draw: draw caches a table per probability vector)
        if fit.sum() <= 0:
            raise ValueError(f"population of {pop.size} has too few mothers for {minute.size} births")
        wanted = rng.choice(fit.size, deliveries.size, p=fit / fit.sum())
    mother = np.full(deliveries.size, -1, dtype=np.int64)
    pending = np.arange(deliveries.size)
    while pending.size:
        want = wanted[pending]
        by_cell = np.argsort(want, kind="stable")
        ranked = want[by_cell]
        starts = np.r_[0, np.flatnonzero(ranked[1:] != ranked[:-1]) + 1]
        rank = np.empty(pending.size, dtype=np.int64)
        rank[by_cell] = np.arange(pending.size) - np.repeat(starts, np.diff(np.r_[starts, pending.size]))
        pos = first[want] + used[want] + rank
        inside = pos < end[want]
        tried, cand = pending[inside], queue[pos[inside]]
        used += np.bincount(want[inside], minlength=fit.size)
        ok = _can_give_birth(pop, cand, husband[cand], at[tried], kin.last)
        mother[tried[ok]] = cand[ok]
        out = pending[~inside]
        if out.size:  # their cells ran out: another cell of the age group, else any cell left
            _redraw(rng, wanted, out, fit * (first + used < end), groups, orders, pop.size, minute.size)
        pending = np.concatenate([tried[~ok], out])
    full = np.empty(minute.size, dtype=np.int64)
    full[deliveries] = mother
    full[second] = full[np.flatnonzero(second) - 1]
    return full, husband[full]


def _redraw(
    rng: np.random.Generator, wanted: I64, rows: I64, fit: F64, groups: int, orders: int,
    size: int, births: int,
) -> None:  # fmt: skip
    """New cells for the deliveries ``rows`` whose cells ran out (``fit`` is 0 for those)."""
    if fit.sum() <= 0:
        raise ValueError(f"population of {size} has too few mothers for {births} births")
    by_group = fit.reshape(groups, orders)
    group = wanted[rows] // orders
    for g in np.unique(group):
        mine = rows[group == g]
        p = by_group[g] if by_group[g].sum() > 0 else None
        if p is None:
            wanted[mine] = rng.choice(fit.size, mine.size, p=fit / fit.sum())
        else:
            wanted[mine] = g * orders + rng.choice(orders, mine.size, p=p / p.sum())


def _can_give_birth(pop: Population, mother: I64, father: I64, minute: F64, last: I32) -> B:
    """Mother 15-50 (completed years), alive at ``minute`` and her last child born at least
    BIRTH_INTERVAL_MIN_DAYS before that day; her husband (if any) alive too."""
    day = _start_day(pop) + minute // 1440
    age = (_start_day(pop) + minute / 1440.0 - pop.dob[mother]) / DAYS_PER_YEAR
    alive = lambda rows: np.isnan(pop.death[rows]) | (pop.death[rows] > minute)  # noqa: E731
    has_father = father >= 0
    spaced = day - last[mother] >= BIRTH_INTERVAL_MIN_DAYS
    return (age >= 15) & (age < 51) & spaced & alive(mother) & (~has_father | alive(np.maximum(father, 0)))


def _add_newborns(
    rng: np.random.Generator, pop: Population, minute: F64, mother: I64, father: I64
) -> tuple[Population, I64]:
    """Append the newborns to the population: names, household, relation; no PID yet."""
    n = minute.size
    female = rng.random(n) >= BOYS_PER_GIRL / (1 + BOYS_PER_GIRL)
    dob = _start_day(pop) + (minute // 1440).astype(np.int32)
    family_src = np.where(father >= 0, father, mother)
    _, middle, given = draw_names(rng, female, dob)
    mum_rel = pop.relation[mother]
    relation = np.where(mum_rel <= SPOUSE, CHILD, np.where(mum_rel == CHILD, GRANDCHILD, OTHER))
    household = pop.household[mother]
    unit_province = np.array([pop.provinces.index(u.province) for u in pop.units], dtype=np.uint8)
    new = {
        "family": pop.family[family_src], "middle": middle, "given": given, "female": female,
        "dob": dob.astype(np.int32), "ethnicity": pop.ethnicity[family_src], "household": household,
        "relation": relation.astype(np.uint8),
        "mother": mother.astype(np.int32), "father": father.astype(np.int32),
        "status": np.full(n, STATUSES.index("none"), np.uint8),
        "birth_province": unit_province[pop.hh_unit[household]],
        "pid": np.full(n, -1, np.int64), "bhxh": np.full(n, -1, np.int64),
        "bhyt": np.zeros(n, np.uint8), "death": np.full(n, np.nan),
    }  # fmt: skip
    grown = {c: np.concatenate([getattr(pop, c), new[c]]) for c in PERSON_COLUMNS}
    return pop.replace(**grown), np.arange(pop.size, pop.size + n, dtype=np.int64)


def _numbered(facility: npt.NDArray[np.integer], day: I32) -> I32:
    """Entry numbers 1, 2, … per (facility, year) in event order."""
    year = day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
    key = facility.astype(np.int64) * 10_000 + year
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_key)) + 1]
    rank = np.arange(key.size) - np.repeat(starts, np.diff(np.r_[starts, key.size]))
    out = np.empty(key.size, dtype=np.int32)
    out[order] = rank + 1
    return out


def _birth_details(
    rng: np.random.Generator, pop: Population, fac: tuple[Facility, ...], minute: F64,
    child: I64, mother: I64, father: I64, second: B, kin: _Kin,
) -> Births:  # fmt: skip
    """Hospital data of each birth: facility, weight, caesarean, order, numbers.

    Twins share what belongs to the delivery (facility, caesarean, prematurity, staff,
    certificate day, the mother's ID card); each has its own weight, card and entry number.
    """
    n = minute.size
    later = np.flatnonzero(second)
    twin = np.zeros(n, dtype=bool)
    twin[later], twin[later - 1] = True, True
    same = np.arange(n)
    same[later] -= 1  # the delivery's first row

    facility = _facility_of(rng, pop, fac, mother, "births")[same]
    early = (rng.random(n) < UNDER_32_WEEKS)[same]
    weight = np.where(early, rng.normal(*WEIGHT_G[1], n), rng.normal(*WEIGHT_G[0], n))
    children = np.bincount(pop.mother[pop.mother >= 0], minlength=pop.size)  # this delivery included
    birth_day = _start_day(pop) + (minute // 1440).astype(np.int32)
    cert_day = (birth_day + rng.integers(0, 3, n)).astype(np.int32)[same]
    # The temporary card (MA_THE_TAM) gets a BHXH number from the population's own allocator.
    card_bhxh = np.empty(n, dtype=np.int64)
    fac_p2 = np.array([f.province[1:] for f in fac])[facility]
    for p2 in sorted(set(fac_p2.tolist())):
        rows = np.flatnonzero(fac_p2 == p2)
        card_bhxh[rows] = int(p2) * ids.BHXH_SERIALS + pop.ids.bhxh.allocate(p2, rows.size)
    return Births(
        minute=minute, child=child, mother=mother, father=father, facility=facility.astype(np.uint16),
        weight_g=np.clip(weight, 500, 5500).round().astype(np.int32),
        caesarean=(rng.random(n) < CAESAREAN)[same], under_32_weeks=early,
        birth_order=(kin.children[mother] + 1 + second).astype(np.int32),
        delivery=(kin.deliveries(mother) + 1).astype(np.int32), multiple=(1 + twin).astype(np.uint8),
        living_children=(children[mother] - _dead_children(pop, mother, minute)).astype(np.int32),
        attendant=rng.integers(0, STAFF_PER_FACILITY, n).astype(np.uint8)[same],
        recorder=rng.integers(0, STAFF_PER_FACILITY, n).astype(np.uint8)[same],
        so=_numbered(facility, cert_day), card_bhxh=card_bhxh,
        id_issued=_id_issued(rng, pop, mother)[same], cert_day=cert_day,
    )  # fmt: skip


def _dead_children(pop: Population, mother: I64, minute: F64) -> I64:
    """How many of each mother's children died before ``minute``."""
    dead = np.flatnonzero((pop.mother >= 0) & ~np.isnan(pop.death))
    out = np.zeros(mother.size, dtype=np.int64)
    if dead.size == 0:
        return out
    deaths_of: dict[int, list[float]] = {}
    for row in dead:
        deaths_of.setdefault(int(pop.mother[row]), []).append(float(pop.death[row]))
    for k in np.flatnonzero(np.isin(mother, list(deaths_of))):
        out[k] = sum(t < minute[k] for t in deaths_of[int(mother[k])])
    return out


def _facility_of(
    rng: np.random.Generator, pop: Population, fac: tuple[Facility, ...], rows: I64, kind: str
) -> I64:
    """A facility of each person's residence province, by its ``kind`` ("births"/"deaths") weight."""
    out = np.empty(rows.size, dtype=np.int64)
    province = np.array([u.province for u in pop.units])[pop.hh_unit[pop.household[rows]]]
    for code in dict.fromkeys(f.province for f in fac):
        mine = [i for i, f in enumerate(fac) if f.province == code]
        at = np.flatnonzero(province == code)
        out[at] = np.asarray(mine)[draw(rng, [getattr(fac[i], kind) for i in mine], at.size)]
    return out


def _id_issued(rng: np.random.Generator, pop: Population, rows: I64) -> I32:
    """A plausible ID-card issue day: after the 14th birthday and 2021-01-01, before the start."""
    start = _start_day(pop)
    first = np.maximum(pop.dob[rows] + int(14 * DAYS_PER_YEAR), (date(2021, 1, 1) - date(1970, 1, 1)).days)
    first = np.minimum(first, start - 1)
    return (first + (rng.random(rows.size) * (start - first)).astype(np.int64)).astype(np.int32)


def _death_details(
    rng: np.random.Generator, pop: Population, fac: tuple[Facility, ...], minute: F64, person: I64
) -> Deaths:
    """Place, cause and notice numbers of each death."""
    n = minute.size
    in_facility = rng.random(n) < DIED_IN_FACILITY
    facility = np.where(in_facility, _facility_of(rng, pop, fac, person, "deaths"), -1).astype(np.int32)
    age = pop.age_years(0.0)[person] + minute / 1440.0 / DAYS_PER_YEAR
    band = np.digitize(age, [50, 80])
    cause = np.empty(n, dtype=np.uint8)
    for b, p in _CAUSE_P.items():
        rows = np.flatnonzero(band == b)
        cause[rows] = draw(rng, p, rows.size)
    death_day = _start_day(pop) + (minute // 1440).astype(np.int32)
    notice_day = (death_day + rng.integers(0, 2, n)).astype(np.int32)
    issuer = np.where(facility >= 0, facility, len(fac) + pop.hh_unit[pop.household[person]].astype(np.int32))
    return Deaths(minute, person, facility, cause, _numbered(issuer, notice_day), notice_day)


def _staff(rng: np.random.Generator, facilities_count: int) -> tuple[tuple[str, ...], ...]:
    """A roster of STAFF_PER_FACILITY names (midwives, doctors, clerks) per facility."""
    p = name_pools()
    n = facilities_count * STAFF_PER_FACILITY
    female = rng.random(n) < 0.7
    born = rng.integers(0, 11_000, n).astype(np.int32)  # 1970-2000
    family, middle, given = draw_names(rng, female, born)
    names = [
        f"{p.family[f]} {p.middle[m]} {p.given[g]}" for f, m, g in zip(family, middle, given, strict=True)
    ]
    return tuple(tuple(names[i : i + STAFF_PER_FACILITY]) for i in range(0, n, STAFF_PER_FACILITY))


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


def _start_day(pop: Population) -> int:
    """The scenario start as days since 1970-01-01."""
    return (pop.start - date(1970, 1, 1)).days


def _ymd(day: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=int(day))).strftime("%Y%m%d")


def _at(pop: Population, minute: float) -> datetime:
    at = datetime.combine(pop.start, datetime.min.time(), TZ) + timedelta(minutes=float(minute))
    return at.replace(microsecond=0)


def _unit(pop: Population, row: int) -> tuple[str, str]:
    """(5-digit unit code, address) of a person's household."""
    h = int(pop.household[row])
    return f"{pop.units[pop.hh_unit[h]].code:05d}", pop.address(h)


def _certificate(ev: LifeEvents, k: int) -> dict[str, Any]:
    b, pop = ev.births, ev.population
    mum, dad, kid = int(b.mother[k]), int(b.father[k]), int(b.child[k])
    f = ev.facilities[b.facility[k]]
    at = _at(pop, b.minute[k])
    unit_code, address = _unit(pop, mum)
    issued = int(b.id_issued[k])
    cert = _ymd(int(b.cert_day[k]))
    return {
        "kind": "birth", "minute": round(float(b.minute[k]), 3), "at": at.isoformat(timespec="seconds"),
        "child_row": kid, "mother_row": mum, "father_row": dad, "household": int(pop.household[kid]),
        "relation_to_head": _relation(pop, kid), "unit_code": unit_code,
        "MA_LK": f"{f.code}{cert}{int(b.so[k]):06d}",
        "MA_BHXH_NND": pop.bhxh_str(mum), "MA_THE_NND": pop.bhyt_str(mum),
        "HO_TEN_NND": pop.full_name(mum), "NGAYSINH_NND": _ymd(int(pop.dob[mum])),
        "MA_DANTOC_NND": ethnicities()[pop.ethnicity[mum]].code, "SO_CCCD_NND": pop.pid_str(mum),
        "NGAYCAP_CCCD_NND": _ymd(issued),
        "NOICAP_CCCD_NND": "Bộ Công an" if _ymd(issued) >= "20240701"
        else "Cục Cảnh sát quản lý hành chính về trật tự xã hội",
        "NOI_CU_TRU_NND": address, "MA_QUOCTICH": "VN",
        "MATINH_CU_TRU": pop.units[pop.hh_unit[pop.household[mum]]].province[1:], "MAHUYEN_CU_TRU": "",
        "MAXA_CU_TRU": unit_code, "HO_TEN_CHA": pop.full_name(dad) if dad >= 0 else "",
        "MA_THE_TAM": ids.make_child_bhyt(f.province[1:], f"{int(b.card_bhxh[k]):010d}"),
        "HO_TEN_CON": pop.full_name(kid), "GIOI_TINH_CON": 2 if pop.female[kid] else 1,
        "SO_CON": int(b.multiple[k]), "LAN_SINH": int(b.delivery[k]),
        "SO_CON_SONG": int(b.living_children[k]),
        "CAN_NANG_CON": int(b.weight_g[k]), "NGAY_SINH_CON": at.strftime("%Y%m%d%H%M"),
        "NOI_SINH_CON": f.name, "TINH_TRANG_CON": "Sinh non" if b.under_32_weeks[k] else "Khỏe mạnh",
        "SINHCON_PHAUTHUAT": int(b.caesarean[k]), "SINHCON_DUOI32TUAN": int(b.under_32_weeks[k]),
        "GHI_CHU": "", "NGUOI_DO_DE": ev.staff[b.facility[k]][b.attendant[k]],
        "NGUOI_GHI_PHIEU": ev.staff[b.facility[k]][b.recorder[k]], "NGAY_CT": cert,
        "SO": str(int(b.so[k])), "QUYEN_SO": f"01/{cert[:4]}", "MA_TTDV": f.code,
    }  # fmt: skip


def _relation(pop: Population, row: int) -> str:
    return RELATIONS[pop.relation[row]]


def _notice(ev: LifeEvents, k: int) -> dict[str, Any]:
    d, pop = ev.deaths, ev.population
    who = int(d.person[k])
    at = _at(pop, d.minute[k])
    unit_code, address = _unit(pop, who)
    unit = pop.units[pop.hh_unit[pop.household[who]]]
    status = STATUSES[pop.status[who]]
    if d.facility[k] >= 0:
        f = ev.facilities[d.facility[k]]
        place, paper, issuer, code = f.name, "Giấy báo tử", f.name, f.code
    else:
        place, paper = f"Tại nhà, {address}", "Văn bản xác nhận việc chết"
        issuer, code = f"Công an {unit.name}", unit_code
    group = BHYT_CODES[pop.bhyt[who]]
    return {
        "kind": "death", "minute": round(float(d.minute[k]), 3), "at": at.isoformat(timespec="seconds"),
        "person_row": who, "household": int(pop.household[who]), "relation_to_head": _relation(pop, who),
        "unit_code": unit_code, "status": status, "payer": FUNERAL_PAYER[status],
        "SO": str(int(d.so[k])), "QUYEN_SO": f"01/{_ymd(int(d.notice_day[k]))[:4]}",
        "HO_TEN": pop.full_name(who), "NGAY_SINH": _ymd(int(pop.dob[who])),
        "GIOI_TINH": 2 if pop.female[who] else 1, "MA_DANTOC": ethnicities()[pop.ethnicity[who]].code,
        "MA_QUOCTICH": "VN", "SO_CCCD": pop.pid_str(who), "MA_BHXH": pop.bhxh_str(who),
        "MA_THE": pop.bhyt_str(who) if group else "", "NOI_CU_TRU": address,
        "MATINH_CU_TRU": unit.province[1:], "MAXA_CU_TRU": unit_code,
        "NGAY_GIO_TU_VONG": at.strftime("%Y%m%d%H%M"), "NOI_TU_VONG": place,
        "NGUYEN_NHAN_TU_VONG": CAUSES[d.cause[k]], "LOAI_GIAY_TO": paper, "DON_VI_CAP": issuer,
        "MA_TTDV": code, "NGAY_CT": _ymd(int(d.notice_day[k])),
    }  # fmt: skip


def write_events(events: LifeEvents, out_dir: str | Path) -> dict[str, int]:
    """Write ``events.jsonl`` (all events in time order), ``births.csv`` and ``deaths.csv``.

    Personal data is unmasked (test data for the fakes). Returns the row count per file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with (out / "events.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(dumps(rec) + "\n" for rec in events)
    counts = {"events.jsonl": len(events.births) + len(events.deaths)}
    for name, n, make in (("births.csv", len(events.births), events.birth_certificate),
                          ("deaths.csv", len(events.deaths), events.death_notice)):  # fmt: skip
        with (out / name).open("w", encoding="utf-8", newline="") as fh:
            rows = (make(k) for k in range(n))
            first = next(rows, None)
            if first is not None:
                writer = csv.DictWriter(fh, fieldnames=list(first))
                writer.writeheader()
                writer.writerow(first)
                writer.writerows(rows)
        counts[name] = n
    return counts
