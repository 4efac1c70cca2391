"""Synthetic citizens: a seeded, columnar population of a scenario's region.

A :class:`Population` is a set of numpy columns, one row per person (and a few per household):
names are integer indices into name pools (rendered to strings only on export or for a sample),
dates are days since 1970-01-01, identifiers are integers (``-1`` when absent). ``generate``
builds the whole of Hanoi (~8.6 M people) in a few seconds:

1. ages and sexes from the age pyramid (``fakes/data/age_pyramid.csv``);
2. households: couples are paired by age; dependent children are given a mother (and her
   husband as father) whose age at their birth follows the age-specific fertility schedule
   (``ASFR``), at most as many as a draw from the children-ever-born distribution
   (``CHILDREN_EVER_BORN``), her children born at least ``BIRTH_INTERVAL_MIN_DAYS`` apart except
   twins, who are paired explicitly (``TWIN_DELIVERIES``) and share a date of birth and a mother;
   widowed elders may live with a child's household, a few adults live as "other" members;
   every household has exactly one head;
3. names in Vietnamese order (family, middle, given; NFC) — children take the father's family
   name — ethnicity per household, a permanent residence in a real ward of the region;
4. the death-group status (pensioner, insured, social, merit, none) by age, calibrated so the
   *deceased* match ``scenario.demand.death_status``;
5. personal ID numbers and BHXH numbers allocated collision-free from :mod:`fakes.ids`.

Terms: *hộ gia đình* — household; *chủ hộ* — head of household; *hộ khẩu thường trú* —
permanent residence; *tổ dân phố* / *thôn* — residential group of a ward / village of a commune.

Every figure not taken from a cited source is an explicit ``ASSUMPTION`` below.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from fakes import ids
from fakes._people_data import (
    ASFR,
    ASFR_AGES,
    BIRTH_INTERVAL_MIN_DAYS,
    CHILDREN_EVER_BORN,
    TWIN_DELIVERIES,
    age_pyramid,
    birth_order_shares,
    ethnicities,
    name_pools,
    nfc,
    province_populations,
)
from fakes._sorting import float_order, int_order, sorted_keys
from scenarios.model import DEATH_STATUSES, Region, Scenario

__all__ = [
    "BHYT_CODES",
    "RELATIONS",
    "SEXES",
    "STATUSES",
    "IdAllocators",
    "Population",
    "Unit",
    "generate",
    "issue_pids",
    "iter_records",
    "mask_record",
    "mother_weights",
    "province_weights",
    "rake",
    "region_units",
    "status_table",
    "write_csv",
    "write_jsonl",
]

SEXES: Final = ("M", "F")
#: Relation to the head of household (the police register adds sibling etc.; these suffice here).
RELATIONS: Final = ("head", "spouse", "child", "parent", "grandchild", "other")
HEAD, SPOUSE, CHILD, PARENT, GRANDCHILD, OTHER = range(6)
STATUSES: Final = DEATH_STATUSES
#: BHYT card group per person ("" = no card), as indices of Population.bhyt.
BHYT_CODES: Final = ("", "TE", "HS", "GD", "HT", "DN", "BT", "CC")
_STATUS_BHYT: Final = {"pensioner": "HT", "insured": "DN", "social": "BT", "merit": "CC"}

EPOCH: Final = date(1970, 1, 1)
DAYS_PER_YEAR: Final = 365.2425
MAX_AGE: Final = 105

# ASSUMPTIONS [U] (no published figure; chosen for realism and documented here):
URBAN_SHARE: Final = 0.492  # Hanoi's urban population share, 2019 census [K]: spread evenly over phường
BORN_IN_REGION: Final = 0.80  # share of residents whose birth was registered in the region
# Residents of Hanoi registered at birth elsewhere come from the neighbouring provinces (weight 3)
# and ten other large or nearby provinces (weight 1) [U]. A short list also keeps the number of
# PID allocator keys (province x sex x year) small.
NEIGHBOURS_001: Final = ("035", "033", "027", "026", "025", "017", "019", "024", "036", "034",
                         "030", "038", "040", "037")  # fmt: skip
OTHERS_001: Final = ("031", "022", "020", "008", "015", "010", "014", "042", "079", "048")
LEAVE_HOME_AGES: Final = ((18.0, 35.0), (0.9, 0.1))  # P(unmarried 18-35 year-old lives with parents)
# P(married) by age (knots, values) for non-dependent women and men; widowhood lowers it for women.
MARRIED_F: Final = ((18, 20, 25, 30, 40, 60, 70, 80, 90), (0.05, 0.3, 0.65, 0.85, 0.9, 0.85, 0.6, 0.35, 0.15))
MARRIED_M: Final = (
    (18, 22, 27, 32, 40, 60, 70, 80, 90),
    (0.02, 0.15, 0.55, 0.85, 0.92, 0.92, 0.85, 0.7, 0.5),
)
HUSBAND_GAP: Final = (3.0, 2.5)  # husband older by N(3, 2.5) years
# A mother's age at her children's births follows today's ASFR (fakes._people_data) for every
# cohort [U]: the children of the population were born over 35 years in which the schedule moved
# later, so the mothers of the older children are, if anything, a little too old.
ELDER_WITH_CHILD: Final = 0.7  # widowed 65+ living in a child's household (Vietnam: most do [K])
OTHER_MEMBER: Final = (0.3, 0.05)  # unmarried adults living as "other": under 35, 35 and over
WIFE_HEAD: Final = 0.2  # couples registered with the wife as head
BHYT_COVERAGE: Final = 0.92  # of people without a group-specific card (national ~93 % [K])
RETIREMENT: Final = (55.0, 62.0)  # pension status ramps up between these ages
# Share of Văn (men) / Thị (women) as middle name by birth year (knots, values) [U].
MIDDLE_TRADITIONAL: Final = (
    (1950, 1980, 2000, 2025),
    {"M": (0.6, 0.45, 0.25, 0.1), "F": (0.85, 0.7, 0.4, 0.2)},
)


@dataclass(frozen=True)
class Unit:
    """A commune-level unit (ward/commune) of permanent residence.

    ``code`` is its 5-digit code (MAXA), ``province`` the 3-digit PID province code,
    ``urban`` True for a phường (ward) and ``weight`` its share of the region's population.
    """

    code: int
    name: str
    urban: bool
    province: str
    province_name: str
    weight: float


@dataclass(eq=False)
class IdAllocators:
    """The collision-free serial allocators a population and its life events share."""

    pid: ids.SerialAllocator
    bhxh: ids.SerialAllocator

    @classmethod
    def new(cls, rng: np.random.Generator) -> IdAllocators:
        """Fresh allocators keyed from ``rng`` (numbers unique within this population only)."""
        return cls(ids.SerialAllocator(rng, ids.PID_SERIALS), ids.SerialAllocator(rng, ids.BHXH_SERIALS))

    @classmethod
    def for_scenario(cls, seed: int) -> IdAllocators:
        """The population blocks of the scenario-keyed allocators (fakes.ids.population_allocator):
        numbers never collide with those the fakes issue from ``fakes.ids.newborn_allocator(seed)``.
        """
        pid, bhxh = (ids.population_allocator(seed, size) for size in (ids.PID_SERIALS, ids.BHXH_SERIALS))
        return cls(pid, bhxh)


#: The per-person columns of a Population (all of equal length).
PERSON_COLUMNS: Final = (
    "family", "middle", "given", "female", "dob", "ethnicity", "household", "relation", "mother",
    "father", "status", "birth_province", "pid", "bhxh", "bhyt", "death",
)  # fmt: skip

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
U16 = npt.NDArray[np.uint16]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]


@dataclass(eq=False)
class Population:
    """A columnar population. Person columns have one row per person; ``hh_*`` one per household.

    Person columns: ``family``/``middle``/``given`` (uint16 indices into ``name_pools()``),
    ``female`` (bool), ``dob`` (int32 days since 1970-01-01), ``ethnicity`` (uint8 index into
    ``ethnicities()``), ``household`` (int32), ``relation`` (uint8 index into RELATIONS),
    ``mother``/``father`` (int32 row, -1 unknown), ``status`` (uint8 index into STATUSES),
    ``birth_province`` (uint8 index into ``provinces``), ``pid`` (int64, -1 not issued yet),
    ``bhxh`` (int64, -1 none), ``bhyt`` (uint8 index into BHYT_CODES, 0 none), ``death``
    (float64 scenario minute of death, NaN while alive). Households: ``hh_unit`` (uint16 index
    into ``units``), ``hh_house`` (house number), ``hh_block`` (residential group number).
    """

    family: U16
    middle: U16
    given: U16
    female: B
    dob: I32
    ethnicity: U8
    household: I32
    relation: U8
    mother: I32
    father: I32
    status: U8
    birth_province: U8
    pid: I64
    bhxh: I64
    bhyt: U8
    death: F64
    hh_unit: U16
    hh_house: U16
    hh_block: U8
    units: tuple[Unit, ...]
    provinces: tuple[str, ...]
    start: date
    region: Region
    ids: IdAllocators

    @property
    def size(self) -> int:
        """Number of persons (living and dead)."""
        return int(self.dob.size)

    @property
    def households(self) -> int:
        """Number of households."""
        return int(self.hh_unit.size)

    def alive_at(self, minute: float) -> B:
        """Who is born and not yet dead at scenario ``minute``.

        Births count by day (``dob`` on or before the minute's day: the population keeps dates of
        birth, not times), deaths by minute (dead from the death minute on).
        """
        day = _days(self.start) + int(minute // 1440)
        died = ~np.isnan(self.death) & (self.death <= minute)
        return (self.dob <= day) & ~died

    def age_years(self, minute: float = 0.0) -> F64:
        """Exact ages in years at scenario ``minute`` (negative for the not yet born)."""
        now = _days(self.start) + minute / 1440.0
        return np.asarray((now - self.dob) / DAYS_PER_YEAR, dtype=np.float64)

    def full_name(self, i: int) -> str:
        """'Nguyễn Văn An': family, middle, given (NFC)."""
        p = name_pools()
        return f"{p.family[self.family[i]]} {p.middle[self.middle[i]]} {p.given[self.given[i]]}"

    def pid_str(self, i: int) -> str:
        """The 12-digit PID of row ``i``, or '' when not issued yet."""
        return f"{self.pid[i]:012d}" if self.pid[i] >= 0 else ""

    def bhxh_str(self, i: int) -> str:
        """The 10-digit BHXH number of row ``i``, or ''."""
        return f"{self.bhxh[i]:010d}" if self.bhxh[i] >= 0 else ""

    def bhyt_str(self, i: int) -> str:
        """The 15-character BHYT card code of row ``i``, or ''."""
        return _bhyt_code(BHYT_CODES[self.bhyt[i]], self.bhyt_province(i), self.bhxh_str(i))

    def bhyt_province(self, i: int) -> str:
        """The 2-digit BHYT province code of row ``i``'s residence."""
        return self.units[self.hh_unit[self.household[i]]].province[1:]

    def address(self, household: int) -> str:
        """The household's permanent-residence address."""
        unit = self.units[self.hh_unit[household]]
        block = "Tổ dân phố" if unit.urban else "Thôn"
        house, group = self.hh_house[household], self.hh_block[household]
        return f"Số {house}, {block} {group}, {unit.name}, {unit.province_name}"

    def head_of(self, household: int) -> int:
        """Row of the head of ``household`` (O(n); for samples and tests, not bulk work)."""
        rows = np.flatnonzero((self.household == household) & (self.relation == HEAD))
        if rows.size != 1:
            raise ValueError(f"household {household} has {rows.size} heads")
        return int(rows[0])

    def record(self, i: int) -> dict[str, Any]:
        """Row ``i`` as a plain dict of strings and numbers (personal data unmasked)."""
        return next(iter_records(self, i, i + 1))

    def replace(self, **changes: Any) -> Population:
        """A copy with some fields replaced (arrays are shared, not copied)."""
        return dataclasses.replace(self, **changes)


