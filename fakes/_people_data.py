"""Name pools and reference tables for the people generator (private to ``fakes``).

Pools are built once per process: Faker's ``vi_VN`` person provider is read once for its given
and middle names (never called per row), merged with a curated list of common Vietnamese given
and middle names ranked by commonness; family names, the age pyramid and ethnic groups come from
the small CSV files in ``fakes/data`` (each cites its source in its header). Every string is NFC.

ASSUMPTION [U]: given-name and middle-name frequencies are not published; names are weighted by
a Zipf law on the curated rank (weight 1/(rank+2)), and Faker-only names get the smallest weight.
Faker's vi_VN lists do not say which sex a middle name or a "unisex" given name fits (its
middle names are those of its male formats, plus Thị and Mai): each Faker name joins only the
pools of the sexes :data:`FAKER_NAME_SEX` gives it, so no woman is called "… Quang …" and no man
"… Mai …"; a Faker name missing from that table is left out.

The fertility and family figures (:data:`ASFR`, :data:`BIRTH_ORDER`, :data:`CHILDREN_EVER_BORN`,
:data:`TWIN_DELIVERIES`, :data:`BIRTH_INTERVAL_MIN_DAYS`) are here too, each with its source or
its ASSUMPTION tag; docs/DOMAIN.md §8 lists them with the sources.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "ASFR",
    "BIRTH_INTERVAL_MIN_DAYS",
    "BIRTH_ORDER",
    "CHILDREN_EVER_BORN",
    "FAKER_NAME_SEX",
    "MEAN_AGE_AT_BIRTH",
    "TFR",
    "TWIN_DELIVERIES",
    "AgeGroup",
    "Ethnicity",
    "NamePools",
    "age_pyramid",
    "birth_order_shares",
    "ethnicities",
    "name_pools",
    "nfc",
    "province_populations",
]

DATA = Path(__file__).parent / "data"

# Curated common given names, most common first [K: common-knowledge rankings of Vietnamese
# given names; order approximate].
_GIVEN_MALE = (
    "Anh", "Minh", "Hùng", "Dũng", "Tuấn", "Nam", "Hải", "Đức", "Long", "Quân", "Thành", "Trung",
    "Hiếu", "Hoàng", "Huy", "Khoa", "Phúc", "Sơn", "Tùng", "Thắng", "Cường", "Hưng", "Kiên",
    "Việt", "Bình", "Toàn", "Thịnh", "Lâm", "Đạt", "Vinh", "Khánh", "Tú", "Quang", "Bảo", "Phong",
    "Hòa", "Tiến", "Duy", "Lộc", "Tài", "Nghĩa", "Thái", "Quý", "Hậu", "Trường", "Chiến", "Linh",
    "Thanh", "Hiệp", "Tâm", "Khôi", "Đăng", "Nhật", "Vũ", "Tân", "Công", "Thuận", "Hà",
)  # fmt: skip
_GIVEN_FEMALE = (
    "Linh", "Anh", "Hương", "Trang", "Lan", "Hà", "Mai", "Ngọc", "Thảo", "Hằng", "Huyền",
    "Phương", "Thủy", "Hoa", "Hạnh", "Nhung", "Vân", "Yến", "Chi", "Giang", "Dung", "Hồng", "Nga",
    "Loan", "Quỳnh", "Trâm", "Vy", "My", "Nhi", "Ánh", "Hiền", "Thu", "Tâm", "Oanh", "Uyên",
    "Thư", "Hân", "Ngân", "Duyên", "Xuân", "Liên", "Thúy", "Lệ", "Diệp", "Hòa", "Tuyết", "Bích",
    "Châu", "Khánh", "Ly", "Nhàn", "Thương", "Hậu", "Minh", "Phượng", "Nhạn", "Sương", "An",
)  # fmt: skip
_MIDDLE_MALE = (
    "Văn", "Đức", "Minh", "Quang", "Hữu", "Xuân", "Thanh", "Tuấn", "Ngọc", "Mạnh", "Công",
    "Trọng", "Anh", "Hoàng", "Quốc", "Duy", "Thế", "Bảo", "Gia", "Đình", "Tiến", "Hải", "Trung",
    "Việt", "Khắc", "Đăng", "Thành", "Kim", "Nhật", "Phú",
)  # fmt: skip
_MIDDLE_FEMALE = (
    "Thị", "Thu", "Thanh", "Ngọc", "Minh", "Phương", "Thùy", "Hồng", "Kim", "Bảo", "Khánh",
    "Hoài", "Mai", "Diệu", "Hải", "Quỳnh", "Thảo", "Lan", "Tuyết", "Bích", "Hà", "Hương", "Mỹ",
    "Vân", "Yến", "Cẩm", "Như", "Tú", "Kiều", "Anh",
)  # fmt: skip
# The traditional middle names whose share falls with the birth cohort (see people.py).
TRADITIONAL_MIDDLE = {"M": "Văn", "F": "Thị"}
#: The sexes ("M", "F" or both) each of Faker vi_VN's middle names and unisex given names fits
#: [K: common usage]. Faker's middle names come from its male name formats (Quang, Đức, Trí,
#: Hữu, Tấn, Phú, Thế … are men's middle names) plus Thị and Mai (women's); of its "unisex" given
#: names Lâm, Thành, Khoa, Nhật, Bảo and Hải are mostly men's and Hạnh, Kim and Phương mostly
#: women's. Faker names not listed here (a newer Faker) are not used.
FAKER_NAME_SEX: dict[str, dict[str, str]] = {
    "middle": {
        "Văn": "M", "Thị": "F", "Quang": "M", "Đức": "M", "Trí": "M", "Xuân": "M", "Hoàng": "M",
        "Hải": "MF", "Thế": "M", "Tấn": "M", "Phú": "M", "Hữu": "M", "Bảo": "MF", "Mai": "F",
    },
    "unisex_given": {
        "An": "MF", "Hà": "MF", "Bảo": "M", "Lâm": "M", "Hạnh": "F", "Thành": "M", "Kim": "F",
        "Nhật": "M", "Phương": "F", "Khoa": "M", "Hải": "M",
    },
}  # fmt: skip

# --------------------------------------------------------------------------------------------
# Fertility and families (docs/DOMAIN.md §8 "Fertility and families"; tested in
# tests/fakes/test_families.py)
# --------------------------------------------------------------------------------------------

#: Total fertility rate, Vietnam: 1.96 children per woman in 2023, 1.91 in 2024 [V] (GSO, 2024
#: mid-term population survey, reported by baohaiduong.vn 06/01/2025; 1.96 also daidoanket.vn,
#: thanhnien.vn). Hanoi's own recent figure was not found [U].
TFR: Final = {2023: 1.96, 2024: 1.91}
#: Mean age of women giving birth, Vietnam: 28.4 (2021), 28.8 (2024); Kinh women 29.4 [V] (GSO
#: report of 04/2025, via VnExpress 06/05/2025).
MEAN_AGE_AT_BIRTH: Final = {2021: 28.4, 2024: 28.8, "kinh": 29.4}
#: Births per 1000 women aged 15-19, 20-24, …, 45-49 (the simulation uses the shape only).
#: ASSUMPTION [U]: GSO's age-specific rates were not found in a readable source, so this schedule
#: is built to reproduce the published national figures: TFR 5 × Σ/1000 = 1.93 (1.91-1.96 [V]),
#: mean age at childbearing 28.8 (2024 [V]; 28.76 from the group midpoints), the peak at 25-29
#: [K] (fertility concentrated at 25-34 in towns, 20-29 in the countryside [V]: UNFPA 2008
#: booklet via vwu.vn). The group values themselves are not published figures. Used nationally
#: and for Hanoi alike.
ASFR: Final = (18.0, 88.0, 126.0, 98.0, 46.0, 9.0, 1.0)
ASFR_AGES: Final = (15, 50)  # the first and last+1 age the schedule covers
#: Share of births that are a woman's 1st, 2nd, 3rd and 4th-or-later child, by region scope.
#: Sources [V]: 20.8 % of the women giving birth in 2004-05 had a third or higher birth
#: nationally (GSO, 2005 Population Change Survey press release, gso.gov.vn); in Hanoi 7.28 % of
#: the births of Q1 2012 were a third or later child (cand.com.vn, Hanoi population office).
#: ASSUMPTION [U]: the splits below. Hanoi: 10 % third-or-later (above 2012's 7.3 %: third
#: births rose after the two-child rule was relaxed [K]), 1st and 2nd nearly equal under the
#: two-child norm; national: the 2005 level, ~21 % third-or-later. No recent published split by
#: order was found (DOMAIN.md §11).
BIRTH_ORDER: Final = {"province": (0.48, 0.42, 0.085, 0.015), "national": (0.43, 0.36, 0.15, 0.06)}
#: Mothers by number of children ever born (1, 2, 3, 4, 5+), women aged 35-39 who have given
#: birth, Red River Delta (Hanoi's region), 1/4/2013 [V]: 69,627 / 472,324 / 121,968 / 20,897 /
#: 3,431 of 688,246 (GSO, Population Change and Family Planning Survey 1/4/2013, Main results,
#: table 19, mirrored on 123docz.com). The people generator caps each mother's resident children
#: at a draw from it (children who left home are not in her household, so this is a ceiling).
CHILDREN_EVER_BORN: Final = (0.101, 0.686, 0.177, 0.030, 0.005)
#: Twin deliveries per delivery: Vietnam 6.2 per 1000, the lowest of 75 developing countries
#: [K] (figure quoted from Smits & Monden, "Twinning across the Developing World", PLoS ONE
#: 6(9): e25239, 2011, DHS birth histories; the paper's abstract [V] gives 6-9 per 1000 for
#: South and South-East Asia). Twins are then 2 × 6.2 / 1006.2 ≈ 1.2 % of newborns. Triplets
#: and more are not modelled.
TWIN_DELIVERIES: Final = 0.0062
#: The shortest interval between two births of a mother, in days (twins aside: same day).
#: ASSUMPTION [U]: a term pregnancy (~266 days from conception) after at least ~5 weeks
#: postpartum; shorter intervals (a very preterm birth soon after another) exist but are rare
#: and are not modelled. No source for Vietnam's shortest or median intervals was found.
BIRTH_INTERVAL_MIN_DAYS: Final = 300


def birth_order_shares(scope: str) -> tuple[float, float, float, float]:
    """BIRTH_ORDER for a region scope ("province" or "national"; a province uses Hanoi's)."""
    return BIRTH_ORDER["national" if scope == "national" else "province"]


def nfc(s: str) -> str:
    """``s`` in Unicode NFC with surrounding whitespace removed."""
    return unicodedata.normalize("NFC", s.strip())


@dataclass(frozen=True, eq=False)
class NamePools:
    """Name pools: strings and the sampling probabilities of each sex's slice.

    ``given``/``middle`` hold the male names first, then the female ones (a name may appear in
    both); ``*_male``/``*_female`` are the index ranges into them and ``*_p_male``/``*_p_female``
    the probabilities over those ranges. ``traditional_middle`` maps "M"/"F" to the index of
    "Văn"/"Thị" in ``middle``.
    """

    family: tuple[str, ...]
    family_p: npt.NDArray[np.float64]
    given: tuple[str, ...]
    given_male: range
    given_female: range
    given_p_male: npt.NDArray[np.float64]
    given_p_female: npt.NDArray[np.float64]
    middle: tuple[str, ...]
    middle_male: range
    middle_female: range
    middle_p_male: npt.NDArray[np.float64]
    middle_p_female: npt.NDArray[np.float64]
    traditional_middle: dict[str, int]


def _rows(name: str) -> list[dict[str, str]]:
    """Rows of a data CSV, skipping ``#`` comment lines."""
    with (DATA / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


def _shares(name: str) -> list[tuple[dict[str, str], float]]:
    """The rows of a data file with their "percent" column normalised to shares summing to 1."""
    rows = _rows(name)
    total = sum(float(r["percent"]) for r in rows)
    return [(r, float(r["percent"]) / total) for r in rows]


def _merged(curated: tuple[str, ...], extra: tuple[str, ...]) -> tuple[list[str], npt.NDArray[np.float64]]:
    """Curated names (Zipf weights) plus Faker's names not already present (smallest weight)."""
    names = list(dict.fromkeys(nfc(s) for s in curated))
    weights = [1.0 / (rank + 2) for rank in range(len(names))]
    for s in dict.fromkeys(nfc(x) for x in extra):
        if s and s not in names:
            names.append(s)
            weights.append(weights[len(curated) - 1])
    w = np.asarray(weights)
    return names, w / w.sum()


def _faker_lists() -> dict[str, tuple[str, ...]]:
    """Faker vi_VN's given and middle names by sex, read once from its person provider.

    Its male and female given names keep their sex; its unisex given names and its middle names
    go to the sexes FAKER_NAME_SEX gives them (names it does not list are dropped).
    """
    from faker.providers.person.vi_VN import Provider

    words = lambda names: tuple(w for s in names for w in [nfc(s)] if " " not in w)  # noqa: E731
    fits = lambda kind, names, sex: tuple(  # noqa: E731
        w for w in words(names) if sex in FAKER_NAME_SEX[kind].get(w, "")
    )
    return {
        "male": words(Provider.first_names_male) + fits("unisex_given", Provider.first_names_unisex, "M"),
        "female": words(Provider.first_names_female) + fits("unisex_given", Provider.first_names_unisex, "F"),
        "middle_male": fits("middle", Provider.middle_names, "M"),
        "middle_female": fits("middle", Provider.middle_names, "F"),
    }


@cache
def name_pools() -> NamePools:
    """The name pools (built once per process)."""
    fk = _faker_lists()
    fam_rows = _rows("family_names.csv")
    fam_p = np.array([float(r["percent"]) for r in fam_rows])
    gm, pgm = _merged(_GIVEN_MALE, fk["male"])
    gf, pgf = _merged(_GIVEN_FEMALE, fk["female"])
    mm, pmm = _merged(_MIDDLE_MALE, fk["middle_male"])
    mf, pmf = _merged(_MIDDLE_FEMALE, fk["middle_female"])
    middle = (*mm, *mf)
    return NamePools(
        family=tuple(nfc(r["name"]) for r in fam_rows),
        family_p=fam_p / fam_p.sum(),
        given=(*gm, *gf),
        given_male=range(0, len(gm)),
        given_female=range(len(gm), len(gm) + len(gf)),
        given_p_male=pgm,
        given_p_female=pgf,
        middle=middle,
        middle_male=range(0, len(mm)),
        middle_female=range(len(mm), len(middle)),
        middle_p_male=pmm,
        middle_p_female=pmf,
        traditional_middle={"M": mm.index("Văn"), "F": len(mm) + mf.index("Thị")},
    )


@dataclass(frozen=True)
class AgeGroup:
    """A group of the age pyramid: ages ``low``..``high`` (inclusive), share and male share."""

    low: int
    high: int
    share: float
    male_share: float


@cache
def age_pyramid() -> tuple[AgeGroup, ...]:
    """The age pyramid (shares normalised to 1)."""
    return tuple(
        AgeGroup(int(r["age_from"]), int(r["age_to"]), share, float(r["male_share"]))
        for r, share in _shares("age_pyramid.csv")
    )


@cache
def province_populations() -> dict[int, int]:
    """Population of each of the 34 provinces after 2025, by vietnam-provinces code
    (``data/provinces_2025.csv``, which cites its sources)."""
    return {int(r["code"]): int(r["population"]) for r in _rows("provinces_2025.csv")}


@dataclass(frozen=True)
class Ethnicity:
    """An ethnic group: 2-digit GSO code (MA_DANTOC), name and share."""

    code: str
    name: str
    share: float


@cache
def ethnicities() -> tuple[Ethnicity, ...]:
    """Ethnic groups of the region (shares normalised to 1)."""
    return tuple(Ethnicity(r["code"], nfc(r["name"]), share) for r, share in _shares("ethnicities.csv"))
