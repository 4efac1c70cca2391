"""Business rules of each fake agency, over a real server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt

import pytest

from fakes.agencies._benefits import add_months, card_validity, funeral_amount
from fakes.ids import decode_pid, validate_bhyt, validate_register_number
from scenarios import Scenario
from tests.fakes.conftest import Api, fresh_pid


def problem(r: object, status: int, code: str) -> None:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert r.json()["code"] == code  # type: ignore[attr-defined]


# -- pure rules --------------------------------------------------------------------------------

@pytest.mark.parametrize(("birth", "valid_to"), [
    (dt.date(2026, 3, 1), dt.date(2032, 9, 30)),     # turns six 2032-03-01, before school: 30/09
    (dt.date(2026, 9, 30), dt.date(2032, 9, 30)),    # turns six on 30/09 itself
    (dt.date(2026, 10, 1), dt.date(2032, 9, 30)),    # turns six 2032-10-01: the day before
    (dt.date(2026, 12, 15), dt.date(2032, 12, 14)),
    (dt.date(2024, 2, 29), dt.date(2030, 9, 30)),
    (dt.date(2023, 11, 30), dt.date(2029, 11, 29)),
])
def test_card_validity_runs_to_72_months_or_30_september(birth: dt.date, valid_to: dt.date) -> None:
    assert card_validity(birth) == (birth, valid_to)


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(dt.date(2024, 2, 29), 72) == dt.date(2030, 2, 28)
    assert add_months(dt.date(2020, 1, 31), 1) == dt.date(2020, 2, 29)


@pytest.mark.parametrize(("regime", "day", "amount"), [
    ("bhxh_funeral", dt.date(2024, 6, 30), 18_000_000),
    ("bhxh_funeral", dt.date(2024, 7, 1), 23_400_000),
    ("social_protection", dt.date(2024, 6, 30), 7_200_000),
    ("social_protection", dt.date(2024, 7, 1), 10_000_000),
    ("merit", dt.date(2024, 7, 1), 23_400_000),
    # DOMAIN.md §6 emergency funeral support, 50 × mức chuẩn: 18 M (2021 level), 25 M (2024 level)
    ("emergency", dt.date(2024, 6, 30), 18_000_000),
    ("emergency", dt.date(2024, 7, 1), 25_000_000),
])
def test_funeral_amounts_by_date_of_death(scenario: Scenario, regime: str, day: dt.date,
                                          amount: int) -> None:
    unit, multiple = funeral_amount(scenario, regime, day)  # type: ignore[arg-type]
    assert unit * multiple == amount


# -- health ------------------------------------------------------------------------------------

def test_birth_certificate_is_numbered_per_facility_and_year(api: Api) -> None:
    a, b = api.cert(facility_code="01077"), api.cert(facility_code="01077")
    assert (a["id"], b["id"]) == ("GCS-01077-2026-000001", "GCS-01077-2026-000002")
    assert api.get("police", f"/health/birth-certificates/{a['id']}").status_code == 403
    assert api.get("portal", f"/health/birth-certificates/{a['id']}").json() == a


def test_health_refuses_future_births_and_death_before_birth(api: Api) -> None:
    r = api.post("hospital", "/health/birth-certificates", {
        "facility_code": "01001", "mother_name": "Lan", "mother_birth_date": "1995-01-01",
        "mother_pid": fresh_pid(), "residence_province": "001", "residence_commune": "00070",
        "child_sex": "F", "child_birth_date": "2026-03-10", "weight_grams": 3000,
        "place_of_birth": "BV"})
    problem(r, 422, "future_date")
    r = api.post("hospital", "/health/death-notices", {
        "facility_code": "01001", "deceased_pid": fresh_pid(), "deceased_name": "Hùng",
        "deceased_sex": "M", "deceased_birth_date": "1960-01-02", "death_date": "1960-01-01",
        "place_of_death": "BV"})
    problem(r, 422, "death_before_birth")


# -- justice -----------------------------------------------------------------------------------

def test_birth_registration_needs_a_real_certificate_and_happens_once(api: Api) -> None:
    r = api.post("portal", "/justice/births", {
        "birth_certificate_id": "GCS-01001-2026-999999", "child_name": "An", "unit_code": "00070",
        "declarant_name": "Lan", "declarant_relation": "mother"})
    problem(r, 422, "unknown_birth_certificate")
    c = api.cert(child_sex="F", child_birth_date="2026-02-11")
    body = {"birth_certificate_id": c["id"], "child_name": "Trần Thị Bình", "unit_code": "00091",
            "declarant_name": "Lan", "declarant_relation": "mother"}
    rec = api.ok("portal", "/justice/births", body)
    assert rec["register_no"] == "KS-00091-2026-Q01-000001"
    assert validate_register_number(rec["register_no"]) is None
    assert (rec["child_sex"], rec["child_birth_date"], rec["province"]) == ("F", "2026-02-11", "001")
    assert rec["printed"] == "Số: 1, Quyển số: 01/2026"
    problem(api.post("portal", "/justice/births", body), 409, "already_registered")


def test_death_registration_once_per_person(api: Api) -> None:
    n = api.notice()
    body = {"death_notice_id": n["id"], "unit_code": "00070", "declarant_name": "Hoa",
            "declarant_relation": "child", "status": "insured"}
    rec = api.ok("portal", "/justice/deaths", body)
    assert rec["register_no"].startswith("KT-00070-2026-Q01-")
    assert (rec["deceased_pid"], rec["status"]) == (n["deceased_pid"], "insured")
    r = api.post("portal", "/justice/deaths", body)
    problem(r, 409, "already_registered")
    assert r.json()["existing"] == rec["register_no"]
    problem(api.post("portal", "/justice/deaths", dict(body, death_notice_id="GBT-x")), 422,
            "unknown_death_notice")


# -- police ------------------------------------------------------------------------------------

def test_pid_encodes_province_sex_century_and_year(api: Api) -> None:
    girl = api.child(child_sex="F", child_birth_date="2025-12-31")
    boy = api.child(child_sex="M", child_birth_date="2026-01-01")
    assert (girl["pid"][:6], boy["pid"][:6]) == ("001325", "001226")
    info = decode_pid(girl["pid"])
    assert (info.province, info.sex, info.birth_year) == ("001", "F", 2025)
    person = api.get("vss", f"/police/people/{girl['pid']}").json()
    assert (person["alive"], person["residence_status"], person["legacy"]) == (True, "none", False)


def test_pids_are_unique_and_one_per_birth(api: Api) -> None:
    records = [api.birth_record(child_birth_date="2026-01-15") for _ in range(25)]
    pids = [api.ok("portal", "/police/pids", {"birth_register_no": r["register_no"]})["pid"]
            for r in records]
    assert len(set(pids)) == 25
    r = api.post("portal", "/police/pids", {"birth_register_no": records[0]["register_no"]})
    problem(r, 409, "already_issued")
    r = api.post("portal", "/police/pids", {"birth_register_no": "KS-00070-2026-Q01-999999"})
    problem(r, 422, "unknown_birth_record")


def test_residence_rules(api: Api) -> None:
    child = api.child()
    body = {"pid": child["pid"], "household_id": "HK0000000777", "relation_to_head": "child",
            "address": "1 Tràng Tiền", "commune_code": "00070"}
    res = api.ok("portal", "/police/residences", body)
    assert (res["active"], res["household_id"]) == (True, "HK0000000777")
    problem(api.post("portal", "/police/residences", body), 409, "already_resident")
    problem(api.post("portal", "/police/residences", dict(body, pid=fresh_pid())), 404,
            "unknown_person")


def test_residence_removal_only_for_the_registered_dead(api: Api) -> None:
    child = api.child()
    api.ok("portal", "/police/residences", {"pid": child["pid"], "household_id": "HK0000000778",
                                            "relation_to_head": "child", "address": "2 Hàng Bài",
                                            "commune_code": "00070"})
    kt = api.death_record(deceased_pid=child["pid"], deceased_birth_date="2026-03-01",
                          death_date="2026-03-08", deceased_name="Trần Minh An")
    removal = {"pid": child["pid"], "death_register_no": kt["register_no"]}
    problem(api.post("portal", "/police/residence-removals", removal), 422, "person_alive")
    dead = api.ok("portal", "/police/deaths", {"death_register_no": kt["register_no"]})
    assert (dead["alive"], dead["legacy"]) == (False, False)
    problem(api.post("portal", "/police/deaths", {"death_register_no": kt["register_no"]}), 409,
            "already_deceased")
    out = api.ok("portal", "/police/residence-removals", removal)
    assert out["household_id"] == "HK0000000778"
    person = api.get("auditor", f"/police/people/{child['pid']}").json()
    assert person["residence_status"] == "removed"
    problem(api.post("portal", "/police/residence-removals", removal), 409, "already_registered")
    residences = [r for r in api.export("police")["residences"] if r["pid"] == child["pid"]]
    assert [r["active"] for r in residences] == [False]


def test_police_learns_a_legacy_person_from_the_death_record(api: Api) -> None:
    kt = api.death_record()
    dead = api.ok("portal", "/police/deaths", {"death_register_no": kt["register_no"]})
    assert (dead["pid"], dead["alive"], dead["legacy"]) == (kt["deceased_pid"], False, True)
    out = api.ok("portal", "/police/residence-removals",
                 {"pid": kt["deceased_pid"], "death_register_no": kt["register_no"]})
    assert out["household_id"] is None


# -- vss ---------------------------------------------------------------------------------------

def test_child_card_code_and_validity(api: Api) -> None:
    child = api.child(child_birth_date="2025-11-20")
    card = api.ok("portal", "/vss/child-cards", {"pid": child["pid"]})
    assert card["card_code"].startswith("TE101") and card["card_code"][5:] == card["bhxh"]
    assert validate_bhyt(card["card_code"], expect_group="TE") is None
    assert (card["valid_from"], card["valid_to"]) == ("2025-11-20", "2031-11-19")
    problem(api.post("portal", "/vss/child-cards", {"pid": child["pid"]}), 409, "already_issued")


def test_no_card_without_pid_or_for_a_child_of_six(api: Api) -> None:
    problem(api.post("portal", "/vss/child-cards", {}), 422, "no_pid")
    problem(api.post("portal", "/vss/child-cards", {"pid": fresh_pid("M", 2026)}), 422, "no_pid")
    problem(api.post("portal", "/vss/child-cards", {"pid": "00122600004"}), 422, "invalid_pid")
    old = api.child(child_birth_date="2020-03-09")  # 72 months on 2026-03-09, the scenario date
    problem(api.post("portal", "/vss/child-cards", {"pid": old["pid"]}), 422, "child_too_old")
    young = api.child(child_birth_date="2020-03-10")  # one day short of 72 months
    assert api.post("portal", "/vss/child-cards", {"pid": young["pid"]}).status_code == 201


@pytest.mark.parametrize(("status", "death_date", "amount"), [
    ("pensioner", "2024-06-30", 18_000_000),
    ("insured", "2024-07-01", 23_400_000),
])
def test_funeral_allowance_by_date_of_death(api: Api, status: str, death_date: str,
                                            amount: int) -> None:
    kt = api.death_record(status, death_date=death_date)
    claim = {"death_register_no": kt["register_no"], "claimant_name": "Lê Thị Hoa",
             "claimant_relation": "child"}
    pay = api.ok("portal", "/vss/funeral-allowances", claim)
    assert (pay["amount_vnd"], pay["multiple"], pay["regime"]) == (amount, 10, "bhxh_funeral")
    problem(api.post("portal", "/vss/funeral-allowances", claim), 409, "already_paid")
    problem(api.post("portal", "/social/funeral-supports", claim), 422, "not_eligible")


def test_no_funeral_payment_without_a_registered_death(api: Api) -> None:
    claim = {"death_register_no": "KT-00070-2026-Q01-999999", "claimant_name": "Hoa",
             "claimant_relation": "child"}
    problem(api.post("portal", "/vss/funeral-allowances", claim), 422, "death_not_registered")
    problem(api.post("portal", "/social/funeral-supports", claim), 422, "death_not_registered")


# -- social ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "death_date", "amount", "regime"), [
    ("social", "2024-06-30", 7_200_000, "social_protection"),
    ("social", "2024-07-01", 10_000_000, "social_protection"),
    ("merit", "2025-01-01", 23_400_000, "merit"),
])
def test_social_funeral_support(api: Api, status: str, death_date: str, amount: int,
                                regime: str) -> None:
    kt = api.death_record(status, death_date=death_date)
    claim = {"death_register_no": kt["register_no"], "claimant_name": "Hoa",
             "claimant_relation": "spouse"}
    pay = api.ok("portal", "/social/funeral-supports", claim)
    assert (pay["amount_vnd"], pay["regime"]) == (amount, regime)
    problem(api.post("portal", "/vss/funeral-allowances", claim), 422, "not_eligible")
    problem(api.post("portal", "/social/funeral-supports", claim), 409, "already_paid")


@pytest.mark.parametrize(("status", "cause", "death_date", "amount"), [
    ("social", "Tai nạn giao thông", "2024-07-01", 25_000_000),   # 50 ×, not 20 × (the highest)
    ("social", "Tai nạn giao thông", "2024-06-30", 18_000_000),
    ("none", "Hỏa hoạn", "2025-01-01", 25_000_000),               # no other funeral payer
])
def test_emergency_funeral_support_is_50_standard_levels(api: Api, status: str, cause: str,
                                                         death_date: str, amount: int) -> None:
    """DOMAIN.md §6: deaths from disaster, fire, epidemic, traffic or serious work accident get
    ≥ 50 × the standard level (ND 20/2021 Art. 14): 18 M at the 2021 level, 25 M at 2024's."""
    kt = api.death_record(status, death_date=death_date, cause=cause)
    assert kt["cause"] == cause
    claim = {"death_register_no": kt["register_no"], "claimant_name": "Hoa",
             "claimant_relation": "spouse"}
    pay = api.ok("portal", "/social/funeral-supports", claim)
    assert (pay["amount_vnd"], pay["multiple"], pay["regime"]) == (amount, 50, "emergency")
    assert pay["lump_sum_vnd"] is None
    problem(api.post("portal", "/vss/funeral-allowances", claim), 422, "not_eligible")