def _days(d: date) -> int:
    return (d - EPOCH).days


_TABLE_BITS: Final = 16


@cache
def _table(p: tuple[float, ...]) -> npt.NDArray[np.uint16]:
    """A lookup table of 2**16 outcomes whose frequencies follow ``p`` (to within 2**-16).

    Drawing an index into it is one integer draw and one gather: far cheaper than
    ``Generator.choice(p=...)`` over millions of rows, at a precision far below any assumption.
    """
    cdf = np.cumsum(np.asarray(p, dtype=float) / sum(p))
    cells = (np.arange(2**_TABLE_BITS) + 0.5) / 2**_TABLE_BITS
    return np.minimum(np.searchsorted(cdf, cells, side="right"), len(p) - 1).astype(np.uint16)


def draw(rng: np.random.Generator, p: Sequence[float] | npt.NDArray[np.float64], size: int) -> U16:
    """``size`` indices drawn with probabilities ``p`` (see _table)."""
    return _table(tuple(float(x) for x in p))[rng.integers(0, 2**_TABLE_BITS, size, dtype=np.uint16)]


def _bhyt_code(group: str, province2: str, bhxh: str) -> str:
    return f"{group}{ids.BHYT_GROUPS[group].level}{province2}{bhxh}" if group and bhxh else ""


# --------------------------------------------------------------------------------------------
# Region units
# --------------------------------------------------------------------------------------------


def _bare(name: str) -> str:
    """Province name without its 'Thành phố'/'Tỉnh' prefix, NFC, lower case."""
    s = nfc(name).lower()
    for prefix in ("thành phố ", "tỉnh "):
        s = s.removeprefix(prefix)
    return s


