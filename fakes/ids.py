"""Vietnamese identifiers: build, validate, decode, allocate and mask them.

Formats follow DOMAIN.md §5. Every identifier has a ``make_*`` constructor that raises
``ValueError`` naming the bad part, and a ``validate_*`` that never raises and returns the reason
an input is refused (``None`` when it is valid). Reasons name the offending *part* (``unknown
province code '003'``), never the whole identifier, so they can be logged as they are.

Serials are allocated, not sampled: a :class:`SerialAllocator` hands out each serial of a key at
most once, in a shuffled-looking order given by a keyed Feistel permutation, so populations of any
size never collide. The ``make_*s`` bulk makers build millions of identifiers at once with numpy.

Terms: *số định danh cá nhân* — personal identification number (PID); *mã số BHXH* — social
insurance number (BHXH number); *thẻ BHYT* — health insurance card (BHYT card); *sổ hộ tịch* —
civil-status register; *mã hồ sơ* — dossier code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt

from fakes._sorting import int_order

__all__ = [
    "BHXH_SERIALS",
    "BHYT_FIXED_LEVEL",
    "BHYT_GROUPS",
    "BHYT_PROVINCES",
    "DOSSIER_GROUPS",
    "PID_SERIALS",
    "PROVINCES",
    "RECORD_ID_PATTERN",
    "REGISTER_KINDS",
    "BhytGroup",
    "DossierCode",
    "PidInfo",
    "RegisterNumber",
    "SerialAllocator",
    "bhyt_province_code",
    "decode_pid",
    "make_bhxh",
    "make_bhxhs",
    "make_bhyt",
    "make_bhyts",
    "make_child_bhyt",
    "make_dossier_code",
    "make_pid",
    "make_pids",
    "make_register_number",
    "mask",
    "mask_name",
    "newborn_allocator",
    "pid_key",
    "population_allocator",
    "validate_bhxh",
    "validate_bhyt",
    "validate_dossier_code",
    "validate_pid",
    "validate_register_number",
]

# --------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------

#: The 63 pre-2025 province codes used in PIDs (Circular 07/2016/TT-BCA), code -> name.
#: Whether numbers issued after the 2025 province merger use new codes is unknown (DOMAIN §5).
PROVINCES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn",
        "008": "Tuyên Quang", "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu",
        "014": "Sơn La", "015": "Yên Bái", "017": "Hoà Bình", "019": "Thái Nguyên",
        "020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang", "025": "Phú Thọ",
        "026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng",
        "033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định",
        "037": "Ninh Bình", "038": "Thanh Hoá", "040": "Nghệ An", "042": "Hà Tĩnh",
        "044": "Quảng Bình", "045": "Quảng Trị", "046": "Thừa Thiên Huế", "048": "Đà Nẵng",
        "049": "Quảng Nam", "051": "Quảng Ngãi", "052": "Bình Định", "054": "Phú Yên",
        "056": "Khánh Hoà", "058": "Ninh Thuận", "060": "Bình Thuận", "062": "Kon Tum",
        "064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng",
        "070": "Bình Phước", "072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai",
        "077": "Bà Rịa–Vũng Tàu", "079": "Hồ Chí Minh", "080": "Long An", "082": "Tiền Giang",
        "083": "Bến Tre", "084": "Trà Vinh", "086": "Vĩnh Long", "087": "Đồng Tháp",
        "089": "An Giang", "091": "Kiên Giang", "092": "Cần Thơ", "093": "Hậu Giang",
        "094": "Sóc Trăng", "095": "Bạc Liêu", "096": "Cà Mau",
    }
)  # fmt: skip

#: 2-digit BHYT/BHXH province codes (Hanoi "01"), code -> name: the PID code without padding.
BHYT_PROVINCES: Final[Mapping[str, str]] = MappingProxyType(
    {code[1:]: name for code, name in PROVINCES.items()}
)


@dataclass(frozen=True, slots=True)
class BhytGroup:
    """A BHYT beneficiary group: its English gloss and its usual benefit level (1-5)."""

    gloss: str
    level: int


#: BHYT beneficiary groups (QĐ 1351/QĐ-BHXH [K]; a documented subset) with their usual level:
#: 1 = 100 % without ceiling, 2 = 100 % with a ceiling on high-tech care, 3 = 95 %, 4 = 80 %,
#: 5 = 100 % including care outside the benefit list.
BHYT_GROUPS: Final[Mapping[str, BhytGroup]] = MappingProxyType(
    {
        "TE": BhytGroup("child under 6", 1),
        "CC": BhytGroup("person with revolutionary merit", 1),
        "HN": BhytGroup("member of a poor household", 2),
        "DT": BhytGroup("ethnic minority in a hardship area", 2),
        "BT": BhytGroup("social-protection monthly allowance recipient", 2),
        "KC": BhytGroup("resistance veteran", 2),
        "HT": BhytGroup("retiree (pension recipient)", 3),
        "TC": BhytGroup("relative of a person with revolutionary merit", 3),
        "CN": BhytGroup("member of a near-poor household", 3),
        "DN": BhytGroup("employee of an enterprise", 4),
        "HC": BhytGroup("civil servant in a state agency", 4),
        "HX": BhytGroup("employee of a cooperative", 4),
        "NN": BhytGroup("employee of a foreign organisation", 4),
        "TB": BhytGroup("recipient of a work-accident or occupational-disease allowance", 4),
        "HS": BhytGroup("pupil", 4),
        "SV": BhytGroup("student", 4),
        "GD": BhytGroup("household member (voluntary household scheme)", 4),
        "NO": BhytGroup("insured person on sick leave", 4),
        "QN": BhytGroup("serving military personnel", 5),
        "CA": BhytGroup("serving police officer", 5),
        "CY": BhytGroup("cipher service staff", 5),
    }
)

#: Groups whose benefit level is fixed by law; other groups may carry any level 1-5 because a
#: person in two groups gets the better level.
BHYT_FIXED_LEVEL: Final[frozenset[str]] = frozenset({"TE", "CC", "QN", "CA", "CY"})

#: Civil-status register kinds: KS — khai sinh (birth), KT — khai tử (death).
REGISTER_KINDS: Final[Mapping[str, str]] = MappingProxyType({"KS": "birth", "KT": "death"})

#: Dossier service groups (DOMAIN §2): G1 birth group, G2 death group.
DOSSIER_GROUPS: Final[Mapping[str, str]] = MappingProxyType({"G1": "birth group", "G2": "death group"})

#: A record id (CONTRACT.md §3): the id of a register record that a 409 names in ``existing``.
#: Minted by the agency holding the register; never a PID, BHXH number or card code.
RECORD_ID_PATTERN: Final = r"^[A-Za-z][A-Za-z0-9._-]{0,63}$"

PID_SERIALS: Final = 1_000_000  # RRRRRR: serials per (province, century/sex digit, year)
BHXH_SERIALS: Final = 100_000_000  # 8-digit serial per BHYT province (ASSUMPTION, see make_bhxh)

_FIRST_YEAR, _LAST_YEAR = 1900, 2399  # the century digit covers the 1900s to the 2300s
_SEXES: Final = ("M", "F")


# --------------------------------------------------------------------------------------------
# Shared checks
# --------------------------------------------------------------------------------------------


def _shape_reason(s: object, what: str, length: int) -> str | None:
    """Why ``s`` is not a str of ``length`` characters without surrounding whitespace."""
    if not isinstance(s, str):
        return f"{what} must be a str, not {type(s).__name__}"
    if s != s.strip():
        return f"{what} has leading or trailing whitespace"
    if len(s) != length:
        return f"{what} has {len(s)} characters, expected {length}"
    return None


def _digits_reason(part: str, what: str, offset: int = 0) -> str | None:
    """Why ``part`` is not all ASCII digits, naming the first bad character and its position."""
    for i, ch in enumerate(part):
        if ch in "0123456789":
            continue
        kind = "non-ASCII digit" if ch.isdigit() else "non-digit"
        return f"{what} has {kind} {ch!r} at position {offset + i}"
    return None


def _check_range(name: str, value: int, low: int, high: int) -> None:
    """Raise ValueError unless ``low <= value <= high`` (and value is an int)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an int, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} {value!r} is outside {low}..{high}")


