"""The certification self-test, against real servers on 127.0.0.1 through the real CLI.

Each certification is ``lienthong certify`` in a child process (it starts the reference
ecosystem itself); the vendor is the reference fakes of one agency served alone, or a broken
variant of them (``broken_vendors``). The reference gets PASS for every agency; every broken
variant FAILs on exactly the requirement ids it breaks. Runs are short (2 s performance phase at
8 requests/s, 6 schemathesis examples per operation and mode) and four go at once.
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from certify.requirements import AGENCIES
from fakes.serve import free_port
from tests.certify.broken_vendors import EXPECTED, start_vendor

RUNS = [(a, "reference") for a in AGENCIES] + [(agency, v) for v, (agency, _) in EXPECTED.items()]
# the slow vendor takes ~4 cards/s: the declared rate is twice that
_ARGS = ["--rate", "8", "--perf-seconds", "2", "--contract-examples", "6", "--seed", "20250701"]


def _certify(agency: str, variant: str, out: Path) -> dict[str, Any]:
    port = free_port()
    vendor = start_vendor(agency, variant, f"http://127.0.0.1:{port}")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "lienthong", "certify", agency, "--base-url", vendor.base_url,
             "--ecosystem-port", str(port), "--out", str(out), *_ARGS],
            cwd=out.parent, capture_output=True, text=True, timeout=240)  # any folder will do
    finally:
        vendor.stop()
    doc: dict[str, Any] = {}
    if (out / "certificate.json").exists():
        doc = json.loads((out / "certificate.json").read_text(encoding="utf-8"))
    return {"code": proc.returncode, "doc": doc, "folder": out, "stdout": proc.stdout[-3000:],
            "stderr": proc.stderr[-3000:]}


def _check_folder(run: dict[str, Any]) -> None:
    """The folder the front door wrote: manifest closed with the exit code, a junit testcase per
    requirement (failures carry their detail), the verdict on the page."""
    folder, doc = run["folder"], run["doc"]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "certify" and manifest["exit_code"] == run["code"]
    cases = ET.parse(folder / "junit.xml").getroot().findall(".//testcase")
    assert [c.get("name", "").split()[0] for c in cases] == [r["id"] for r in doc["requirements"]]
    for case, r in zip(cases, doc["requirements"], strict=True):
        failure = case.find("failure")
        assert (failure is not None) == (r["status"] == "fail")
        assert failure is None or failure.get("message") == r["detail"]
    assert doc["verdict"] in html.unescape((folder / "certificate.html").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    root = tmp_path_factory.mktemp("certify")
    with ThreadPoolExecutor(4) as pool:
        futures = {run: pool.submit(_certify, *run, root / f"{run[0]}-{run[1]}") for run in RUNS}
        return {run: f.result() for run, f in futures.items()}


def _failed(doc: dict[str, Any]) -> set[str]:
    return {r["id"] for r in doc["requirements"] if r["status"] == "fail"}


@pytest.mark.parametrize("agency", AGENCIES)
def test_reference_fakes_pass(runs: dict[tuple[str, str], dict[str, Any]], agency: str) -> None:
    run = runs[(agency, "reference")]
    doc = run["doc"]
    assert doc, run["stderr"] or run["stdout"]
    bad = [(r["id"], r["status"], r["detail"]) for r in doc["requirements"] if r["status"] != "pass"]
    assert bad == []
    assert doc["verdict"] == "PASS" and run["code"] == 0
    assert doc["coverage"]["ratio"] == 1.0
    assert doc["certificate"]["seed"] == 20250701 and doc["certificate"]["agency"] == agency
    _check_folder(run)


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_broken_variant_fails_exactly(runs: dict[tuple[str, str], dict[str, Any]], variant: str) -> None:
    agency, expected = EXPECTED[variant]
    run = runs[(agency, variant)]
    doc = run["doc"]
    assert doc, run["stderr"] or run["stdout"]
    assert _failed(doc) == set(expected)
    assert [r["id"] for r in doc["requirements"] if r["status"] == "not run"] == []
    assert doc["verdict"] == "FAIL" and run["code"] == 1
    _check_folder(run)
    for r in doc["requirements"]:
        if r["status"] == "fail":
            assert r["detail"] and (r["evidence"] or r["phase"] in ("performance", "security"))


def test_bad_input_exits_2(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "lienthong", "certify", "vss", "--base-url",
                           "ftp://nowhere"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--base-url must be an origin" in proc.stdout