@cache
def region_units(region: Region) -> tuple[Unit, ...]:
    """The commune-level units of ``region`` with their population weights.

    ``units = "vietnam-provinces"``: the real post-2025 wards and communes of the province from
    the ``vietnam-provinces`` package (Hanoi: 126 = 51 phường + 75 xã). ASSUMPTION: the package
    has no populations, so URBAN_SHARE of the people live in the phường and the rest in the xã,
    evenly within each kind. ``units = "counts"``: ``region.communes`` numbered units of equal
    weight (the pre-2025 structure has no names here). National scope spreads the units over the
    first ``region.provinces`` provinces, each unit with its province's PID code, each province
    weighted by its population (:func:`province_weights`).
    Raises ValueError for a province the package does not know.
    """
    if region.units == "counts":
        return _counted_units(region)
    from vietnam_provinces import Province, Ward

    provinces = sorted(Province.iter_all(), key=lambda p: int(p.code))
    if region.scope == "province":
        wanted = [p for p in provinces if _bare(p.name) == _bare(region.province)]
        if not wanted:
            raise ValueError(f"region.province {region.province!r} is not a province of vietnam-provinces")
        codes = {int(wanted[0].code): region.id_code}
    else:
        codes = {int(p.code): f"{int(p.code):03d}" for p in provinces[: region.provinces]}
    names = {int(p.code): nfc(p.name) for p in provinces}
    wards = [w for w in Ward.iter_all() if int(w.province_code) in codes]
    return _weighted(wards, codes, names)


def province_weights(codes: Sequence[int]) -> dict[int, float]:
    """Each province's share of the people (and so of the births and deaths) of a national
    region: its population (fakes/data/provinces_2025.csv) over theirs; equal shares for a single
    province. Raises ValueError naming a province without a population figure."""
    if len(codes) == 1:
        return {codes[0]: 1.0}
    known = province_populations()
    missing = [c for c in codes if c not in known]
    if missing:
        raise ValueError(f"no population figure for province code(s) {missing} (provinces_2025.csv)")
    total = sum(known[c] for c in codes)
    return {c: known[c] / total for c in codes}


def _weighted(wards: list[Any], codes: dict[int, str], names: dict[int, str]) -> tuple[Unit, ...]:
    """Units with URBAN_SHARE spread over the phường of each province, the rest over its xã."""
    out = []
    shares = province_weights(list(codes))
    for pcode in codes:
        share = shares[pcode]
        mine = [w for w in wards if int(w.province_code) == pcode]
        urban = [str(w.division_type.value) == "phường" for w in mine]
        n_urban, n_rural = sum(urban), len(mine) - sum(urban)
        u_w = URBAN_SHARE if n_rural else 1.0
        r_w = 1.0 - URBAN_SHARE if n_urban else 1.0
        for w, is_urban in zip(mine, urban, strict=True):
            weight = share * (u_w / n_urban if is_urban else r_w / n_rural)
            out.append(Unit(int(w.code), nfc(w.name), is_urban, codes[pcode], names[pcode], weight))
    return tuple(out)


def _counted_units(region: Region) -> tuple[Unit, ...]:
    """``region.communes`` numbered units. One province: of equal weight. National: each
    province gets units and weight in proportion to its population (:func:`province_weights`;
    at least one unit each, largest remainders), equal within it."""
    n = region.communes
    if region.scope == "province":
        return tuple(Unit(i + 1, f"Xã/phường số {i + 1:04d}", False, region.id_code, nfc(region.province),
                          1.0 / n) for i in range(n))
    from vietnam_provinces import Province

    ps = sorted(Province.iter_all(), key=lambda p: int(p.code))[: region.provinces]
    shares = province_weights([int(p.code) for p in ps])
    if n < len(ps):
        raise ValueError(f"region.communes {n} is fewer than its {len(ps)} provinces")
    want = np.array([shares[int(p.code)] for p in ps]) * (n - len(ps))
    count = 1 + np.floor(want).astype(np.int64)
    count[np.argsort(-(want - np.floor(want)), kind="stable")[: n - int(count.sum())]] += 1
    out: list[Unit] = []
    for p, k in zip(ps, count.tolist(), strict=True):
        code, name, share, first = f"{int(p.code):03d}", nfc(p.name), shares[int(p.code)], len(out) + 1
        out.extend(Unit(i, f"Xã/phường số {i:04d}", False, code, name, share / k)
                   for i in range(first, first + k))
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------

Progress = Callable[[str, float], None]


def generate(
    scenario: Scenario,
    rng: np.random.Generator,
    size: int | None = None,
    *,
    allocators: IdAllocators | None = None,
    progress: Progress | None = None,
) -> Population:
    """A population of ``size`` persons (default: ``scenario.region.population``).

    ``rng`` drives every draw (hand down ``np.random.default_rng(scenario.meta.seed)``); the same
    seed gives the same population. ``allocators`` issue the PID and BHXH serials; the default,
    ``IdAllocators.for_scenario(scenario.meta.seed)``, takes the population's half of the number
    space keyed by the scenario seed, so the numbers the fakes issue during a run from
    ``fakes.ids.newborn_allocator`` never collide with them. Keep them to issue more numbers later.
    ``progress(stage, fraction)`` is called as stages finish. Raises ValueError for a size
    below 1 or a region the generator cannot place people in.
    """
    if isinstance(size, bool) or (size is not None and (not isinstance(size, int) or size < 1)):
        raise ValueError(f"size must be a positive int, not {size!r}")
    n = scenario.region.population if size is None else size
    report = progress or (lambda stage, fraction: None)
    units = region_units(scenario.region)
    streams = rng.spawn(6)
    allocators = allocators or IdAllocators.for_scenario(scenario.meta.seed)
    start = scenario.calendar.start
    age_days, female = _ages(streams[0], n)
    twin_of = _twins(streams[5], age_days)
    report("ages", 0.1)
    fam = _households(streams[1], age_days / DAYS_PER_YEAR, female, twin_of)
    order, fam = fam.sorted()
    age_days, female = age_days[order], female[order]
    report("households", 0.35)
    dob = (_days(start) - age_days).astype(np.int32)
    age = age_days / DAYS_PER_YEAR
    # The stages below are independent (each has its own stream or allocator) and numpy releases
    # the GIL in its loops, so a second thread uses the machine's second core; the result does
    # not depend on the interleaving.
    with ThreadPoolExecutor(2, thread_name_prefix="people") as pool:
        names = pool.submit(_names, streams[2], fam, female, dob)
        hh_unit, hh_house, hh_block = _residences(streams[3], units, fam.households)
        person_unit = hh_unit[fam.household]
        provinces, birth_province = _birth_provinces(streams[3], units, person_unit)
        report("residence", 0.5)
        pids = pool.submit(_pids, allocators.pid, provinces, birth_province, female, dob)
        status = _statuses(streams[4], scenario, age)
        bhyt = _bhyt_groups(streams[4], age, status)
        report("status", 0.6)
        bhxh = _bhxhs(allocators.bhxh, units, person_unit, bhyt > 0)
        family, middle, given, ethnicity = names.result()
        report("names", 0.8)
        pid = pids.result()
    report("identifiers", 1.0)
    return Population(
        family=family, middle=middle, given=given, female=female, dob=dob, ethnicity=ethnicity,
        household=fam.household, relation=fam.relation, mother=fam.mother, father=fam.father,
        status=status, birth_province=birth_province, pid=pid, bhxh=bhxh, bhyt=bhyt,
        death=np.full(n, np.nan), hh_unit=hh_unit, hh_house=hh_house, hh_block=hh_block,
        units=units, provinces=provinces, start=start, region=scenario.region, ids=allocators,
    )  # fmt: skip