def test_no_emergency_support_for_an_ordinary_death_or_one_vss_pays(api: Api) -> None:
    for status, cause in (("none", "bệnh"), ("none", "Tai nạn khác"), ("pensioner", "Tai nạn giao thông")):
        kt = api.death_record(status, death_date="2025-01-01", cause=cause)
        claim = {"death_register_no": kt["register_no"], "claimant_name": "Hoa",
                 "claimant_relation": "spouse"}
        problem(api.post("portal", "/social/funeral-supports", claim), 422, "not_eligible")


@pytest.mark.parametrize(("death_date", "lump_sum"), [
    ("2019-07-01", None),        # before the merit table: the allowance is paid, no lump sum priced
    ("2024-06-30", 6_165_000),   # 3 × 2,055,000 (ND 55/2023)
    ("2024-07-01", 8_367_000),   # 3 × 2,789,000 (ND 77/2024)
])
def test_merit_relatives_get_a_3_month_lump_sum(api: Api, death_date: str, lump_sum: int | None) -> None:
    """DOMAIN.md §6: a person with merit — funeral allowance at the social-insurance rate (10 ×
    base pay) plus a lump sum of 3 months' allowance to the relatives (ND 131/2021 Art. 121)."""
    kt = api.death_record("merit", death_date=death_date, cause="Tai nạn giao thông")
    claim = {"death_register_no": kt["register_no"], "claimant_name": "Hoa",
             "claimant_relation": "child"}
    pay = api.ok("portal", "/social/funeral-supports", claim)
    assert (pay["regime"], pay["multiple"], pay["lump_sum_vnd"]) == ("merit", 10, lump_sum)


