"""Tests for fakes/ids.py: identifiers build, validate, decode, allocate and mask."""

from __future__ import annotations

import datetime as dt
import unicodedata

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakes.ids import (
    BHXH_SERIALS,
    BHYT_FIXED_LEVEL,
    BHYT_GROUPS,
    BHYT_PROVINCES,
    PID_SERIALS,
    PROVINCES,
    DossierCode,
    PidInfo,
    RegisterNumber,
    SerialAllocator,
    bhyt_province_code,
    decode_pid,
    make_bhxh,
    make_bhxhs,
    make_bhyt,
    make_bhyts,
    make_child_bhyt,
    make_dossier_code,
    make_pid,
    make_pids,
    make_register_number,
    mask,
    mask_name,
    newborn_allocator,
    pid_key,
    population_allocator,
    validate_bhxh,
    validate_bhyt,
    validate_dossier_code,
    validate_pid,
    validate_register_number,
)

provinces = st.sampled_from(sorted(PROVINCES))
sexes = st.sampled_from(["M", "F"])
years = st.integers(1900, 2399)
pid_serials = st.integers(0, PID_SERIALS - 1)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def distinct(identifiers: np.ndarray) -> int:
    """How many distinct digit strings a U array holds (sorting ints beats np.unique on str)."""
    width = identifiers.dtype.itemsize // 4
    digits = identifiers.view(np.uint32).reshape(-1, width).astype(np.int64) - ord("0")
    values = np.sort(digits @ 10 ** np.arange(width - 1, -1, -1, dtype=np.int64))
    return int(values.size and 1 + np.count_nonzero(np.diff(values)))


# --- reference data ----------------------------------------------------------------------------


def test_63_province_codes_with_names() -> None:
    assert len(PROVINCES) == 63
    assert PROVINCES["001"] == "Hà Nội"
    assert PROVINCES["079"] == "Hồ Chí Minh"
    assert PROVINCES["096"] == "Cà Mau"
    assert all(len(code) == 3 and code.isdigit() for code in PROVINCES)


def test_bhyt_province_code_drops_the_padding() -> None:
    assert bhyt_province_code("001") == "01"
    assert bhyt_province_code("096") == "96"
    assert sorted(BHYT_PROVINCES) == [bhyt_province_code(code) for code in sorted(PROVINCES)]


@pytest.mark.parametrize("bad", ["003", "01", "1", "", "097"])
def test_bhyt_province_code_refuses_unknown(bad: str) -> None:
    with pytest.raises(ValueError, match=f"unknown province code '{bad}'"):
        bhyt_province_code(bad)


def test_groups_with_fixed_level() -> None:
    assert BHYT_GROUPS["TE"].level == 1
    assert "TE" in BHYT_FIXED_LEVEL
    assert all(1 <= group.level <= 5 for group in BHYT_GROUPS.values())


# --- personal identification number --------------------------------------------------------------


def test_make_pid_examples() -> None:
    assert make_pid("001", "F", 2026, 42) == "001326000042"
    assert make_pid("079", "M", 1985, 123456) == "079085123456"
    assert make_pid("048", "F", 1999, 0) == "048199000000"


@pytest.mark.parametrize(
    ("sex", "year", "digit"),
    [("M", 1900, 0), ("F", 1999, 1), ("M", 2000, 2), ("F", 2026, 3), ("M", 2100, 4),
     ("F", 2150, 5), ("M", 2200, 6), ("F", 2299, 7), ("M", 2300, 8), ("F", 2399, 9)],
)  # fmt: skip
def test_century_sex_digit(sex: str, year: int, digit: int) -> None:
    assert make_pid("001", sex, year, 1)[3] == str(digit)
    assert pid_key("001", sex, year) == ("001", digit, year % 100)


@given(provinces, sexes, years, pid_serials)
def test_pid_decodes_to_what_it_was_made_from(province: str, sex: str, year: int, serial: int) -> None:
    pid = make_pid(province, sex, year, serial)
    assert validate_pid(pid) is None
    assert decode_pid(pid) == PidInfo(province, sex, year, serial)