def _ages(rng: np.random.Generator, n: int) -> tuple[I64, B]:
    """Ages in days (at least 1) and sexes from the age pyramid."""
    groups = age_pyramid()
    g = draw(rng, [x.share for x in groups], n)
    low = np.array([x.low for x in groups], dtype=float)[g]
    width = np.array([x.high - x.low + 1 for x in groups], dtype=float)[g]
    years = low + rng.random(n) * width
    last = np.flatnonzero(g == len(groups) - 1)  # the open group falls off geometrically
    if last.size:
        span = groups[-1].high - groups[-1].low + 1
        tail = 0.85 ** np.arange(span, dtype=np.float64)
        years[last] = groups[-1].low + draw(rng, tail, last.size) + rng.random(last.size)
    female = rng.random(n) >= np.array([x.male_share for x in groups])[g]
    return np.maximum((years * DAYS_PER_YEAR).astype(np.int64), 1), female


@dataclass
class _Families:
    """Household structure before the persons are sorted by household."""

    household: I32
    relation: U8
    mother: I32
    father: I32
    households: int

    def sorted(self) -> tuple[I64, _Families]:
        """(order, the structure in that order): rows by household, then relation, then row.

        One sort of packed words gives both the order and the sorted household and relation
        columns; parent links are remapped for the rows that have them only.
        """
        key = self.household.astype(np.uint64) << np.uint64(3)
        key |= self.relation
        order, keys = sorted_keys(key, max(1, self.households - 1).bit_length() + 3)
        n = order.size
        inverse = np.empty(n, dtype=np.int32)
        inverse[order] = np.arange(n, dtype=np.int32)

        def remap(links: I32) -> I32:
            out = np.full(n, -1, dtype=np.int32)
            has = np.flatnonzero(links >= 0)
            out[inverse[has]] = inverse[links[has]]
            return out

        household = (keys >> np.uint64(3)).astype(np.int32)
        relation = (keys & np.uint64(7)).astype(np.uint8)
        return order, _Families(household, relation, remap(self.mother), remap(self.father), self.households)


def _twins(rng: np.random.Generator, age_days: I64) -> I32:
    """Pair some children under 18 as twins: ``out[b] = a`` gives twin ``b`` the age of ``a``.

    Children sorted by age are taken two by two; each pair is made twins with probability
    2t/(1+t) (t = TWIN_DELIVERIES), so that t of every delivery is a twin one. The older of the
    pair takes the age of the younger: a shift by the gap between neighbours in age (minutes in
    Hanoi, weeks in a population of a few hundred), so the age pyramid is kept. -1 for everyone
    else.
    """
    out = np.full(age_days.size, -1, dtype=np.int32)
    kids = np.flatnonzero(age_days < 18 * DAYS_PER_YEAR)
    kids = kids[np.argsort(age_days[kids].astype(np.uint16), kind="stable")]  # < 6575 days: a radix sort
    pairs = kids.size // 2
    chosen = np.flatnonzero(rng.random(pairs) < 2 * TWIN_DELIVERIES / (1 + TWIN_DELIVERIES))
    a, b = kids[2 * chosen], kids[2 * chosen + 1]
    age_days[b] = age_days[a]
    out[b] = a
    return out


def _households(rng: np.random.Generator, age: F64, female: B, twin_of: I32 | None = None) -> _Families:
    """Couples, heads, children, elders and other members; exactly one head per household.

    ``twin_of[b] = a`` (from _twins) gives twin ``b`` the mother of ``a``.
    """
    n = age.size
    age = age + rng.random(n) / DAYS_PER_YEAR  # break same-day ties, so matches by age spread out
    young = np.flatnonzero((age >= 18) & (age < LEAVE_HOME_AGES[0][1]))
    dependent = age < 18
    dependent[young] = rng.random(young.size) < np.interp(age[young], *LEAVE_HOME_AGES)
    adults = np.flatnonzero(~dependent)
    married = np.zeros(n, dtype=bool)
    married[adults] = rng.random(adults.size) < _married_share(age[adults], female[adults])
    wives, husbands = _pair(rng, age, married & female, married & ~female)
    partner = np.full(n, -1, dtype=np.int32)
    partner[wives], partner[husbands] = husbands, wives
    relation = np.full(n, OTHER, dtype=np.uint8)
    anchor = np.full(n, -1, dtype=np.int32)  # the head each person lives with
    wife_heads = rng.random(wives.size) < WIFE_HEAD
    heads, spouses = np.where(wife_heads, wives, husbands), np.where(wife_heads, husbands, wives)
    relation[heads], relation[spouses] = HEAD, SPOUSE
    anchor[heads], anchor[spouses] = heads, heads
    single = ~dependent & (partner < 0)
    u = rng.random(n)
    elder = single & (age >= 65) & (u < ELDER_WITH_CHILD)
    other = single & ~elder & (u < np.where(age < 35, *OTHER_MEMBER))
    alone = np.flatnonzero(single & ~elder & ~other)
    relation[alone], anchor[alone] = HEAD, alone
    twin_of = np.full(n, -1, dtype=np.int32) if twin_of is None else twin_of
    mother, father = _children(rng, age, female, dependent, relation, anchor, partner, twin_of)
    _elders(rng, age, np.flatnonzero(elder), relation, anchor)
    _others(rng, np.flatnonzero((anchor < 0) | other), relation, anchor)
    is_head = relation == HEAD
    hid = (np.cumsum(is_head) - 1).astype(np.int32)
    return _Families(hid[anchor], relation, mother, father, int(is_head.sum()))


_CURVE_STEPS: Final = 64  # lookup steps per year of age: far below any assumption's precision


@cache
def _married_curves() -> F64:
    """P(married) for men (row 0) and women (row 1) at ages 0, 1/64, 2/64, … MAX_AGE + 1 years."""
    a = np.arange((MAX_AGE + 2) * _CURVE_STEPS) / _CURVE_STEPS
    return np.stack([np.interp(a, *MARRIED_M), np.interp(a, *MARRIED_F)])


def _married_share(age: F64, female: B) -> F64:
    """P(married) at each age (interpolated between MARRIED_* knots; a lookup over millions)."""
    curves = _married_curves()
    step = np.minimum(age * _CURVE_STEPS, curves.shape[1] - 1).astype(np.int32)
    return curves.reshape(-1)[step + female * np.int32(curves.shape[1])]


def _pair(rng: np.random.Generator, age: F64, women: B, men: B) -> tuple[I64, I64]:
    """Wives and husbands paired by rank of age (husband ~3 years older); extras stay single."""
    w, m = np.flatnonzero(women), np.flatnonzero(men)
    k = min(w.size, m.size)
    w = np.sort(rng.choice(w, k, replace=False)) if w.size > k else w
    m = np.sort(rng.choice(m, k, replace=False)) if m.size > k else m
    key = age[w] + rng.normal(*HUSBAND_GAP, k)
    return w[float_order(key)], m[float_order(age[m])]


@dataclass(frozen=True)
class _Gap:
    """A distribution of the signed age difference (years) between a match and the one matched:
    ``sample(rng, n)`` draws n wanted differences, a match outside [lo, hi] is refused."""

    lo: float
    hi: float
    sample: Callable[[np.random.Generator, int], F64]

    @classmethod
    def normal(cls, mean: float, sd: float, lo: float, hi: float) -> _Gap:
        """N(mean, sd) clipped to [lo, hi]."""
        return cls(lo, hi, lambda rng, n: np.clip(rng.normal(mean, sd, n), lo, hi))

    @classmethod
    def asfr(cls) -> _Gap:
        """A mother's age at a birth: five-year group by ASFR, uniform within it (ASFR_AGES)."""
        lo, hi = ASFR_AGES
        width = (hi - lo) / len(ASFR)
        return cls(lo, hi, lambda rng, n: lo + width * (draw(rng, ASFR, n) + rng.random(n)))


