"""Reconciliation rules on hand-made register exports (exact violations per broken rule)."""

from __future__ import annotations

import copy
import dataclasses
from datetime import date
from typing import Any

import pytest

import scenarios
from loadtests.reconcile import Submission, card_valid_to, expected_steps, reconcile

S = scenarios.load("hanoi-baseline")
BIRTH = Submission(
    0, "G1-001-20260309-000001", "birth", "ks_tt_bhyt", "GCS-01001-2026-000001", "HK0000000007"
)
DEATH = Submission(
    1, "G1-001-20260309-000002", "death", "kt_xtt_funeral", "GBT-01001-2026-000001", "", "pensioner"
)


def _exports() -> dict[str, Any]:
    steps_b = [{"step": s, "status": "done"} for s in ("ks", "pid", "tt", "bhyt")]
    steps_d = [
        {"step": "kt", "status": "done"},
        {"step": "xtt", "status": "done"},
        {"step": "funeral_vss", "status": "done"},
        {"step": "funeral_social", "status": "skipped"},
    ]
    return {
        "portal": {
            "dossiers": [
                {
                    "id": BIRTH.code,
                    "status": "completed",
                    "steps": steps_b,
                    "input": {"birth": {"birth_certificate_id": BIRTH.document}},
                },
                {
                    "id": DEATH.code,
                    "status": "completed",
                    "steps": steps_d,
                    "input": {"death": {"death_notice_id": DEATH.document}},
                },
            ]
        },
        "justice": {
            "births": [
                {
                    "register_no": "KS-1",
                    "birth_certificate_id": BIRTH.document,
                    "child_birth_date": "2026-03-01",
                }
            ],
            "deaths": [
                {
                    "register_no": "KT-1",
                    "death_notice_id": DEATH.document,
                    "deceased_pid": "001052012345",
                    "death_date": "2026-03-08",
                }
            ],
        },
        "police": {
            "pid_requests": [{"status": "issued", "pid": "001226000042", "birth_register_no": "KS-1"}],
            "people": [{"pid": "001226000042", "alive": True}, {"pid": "001052012345", "alive": False}],
            "residences": [{"pid": "001226000042", "household_id": "HK0000000007"}],
            "removals": [{"pid": "001052012345"}],
        },
        "vss": {
            "cards": [{"pid": "001226000042", "card_code": "TE1010000000042", "valid_to": "2032-09-30"}],
            "funeral_allowances": [{"death_register_no": "KT-1", "amount_vnd": 23_400_000}],
            "survivor_benefits": [],
        },
        "social": {"funeral_supports": []},
    }


def _rules(exports: dict[str, Any], subs: tuple[Submission, ...] = (BIRTH, DEATH)) -> list[tuple[str, str]]:
    return [(v.dossier, v.rule) for v in reconcile(S, list(subs), exports).violations]


def test_consistent_registers_pass() -> None:
    rec = reconcile(S, [BIRTH, DEATH], _exports())
    assert rec.passed, rec.violations
    assert rec.checked["dossiers"] == 2 and rec.checked["card"] == 1


@pytest.mark.parametrize(
    ("birth", "valid_to"),
    [
        (date(2026, 3, 1), date(2032, 9, 30)),
        (date(2026, 10, 15), date(2032, 10, 14)),
        (date(2024, 2, 29), date(2030, 9, 30)),
        (date(2020, 9, 30), date(2026, 9, 30)),
        (date(2020, 10, 1), date(2026, 9, 30)),
        (date(2020, 12, 31), date(2026, 12, 30)),
    ],
)
def test_card_valid_to_follows_the_72_month_and_30_september_rule(birth: date, valid_to: date) -> None:
    # the day before 72 months of age; a sixth birthday on or before 30/09 runs to 30/09 (DOMAIN.md §5)
    assert card_valid_to(birth) == valid_to


def test_expected_steps_follow_the_payer_rule() -> None:
    assert expected_steps(S, "death", "kt_xtt_funeral", "pensioner") == ["kt", "xtt", "funeral_vss"]
    assert expected_steps(S, "death", "kt_xtt_funeral", "social") == ["kt", "xtt", "funeral_social"]
    assert expected_steps(S, "death", "kt_xtt_funeral", "none") == ["kt", "xtt"]


def test_a_dossier_missing_from_the_portal_is_lost() -> None:
    ex = _exports()
    ex["portal"]["dossiers"] = ex["portal"]["dossiers"][1:]
    assert _rules(ex) == [(BIRTH.code, "lost"), ("-", "card_for_someone_else")]


def test_a_dossier_stored_under_another_code_is_a_code_mismatch() -> None:
    ex = _exports()
    ex["portal"]["dossiers"][0]["id"] = "HNI-000001"
    assert _rules(ex) == [(BIRTH.code, "code_mismatch")]