def test_pid_info_names_the_province() -> None:
    assert decode_pid("001326000042").province_name == "Hà Nội"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("00132600004", "PID has 11 characters, expected 12"),
        ("0013260000421", "PID has 13 characters, expected 12"),
        ("", "PID has 0 characters, expected 12"),
        ("00132600004a", "PID has non-digit 'a' at position 11"),
        ("001 26000042", "PID has non-digit ' ' at position 3"),
        ("00132600004\u0301", "PID has non-digit '\u0301' at position 11"),
        ("00132600004１", "PID has non-ASCII digit '１' at position 11"),
        ("٠٠١326000042", "PID has non-ASCII digit '٠' at position 0"),
        (" 00132600004", "PID has leading or trailing whitespace"),
        ("001326000042\n", "PID has leading or trailing whitespace"),
        ("003326000042", "PID has unknown province code '003'"),
        ("000326000042", "PID has unknown province code '000'"),
        ("100326000042", "PID has unknown province code '100'"),
        (1326000042, "PID must be a str, not int"),
        (None, "PID must be a str, not NoneType"),
    ],
)
def test_validate_pid_names_the_problem(value: object, reason: str) -> None:
    assert validate_pid(value) == reason


def test_century_digit_after_latest_year_is_refused() -> None:
    assert validate_pid("001426000001") is None  # 2126 is a defined century
    assert validate_pid("001426000001", latest_year=2026) == (
        "PID century digit '4' gives birth year 2126, after 2026"
    )
    assert validate_pid("001326000001", latest_year=2026) is None


@given(st.text(max_size=14) | st.from_regex(r"\d{12}", fullmatch=True))
def test_validate_pid_never_raises_and_accepts_only_decodable(s: str) -> None:
    if validate_pid(s) is None:
        info = decode_pid(s)
        assert make_pid(info.province, info.sex, info.birth_year, info.serial) == s


def test_decode_pid_raises_the_reason() -> None:
    with pytest.raises(ValueError, match="unknown province code '003'"):
        decode_pid("003326000042")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("003", "M", 2000, 1), "unknown province code '003'"),
        ((1, "M", 2000, 1), "unknown province code 1"),
        (("001", "X", 2000, 1), "sex must be 'M' or 'F', not 'X'"),
        (("001", "m", 2000, 1), "sex must be 'M' or 'F', not 'm'"),
        (("001", "M", 1899, 1), "birth_year 1899 is outside 1900..2399"),
        (("001", "M", 2400, 1), "birth_year 2400 is outside 1900..2399"),
        (("001", "M", 2000.0, 1), "birth_year must be an int, not 2000.0"),
        (("001", "M", 2000, -1), "serial -1 is outside 0..999999"),
        (("001", "M", 2000, 1_000_000), "serial 1000000 is outside 0..999999"),
        (("001", "M", 2000, True), "serial must be an int, not True"),
    ],
)
def test_make_pid_refuses_bad_parts(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_pid(*args)


# --- BHXH number and BHYT card code -------------------------------------------------------------


def test_make_bhxh_example() -> None:
    assert make_bhxh("01", 42) == "0100000042"
    assert validate_bhxh("0100000042") is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("010000004", "BHXH number has 9 characters, expected 10"),
        ("01000000420", "BHXH number has 11 characters, expected 10"),
        ("01000000x2", "BHXH number has non-digit 'x' at position 8"),
        ("０100000042", "BHXH number has non-ASCII digit '０' at position 0"),
        ("0100000042 ", "BHXH number has leading or trailing whitespace"),
        (100000042, "BHXH number must be a str, not int"),
    ],
)
def test_validate_bhxh_names_the_problem(value: object, reason: str) -> None:
    assert validate_bhxh(value) == reason


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("001", 1), "unknown BHYT province code '001'"),
        (("03", 1), "unknown BHYT province code '03'"),
        (("01", -1), "serial -1 is outside 0..99999999"),
        (("01", BHXH_SERIALS), "serial 100000000 is outside 0..99999999"),
    ],
)
def test_make_bhxh_refuses_bad_parts(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_bhxh(*args)


def test_child_bhyt_example() -> None:
    assert make_child_bhyt("01", "0100000042") == "TE1010100000042"
    assert validate_bhyt("TE1010100000042", expect_group="TE") is None


@given(st.sampled_from(sorted(BHYT_GROUPS)), st.sampled_from(sorted(BHYT_PROVINCES)))
def test_every_group_at_its_usual_level_validates(group: str, province2: str) -> None:
    code = make_bhyt(group, BHYT_GROUPS[group].level, province2, make_bhxh(province2, 7))
    assert len(code) == 15
    assert validate_bhyt(code, expect_group=group) is None


def test_groups_without_fixed_level_take_any_level() -> None:
    assert validate_bhyt(make_bhyt("DN", 2, "01", "0100000042")) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("TE10101000000420", "BHYT code has 16 characters, expected 15"),
        ("TE101010000004", "BHYT code has 14 characters, expected 15"),
        (" TE10101000000", "BHYT code has leading or trailing whitespace"),
        ("XX1010100000042", "BHYT code has unknown beneficiary group 'XX'"),
        ("te1010100000042", "BHYT code has unknown beneficiary group 'te'; did you mean 'TE'?"),
        ("TE2010100000042", "BHYT code has benefit level 2 for group 'TE', which is always 1"),
        ("DN6010100000042", "BHYT code has benefit level '6', expected 1..5"),
        ("DN0010100000042", "BHYT code has benefit level '0', expected 1..5"),
        ("DNx010100000042", "BHYT code has benefit level 'x', expected 1..5"),
        ("DN4000100000042", "BHYT code has unknown province code '00'"),
        ("DN4030100000042", "BHYT code has unknown province code '03'"),
        ("DN4١10100000042", "BHYT code has unknown province code '١1'"),
        ("DN40101000000a2", "BHYT code has non-digit 'a' at position 13"),
        ("DN401010000004２", "BHYT code has non-ASCII digit '２' at position 14"),
        (None, "BHYT code must be a str, not NoneType"),
    ],
)
def test_validate_bhyt_names_the_problem(value: object, reason: str) -> None:
    assert validate_bhyt(value) == reason


