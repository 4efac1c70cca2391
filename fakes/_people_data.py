"""Name pools and reference tables for the people generator (private to ``fakes``).

Pools are built once per process: Faker's ``vi_VN`` person provider is read once for its given
and middle names (never called per row), merged with a curated list of common Vietnamese given
and middle names ranked by commonness; family names, the age pyramid and ethnic groups come from
the small CSV files in ``fakes/data`` (each cites its source in its header). Every string is NFC.

ASSUMPTION [U]: given-name and middle-name frequencies are not published; names are weighted by
a Zipf law on the curated rank (weight 1/(rank+2)), and Faker-only names get the smallest weight.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["AgeGroup", "Ethnicity", "NamePools", "age_pyramid", "ethnicities", "name_pools", "nfc"]

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
    """Faker vi_VN's given and middle names, read once from its person provider."""
    from faker.providers.person.vi_VN import Provider

    words = lambda names: tuple(w for s in names for w in [nfc(s)] if " " not in w)  # noqa: E731
    return {
        "male": words(Provider.first_names_male + Provider.first_names_unisex),
        "female": words(Provider.first_names_female + Provider.first_names_unisex),
        "middle": words(Provider.middle_names),
    }


@cache
def name_pools() -> NamePools:
    """The name pools (built once per process)."""
    fk = _faker_lists()
    fam_rows = _rows("family_names.csv")
    fam_p = np.array([float(r["percent"]) for r in fam_rows])
    gm, pgm = _merged(_GIVEN_MALE, fk["male"])
    gf, pgf = _merged(_GIVEN_FEMALE, fk["female"])
    # Faker mixes "Thị" into its (male-formatted) middle names; keep each traditional name to its sex.
    mm, pmm = _merged(_MIDDLE_MALE, tuple(s for s in fk["middle"] if s != "Thị"))
    mf, pmf = _merged(_MIDDLE_FEMALE, tuple(s for s in fk["middle"] if s != "Văn"))
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
