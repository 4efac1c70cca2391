"""Grading, stamping and the certificate's folder as the front door writes it (manifest, JSON,
HTML and junit from the one report writer)."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from certify._exchanges import Exchange
from certify._outcomes import Outcome
from certify.certificate import EXIT_CODES, Certificate, Result, grade, verify
from certify.requirements import PHASES, requirements_for
from lienthong._report_certificate import mask_argv, write_certification
from scenarios import load

_REQS = {r.id: r for r in requirements_for("vss")}


def _res(rid: str, status: str, **data: object) -> Result:
    ex = Exchange("POST", "http://127.0.0.1:9/vss/child-cards",
                  {"X-API-Key": "lt-portal-key-0001"}, {"pid": "001226000042"}, 201,
                  {"location": "/vss/child-cards/TE1011234567890"},
                  {"card_code": "TE1011234567890"}, caller="portal")
    return Result(_REQS[rid], Outcome(status, f"{rid} {status}", [ex], dict(data)))  # type: ignore[arg-type]


def test_grading_by_severity() -> None:
    assert grade([_res("VSS-CARD-001", "pass"), _res("VSS-IDEM-004", "pass")]) == "PASS"
    assert grade([_res("VSS-CARD-001", "pass"), _res("VSS-IDEM-004", "fail")]) == "CONDITIONAL PASS"
    assert grade([_res("VSS-CARD-001", "not run"), _res("VSS-IDEM-004", "pass")]) == "CONDITIONAL PASS"
    assert grade([_res("VSS-PERF-001", "fail"), _res("VSS-IDEM-004", "pass")]) == "FAIL"  # major
    assert grade([_res("VSS-CARD-002", "fail"), _res("VSS-IDEM-004", "fail")]) == "FAIL"  # critical
    # a suite error is no verdict on the vendor: INCOMPLETE, unless a failure is already established
    assert grade([_res("VSS-CARD-001", "pass"), _res("VSS-IDEM-004", "error")]) == "INCOMPLETE"
    assert grade([_res("VSS-IDEM-004", "fail"), _res("VSS-API-001", "error")]) == "INCOMPLETE"  # minor
    assert grade([_res("VSS-CARD-002", "fail"), _res("VSS-API-001", "error")]) == "FAIL"
    assert grade([_res("VSS-CARD-001", "pass")], missing=1) == "CONDITIONAL PASS"


def _every(status_of: dict[str, str]) -> Certificate:
    """A certificate with a result for every VSS requirement: ``pass`` unless named."""
    stamp = {**_cert().stamp, "phases": list(PHASES)}
    return Certificate(stamp, [_res(r.id, status_of.get(r.id, "pass")) for r in _REQS.values()],
                       _cert().coverage)


def test_the_grading_table_as_documented() -> None:
    """The table in certify/certificate.py's docstring and the README, row by row."""
    assert (_every({}).verdict, _every({}).exit_code) == ("PASS", 0)
    perf_left_out = _every({"VSS-PERF-001": "not run", "VSS-PERF-002": "not run"})
    assert (perf_left_out.verdict, perf_left_out.exit_code) == ("CONDITIONAL PASS", 3)
    assert perf_left_out.document()["not_run"]["phases"] == ["performance"]
    minor = _every({"VSS-IDEM-004": "fail"})
    assert (minor.verdict, minor.exit_code) == ("CONDITIONAL PASS", 3)
    error = _every({"VSS-CARD-003": "error"})
    doc = error.document()
    assert (doc["verdict"], doc["exit_code"]) == ("INCOMPLETE", 4)
    assert doc["summary"]["error"] == 1 and doc["summary"]["errors"] == ["VSS-CARD-003"]
    assert doc["summary"]["fail"] == 0  # never counted as the vendor's failure
    both = _every({"VSS-CARD-003": "error", "VSS-CARD-001": "fail"})
    assert (both.verdict, both.exit_code) == ("FAIL", 1)
    assert EXIT_CODES == {"PASS": 0, "FAIL": 1, "CONDITIONAL PASS": 3, "INCOMPLETE": 4}
    for row in ("FAIL (exit 1)", "INCOMPLETE (exit 4)", "CONDITIONAL PASS (exit 3)", "PASS (exit 0)"):
        assert row in doc["grading"]
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    for verdict, code in EXIT_CODES.items():
        assert f"| {verdict} | {code} |" in readme  # the README's table states the same codes