def test_validate_bhyt_checks_the_expected_group() -> None:
    assert validate_bhyt("DN4010100000042", expect_group="TE") == (
        "BHYT code has beneficiary group 'DN', expected 'TE'"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("XX", 1, "01", "0100000042"), "unknown BHYT beneficiary group 'XX'"),
        (("te", 1, "01", "0100000042"), "unknown BHYT beneficiary group 'te'"),
        (("TE", 2, "01", "0100000042"), "group 'TE' has level 1, not 2"),
        (("DN", 6, "01", "0100000042"), "level 6 is outside 1..5"),
        (("DN", 4, "001", "0100000042"), "unknown BHYT province code '001'"),
        (("DN", 4, "01", "010000004"), "BHXH number has 9 characters, expected 10"),
    ],
)
def test_make_bhyt_refuses_bad_parts(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_bhyt(*args)


# --- civil-status register numbers --------------------------------------------------------------


def test_register_number_string_forms() -> None:
    number = RegisterNumber("KS", "00070", 2026, 1, 123)
    assert str(number) == "KS-00070-2026-Q01-000123"
    assert number.printed() == "Số: 123, Quyển số: 01/2026"
    assert make_register_number("KT", "00070", 2026, 12, 5) == "KT-00070-2026-Q12-000005"


@given(
    st.sampled_from(["KS", "KT"]),
    st.from_regex(r"[0-9]{5}", fullmatch=True),
    years,
    st.integers(1, 99),
    st.integers(1, 999_999),
)
def test_register_number_round_trips(kind: str, unit: str, year: int, book: int, n: int) -> None:
    number = RegisterNumber(kind, unit, year, book, n)
    assert RegisterNumber.parse(str(number)) == number
    assert validate_register_number(str(number)) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("KX-00070-2026-Q01-000123", "register number has kind 'KX', expected one like 'KS'"),
        ("ks-00070-2026-Q01-000123", "register number has kind 'ks', expected one like 'KS'"),
        ("KS-0070-2026-Q01-000123", "register number has unit code '0070'"),
        ("KS-00070-2026-Q1-000123", "register number has book 'Q1'"),
        ("KS-00070-2026-Q01-123", "register number has entry '123'"),
        ("KS-00070-2026-Q01-00012３", "register number has entry '00012３'"),
        ("KS-00070-2026-Q01", "register number has 4 parts, expected 5"),
        ("KS-00070-1899-Q01-000123", "year 1899 is outside 1900..2399"),
        ("KS-00070-2026-Q00-000123", "book 0 is outside 1..99"),
        ("KS-00070-2026-Q01-000000", "entry 0 is outside 1..999999"),
        (123, "register number must be a str, not int"),
    ],
)
def test_validate_register_number_names_the_problem(value: object, reason: str) -> None:
    found = validate_register_number(value)
    assert found is not None and found.startswith(reason)


def test_register_number_refuses_bad_unit_code() -> None:
    with pytest.raises(ValueError, match="unit code must be 5 ASCII digits, not '0007０'"):
        RegisterNumber("KS", "0007０", 2026, 1, 1)


