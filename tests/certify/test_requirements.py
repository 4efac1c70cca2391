"""The requirements table: stable, unique, every requirement decided by a check."""

from __future__ import annotations

import re

import pytest

from certify import contract, performance, resilience, rules, security
from certify.requirements import AGENCIES, PHASES, REQUIREMENTS, requirements_for, table_digest

_TABLES = {"contract": contract.CHECKS, "rules": rules.CHECKS, "resilience": resilience.CHECKS,
           "security": security.CHECKS, "performance": performance.CHECKS}


def test_ids_are_unique_and_prefixed_by_agency() -> None:
    ids = [r.id for r in REQUIREMENTS]
    assert len(ids) == len(set(ids)) == 116
    for r in REQUIREMENTS:
        assert re.fullmatch(r"[A-Z]+-[A-Z]+-\d{3}", r.id), r.id
        assert r.id.startswith(r.agency.upper() + "-")


@pytest.mark.parametrize("agency", AGENCIES)
def test_every_requirement_has_a_check(agency: str) -> None:
    for r in requirements_for(agency):
        table = _TABLES[r.phase]
        assert r.id in table or r.key in table, r.id


def test_every_check_decides_a_requirement_of_its_phase() -> None:
    for phase, table in _TABLES.items():
        decided = {r.id for r in REQUIREMENTS if r.phase == phase} | \
            {r.key for r in REQUIREMENTS if r.phase == phase}
        assert set(table) <= decided, (phase, sorted(set(table) - decided))


def test_checks_are_named_for_what_they_check_not_for_the_id() -> None:
    for table in _TABLES.values():
        for rid, check in table.items():
            area, number = rid.split("-")[-2:]
            assert f"{area.lower()}_{number}" not in check.__name__, (rid, check.__name__)


def test_sources_cite_domain_or_contract_and_severities_are_known() -> None:
    for r in REQUIREMENTS:
        assert "DOMAIN.md" in r.source or "CONTRACT.md" in r.source or "scenario" in r.source, r.id
        assert r.severity in ("critical", "major", "minor")
        assert r.phase in PHASES


def test_the_named_examples_exist() -> None:
    by_id = {r.id: r for r in REQUIREMENTS}
    assert by_id["VSS-CARD-003"].text.endswith("refused 422 child_too_old.")
    assert by_id["VSS-CARD-002"].severity == "critical"
    assert "F8" in by_id["VSS-CARD-002"].text


def test_bad_agency_and_phase_are_named() -> None:
    with pytest.raises(ValueError, match="unknown agency 'vsx'"):
        requirements_for("vsx")
    with pytest.raises(ValueError, match="unknown phase 'speed'"):
        requirements_for("vss", ("speed",))


def test_table_digest_is_stable() -> None:
    assert table_digest() == table_digest()
    assert len(table_digest()) == 64


@pytest.mark.parametrize(("rid", "table", "multiple"), [
    ("VSS-FUN-001", "base_pay", "funeral_base_pay_multiple"),
    ("SOCIAL-FUN-001", "standard_level", "social_funeral_multiple")])
def test_amounts_in_the_text_are_the_scenarios_rates(rid: str, table: str, multiple: str) -> None:
    # the text names every amount the rule check draws cases around (either side of each rate
    # change of the scenario's money table): every rate times the multiple, and each change's date
    from scenarios import load

    money = load("hanoi-baseline").money
    text = {r.id: r.text for r in REQUIREMENTS}[rid]
    named = [int(a.replace(",", "")) for a in re.findall(r"(\d{1,3}(?:,\d{3})+) VND", text)]
    dates = re.findall(r"\d{4}-\d{2}-\d{2}", text)
    rates = [(str(r.since), r.vnd * getattr(money, multiple)) for r in getattr(money, table)]
    assert named == [vnd for _, vnd in rates]
    assert dates == [since for since, _ in rates[1:]]