def test_a_certificate_missing_requirements_never_passes() -> None:
    """Results for one phase only (the others absent): the absent ones count as not run."""
    stamp = {**_cert().stamp, "phases": ["rules"]}
    rules_only = [_res(r.id, "pass") for r in _REQS.values() if r.phase == "rules"]
    cert = Certificate(stamp, rules_only, _cert().coverage)
    doc = cert.document()
    assert (doc["verdict"], doc["exit_code"]) == ("CONDITIONAL PASS", 3)
    assert doc["not_run"]["phases"] == ["contract", "resilience", "security", "performance"]
    assert doc["summary"]["requirements"] == len(_REQS) and doc["summary"]["not run"] == len(_REQS) - 10


def _cert(*extra: Result) -> Certificate:
    stamp = {"suite": "lienthong certify", "suite_version": "1.0+x", "agency": "vss",
             "target": "http://127.0.0.1:9", "scenario": "hanoi-baseline", "scenario_digest": "ab" * 32,
             "seed": 7, "date": "2026-03-09T00:00:00+00:00", "phases": ["rules"]}
    cov = {"contract_count": 6, "exercised_count": 1, "ratio": 1 / 6, "exercised": ["POST /vss/child-cards"],
           "missing": ["GET /vss/child-cards/{card_code}"]}
    return Certificate(stamp, [_res("VSS-CARD-001", "pass"), _res("VSS-CARD-002", "fail"), *extra], cov)


def _write(cert: Certificate, folder: Path) -> dict[str, Path]:
    write_certification(cert, folder, load("hanoi-baseline"), started=datetime.now(UTC),
                        argv=["lienthong", "certify", "vss"])
    return {"json": folder / "certificate.json", "html": folder / "certificate.html",
            "junit": folder / "junit.xml", "manifest": folder / "manifest.json"}


def test_sha256_covers_the_content(tmp_path: Path) -> None:
    paths = _write(_cert(), tmp_path)
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


def test_evidence_is_masked_but_the_reproducer_runs_as_written(tmp_path: Path) -> None:
    paths = _write(_cert(), tmp_path)
    text = "".join(p.read_text(encoding="utf-8") for p in paths.values())
    assert "lt-portal-key-0001" not in text  # the key is never written, not even in the reproducer
    for path in (paths["html"], paths["junit"], paths["manifest"]):  # the report writer masks all
        page = path.read_text(encoding="utf-8")
        assert "001226000042" not in page and "TE1011234567890" not in page
    doc = json.loads(paths["json"].read_text(encoding="utf-8"))
    evidence = doc["requirements"][0]["evidence"][0]
    assert evidence["request"]["body"] == {"pid": "001******042"}
    assert evidence["response"]["body"] == {"card_code": "TE1*********890"}
    assert evidence["request"]["headers"]["X-API-Key"] == "lt-p************01"
    assert evidence["response"]["headers"]["location"] == "/vss/child-cards/TE1*********890"
    without_curl = json.dumps({k: v for k, v in evidence.items() if k != "curl"})
    assert "001226000042" not in without_curl
    curl = evidence["curl"]  # the synthetic identifier in clear, the key from the environment
    assert curl.startswith("curl -sS -i -X POST http://127.0.0.1:9/vss/child-cards")
    assert "001226000042" in curl and '"X-API-Key: ${LIENTHONG_KEY:?' in curl and "caller portal" in curl