_ELDER_HOST: Final = _Gap.normal(-28.0, 5.0, -45.0, -18.0)  # a host 18-45 years younger [U]


def _match(rng: np.random.Generator, age: F64, who: I64, pool: I64, gap: _Gap) -> I64:
    """For each of ``who``, a member of ``pool`` about ``gap`` years older (negative: younger).

    ``gap`` draws the signed age difference pool - who; a match outside [gap.lo, gap.hi] is
    refused. Returns rows of ``pool`` members, -1 where none was found.
    """
    if pool.size == 0:  # nobody to match (a one-person population): every one unmatched
        return np.full(who.size, -1, dtype=np.int64)
    order = pool[float_order(age[pool])]
    at = _match_sorted(rng, age[who], age[order], gap)
    return np.where(at >= 0, order[at], -1)


def _match_sorted(rng: np.random.Generator, who_age: F64, sorted_age: F64, gap: _Gap) -> I64:
    """_match in positions: for each age of ``who_age``, a position in ``sorted_age`` (ascending)
    about ``gap`` years older; -1 where none was found in a few tries."""
    chosen = np.full(who_age.size, -1, dtype=np.int64)
    if sorted_age.size == 0 or who_age.size == 0:
        return chosen
    lo, hi = gap.lo, gap.hi
    todo = np.arange(who_age.size)
    for _ in range(4):
        mine = who_age[todo]
        target = mine + gap.sample(rng, todo.size)
        pos = np.empty(todo.size, dtype=np.int64)
        if todo.size > 100_000:  # sorted needles keep a big searchsorted cache-friendly
            by_target = float_order(target)
            pos[by_target] = np.searchsorted(sorted_age, target[by_target])
        else:
            pos[:] = np.searchsorted(sorted_age, target)
        pos += rng.integers(-8, 9, todo.size)
        np.clip(pos, 0, sorted_age.size - 1, out=pos)
        diff = sorted_age[pos] - mine
        ok = (diff >= lo) & (diff <= hi)
        chosen[todo[ok]] = pos[ok]
        todo = todo[~ok]
        if todo.size == 0:
            break
    return chosen


def rake(seed: F64, rows: F64, cols: F64, rounds: int = 200) -> tuple[F64, F64]:
    """Row and column factors r, c so that r[i] c[j] seed[i, j] has the margins ``rows`` and
    ``cols`` (both normalised; iterative proportional fitting). A row or column with no seed
    gets factor 0; margins no cell can reach are approached as closely as the seed allows."""
    rows, cols = rows / rows.sum(), cols / cols.sum()
    r, c = np.ones(seed.shape[0]), np.ones(seed.shape[1])
    for _ in range(rounds):
        got = seed @ c
        r = np.where(got > 0, rows / np.where(got > 0, got, 1.0), 0.0)
        got = seed.T @ r
        c = np.where(got > 0, cols / np.where(got > 0, got, 1.0), 0.0)
    return r, c