# --- dossier codes ------------------------------------------------------------------------------


def test_dossier_code_example() -> None:
    code = make_dossier_code("G1", "001", dt.date(2026, 11, 23), 42)
    assert code == "G1-001-20261123-000042"
    assert DossierCode.parse(code) == DossierCode("G1", "001", dt.date(2026, 11, 23), 42)


@given(
    st.sampled_from(["G1", "G2"]),
    provinces,
    st.dates(dt.date(1900, 1, 1), dt.date(2399, 12, 31)),
    st.integers(0, 999_999),
)
def test_dossier_code_round_trips(group: str, province: str, day: dt.date, serial: int) -> None:
    code = make_dossier_code(group, province, day, serial)
    assert validate_dossier_code(code) is None
    assert DossierCode.parse(code) == DossierCode(group, province, day, serial)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("G3-001-20261123-000042", "dossier group must be 'G1' or 'G2', not 'G3'"),
        ("GX-001-20261123-000042", "dossier code has group 'GX', expected one like 'G1'"),
        ("G1-003-20261123-000042", "unknown province code '003'"),
        ("G1-001-20261332-000042", "dossier code has invalid date '20261332'"),
        ("G1-001-2026113-000042", "dossier code has date '2026113'"),
        ("G1-001-20261123-42", "dossier code has serial '42'"),
        ("G1-001-20261123", "dossier code has 3 parts, expected 4"),
        ("G1-001-20261123-000042 ", "dossier code has serial '000042 '"),
    ],
)
def test_validate_dossier_code_names_the_problem(value: str, reason: str) -> None:
    found = validate_dossier_code(value)
    assert found is not None and found.startswith(reason)


# --- serial allocation --------------------------------------------------------------------------


@given(st.integers(1, 5000), st.integers(0, 2**32))
def test_allocator_is_a_permutation_of_the_range(size: int, seed: int) -> None:
    serials = SerialAllocator(rng(seed), size).allocate("k", size)
    assert np.array_equal(np.sort(serials), np.arange(size))


def test_allocator_covers_a_full_pid_key_and_looks_shuffled() -> None:
    serials = SerialAllocator(rng(), PID_SERIALS).allocate(("001", 3, 26), PID_SERIALS)
    assert np.array_equal(np.sort(serials), np.arange(PID_SERIALS))
    steps = np.diff(serials[:1000])
    assert (steps > 0).mean() == pytest.approx(0.5, abs=0.1)  # not sorted, not a stride
    assert np.unique(steps).size > 900


def test_allocator_with_64_bit_words() -> None:
    serials = SerialAllocator(rng(), 2**40 + 3).allocate("k", 10_000)
    assert np.unique(serials).size == 10_000
    assert serials.min() >= 0 and serials.max() < 2**40 + 3


def test_allocator_continues_where_it_stopped() -> None:
    one = SerialAllocator(rng(1), 1000)
    two = SerialAllocator(rng(1), 1000)
    assert np.array_equal(
        np.concatenate([one.allocate("k", 300), one.allocate("k", 700)]),
        two.allocate("k", 1000),
    )
    assert one.used("k") == 1000 and one.remaining("k") == 0


def test_exhaustion_raises_naming_the_key() -> None:
    allocator = SerialAllocator(rng(), 10)
    allocator.allocate(("001", 3, 26), 8)
    with pytest.raises(OverflowError, match=r"key \('001', 3, 26\) exhausted: 8 of 10 used"):
        allocator.allocate(("001", 3, 26), 3)
    assert allocator.allocate(("001", 3, 26), 2).size == 2
    assert allocator.allocate(("001", 2, 26), 10).size == 10


def test_same_seed_same_serials_other_seed_others() -> None:
    def draw(seed: int) -> np.ndarray:
        return SerialAllocator(rng(seed), PID_SERIALS).allocate("k", 100)

    assert np.array_equal(draw(7), draw(7))
    assert not np.array_equal(draw(7), draw(8))


def test_keys_do_not_depend_on_each_other_or_on_numpy_scalars() -> None:
    one, two = SerialAllocator(rng(3), 1000), SerialAllocator(rng(3), 1000)
    one.allocate("a", 10)
    b_after_a = one.allocate(("b", 1), 10)
    assert np.array_equal(b_after_a, two.allocate(("b", np.int64(1)), 10))


