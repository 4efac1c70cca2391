"""Grading, stamping and the three renderings of a certificate."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from certify._exchanges import Exchange
from certify._outcomes import Outcome
from certify.certificate import Certificate, Result, grade, verify
from certify.requirements import requirements_for

_REQS = {r.id: r for r in requirements_for("vss")}


def _res(rid: str, status: str) -> Result:
    ex = Exchange("POST", "http://127.0.0.1:9/vss/child-cards",
                  {"X-API-Key": "lt-portal-key-0001"}, {"pid": "001226000042"}, 201, {},
                  {"card_code": "TE1011234567890"})
    return Result(_REQS[rid], Outcome(status, f"{rid} {status}", [ex]))  # type: ignore[arg-type]


def test_grading_by_severity() -> None:
    assert grade([_res("VSS-CARD-001", "pass"), _res("VSS-IDEM-004", "pass")]) == "PASS"
    assert grade([_res("VSS-CARD-001", "pass"), _res("VSS-IDEM-004", "fail")]) == "CONDITIONAL PASS"
    assert grade([_res("VSS-CARD-001", "not run"), _res("VSS-IDEM-004", "pass")]) == "CONDITIONAL PASS"
    assert grade([_res("VSS-PERF-001", "fail"), _res("VSS-IDEM-004", "pass")]) == "FAIL"  # major
    assert grade([_res("VSS-CARD-002", "fail"), _res("VSS-IDEM-004", "fail")]) == "FAIL"  # critical


def _cert() -> Certificate:
    stamp = {"suite": "lienthong certify", "suite_version": "1.0+x", "agency": "vss",
             "target": "http://127.0.0.1:9", "scenario": "hanoi-baseline", "scenario_digest": "ab" * 32,
             "seed": 7, "date": "2026-03-09T00:00:00+00:00", "phases": ["rules"]}
    cov = {"contract_count": 6, "exercised_count": 1, "ratio": 1 / 6, "exercised": ["POST /vss/child-cards"],
           "missing": ["GET /vss/child-cards/{card_code}"]}
    return Certificate(stamp, [_res("VSS-CARD-001", "pass"), _res("VSS-CARD-002", "fail")], cov)


def test_sha256_covers_the_content(tmp_path: Path) -> None:
    paths = _cert().write(tmp_path)
    doc = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert verify(doc)
    doc["verdict"] = "PASS"
    assert not verify(doc)
    assert doc["exit_code"] == 1 and doc["summary"]["failed"] == ["VSS-CARD-002"]


def test_results_digest_ignores_the_date() -> None:
    a, b = _cert(), _cert()
    b.stamp["date"] = "2027-01-01T00:00:00+00:00"
    assert a.results_digest() == b.results_digest()
    assert a.document()["sha256"] != b.document()["sha256"]


def test_evidence_is_masked_with_a_curl_reproducer(tmp_path: Path) -> None:
    paths = _cert().write(tmp_path)
    text = "".join(p.read_text(encoding="utf-8") for p in paths.values())
    for secret in ("001226000042", "TE1011234567890", "lt-portal-key-0001"):
        assert secret not in text
    doc = json.loads(paths["json"].read_text(encoding="utf-8"))
    curl = doc["requirements"][0]["evidence"][0]["curl"]
    assert curl.startswith("curl -sS -i -X POST http://127.0.0.1:9/vss/child-cards")
    assert "001******042" in curl and "lt-p************01" in curl


def test_junit_has_one_case_per_requirement(tmp_path: Path) -> None:
    root = ET.parse(_cert().write(tmp_path)["junit"]).getroot()
    cases = root.findall(".//testcase")
    assert [c.get("name", "").split()[0] for c in cases] == ["VSS-CARD-001", "VSS-CARD-002"]
    assert cases[1].find("failure") is not None and cases[0].find("failure") is None