def test_a_dossier_not_terminal_is_stuck() -> None:
    ex = _exports()
    ex["portal"]["dossiers"][0]["status"] = "in_progress"
    assert _rules(ex)[0] == (BIRTH.code, "stuck")


def test_a_second_card_and_a_wrong_expiry_are_named() -> None:
    ex = _exports()
    bad = copy.deepcopy(ex)
    bad["vss"]["cards"][0]["valid_to"] = "2026-12-31"  # incident F8
    assert _rules(bad) == [(BIRTH.code, "card_validity")]
    dup = copy.deepcopy(ex)
    dup["vss"]["cards"].append(dict(dup["vss"]["cards"][0], card_code="TE1010000000043"))
    assert _rules(dup) == [(BIRTH.code, "card_count")]


def test_wrong_household_and_missing_residence() -> None:
    ex = _exports()
    ex["police"]["residences"][0]["household_id"] = "HK0000000008"
    assert _rules(ex) == [(BIRTH.code, "wrong_household")]
    ex["police"]["residences"] = []
    assert _rules(ex) == [(BIRTH.code, "residence_count")]


def test_payments_wrong_amount_wrong_payer_and_for_someone_else() -> None:
    ex = _exports()
    ex["vss"]["funeral_allowances"][0]["amount_vnd"] = 18_000_000  # the pre-2024-07 base pay
    assert _rules(ex) == [(DEATH.code, "payment_amount")]
    ex = _exports()
    ex["social"]["funeral_supports"] = [{"death_register_no": "KT-1", "amount_vnd": 10_000_000}]
    assert _rules(ex) == [(DEATH.code, "unexpected_social_funeral_payment")]
    ex = _exports()
    ex["vss"]["funeral_allowances"].append({"death_register_no": "KT-9", "amount_vnd": 23_400_000})
    assert _rules(ex) == [("-", "payment_for_someone_else")]


def test_residence_not_removed_is_named() -> None:
    ex = _exports()
    ex["police"]["removals"] = []
    ex["police"]["people"][1]["alive"] = True
    assert _rules(ex) == [(DEATH.code, "not_marked_deceased"), (DEATH.code, "residence_removal_count")]


def test_a_rejected_dossier_keeps_its_done_steps_and_nothing_after() -> None:
    ex = _exports()
    d = ex["portal"]["dossiers"][0]
    d["status"] = "rejected"
    d["steps"] = [
        {"step": "ks", "status": "done"},
        {"step": "pid", "status": "done"},
        {"step": "tt", "status": "rejected", "error": {"code": "unknown_person"}},
        {"step": "bhyt", "status": "cancelled"},
    ]
    rules = _rules(ex)
    assert (BIRTH.code, "refused_valid_dossier") in rules
    assert (BIRTH.code, "unexpected_residence") in rules and (BIRTH.code, "unexpected_card") in rules


def test_identifiers_in_details_are_masked() -> None:
    ex = _exports()
    ex["police"]["residences"][0]["household_id"] = "HK0000000008"
    (v,) = reconcile(S, [BIRTH, DEATH], ex).violations
    assert "001226000042" not in v.detail and "001******042" in v.detail


def test_a_dossier_accepted_without_an_answer_is_attributed_not_a_stray() -> None:
    # the 202 never reached the client: it knows only the document it submitted
    unanswered = dataclasses.replace(BIRTH, code="", answered=False, refusal="status 0")
    rec = reconcile(S, [unanswered, DEATH], _exports())
    assert rec.passed, rec.violations
    assert rec.unanswered == [BIRTH.code] and rec.checked["accepted_without_answer"] == 1
    assert rec.checked["card"] == 1  # its card was checked, not reported for someone else


def test_a_submission_never_accepted_leaves_nothing_to_check() -> None:
    ex = _exports()
    ex["portal"]["dossiers"] = ex["portal"]["dossiers"][1:]
    ex["vss"]["cards"] = []
    ex["police"]["residences"] = []
    unanswered = dataclasses.replace(BIRTH, code="", answered=False, refusal="status 0")
    rec = reconcile(S, [unanswered, DEATH], ex)
    assert rec.passed and rec.unanswered == [] and rec.checked["dossiers"] == 1


def test_a_returned_dossier_and_a_lost_attachment_rejection_are_named() -> None:
    returned = dataclasses.replace(BIRTH, returned="missing_attachment")
    assert _rules(_exports(), (returned, DEATH)) == [(BIRTH.code, "lost_attachment")]
    refused = dataclasses.replace(BIRTH, index=7, code="", answered=False, refusal="missing_attachment")
    ex = _exports()
    ex["portal"]["dossiers"] = ex["portal"]["dossiers"][1:]
    ex["vss"]["cards"] = []
    assert _rules(ex, (refused, DEATH)) == [("#7", "lost_attachment")]
    ex = _exports()
    d = ex["portal"]["dossiers"][0]
    d["status"] = "rejected"
    d["steps"] = [{"step": "ks", "status": "rejected", "error": {"code": "missing_attachment"}}]
    ex["vss"]["cards"], ex["justice"]["births"] = [], []
    assert _rules(ex) == [(BIRTH.code, "lost_attachment")]