def test_allocate_rows_matches_allocate_per_key() -> None:
    codes = np.array([5, 1, 5, 5, 1, 9])
    rows = SerialAllocator(rng(4), 100).allocate_rows(codes, lambda c: ("key", c))
    per_key = SerialAllocator(rng(4), 100)
    expected = {c: list(per_key.allocate(("key", c), int((codes == c).sum()))) for c in (1, 5, 9)}
    assert list(rows) == [expected[5][0], expected[1][0], expected[5][1], expected[5][2],
                          expected[1][1], expected[9][0]]  # fmt: skip


def test_allocate_rows_allocates_nothing_when_one_key_is_full() -> None:
    allocator = SerialAllocator(rng(), 3)
    with pytest.raises(OverflowError, match="key 'k2' exhausted: 0 of 3 used"):
        allocator.allocate_rows(np.array([1, 2, 2, 2, 2]), lambda c: f"k{c}")
    assert allocator.used("k1") == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: SerialAllocator(rng(), 0), "size 0 is outside"),
        (lambda: SerialAllocator(rng(), 10).allocate("k", -1), "count must be >= 0, not -1"),
        (lambda: SerialAllocator(rng(), 10).allocate_rows(np.array([-1]), str), "codes must"),
        (lambda: SerialAllocator(rng(), 10).allocate_rows(np.array([0.5]), str), "codes must"),
    ],
)
def test_allocator_misuse(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


# --- bulk makers --------------------------------------------------------------------------------

N = 1_000_000


def population(seed: int, n: int = N) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random provinces, sexes and birth years for n persons."""
    g = rng(seed)
    provinces_ = g.choice(np.array(sorted(PROVINCES)), n)
    return provinces_, g.choice(np.array(["M", "F"]), n), g.integers(1920, 2027, n)


def test_a_million_pids_are_unique_valid_and_decode_to_their_person() -> None:
    provinces_, sexes_, years_ = population(1)
    pids = make_pids(provinces_, sexes_, years_, SerialAllocator(rng(2), PID_SERIALS))
    assert pids.dtype == np.dtype("U12") and pids.shape == (N,)
    assert distinct(pids) == N
    for i in rng(3).choice(N, 500, replace=False):
        info = decode_pid(str(pids[i]))
        assert (info.province, info.sex, info.birth_year) == (
            provinces_[i], sexes_[i], years_[i],
        )  # fmt: skip


def test_a_million_bhxh_numbers_are_unique_and_valid() -> None:
    numbers = make_bhxhs("01", N, SerialAllocator(rng(5), BHXH_SERIALS))
    assert numbers.dtype == np.dtype("U10")
    assert distinct(numbers) == N
    assert all(validate_bhxh(str(s)) is None for s in numbers[:500])
    assert all(s.startswith("01") for s in numbers[:500])
    cards = make_bhyts("TE", 1, "01", numbers)
    assert cards.dtype == np.dtype("U15")
    assert str(cards[0]) == make_child_bhyt("01", str(numbers[0]))
    assert all(validate_bhyt(str(s), expect_group="TE") is None for s in cards[:500])


def test_filling_one_pid_key_then_one_more_overflows() -> None:
    allocator = SerialAllocator(rng(6), PID_SERIALS)
    pids = make_pids("001", np.full(N, "F"), np.full(N, 2026), allocator)
    assert distinct(pids) == N
    with pytest.raises(OverflowError, match=r"key \('001', 3, 26\) exhausted"):
        make_pids("001", np.array(["F"]), np.array([2026]), allocator)
    assert make_pids("001", np.array(["M"]), np.array([2026]), allocator)[0].startswith("001226")


def test_shared_allocator_keeps_calls_disjoint() -> None:
    allocator = SerialAllocator(rng(8), PID_SERIALS)
    first = make_pids("001", np.full(5000, "M"), np.full(5000, 1990), allocator)
    second = make_pids("001", np.full(5000, "M"), np.full(5000, 1990), allocator)
    assert np.intersect1d(first, second).size == 0


def test_bulk_makers_are_deterministic_from_the_seed() -> None:
    _, sexes_, years_ = population(9, 10_000)
    assert np.array_equal(
        make_pids("001", sexes_, years_, rng(10)), make_pids("001", sexes_, years_, rng(10))
    )
    assert np.array_equal(make_bhxhs("79", 1000, rng(11)), make_bhxhs("79", 1000, rng(11)))


def test_bulk_pids_match_the_single_maker() -> None:
    allocator = SerialAllocator(rng(12), PID_SERIALS)
    pids = make_pids("048", np.array(["M", "F"]), np.array([1950, 2301]), allocator)
    serials = [decode_pid(str(p)).serial for p in pids]
    assert list(pids) == [make_pid("048", "M", 1950, serials[0]), make_pid("048", "F", 2301, serials[1])]
    assert decode_pid(str(pids[1])).birth_year == 2301


def test_bulk_makers_accept_no_rows() -> None:
    empty = make_pids("001", np.array([], dtype="U1"), np.array([], dtype=int), rng())
    assert empty.shape == (0,)
    assert make_bhxhs("01", 0, rng()).shape == (0,)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_pids("003", ["M"], [2000], rng()), "unknown province code '003'"),
        (lambda: make_pids(np.array(["001", "0x1"]), ["M", "F"], [2000, 2000], rng()),
         "unknown province code '0x1' at row 1"),
        (lambda: make_pids("001", ["M", "X"], [2000, 2000], rng()), "not 'X' at row 1"),
        (lambda: make_pids("001", ["M"], [1899], rng()), "birth_year 1899 at row 0"),
        (lambda: make_pids("001", ["M"], [2000.5], rng()), "birth_years must be ints"),
        (lambda: make_pids("001", ["M", "F"], [2000], rng()), "must be equal 1-D"),
        (lambda: make_pids("001", ["M"], [2000], SerialAllocator(rng(), 10)),
         "allocator has size 10, expected 1000000"),
        (lambda: make_bhxhs("001", 1, rng()), "unknown BHYT province code '001'"),
        (lambda: make_bhyts("TE", 1, "01", np.array(["010000004x"])),
         "BHXH number at row 0: BHXH number has non-digit 'x' at position 9"),
        (lambda: make_bhyts("TE", 1, "01", np.array(["010000004"])), "must be a 1-D U10 array"),
        (lambda: make_bhyts("TE", 2, "01", np.array(["0100000042"])), "group 'TE' has level 1"),
    ],
)  # fmt: skip
def test_bulk_makers_refuse_bad_rows(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


# --- masking ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("001090000123", "001******123"),
        ("TE1010100000042", "TE1*********042"),
        ("0100000042", "010****042"),
        ("1234567", "123*567"),
        ("123456", "******"),
        ("", ""),
    ],
)
def test_mask(value: str, masked: str) -> None:
    assert mask(value) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("Nguyễn Văn An", "N. V. A."),
        ("đặng  thị ánh", "Đ. T. Á."),
        (unicodedata.normalize("NFD", "Ánh Dương"), "Á. D."),
        ("  ", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


# -- population and newborn blocks ---------------------------------------------------------------


def test_population_and_newborn_blocks_split_each_key_without_overlap() -> None:
    born, new = population_allocator(7, 1000), newborn_allocator(7, 1000)
    a, b = born.allocate("k", 500), new.allocate("k", 500)
    assert sorted(np.r_[a, b].tolist()) == list(range(1000))  # together: every serial once
    assert born.remaining("k") == new.remaining("k") == 0
    with pytest.raises(OverflowError, match="500 of 500 used"):
        new.allocate("k", 1)
    again = population_allocator(7, 1000)  # the seed alone fixes the permutation
    assert again.allocate("k", 500).tolist() == a.tolist()
    assert population_allocator(8, 1000).allocate("k", 500).tolist() != a.tolist()


def test_a_restored_newborn_allocator_continues_where_it_stopped() -> None:
    first = newborn_allocator(3)
    issued = [int(first.allocate(("001", 3, 26), 1)[0]) for _ in range(5)]
    restored = newborn_allocator(3)
    restored.allocate(("001", 3, 26), first.used(("001", 3, 26)))
    more = restored.allocate(("001", 3, 26), 3).tolist()
    assert issued + more == newborn_allocator(3).allocate(("001", 3, 26), 8).tolist()


def test_bad_blocks_and_seeds_are_refused() -> None:
    with pytest.raises(ValueError, match=r"stop 10 is outside 11\.\.100"):
        SerialAllocator(rng(), 100, first=10, stop=10)
    with pytest.raises(ValueError, match=r"first 100 is outside 0\.\.99"):
        SerialAllocator(rng(), 100, first=100)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        population_allocator(-1)
    with pytest.raises(ValueError, match="size 1 is outside 2"):
        newborn_allocator(1, 1)