def test_junit_has_one_case_per_requirement(tmp_path: Path) -> None:
    root = ET.parse(_write(_cert(_res("VSS-IDEM-004", "not run")), tmp_path)["junit"]).getroot()
    cases = root.findall(".//testcase")
    assert [c.get("name", "").split()[0] for c in cases] == ["VSS-CARD-001", "VSS-CARD-002", "VSS-IDEM-004"]
    assert [c.get("classname") for c in cases] == ["rules", "rules", "resilience"]  # by phase
    assert cases[0].find("failure") is None and cases[0].find("skipped") is None
    failure = cases[1].find("failure")
    assert failure is not None and "VSS-CARD-002 fail" in failure.get("message", "")
    assert "curl -sS -i -X POST" in (failure.text or "")  # the reproducer travels with the failure
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert str(props["target"]).startswith("http://127.0.0.1") and props["seed"]
    skipped = cases[2].find("skipped")  # not run is skipped, never passed
    assert skipped is not None and "VSS-IDEM-004 not run" in skipped.get("message", "")
    assert cases[2].find("failure") is None


def test_html_puts_the_verdict_first_with_each_requirement(tmp_path: Path) -> None:
    page = html.unescape(_write(_cert(_res("VSS-IDEM-004", "not run")), tmp_path)["html"].read_text())
    verdict = page.index("FAIL — 1 passed, 1 failed, 21 not run of 23 requirements")
    assert verdict < page.index("VSS-CARD-001") and "Failed: VSS-CARD-002" in page
    for rid, status in (("VSS-CARD-001", "pass"), ("VSS-CARD-002", "fail"), ("VSS-IDEM-004", "not run")):
        assert f"{rid} {status}" in page  # the detail beside each requirement
    assert "POST http://127.0.0.1:9/vss/child-cards" in page and "→ 201" in page
    assert "curl -sS -i -X POST" in page


def test_the_folder_has_a_manifest_closed_with_the_verdicts_exit_code(tmp_path: Path) -> None:
    folder = tmp_path / "cert-vss"
    paths = _write(_cert(_res("VSS-IDEM-004", "not run")), folder)
    manifest = json.loads(paths["manifest"].read_text(encoding="utf-8"))
    assert manifest["kind"] == "certify" and manifest["id"] == "cert-vss" and manifest["seed"] == 7
    assert manifest["exit_code"] == 1 and manifest["verdict"] == "FAIL"
    assert set(manifest["files"]) == {"certificate.html", "certificate.json", "junit.xml"}
    ok = _write(Certificate(_cert().stamp, [_res("VSS-CARD-001", "pass"), _res("VSS-IDEM-004", "not run")],
                            _cert().coverage), tmp_path / "cond")
    assert json.loads(ok["manifest"].read_text(encoding="utf-8"))["exit_code"] == 3
    assert 'class="verdict na"' in ok["html"].read_text(encoding="utf-8")  # CONDITIONAL PASS


def test_the_api_key_stays_out_of_the_manifest() -> None:
    argv = ["lienthong", "certify", "vss", "--api-key", "vendor-secret-1", "--api-key=vendor-secret-2"]
    assert mask_argv(argv) == ["lienthong", "certify", "vss", "--api-key", "***", "--api-key=***"]


def test_the_cases_a_check_covered_are_shown(tmp_path: Path) -> None:
    cases = [{"case": "72-month day on 01/10: to 30/09 (boundary)", "born": "2025-10-01",
              "expected": "valid to 2031-09-30", "result": "pass"}, "born 29 February"]
    cert = Certificate(_cert().stamp, [_res("VSS-CARD-002", "pass", cases=cases)], _cert().coverage)
    paths = _write(cert, tmp_path)
    doc = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert doc["requirements"][0]["data"]["cases"] == cases  # data as it is
    page = html.unescape(paths["html"].read_text(encoding="utf-8"))
    assert "72-month day on 01/10: to 30/09 (boundary) · born: 2025-10-01 · expected: valid to " \
           "2031-09-30 → pass" in page
    assert "born 29 February" in page


def test_a_suite_error_is_shown_as_such(tmp_path: Path) -> None:
    cert = _every({"VSS-CARD-003": "error"})
    paths = _write(cert, tmp_path)
    page = html.unescape(paths["html"].read_text(encoding="utf-8"))
    assert "INCOMPLETE — 22 passed, 0 failed, 0 not run, 1 suite errors of 23 requirements" in page
    manifest = json.loads(paths["manifest"].read_text(encoding="utf-8"))
    assert manifest["exit_code"] == 4 and manifest["verdict"] == "INCOMPLETE"