def test_idempotent_replay_and_key_reuse(api: Api) -> None:
    c = api.cert()
    body = {"birth_certificate_id": c["id"], "child_name": "An", "unit_code": "00070",
            "declarant_name": "Lan", "declarant_relation": "mother"}
    first = api.post("portal", "/justice/births", body, key="replay-1")
    again = api.post("portal", "/justice/births", body, key="replay-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    problem(api.post("portal", "/justice/births", dict(body, child_name="Bình"), key="replay-1"),
            409, "idempotency_key_reused")
    problem(api.post("portal", "/justice/births", body, key=None), 400, "idempotency_key_missing")
    problem(api.post("portal", "/justice/births", body, key="bad key!"), 400,
            "idempotency_key_invalid")
    births = [b for b in api.export("justice")["births"] if b["birth_certificate_id"] == c["id"]]
    assert len(births) == 1


def test_nfd_and_nfc_names_are_one_body(api: Api) -> None:
    import unicodedata

    nfc = "Nguyễn Thị Ánh"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    c = api.cert()
    body = {"birth_certificate_id": c["id"], "child_name": nfd, "unit_code": "00070",
            "declarant_name": "Lan", "declarant_relation": "mother"}
    first = api.post("portal", "/justice/births", body, key="nfd-1")
    assert first.json()["child_name"] == nfc
    second = api.post("portal", "/justice/births", dict(body, child_name=nfc), key="nfd-1")
    assert second.status_code == 201 and second.headers["idempotent-replayed"] == "true"