def test_a_card_valid_to_the_end_of_its_issue_year_is_named_as_such() -> None:
    ex = _exports()
    ex["vss"]["cards"][0].update(valid_to="2026-12-31", issued_on="2026-03-09")  # incident F8
    (v,) = reconcile(S, [BIRTH, DEATH], ex).violations
    assert v.rule == "card_validity" and "31/12 of the issue year" in v.detail and "2032-09-30" in v.detail


def test_police_records_under_another_dossier_code_are_a_code_mismatch() -> None:
    ex = _exports()
    ex["police"]["pid_requests"][0]["dossier_code"] = BIRTH.code  # matches: fine
    ex["police"]["residences"][0]["dossier_code"] = "BCA-001202603090000001"  # incident F3
    ex["police"]["removals"][0]["dossier_code"] = "BCA-001202603090000002"
    rec = reconcile(S, [BIRTH, DEATH], ex)
    assert [(v.dossier, v.rule) for v in rec.violations] == [
        (BIRTH.code, "code_mismatch"),
        (DEATH.code, "code_mismatch"),
    ]
    assert "residence under dossier code BCA-" in rec.violations[0].detail


def _in_work(ex: dict[str, Any], index: int, steps: dict[str, str]) -> dict[str, Any]:
    """``ex`` with dossier ``index`` as the portal showed it still at a desk, ``steps`` by status."""
    dossier = ex["portal"]["dossiers"][index]
    dossier["status"] = "in_progress"
    dossier["steps"] = [{"step": step, "status": status} for step, status in steps.items()]
    return ex


def test_records_made_after_the_portal_read_for_a_dossier_in_work_are_not_strays() -> None:
    # Agencies in time work on while the registers are read (portal first): the birth's PID and
    # card, and the death's record and payment, were all made after the portal showed them waiting.
    assert S.load.agencies == "in_time"
    ex = _in_work(_exports(), 0, {"ks": "done", "pid": "waiting", "tt": "pending", "bhyt": "pending"})
    ex = _in_work(ex, 1, {"kt": "waiting", "xtt": "pending", "funeral_vss": "pending"})
    rec = reconcile(S, [BIRTH, DEATH], ex)
    assert rec.passed, rec.violations
    assert rec.checked["in_work"] == 2


def test_a_card_no_dossier_in_work_can_be_traced_to_is_still_a_stray() -> None:
    ex = _in_work(_exports(), 0, {"ks": "done", "pid": "waiting", "tt": "pending", "bhyt": "pending"})
    ex["police"]["pid_requests"][0]["birth_register_no"] = "KS-OTHER"  # the card's PID was someone else's
    ex["vss"]["funeral_allowances"].append({"death_register_no": "KT-9", "amount_vnd": 23_400_000})
    assert _rules(ex) == [("-", "card_for_someone_else"), ("-", "payment_for_someone_else")]


def _social_death(cause: str, amount: int) -> tuple[Submission, dict[str, Any]]:
    """A social-protection beneficiary's death (2026-03-08) with its notice's ``cause``, paid ``amount``."""
    sub = dataclasses.replace(DEATH, status="social")
    ex = _exports()
    ex["portal"]["dossiers"][1]["steps"] = [
        {"step": "kt", "status": "done"}, {"step": "xtt", "status": "done"},
        {"step": "funeral_vss", "status": "skipped"}, {"step": "funeral_social", "status": "done"},
    ]
    ex["justice"]["deaths"][0]["cause"] = cause
    ex["vss"]["funeral_allowances"] = []
    ex["social"]["funeral_supports"] = [{"death_register_no": "KT-1", "amount_vnd": amount}]
    return sub, ex


def test_emergency_funeral_support_is_checked_at_50_times_the_standard_level() -> None:
    # ND 20/2021 Art. 14 (DOMAIN.md §6, CONTRACT §8): a traffic accident brings 50 × the standard
    # level (500,000 VND from 2024-07-01), not the 20 × of a death from illness
    for cause, paid, ok in (("Bệnh tim", 10_000_000, True), ("Tai nạn giao thông", 25_000_000, True),
                            ("Tai nạn giao thông", 10_000_000, False), ("Bệnh tim", 25_000_000, False)):
        sub, ex = _social_death(cause, paid)
        assert _rules(ex, (BIRTH, sub)) == ([] if ok else [(sub.code, "payment_amount")]), (cause, paid)