def _raise_if(reason: str | None) -> None:
    """Raise ValueError(reason) when there is a reason."""
    if reason is not None:
        raise ValueError(reason)


# --------------------------------------------------------------------------------------------
# Personal identification number (số định danh cá nhân): PPP G YY RRRRRR
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PidInfo:
    """What a PID says: province of birth registration, sex ('M'/'F'), birth year, serial."""

    province: str
    sex: str
    birth_year: int
    serial: int

    @property
    def province_name(self) -> str:
        """The province's name, e.g. 'Hà Nội'."""
        return PROVINCES[self.province]


def _century_digit(sex: str, birth_year: int) -> int:
    """The G digit: 2 per century from 1900 (0 = 1900s), plus 1 for a female."""
    return 2 * ((birth_year - _FIRST_YEAR) // 100) + (sex == "F")


def _check_province(province: str) -> None:
    """Raise ValueError unless ``province`` is one of the 63 PID province codes."""
    if not isinstance(province, str) or province not in PROVINCES:
        raise ValueError(f"unknown province code {province!r}; expected one of 001..096")


def _check_sex(sex: str) -> None:
    """Raise ValueError unless ``sex`` is 'M' or 'F'."""
    if not isinstance(sex, str) or sex not in _SEXES:
        raise ValueError(f"sex must be 'M' or 'F', not {sex!r}")


def pid_key(province: str, sex: str, birth_year: int) -> tuple[str, int, int]:
    """The allocator key of a PID: (province, century/sex digit, last two year digits).

    Raises ValueError for an unknown province, a sex other than 'M'/'F' or a year outside
    1900..2399.
    """
    _check_province(province)
    _check_sex(sex)
    _check_range("birth_year", birth_year, _FIRST_YEAR, _LAST_YEAR)
    return (province, _century_digit(sex, birth_year), int(birth_year) % 100)


def make_pid(province: str, sex: str, birth_year: int, serial: int) -> str:
    """Build a 12-digit PID, e.g. ``make_pid("001", "F", 2026, 42) == "001326000042"``.

    Raises ValueError for an unknown province, a sex other than 'M'/'F', a birth year outside
    1900..2399 or a serial outside 0..999999.
    """
    _, digit, yy = pid_key(province, sex, birth_year)
    _check_range("serial", serial, 0, PID_SERIALS - 1)
    return f"{province}{digit}{yy:02d}{serial:06d}"


def validate_pid(s: object, *, latest_year: int | None = None) -> str | None:
    """Why ``s`` is not a valid PID, or None when it is.

    All ten century/sex digits are defined (1900s..2300s), so a century digit is refused only
    when ``latest_year`` is given and the birth year it implies is later.
    """
    reason = _shape_reason(s, "PID", 12)
    if reason is not None or not isinstance(s, str):
        return reason
    reason = _digits_reason(s, "PID")
    if reason is not None:
        return reason
    if s[:3] not in PROVINCES:
        return f"PID has unknown province code {s[:3]!r}"
    year = _pid_year(s)
    if latest_year is not None and year > latest_year:
        return f"PID century digit {s[3]!r} gives birth year {year}, after {latest_year}"
    return None


def _pid_year(s: str) -> int:
    """The exact birth year of a well-formed PID: the century digit fixes the century."""
    return _FIRST_YEAR + 100 * (int(s[3]) // 2) + int(s[4:6])


def decode_pid(s: str) -> PidInfo:
    """Split a PID into its parts; the birth year is exact.

    Raises ValueError with the reason (see validate_pid) when ``s`` is not a valid PID.
    """
    _raise_if(validate_pid(s))
    return PidInfo(s[:3], _SEXES[int(s[3]) % 2], _pid_year(s), int(s[6:]))


def bhyt_province_code(pid_province: str) -> str:
    """The 2-digit BHYT/BHXH province code of a PID province code ("001" -> "01").

    Raises ValueError for an unknown province code.
    """
    _check_province(pid_province)
    return pid_province[1:]


# --------------------------------------------------------------------------------------------
# BHXH number (mã số BHXH): 10 digits
# --------------------------------------------------------------------------------------------


def _check_bhyt_province(province2: str) -> None:
    """Raise ValueError unless ``province2`` is a known 2-digit BHYT province code."""
    if not isinstance(province2, str) or province2 not in BHYT_PROVINCES:
        raise ValueError(f"unknown BHYT province code {province2!r}; expected one of 01..96")


def make_bhxh(province2: str, serial: int) -> str:
    """Build a 10-digit BHXH number as 2-digit province + 8-digit serial.

    ASSUMPTION: the real internal structure is unconfirmed (DOMAIN §11); only the length is
    known, so validate_bhxh checks 10 digits and nothing else.
    Raises ValueError for an unknown province or a serial outside 0..99999999.
    """
    _check_bhyt_province(province2)
    _check_range("serial", serial, 0, BHXH_SERIALS - 1)
    return f"{province2}{serial:08d}"


def validate_bhxh(s: object) -> str | None:
    """Why ``s`` is not a 10-digit BHXH number, or None when it is."""
    return _shape_reason(s, "BHXH number", 10) or _digits_reason(str(s), "BHXH number")


# --------------------------------------------------------------------------------------------
# BHYT card code: XX L PP NNNNNNNNNN
# --------------------------------------------------------------------------------------------


def _check_group_level(group: str, level: int) -> None:
    """Raise ValueError for an unknown group, a level outside 1..5 or a fixed-level mismatch."""
    if not isinstance(group, str) or group not in BHYT_GROUPS:
        raise ValueError(f"unknown BHYT beneficiary group {group!r}")
    _check_range("level", level, 1, 5)
    if group in BHYT_FIXED_LEVEL and level != BHYT_GROUPS[group].level:
        raise ValueError(f"group {group!r} has level {BHYT_GROUPS[group].level}, not {level}")


def make_bhyt(group: str, level: int, province2: str, bhxh: str) -> str:
    """Build a 15-character BHYT card code, e.g. ``"DN4" + "01" + bhxh``.

    Raises ValueError for an unknown group, a level outside 1..5 or inconsistent with a
    fixed-level group (TE must be 1), an unknown province or a malformed BHXH number.
    """
    _check_group_level(group, level)
    _check_bhyt_province(province2)
    _raise_if(validate_bhxh(bhxh))
    return f"{group}{level}{province2}{bhxh}"


def make_child_bhyt(province2: str, bhxh: str) -> str:
    """Build the BHYT card code of a child under 6: ``"TE1" + province2 + bhxh``.

    Raises ValueError for an unknown province or a malformed BHXH number.
    """
    return make_bhyt("TE", 1, province2, bhxh)


def validate_bhyt(s: object, *, expect_group: str | None = None) -> str | None:
    """Why ``s`` is not a valid BHYT card code (of ``expect_group`` if given), or None."""
    reason = _shape_reason(s, "BHYT code", 15)
    if reason is not None or not isinstance(s, str):
        return reason
    return (
        _bhyt_group_reason(s[:2], expect_group)
        or _bhyt_level_reason(s[:2], s[2])
        or _bhyt_province_reason(s[3:5])
        or _digits_reason(s[5:], "BHYT code", offset=5)
    )


def _bhyt_group_reason(group: str, expect_group: str | None) -> str | None:
    """Why ``group`` is not a known group (or not the expected one)."""
    if group not in BHYT_GROUPS:
        upper = group.upper()
        hint = f"; did you mean {upper!r}?" if upper in BHYT_GROUPS else ""
        return f"BHYT code has unknown beneficiary group {group!r}{hint}"
    if expect_group is not None and group != expect_group:
        return f"BHYT code has beneficiary group {group!r}, expected {expect_group!r}"
    return None


def _bhyt_level_reason(group: str, level: str) -> str | None:
    """Why ``level`` is not a benefit level 1-5 consistent with ``group``."""
    if level not in "12345":
        return f"BHYT code has benefit level {level!r}, expected 1..5"
    usual = BHYT_GROUPS[group].level
    if group in BHYT_FIXED_LEVEL and int(level) != usual:
        return f"BHYT code has benefit level {level} for group {group!r}, which is always {usual}"
    return None


def _bhyt_province_reason(province2: str) -> str | None:
    """Why ``province2`` is not a known BHYT province code."""
    if province2 not in BHYT_PROVINCES:
        return f"BHYT code has unknown province code {province2!r}"
    return None


# --------------------------------------------------------------------------------------------
# Civil-status register numbers (Số / Quyển số)
# --------------------------------------------------------------------------------------------

_ASCII5: Final = re.compile(r"\d{5}", re.ASCII)
# (part name, pattern, example) of each '-'-separated part of the string form.
_REGISTER_FIELDS: Final = (
    ("kind", r"K[ST]", "KS"),
    ("unit code", r"\d{5}", "00070"),
    ("year", r"\d{4}", "2026"),
    ("book", r"Q\d{2}", "Q01"),
    ("entry", r"\d{6}", "000123"),
)


def _split_fields(s: object, what: str, fields: tuple[tuple[str, str, str], ...]) -> list[str]:
    """The '-'-separated parts of ``s``. Raises ValueError naming the first malformed part."""
    example = "-".join(f[2] for f in fields)
    if not isinstance(s, str):
        raise ValueError(f"{what} must be a str, not {type(s).__name__}")
    parts = s.split("-")
    if len(parts) != len(fields):
        raise ValueError(f"{what} has {len(parts)} parts, expected {len(fields)} like {example!r}")
    for part, (name, pattern, sample) in zip(parts, fields, strict=True):
        if not re.fullmatch(pattern, part, re.ASCII):
            raise ValueError(f"{what} has {name} {part!r}, expected one like {sample!r}")
    return parts


@dataclass(frozen=True, slots=True)
class RegisterNumber:
    """An entry in a civil-status register book.

    ``kind`` is KS (birth) or KT (death); ``unit_code`` the 5-digit commune code of the
    registering People's Committee; ``book`` the book number (quyển số) within that unit's year;
    ``entry`` the entry number (số) within the book. The string form is fixed-width and sorts by
    unit, year, book and entry: ``KS-00070-2026-Q01-000123``; the certificate prints it as
    ``Số: 123, Quyển số: 01/2026`` (see :meth:`printed`). The real numbering rules are
    unconfirmed (DOMAIN §11); this format is our own.

    Raises ValueError on construction for an unknown kind, a unit code that is not 5 ASCII
    digits, a year outside 1900..2399, a book outside 1..99 or an entry outside 1..999999.
    """

    kind: str
    unit_code: str
    year: int
    book: int
    entry: int

    def __post_init__(self) -> None:
        if self.kind not in REGISTER_KINDS:
            raise ValueError(f"register kind must be 'KS' or 'KT', not {self.kind!r}")
        if not (isinstance(self.unit_code, str) and _ASCII5.fullmatch(self.unit_code)):
            raise ValueError(f"unit code must be 5 ASCII digits, not {self.unit_code!r}")
        _check_range("year", self.year, _FIRST_YEAR, _LAST_YEAR)
        _check_range("book", self.book, 1, 99)
        _check_range("entry", self.entry, 1, 999_999)

    def __str__(self) -> str:
        return f"{self.kind}-{self.unit_code}-{self.year}-Q{self.book:02d}-{self.entry:06d}"

    def printed(self) -> str:
        """The number as printed on the certificate: 'Số: 123, Quyển số: 01/2026'."""
        return f"Số: {self.entry}, Quyển số: {self.book:02d}/{self.year}"

    @classmethod
    def parse(cls, s: str) -> RegisterNumber:
        """Parse the string form. Raises ValueError naming the first malformed part."""
        kind, unit, year, book, entry = _split_fields(s, "register number", _REGISTER_FIELDS)
        return cls(kind, unit, int(year), int(book[1:]), int(entry))


def make_register_number(kind: str, unit_code: str, year: int, book: int, entry: int) -> str:
    """The string form of a register number, e.g. 'KS-00070-2026-Q01-000123'.

    Raises ValueError as RegisterNumber does.
    """
    return str(RegisterNumber(kind, unit_code, year, book, entry))


def validate_register_number(s: object) -> str | None:
    """Why ``s`` is not a valid register number string, or None when it is."""
    return _parse_reason(RegisterNumber.parse, s)


def _parse_reason(parse: Callable[[str], object], s: object) -> str | None:
    """The ValueError message of ``parse(s)``, or None when it parses (``s`` may be anything)."""
    try:
        parse(s)  # type: ignore[arg-type]  # a non-str is refused by parse with its reason
    except ValueError as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------------------------
# Dossier codes (mã hồ sơ): G1-001-20261123-000042
# --------------------------------------------------------------------------------------------

_DOSSIER_FIELDS: Final = (
    ("group", r"G\d", "G1"),
    ("province", r"\d{3}", "001"),
    ("date", r"\d{8}", "20261123"),
    ("serial", r"\d{6}", "000042"),
)


@dataclass(frozen=True, slots=True)
class DossierCode:
    """A dossier code: service group, PID province code, submission date and daily serial.

    String form ``G1-001-20261123-000042`` (our own format; real portal codes differ by province).
    Raises ValueError on construction for an unknown group or province or a serial outside
    0..999999.
    """

    group: str
    province: str
    day: dt.date
    serial: int

    def __post_init__(self) -> None:
        if self.group not in DOSSIER_GROUPS:
            raise ValueError(f"dossier group must be 'G1' or 'G2', not {self.group!r}")
        _check_province(self.province)
        if not isinstance(self.day, dt.date):
            raise ValueError(f"day must be a datetime.date, not {self.day!r}")
        _check_range("serial", self.serial, 0, 999_999)

    def __str__(self) -> str:
        return f"{self.group}-{self.province}-{self.day:%Y%m%d}-{self.serial:06d}"

    @classmethod
    def parse(cls, s: str) -> DossierCode:
        """Parse the string form. Raises ValueError naming the first malformed part."""
        group, province, ymd, serial = _split_fields(s, "dossier code", _DOSSIER_FIELDS)
        try:
            day = dt.date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
        except ValueError:
            raise ValueError(f"dossier code has invalid date {ymd!r}") from None
        return cls(group, province, day, int(serial))


def make_dossier_code(group: str, province: str, day: dt.date, serial: int) -> str:
    """The string form of a dossier code. Raises ValueError as DossierCode does."""
    return str(DossierCode(group, province, day, serial))


def validate_dossier_code(s: object) -> str | None:
    """Why ``s`` is not a valid dossier code, or None when it is."""
    return _parse_reason(DossierCode.parse, s)


# --------------------------------------------------------------------------------------------
# Serial allocation: a keyed Feistel permutation per key, cycle-walked onto 0..size-1
# --------------------------------------------------------------------------------------------

_ROUNDS: Final = 4
_CHUNK: Final = 1 << 15  # rows per Feistel chunk: its temporaries fit the CPU cache
# Round-function constants per word size: (multiplier, multiplier, shift, shift) of the
# murmur3 fmix32 and splitmix64 finalisers. 32-bit words are used whenever size <= 2**32
# because they halve the memory traffic of the bulk makers.
_MIXERS: Final = {
    np.uint32: (0x85EBCA6B, 0xC2B2AE35, 16, 13),
    np.uint64: (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 31, 29),
}
Words = npt.NDArray[np.unsignedinteger]
Ints = npt.NDArray[np.int64]


def _canonical(key: Hashable) -> Hashable:
    """``key`` with numpy scalars turned into Python ones, so equal keys have equal reprs."""
    if isinstance(key, tuple):
        return tuple(_canonical(k) for k in key)
    return key.item() if isinstance(key, np.generic) else key


class SerialAllocator:
    """Hands out the serials 0..size-1 of each key at most once, in a shuffled order.

    The i-th serial of a key (i = 0, 1, …) is ``perm_key(first + i)``: a 4-round alternating
    Feistel permutation of the smallest power-of-two range covering ``size``, keyed by a hash of
    the key and a secret drawn from ``rng``, cycle-walked back into 0..size-1. So each key costs
    one counter (O(1) memory), its order does not depend on other keys, and the same seed gives
    the same serials. Keys should be built from str and int (their repr is hashed).

    ``first`` and ``stop`` restrict each key to the permutation positions first..stop-1 (default:
    all of them). Two allocators made from generators in the same state with the same size and
    disjoint position blocks never hand out the same serial of a key: this is how the people who
    exist when a run starts and the numbers issued during the run share one number space (see
    :func:`population_allocator` and :func:`newborn_allocator`).

    Raises ValueError for a size outside 1..2**62 or a block that is empty or outside 0..size.
    """

    def __init__(
        self, rng: np.random.Generator, size: int, *, first: int = 0, stop: int | None = None
    ) -> None:
        _check_range("size", size, 1, 2**62)
        self.size = int(size)
        stop = self.size if stop is None else stop
        _check_range("first", first, 0, self.size - 1)
        _check_range("stop", stop, first + 1, self.size)
        self.first, self.stop = int(first), int(stop)
        self._secret = rng.bytes(32)
        bits = max(2, (self.size - 1).bit_length())
        word = np.uint32 if bits <= 32 else np.uint64
        self._word = word
        self._rbits = word(bits // 2)
        self._rmask = word((1 << (bits // 2)) - 1)
        self._lmask = word((1 << (bits - bits // 2)) - 1)
        mul1, mul2, shift1, shift2 = _MIXERS[word]
        self._mixer = (word(mul1), word(mul2), word(shift1), word(shift2))
        self._used: dict[Hashable, int] = {}

    def used(self, key: Hashable) -> int:
        """How many serials of ``key`` have been handed out."""
        return self._used.get(_canonical(key), 0)

    def remaining(self, key: Hashable) -> int:
        """How many serials of ``key`` are left."""
        return self.stop - self.first - self.used(key)

    def allocate(self, key: Hashable, count: int) -> Ints:
        """The next ``count`` serials of ``key`` (int64, unique within the key).

        Raises ValueError for a negative count and OverflowError naming the key when fewer than
        ``count`` serials are left.
        """
        key = _canonical(key)
        self._check_room(key, count)
        start = self.first + self._used.get(key, 0)
        self._used[key] = self._used.get(key, 0) + count
        index: Words = np.arange(start, start + count, dtype=self._word)
        return self._permute(index, self._round_keys([key]), None).astype(np.int64)

    def allocate_rows(self, codes: npt.ArrayLike, key_of: Callable[[int], Hashable]) -> Ints:
        """One serial per row, where rows with equal ``codes`` share the key ``key_of(code)``.

        Rows of one key get its next serials in row order. ``codes`` are ints in 0..2**20-1.
        Nothing is allocated unless every key has room. Raises ValueError for bad codes and
        OverflowError naming the first key without room.
        """
        codes = np.asarray(codes)
        if codes.ndim != 1 or codes.dtype.kind not in "iu":
            raise ValueError(f"codes must be a 1-D int array, not {codes.dtype} {codes.shape}")
        if codes.size and not 0 <= codes.min() <= codes.max() < 2**20:
            raise ValueError(f"codes must be in 0..2**20-1, got {codes.min()}..{codes.max()}")
        counts = np.bincount(codes, minlength=1)
        present = np.flatnonzero(counts)
        keys = [_canonical(key_of(int(c))) for c in present]
        for key, c in zip(keys, present, strict=True):
            self._check_room(key, int(counts[c]))
        return self._fill_rows(codes, counts, present, keys)

    def _fill_rows(self, codes: Ints, counts: Ints, present: Ints, keys: list[Hashable]) -> Ints:
        """Number each key's rows from its counter (a stable sort groups them) and permute."""
        order = int_order(codes, max(1, counts.size - 1).bit_length())
        column = np.zeros(counts.size, dtype=np.intp)
        column[present] = np.arange(present.size)
        base = np.zeros(counts.size, dtype=self._word)
        base[present] = [self.first + self._used.get(key, 0) for key in keys]
        starts = np.cumsum(counts) - counts
        # In sorted order each key's rows are one run: its i-th row takes position base + i.
        run = np.repeat(present, counts[present])
        index: Words = np.arange(codes.size, dtype=self._word)
        index += np.repeat((base - starts.astype(self._word))[present], counts[present])
        serials = np.empty(codes.size, dtype=np.int64)
        serials[order] = self._permute(index, self._round_keys(keys), column[run])
        for key, c in zip(keys, present, strict=True):
            self._used[key] = self._used.get(key, 0) + int(counts[c])
        return serials

    def _check_room(self, key: Hashable, count: int) -> None:
        """Raise ValueError for a negative count, OverflowError when ``key`` lacks room."""
        if count < 0:
            raise ValueError(f"count must be >= 0, not {count}")
        if count > self.remaining(key):
            raise OverflowError(
                f"serial space of key {key!r} exhausted: {self.used(key)} of"
                f" {self.stop - self.first} used,"
                f" cannot allocate {count} more"
            )

    def _round_keys(self, keys: list[Hashable]) -> Words:
        """Round keys, shape (rounds, len(keys)), hashed from the secret and each key's repr."""
        digests = b"".join(
            hashlib.blake2b(repr(k).encode(), key=self._secret, digest_size=8 * _ROUNDS).digest()
            for k in keys
        )
        words: Words = np.frombuffer(digests, dtype="<u8").astype(self._word)  # truncated
        return words.reshape(-1, _ROUNDS).T

    def _permute(self, index: Words, keys: Words, column: npt.NDArray[np.intp] | None) -> Words:
        """Feistel-permute ``index`` (row i keyed by ``keys[:, column[i]]``, or ``keys[:, 0]``
        when column is None) and cycle-walk values >= size until they fall in range.

        Rows are processed in chunks that stay in the CPU cache (the arithmetic is cheap, the
        memory traffic of whole-array temporaries is not)."""
        out = np.empty_like(index)
        for lo in range(0, index.size, _CHUNK):
            hi = min(lo + _CHUNK, index.size)
            row_keys = keys[:, :1] if column is None else keys[:, column[lo:hi]]
            out[lo:hi] = self._permute_chunk(index[lo:hi], row_keys)
        return out

    def _permute_chunk(self, index: Words, keys: Words) -> Words:
        """_permute of one chunk whose rows are keyed by the columns of ``keys`` (or one column)."""
        out = self._feistel(index, keys)
        walking = np.flatnonzero(out >= self.size)
        while walking.size:
            sub = keys if keys.shape[1] == 1 else keys[:, walking]
            out[walking] = self._feistel(out[walking], sub)
            walking = walking[out[walking] >= self.size]
        return out

    def _feistel(self, x: Words, keys: Words) -> Words:
        """An alternating Feistel network: each round xors one half with a hash of the other,
        so it is a bijection of the range whatever the split."""
        left, right = x >> self._rbits, x & self._rmask
        for r, k in enumerate(keys):
            if r % 2 == 0:
                left ^= self._mix(right, k) & self._lmask
            else:
                right ^= self._mix(left, k) & self._rmask
        left <<= self._rbits
        left |= right
        return left

    def _mix(self, half: Words, k: Words) -> Words:
        """A murmur/splitmix-style hash of ``half`` and the round key ``k`` (wrapping words)."""
        mul1, mul2, shift1, shift2 = self._mixer
        h = half + k
        h *= mul1
        h ^= h >> shift1
        h *= mul2
        h ^= h >> shift2
        return h


#: Where each key's counter space is split (see population_allocator): the people who exist when
#: a run starts take the permutation positions below it, numbers issued during the run the rest.
#: Half of a PID key is 500,000 serials: Hanoi's largest key (boys born in 2018 and registered in
#: Hanoi) holds 62,277 people of the seeded 8.6 M, and a year's births of one sex are about 60,000.
#: Half of the one Hanoi BHXH key is 50 M numbers, of which the population takes 8.2 M.
_ISSUED_FROM: Final = 0.5
_SCENARIO_STREAM: Final = 0x1D5  # stream tag of the scenario-keyed permutations


def _scenario_allocator(seed: int, size: int, issued: bool) -> SerialAllocator:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, not {seed!r}")
    _check_range("size", size, 2, 2**62)
    split = int(size * _ISSUED_FROM)
    rng = np.random.default_rng([int(seed), _SCENARIO_STREAM, int(size)])
    return SerialAllocator(rng, size, first=split) if issued else SerialAllocator(rng, size, stop=split)


def population_allocator(seed: int, size: int = PID_SERIALS) -> SerialAllocator:
    """The allocator of the people who exist when a run starts (``fakes.people.generate``).

    It uses the first half of every key's positions in the permutation keyed by the scenario
    ``seed`` alone; :func:`newborn_allocator` with the same seed and size uses the second half
    of the same permutation, so the two never hand out the same serial whatever their counts.
    ``size`` is PID_SERIALS for PIDs, BHXH_SERIALS for BHXH numbers.
    Raises ValueError for a negative seed or a size outside 2..2**62.
    """
    return _scenario_allocator(seed, size, issued=False)


def newborn_allocator(seed: int, size: int = PID_SERIALS) -> SerialAllocator:
    """The allocator of numbers issued during a run (a newborn's PID by the police, a new BHXH
    number by VSS): the second half of the positions of :func:`population_allocator`'s
    permutation, so they never collide with the population's numbers.

    Restore it after a restart by replaying each key's persisted count with ``allocate(key, n)``.
    Raises ValueError for a negative seed or a size outside 2..2**62.
    """
    return _scenario_allocator(seed, size, issued=True)


# --------------------------------------------------------------------------------------------
# Vectorised bulk makers
# --------------------------------------------------------------------------------------------

# _PADDED[w][i] == f"{i:0{w}d}": decimal strings are assembled from lookups of 1-3 digits.
_PADDED: Final = {w: np.array([f"{i:0{w}d}" for i in range(10**w)]) for w in (1, 2, 3)}
_PROVINCE_CODES: Final = list(PROVINCES)
_PROVINCE_INDEX: Final = np.full(1000, -1, dtype=np.int32)
_PROVINCE_INDEX[[int(code) for code in PROVINCES]] = np.arange(len(PROVINCES))
# _YEAR_CODES[year - 1900] == the "GYY" digits of a male born that year, as an int.
_YEAR_CODES: Final = np.array(
    [_century_digit("M", y) * 100 + y % 100 for y in range(_FIRST_YEAR, _LAST_YEAR + 1)],
    dtype=np.int32,
)
Text = npt.NDArray[np.str_]


def _join(n: int, parts: list[str | Text]) -> Text:
    """Row-wise concatenation of fixed-width parts: str constants and full-width U arrays."""
    widths = [len(p) if isinstance(p, str) else p.dtype.itemsize // 4 for p in parts]
    rows = np.empty(n, dtype=[(f"f{i}", f"U{w}") for i, w in enumerate(widths)])
    for i, part in enumerate(parts):
        rows[f"f{i}"] = part
    return rows.view(f"U{sum(widths)}")


def _decimal_parts(values: npt.NDArray[np.integer], width: int) -> list[str | Text]:
    """Zero-padded decimal digits of non-negative ints below 10**width, as parts for _join."""
    parts: list[str | Text] = []
    rest = values
    while width > 0:
        take = min(3, width)
        parts.insert(0, _PADDED[take][rest % 10**take])
        rest, width = rest // 10**take, width - take
    return parts


def _source(source: SerialAllocator | np.random.Generator, size: int) -> SerialAllocator:
    """The allocator to use: ``source`` itself, or a fresh one seeded from a Generator.

    Raises ValueError when an allocator's size is not ``size``.
    """
    if isinstance(source, np.random.Generator):
        return SerialAllocator(source, size)
    if source.size != size:
        raise ValueError(f"allocator has size {source.size}, expected {size}")
    return source


def _province_indices(province: str | npt.ArrayLike, n: int) -> int | npt.NDArray[np.int32]:
    """Index into _PROVINCE_CODES of one code, or of each row's code.

    Raises ValueError naming an unknown code (and its row).
    """
    if isinstance(province, str):
        _check_province(province)
        return _PROVINCE_CODES.index(province)
    codes = np.asarray(province)
    if codes.shape != (n,) or codes.dtype != np.dtype("U3"):
        raise ValueError(f"province must be a str or a U3 array of {n} codes, not {codes.dtype}")
    digits = codes.view(np.uint32).reshape(n, 3) - np.uint32(ord("0"))  # non-digits wrap high
    number = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
    index = _PROVINCE_INDEX[np.where((digits <= 9).all(axis=1), number, 0)]
    bad = np.flatnonzero(index < 0)
    if bad.size:
        raise ValueError(f"unknown province code {codes[bad[0]].item()!r} at row {bad[0]}")
    return index


def _sex_and_years(
    sexes: npt.ArrayLike, birth_years: npt.ArrayLike
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int32]]:
    """(is_female, birth_year) arrays. Raises ValueError naming a bad sex or year."""
    sex, years = np.asarray(sexes), np.asarray(birth_years)
    if sex.shape != years.shape or sex.ndim != 1:
        raise ValueError(f"sexes {sex.shape} and birth_years {years.shape} must be equal 1-D")
    if years.dtype.kind not in "iu":
        raise ValueError(f"birth_years must be ints, not {years.dtype}")
    bad = np.flatnonzero((years < _FIRST_YEAR) | (years > _LAST_YEAR))
    if bad.size:
        raise ValueError(f"birth_year {years[bad[0]]} at row {bad[0]} is outside 1900..2399")
    return _female(sex), years.astype(np.int32)


def _female(sex: npt.NDArray[np.generic]) -> npt.NDArray[np.bool_]:
    """Which rows of ``sex`` are 'F'. Raises ValueError naming a value other than 'M'/'F'."""
    if sex.dtype == np.dtype("U1"):  # compare code points: much faster than strings
        letters = sex.view(np.uint32)
        male, female = letters == ord("M"), letters == ord("F")
    else:
        male, female = sex == "M", sex == "F"
    bad = np.flatnonzero(~(female | male))
    if bad.size:
        raise ValueError(f"sex must be 'M' or 'F', not {sex[bad[0]].item()!r} at row {bad[0]}")
    return female


def make_pids(
    province: str | npt.ArrayLike,
    sexes: npt.ArrayLike,
    birth_years: npt.ArrayLike,
    source: SerialAllocator | np.random.Generator,
) -> npt.NDArray[np.str_]:
    """Unique PIDs (dtype U12), one per row of ``sexes`` ('M'/'F') and ``birth_years``.

    ``province`` is one code for all rows or a U3 array of codes. Serials come from ``source``
    under :func:`pid_key` keys: pass one shared SerialAllocator(rng, PID_SERIALS) to keep PIDs
    unique across calls (a Generator makes a fresh allocator, unique within this call only).
    Raises ValueError for a bad province, sex or year, and OverflowError when a key is full.
    """
    female, years = _sex_and_years(sexes, birth_years)
    prov = _province_indices(province, years.size)
    code = prov * 1000 + _YEAR_CODES[years - _FIRST_YEAR] + 100 * female  # one per pid_key
    serials = _source(source, PID_SERIALS).allocate_rows(code, _pid_key_of_code).astype(np.int32)
    head = province if isinstance(province, str) else np.asarray(province)
    return _join(years.size, [head, _PADDED[3][code % 1000], *_decimal_parts(serials, 6)])


def _pid_key_of_code(code: int) -> tuple[str, int, int]:
    """The pid_key of a make_pids row code (province index * 1000 + digit * 100 + yy)."""
    return (_PROVINCE_CODES[code // 1000], code // 100 % 10, code % 100)


def make_bhxhs(
    province2: str, count: int, source: SerialAllocator | np.random.Generator
) -> npt.NDArray[np.str_]:
    """``count`` unique BHXH numbers (dtype U10) of one province (see make_bhxh).

    Serials come from ``source`` under the key ``province2``: pass one shared
    SerialAllocator(rng, BHXH_SERIALS) to keep numbers unique across calls.
    Raises ValueError for an unknown province or a negative count, OverflowError when full.
    """
    _check_bhyt_province(province2)
    serials = _source(source, BHXH_SERIALS).allocate(province2, count)
    return _join(serials.size, [province2, *_decimal_parts(serials, 8)])


def make_bhyts(group: str, level: int, province2: str, bhxh: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """BHYT card codes (dtype U15), one per BHXH number in ``bhxh`` (see make_bhyt).

    Raises ValueError as make_bhyt does, naming the first malformed BHXH number's row.
    """
    _check_group_level(group, level)
    _check_bhyt_province(province2)
    numbers = np.asarray(bhxh)
    if numbers.ndim != 1 or numbers.dtype != np.dtype("U10"):
        raise ValueError(f"bhxh must be a 1-D U10 array, not {numbers.dtype} {numbers.shape}")
    chars = np.ascontiguousarray(numbers).view(np.uint32).reshape(-1, 10)
    bad = np.flatnonzero(((chars < 48) | (chars > 57)).any(axis=1))
    if bad.size:
        raise ValueError(f"BHXH number at row {bad[0]}: {validate_bhxh(str(numbers[bad[0]]))}")
    return _join(numbers.size, [f"{group}{level}{province2}", numbers])


# --------------------------------------------------------------------------------------------
# Masking for logs and reports
# --------------------------------------------------------------------------------------------


def mask(s: str) -> str:
    """Keep the first and last 3 characters and star the rest: '001******123'.

    Identifiers shorter than 7 characters are starred completely.
    """
    if len(s) < 7:
        return "*" * len(s)
    return s[:3] + "*" * (len(s) - 6) + s[-3:]


def mask_name(name: str) -> str:
    """Initials of a full name: 'Nguyễn Văn An' -> 'N. V. A.', 'Đặng Thị Ánh' -> 'Đ. T. Á.'."""
    words = unicodedata.normalize("NFC", name).split()
    return " ".join(f"{word[0].upper()}." for word in words)