def mother_weights(age: F64, children: I64, scope: str) -> F64:
    """A weight per woman so that drawing mothers in proportion to it gives births ∝ ASFR × women
    over the five-year age groups (fakes._people_data.ASFR) and ∝ the scope's birth-order shares
    (``birth_order_shares(scope)``) over the birth orders (``children`` + 1, the last order
    taking the rest), as the life-event generator's births are
    (fakes.events._pick_parents, same raking). 0 outside ASFR_AGES."""
    lo, hi = ASFR_AGES
    width = (hi - lo) / len(ASFR)
    a = np.asarray(age, dtype=np.float64)
    inside = (a >= lo) & (a < hi)
    group = np.clip(((a - lo) // width).astype(np.int64), 0, len(ASFR) - 1)
    shares = birth_order_shares(scope)
    order = np.minimum(np.asarray(children, dtype=np.int64), len(shares) - 1)
    cells = np.bincount((group * len(shares) + order)[inside], minlength=len(ASFR) * len(shares))
    seed: F64 = cells.reshape(len(ASFR), len(shares)).astype(np.float64)
    exposure = seed.sum(axis=1)
    r, c = rake(seed, np.asarray(ASFR) * exposure, np.asarray(shares, dtype=np.float64))
    return np.where(inside, r[group] * c[order], 0.0)


_MOTHER_AGE: Final = _Gap.asfr()
_CHILD_SLOTS: Final = len(CHILDREN_EVER_BORN)  # a mother keeps at most this many (twins aside)


def _children(
    rng: np.random.Generator, age: F64, female: B, dependent: B, relation: U8, anchor: I32, partner: I32,
    twin_of: I32,
) -> tuple[I32, I32]:  # fmt: skip
    """Give each dependent a mother (a head or a head's wife) and her husband.

    A mother's age at the child's birth is drawn from the ASFR schedule (_MOTHER_AGE); she takes
    at most ``room`` children: a draw from CHILDREN_EVER_BORN, and 1-5 by her age
    ((age - 16) / 2.5) so that young mothers do not collect the children aimed below the
    youngest mothers' ages. Her children are born at least BIRTH_INTERVAL_MIN_DAYS apart: a
    match closer than that to one of her children, or to another match of the same round, is
    refused and tried again. Twins (``twin_of``) are not matched: each takes its twin's mother.
    Children still without a mother after a few rounds are placed by _others. Mothers are
    handled by their position in the age-sorted pool, so the bookkeeping arrays are the pool's
    size, not the population's.
    """
    women = np.flatnonzero(female & (relation <= SPOUSE))
    women = women[float_order(age[women])]
    women_age = age[women]
    room = np.minimum(
        1 + draw(rng, CHILDREN_EVER_BORN, women.size),
        np.clip(((women_age - 16.0) / 2.5).astype(np.int64), 1, _CHILD_SLOTS),
    ).astype(np.int64)
    # The ages of each mother's children so far (NaN: none); ages are ≤ 35 years, so float32 is
    # exact to a few seconds. One day of margin: dates of birth round the ages to whole days.
    born = np.full((_CHILD_SLOTS, women.size), np.nan, dtype=np.float32)
    has = np.zeros(women.size, dtype=np.int64)
    spacing = (BIRTH_INTERVAL_MIN_DAYS + 1) / DAYS_PER_YEAR
    mother = np.full(age.size, -1, dtype=np.int32)
    todo = np.flatnonzero(dependent & (twin_of < 0))
    todo_age = age[todo]
    available = np.arange(women.size)
    for _ in range(6):
        available = available[room[available] > 0]  # stays sorted by age
        found = _match_sorted(rng, todo_age, women_age[available], _MOTHER_AGE)
        ok = np.flatnonzero(found >= 0)
        mum = available[found[ok]]
        kid = todo_age[ok].astype(np.float32)
        older = np.flatnonzero(has[mum] > 0)  # only their matches can clash with a sibling
        if older.size:
            slots = int(has[mum[older]].max())
            with np.errstate(invalid="ignore"):
                near = np.abs(born[:slots, mum[older]] - kid[older]) < spacing
            clash = np.zeros(ok.size, dtype=bool)
            clash[older] = near.any(axis=0)
            ok, mum, kid = ok[~clash], mum[~clash], kid[~clash]
        take, rank = _spaced_within_room(mum, kid, room, spacing)
        ok, mum, kid, rank = ok[take], mum[take], kid[take], rank[take]
        born[has[mum] + rank, mum] = kid
        taken = np.bincount(mum, minlength=women.size)
        has += taken
        room -= taken
        mother[todo[ok]] = women[mum]
        left = np.ones(todo.size, dtype=bool)
        left[ok] = False
        todo, todo_age = todo[left], todo_age[left]
        if todo.size == 0:
            break
    twins = np.flatnonzero(twin_of >= 0)
    twins = twins[dependent[twins] & (mother[twin_of[twins]] >= 0)]
    mother[twins] = mother[twin_of[twins]]
    kids = np.flatnonzero(mother >= 0)
    father = np.full(age.size, -1, dtype=np.int32)
    mums = mother[kids]
    father[kids] = partner[mums]
    relation[kids], anchor[kids] = CHILD, anchor[mums]
    return mother, father


def _spaced_within_room(mum: I64, kid: npt.NDArray[np.float32], room: I64, spacing: float) -> tuple[B, I64]:
    """Which of one round's matches to take, and each taken match's rank among its mother's.

    A mother with one match takes it (room permitting: every matched mother has room left).
    The matches of a mother with several are taken in order of age while they fit her room and
    each is at least ``spacing`` years from the one before (a match closer to a refused one is
    refused too: the next round tries again).
    """
    take = np.ones(mum.size, dtype=bool)
    rank = np.zeros(mum.size, dtype=np.int64)
    multi = np.flatnonzero(np.bincount(mum, minlength=room.size)[mum] > 1)
    if multi.size:
        # One packed sort by mother, then age to 1/4096 year; matches the rounding leaves out
        # of age order show a negative step below, so they are refused, never wrongly taken.
        age_bits = 20  # ages < 256 years
        key = (mum[multi].astype(np.uint64) << np.uint64(age_bits)) | (kid[multi] * 4096).astype(np.uint64)
        order = multi[int_order(key, age_bits + max(1, room.size.bit_length()))]
        groups = mum[order]
        first = np.r_[True, groups[1:] != groups[:-1]]
        close = ~first & (np.diff(kid[order], prepend=np.float32(0)) < spacing)
        keep = ~close
        # rank among the kept matches of the group
        kept_before = np.cumsum(keep) - keep
        start = np.maximum.accumulate(np.where(first, np.arange(order.size), 0))
        r = kept_before - kept_before[start]
        take[order] = keep & (r < room[groups])
        rank[order] = r
    return take, rank


def _elders(rng: np.random.Generator, age: F64, elders: I64, relation: U8, anchor: I32) -> None:
    """Widowed elders join the household of a head 18-45 years younger, else live alone."""
    heads = np.flatnonzero(relation == HEAD)
    host = _match(rng, age, elders, heads, _ELDER_HOST)
    ok = host >= 0
    relation[elders[ok]], anchor[elders[ok]] = PARENT, host[ok]
    alone = elders[~ok]
    relation[alone], anchor[alone] = HEAD, alone


def _others(rng: np.random.Generator, rows: I64, relation: U8, anchor: I32) -> None:
    """Place ``rows`` as "other" members of random households (as heads when there are none)."""
    heads = np.flatnonzero(relation == HEAD)
    if heads.size == 0:
        relation[rows], anchor[rows] = HEAD, rows
        return
    relation[rows], anchor[rows] = OTHER, heads[rng.integers(0, heads.size, rows.size)]


def _names(rng: np.random.Generator, fam: _Families, female: B, dob: I32) -> tuple[U16, U16, U16, U8]:
    """Family, middle and given name indices and ethnicity; children take the father's (else
    mother's) family name."""
    family = draw_names(rng, female, dob)
    fam_idx, middle, given = family
    parent = np.where(fam.father >= 0, fam.father, fam.mother)
    has = np.flatnonzero(parent >= 0)
    fam_idx[has] = fam_idx[parent[has]]  # parents are never dependents, so one pass suffices
    return fam_idx, middle, given, _ethnicity(rng, fam.household, fam.households)


def draw_names(rng: np.random.Generator, female: B, dob: I32) -> tuple[U16, U16, U16]:
    """Independent (family, middle, given) name indices for people of these sexes and birth dates.

    The traditional middle names Văn/Thị are more frequent in older cohorts (MIDDLE_TRADITIONAL).
    """
    p = name_pools()
    n = female.size
    family = draw(rng, p.family_p, n)
    given = np.empty(n, dtype=np.uint16)
    middle = np.empty(n, dtype=np.uint16)
    year = 1970 + dob / DAYS_PER_YEAR
    for sex, rows in (("M", np.flatnonzero(~female)), ("F", np.flatnonzero(female))):
        male = sex == "M"
        g_range, g_p = (p.given_male, p.given_p_male) if male else (p.given_female, p.given_p_female)
        m_range, m_p = (p.middle_male, p.middle_p_male) if male else (p.middle_female, p.middle_p_female)
        given[rows] = g_range.start + draw(rng, g_p, rows.size)
        middle[rows] = m_range.start + draw(rng, m_p, rows.size)
        knots, shares = MIDDLE_TRADITIONAL[0], MIDDLE_TRADITIONAL[1][sex]
        traditional = rng.random(rows.size) < np.interp(year[rows], knots, shares)
        clash = _same_word()[middle[rows], given[rows]]  # "Nguyễn Minh Minh" is not a name
        middle[rows[traditional | clash]] = p.traditional_middle[sex]
    return family, middle, given


@cache
def _same_word() -> B:
    """``[m, g]`` is True when middle name ``m`` and given name ``g`` are the same word."""
    p = name_pools()
    return np.array([[m == g for g in p.given] for m in p.middle], dtype=bool)


def _ethnicity(rng: np.random.Generator, household: I32, households: int) -> U8:
    """One ethnic group per household (mixed households are not modelled)."""
    groups = ethnicities()
    per_household = draw(rng, [g.share for g in groups], households).astype(np.uint8)
    return per_household[household]


def _residences(rng: np.random.Generator, units: tuple[Unit, ...], households: int) -> tuple[U16, U16, U8]:
    """Unit, house number (1-299, low numbers likelier) and residential group (1-40) per household."""
    weights = np.array([u.weight for u in units])
    unit = draw(rng, weights, households)
    house = (1 + np.minimum(rng.exponential(60.0, households), 298)).astype(np.uint16)
    block = rng.integers(1, 41, households).astype(np.uint8)
    return unit, house, block


def _birth_provinces(
    rng: np.random.Generator, units: tuple[Unit, ...], person_unit: U16
) -> tuple[tuple[str, ...], U8]:
    """The province of birth registration: the residence's province for BORN_IN_REGION, else another."""
    provinces = tuple(ids.PROVINCES)
    index = {code: i for i, code in enumerate(provinces)}
    own = np.array([index[u.province] for u in units], dtype=np.uint8)[person_unit]
    if {u.province for u in units} == {"001"}:
        weights = np.array([3.0 * (c in NEIGHBOURS_001) + (c in OTHERS_001) for c in provinces])
    else:
        weights = np.ones(len(provinces))
    elsewhere = rng.random(own.size) >= BORN_IN_REGION
    other = draw(rng, weights, int(elsewhere.sum())).astype(np.uint8)
    out = own.copy()
    out[elsewhere] = other
    return provinces, out


# --------------------------------------------------------------------------------------------
# Status of the death group, BHYT groups and identifiers
# --------------------------------------------------------------------------------------------


def _status_weights() -> F64:
    """Relative propensity of each status by integer age 0..MAX_AGE (rows) — before calibration.

    Pensioners from the retirement ramp; the insured at working ages; social-protection
    beneficiaries mostly 80+ (the 80+ allowance) with a few of any age (disability); people with
    merit 65+ (veterans and martyrs' relatives); none at every age.
    """
    a = np.arange(MAX_AGE + 1, dtype=float)
    pension = np.interp(a, RETIREMENT, (0.0, 1.0))
    insured = ((a >= 18) & (a < RETIREMENT[1])).astype(float)
    social = np.where(a >= 80, 1.0, 0.05)
    merit = (a >= 65).astype(float)
    return np.stack([pension, insured, social, merit, np.ones_like(a)], axis=1)


@cache
def _death_ages(age_at_death: Any) -> F64:
    """Distribution of integer age at death (numerical integration of the scenario's Dist).

    A fixed local Generator is used on purpose: this is quadrature, not a draw of the run.
    """
    draws = age_at_death.sample(np.random.default_rng(0), 400_000)
    hist = np.bincount(np.clip(draws, 0, MAX_AGE).astype(np.int64), minlength=MAX_AGE + 1)
    return hist / hist.sum()


def status_table(scenario: Scenario) -> F64:
    """P(status | integer age), shape (MAX_AGE+1, 5), columns in STATUSES order.

    Calibrated by iterative scaling so that people dying with ``demand.age_at_death`` have the
    shares of ``demand.death_status`` (missing statuses count as 0; all ``none`` when empty).
    """
    shares: dict[str, float] = {str(k): v for k, v in scenario.demand.death_status.items()}
    target = np.array([shares.get(s, 0.0) for s in STATUSES])
    if target.sum() <= 0:
        target = np.eye(len(STATUSES))[STATUSES.index("none")]
    target = target / target.sum()
    w, deaths = _status_weights(), _death_ages(scenario.demand.age_at_death)
    scale = np.where(target > 0, 1.0, 0.0)
    for _ in range(500):
        p = _normalise(w * scale)
        achieved = deaths @ p
        scale = np.where(achieved > 0, scale * target / np.maximum(achieved, 1e-300), 0.0)
    return _normalise(w * scale)


def _normalise(p: F64) -> F64:
    total = p.sum(axis=1, keepdims=True)
    none = np.eye(p.shape[1])[STATUSES.index("none")]
    return np.where(total > 0, p / np.where(total > 0, total, 1.0), none)


def _statuses(rng: np.random.Generator, scenario: Scenario, age: F64) -> U8:
    """A status per person drawn from status_table by integer age."""
    cum = np.cumsum(status_table(scenario), axis=1)
    a = np.clip(age.astype(np.int64), 0, MAX_AGE)
    u = rng.random(age.size)
    status = np.zeros(age.size, dtype=np.uint8)
    for k in range(len(STATUSES) - 1):
        status += (u >= cum[a, k]).astype(np.uint8)
    return status


def _bhyt_groups(rng: np.random.Generator, age: F64, status: U8) -> U8:
    """BHYT card group: TE under 6; the status's group; else HS (6-17) or GD, with BHYT_COVERAGE."""
    code = {c: np.uint8(i) for i, c in enumerate(BHYT_CODES)}
    covered = rng.random(age.size) < BHYT_COVERAGE
    out = np.where(covered, np.where(age < 18, code["HS"], code["GD"]), code[""]).astype(np.uint8)
    for s, group in _STATUS_BHYT.items():
        out[status == STATUSES.index(s)] = code[group]
    out[age < 6] = code["TE"]
    return out


def _years(day: I32) -> I32:
    """Calendar years of days since 1970-01-01 (a lookup over the days' range: far cheaper than
    datetime64 conversions of millions of rows)."""
    if day.size == 0:
        return np.zeros(0, dtype=np.int32)
    lo, hi = int(day.min()), int(day.max())
    table = np.arange(lo, hi + 1).astype("datetime64[D]").astype("datetime64[Y]").astype(np.int32) + 1970
    return table[day - lo]


def _pids(
    allocator: ids.SerialAllocator, provinces: tuple[str, ...], province: U8, female: B, dob: I32
) -> I64:
    """Collision-free PIDs (as int64) keyed like fakes.ids.make_pids: (province, G digit, YY)."""
    year = _years(dob)
    # digit * 100 + yy == the "GYY" digits; < 2**16 with the province index (63 provinces).
    gyy = (2 * ((year - 1900) // 100) + female) * 100 + year % 100
    code = (province.astype(np.int32) * 1000 + gyy).astype(np.uint16)

    def key_of(c: int) -> tuple[str, int, int]:
        d, yy = c // 100 % 10, c % 100
        return ids.pid_key(provinces[c // 1000], SEXES[d % 2], 1900 + 100 * (d // 2) + yy)

    serials = allocator.allocate_rows(code, key_of)
    number = np.array([int(p) for p in provinces], dtype=np.int64)[province]
    number *= 10**9
    number += gyy.astype(np.int64) * 10**6
    number += serials
    return number


def _bhxhs(allocator: ids.SerialAllocator, units: tuple[Unit, ...], person_unit: U16, has: B) -> I64:
    """BHXH numbers (int64) for the rows in ``has``, keyed by BHYT province like make_bhxhs; else -1."""
    prov2 = sorted({u.province[1:] for u in units})
    code_of_unit = np.array([prov2.index(u.province[1:]) for u in units], dtype=np.int64)
    rows = np.flatnonzero(has)
    code = code_of_unit[person_unit[rows]]
    if len(prov2) == 1:  # one province: a plain allocation spares allocate_rows' sort
        serials = allocator.allocate(prov2[0], rows.size)
    else:
        serials = allocator.allocate_rows(code, lambda c: prov2[c])
    out = np.full(has.size, -1, dtype=np.int64)
    out[rows] = np.array([int(p) for p in prov2], dtype=np.int64)[code] * ids.BHXH_SERIALS + serials
    return out


def issue_pids(population: Population, rows: npt.ArrayLike) -> Population:
    """A population where ``rows`` (people born in the region without a PID) have one issued.

    Uses the population's own allocator, so the numbers never collide with existing ones.
    Raises ValueError when a row already has a PID.
    """
    r = np.asarray(rows, dtype=np.int64)
    if (population.pid[r] >= 0).any():
        raise ValueError(f"row {int(r[population.pid[r] >= 0][0])} already has a PID")
    pid = population.pid.copy()
    pid[r] = _pids(population.ids.pid, population.provinces, population.birth_province[r],
                   population.female[r], population.dob[r])  # fmt: skip
    return population.replace(pid=pid)


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------

FIELDS: Final = (
    "person", "pid", "bhxh", "bhyt", "family_name", "middle_name", "given_name", "full_name", "sex",
    "dob", "ethnicity", "ethnicity_code", "birth_province", "household", "relation", "mother",
    "father", "unit_code", "unit_name", "address", "status", "death_minute",
)  # fmt: skip


def _digits(values: I64, width: int) -> npt.NDArray[np.str_]:
    """Zero-padded decimal strings of ``values``; '' where a value is negative."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    chars = (np.maximum(values, 0)[:, None] // powers % 10 + 48).astype(np.uint32)
    out = np.ascontiguousarray(chars).view(f"U{width}").reshape(values.size)
    return np.where(values >= 0, out, "")


def _columns(pop: Population, lo: int, hi: int) -> dict[str, list[Any]]:
    """The export columns of rows lo..hi-1 as lists (strings and ints)."""
    p, eth = name_pools(), ethnicities()
    sl = slice(lo, hi)
    fam = np.asarray(p.family, dtype=object)[pop.family[sl]]
    mid = np.asarray(p.middle, dtype=object)[pop.middle[sl]]
    giv = np.asarray(p.given, dtype=object)[pop.given[sl]]
    hh = pop.household[sl]
    unit_ix = pop.hh_unit[hh]
    units = pop.units
    unit_name = np.asarray([u.name for u in units], dtype=object)[unit_ix]
    bhxh = _digits(pop.bhxh[sl], 10)
    prov2 = np.asarray([u.province[1:] for u in units], dtype=object)[unit_ix]
    group = np.asarray(BHYT_CODES, dtype=object)[pop.bhyt[sl]]
    levels = np.asarray([str(ids.BHYT_GROUPS[g].level) if g else "" for g in BHYT_CODES], dtype=object)
    bhyt = [g + lv + pv + b if g and b else "" for g, lv, pv, b in
            zip(group, levels[pop.bhyt[sl]], prov2, bhxh.tolist(), strict=True)]  # fmt: skip
    death = pop.death[sl]
    return {
        "person": list(range(lo, hi)),
        "pid": _digits(pop.pid[sl], 12).tolist(),
        "bhxh": bhxh.tolist(),
        "bhyt": bhyt,
        "family_name": fam.tolist(),
        "middle_name": mid.tolist(),
        "given_name": giv.tolist(),
        "full_name": [f"{a} {b} {c}" for a, b, c in zip(fam, mid, giv, strict=True)],
        "sex": np.where(pop.female[sl], "F", "M").tolist(),
        "dob": pop.dob[sl].astype("datetime64[D]").astype(str).tolist(),
        "ethnicity": [eth[e].name for e in pop.ethnicity[sl]],
        "ethnicity_code": [eth[e].code for e in pop.ethnicity[sl]],
        "birth_province": np.asarray(pop.provinces, dtype=object)[pop.birth_province[sl]].tolist(),
        "household": hh.tolist(),
        "relation": np.asarray(RELATIONS, dtype=object)[pop.relation[sl]].tolist(),
        "mother": pop.mother[sl].tolist(),
        "father": pop.father[sl].tolist(),
        "unit_code": [f"{units[u].code:05d}" for u in unit_ix],
        "unit_name": unit_name.tolist(),
        "address": [pop.address(int(h)) for h in hh],
        "status": np.asarray(STATUSES, dtype=object)[pop.status[sl]].tolist(),
        "death_minute": [None if d != d else round(float(d), 3) for d in death],
    }


def iter_records(
    pop: Population, lo: int = 0, hi: int | None = None, chunk: int = 100_000
) -> Iterator[dict[str, Any]]:
    """Rows lo..hi-1 as dicts keyed by FIELDS (personal data unmasked)."""
    hi = pop.size if hi is None else hi
    for a in range(lo, hi, chunk):
        cols = _columns(pop, a, min(hi, a + chunk))
        yield from (dict(zip(FIELDS, row, strict=True)) for row in zip(*cols.values(), strict=True))


def write_csv(
    pop: Population, path: str | Path, chunk: int = 100_000, progress: Progress | None = None
) -> int:
    """Write every person to a UTF-8 CSV, streamed in chunks; returns the row count.

    Personal data is unmasked: the file is test data for the fakes.
    """
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(FIELDS)
        for lo in range(0, pop.size, chunk):
            cols = _columns(pop, lo, min(pop.size, lo + chunk))
            cols["death_minute"] = ["" if d is None else d for d in cols["death_minute"]]
            out.writerows(zip(*cols.values(), strict=True))
            if progress:
                progress("csv", min(pop.size, lo + chunk) / pop.size)
    return pop.size


def write_jsonl(
    pop: Population, path: str | Path, chunk: int = 100_000, progress: Progress | None = None
) -> int:
    """Write every person as one JSON object per line, streamed in chunks; returns the row count."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with Path(path).open("w", encoding="utf-8") as fh:
        for lo in range(0, pop.size, chunk):
            cols = _columns(pop, lo, min(pop.size, lo + chunk))
            fh.writelines(dumps(dict(zip(FIELDS, row, strict=True))) + "\n"
                          for row in zip(*cols.values(), strict=True))  # fmt: skip
            if progress:
                progress("jsonl", min(pop.size, lo + chunk) / pop.size)
    return pop.size


_MASK_IDS: Final = (
    "pid", "bhxh", "bhyt", "SO_CCCD_NND", "MA_BHXH_NND", "MA_THE_NND", "MA_THE_TAM", "SO_CCCD", "MA_BHXH",
    "MA_THE",
)  # fmt: skip
_MASK_NAMES: Final = (
    "family_name", "middle_name", "given_name", "full_name", "HO_TEN_NND", "HO_TEN_CHA", "HO_TEN_CON",
    "HO_TEN", "NGUOI_DO_DE", "NGUOI_GHI_PHIEU",
)  # fmt: skip
_MASK_DATES: Final = ("dob", "NGAYSINH_NND", "NGAY_SINH", "NGAY_SINH_CON", "NGAYCAP_CCCD_NND")
_MASK_PLACES: Final = ("address", "NOI_CU_TRU_NND", "NOI_CU_TRU")


def mask_record(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of a person or event record with personal data masked, for printing and logs.

    Identifiers keep their first and last 3 characters (fakes.ids.mask), names become initials,
    birth dates keep the year only, addresses keep the unit only.
    """
    out = dict(record)
    for key in _MASK_IDS:
        if out.get(key):
            out[key] = ids.mask(str(out[key]))
    for key in _MASK_NAMES:
        if out.get(key):
            out[key] = ids.mask_name(str(out[key]))
    for key in _MASK_DATES:
        if out.get(key):
            out[key] = str(out[key])[:4] + "-**-**"
    for key in _MASK_PLACES:
        if out.get(key):
            out[key] = "***, " + str(out[key]).rsplit(", ", 2)[-2]
    return out


def sample_rows(pop: Population, rng: np.random.Generator, k: int) -> list[int]:
    """``k`` distinct random rows (all rows when the population is smaller)."""
    return sorted(rng.choice(pop.size, min(k, pop.size), replace=False).tolist())
