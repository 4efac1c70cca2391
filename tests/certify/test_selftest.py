"""The certification self-test, against real servers on 127.0.0.1 through the real CLI.

Each certification is ``lienthong certify`` in a child process (it starts the reference
ecosystem itself); the vendor is the reference fakes of one agency served alone, a broken
variant of them (``broken_vendors``), the reference served with its agencies in time (writes
answered 202 with a work resource, CONTRACT.md §13), or ``tests/vendor_vss``, a VSS written from
the contract alone. The certify children and the reference-based vendors are forked from one
primed parent (``tests.certify._forked``: the CLI's own ``main`` with its arguments, in a process
of its own, without paying the imports again); the independent VSS is started as a command.
The reference gets PASS for every agency, in time too, and so does the independent VSS; every broken
variant of every agency FAILs (or, breaking only a minor requirement, gets CONDITIONAL PASS) on
exactly the requirement ids it breaks, everything else passing. A second run with the same seed
gives the same ``results_digest`` and the same rule cases; another seed or a broken variant
another digest. The reference and independent runs are full ones (all five phases); a broken
variant runs rules, resilience and security and the costly phases only where its defect is.
Runs are short: 2 s performance phase at 8 requests/s, 4 schemathesis examples per operation and
mode; six go at once (they wait on child processes).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from certify.certificate import EXIT_CODES
from certify.requirements import AGENCIES, REQUIREMENTS
from fakes.serve import free_port
from tests.certify._forked import run_cli
from tests.certify.broken_vendors import (
    BROKEN,
    EXPECTED,
    IN_TIME,
    Vendor,
    start_independent_vss,
    start_vendor,
)

SEED, OTHER_SEED = 20250701, 7
INDEPENDENT = "independent"  # the vendor tests/vendor_vss (VSS only)
# the slow vendor takes ~4 cards/s: the declared rate is twice that
_ARGS = ["--rate", "8", "--perf-seconds", "2", "--contract-examples", "4"]
_SEVERITY = {r.id: r.severity for r in REQUIREMENTS}


class Run(NamedTuple):
    agency: str
    vendor: str  # "reference", a variant of broken_vendors.EXPECTED, or INDEPENDENT
    seed: int = SEED
    again: bool = False  # a second run of the same vendor and seed


REFERENCE = {a: Run(a, "reference") for a in AGENCIES}
# the agencies whose writes may be answered 202 with a work resource (CONTRACT.md §13)
IN_TIME_RUNS = {a: Run(a, IN_TIME) for a in ("justice", "police", "vss", "social")}
BROKEN_RUNS = {v: Run(agency, v) for v, (agency, _) in EXPECTED.items()}
_PHASE = {r.id: r.phase for r in REQUIREMENTS}
# A broken variant runs the cheap phases (rules, resilience, security) and, of the costly ones
# (contract: schemathesis; performance: a Locust process), only those where its defect is: the
# reference runs and the independent VSS run all five.
_CHEAP = ("rules", "resilience", "security")


def _phases(variant: str) -> tuple[str, ...]:
    wanted = set(_CHEAP) | {_PHASE[i] for i in EXPECTED[variant][1]}
    return tuple(p for p in ("contract", "rules", "resilience", "security", "performance") if p in wanted)
# the slow vendor first: its performance phase is the longest
RUNS = [BROKEN_RUNS["slow"], *REFERENCE.values(), *IN_TIME_RUNS.values(),
        *(r for v, r in BROKEN_RUNS.items() if v != "slow"),
        Run("vss", INDEPENDENT), Run("vss", "reference", again=True), Run("vss", "reference", OTHER_SEED)]


def _start(run: Run, upstream: str) -> Vendor:
    if run.vendor == INDEPENDENT:
        return start_independent_vss(upstream)
    return start_vendor(run.agency, run.vendor, upstream)


def _certify(run: Run, out: Path) -> dict[str, Any]:
    port = free_port()
    vendor = _start(run, f"http://127.0.0.1:{port}")
    try:
        proc = run_cli(
            ["certify", run.agency, "--base-url", vendor.base_url, "--ecosystem-port", str(port),
             "--out", str(out), "--seed", str(run.seed), *_ARGS,
             *(["--phases", ",".join(_phases(run.vendor))] if run.vendor in EXPECTED else [])],
            cwd=out.parent, timeout=300)  # any folder will do
    finally:
        vendor.stop()
    doc: dict[str, Any] = {}
    if (out / "certificate.json").exists():
        doc = json.loads((out / "certificate.json").read_text(encoding="utf-8"))
    return {"code": proc.returncode, "doc": doc, "folder": out, "stdout": proc.stdout[-3000:],
            "stderr": proc.stderr[-3000:], "vendor_exit": vendor.exit_code}


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
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[Run, dict[str, Any]]:
    root = tmp_path_factory.mktemp("certify")
    with ThreadPoolExecutor(6) as pool:
        futures = {run: pool.submit(_certify, run, root / "-".join(map(str, run))) for run in RUNS}
        return {run: f.result() for run, f in futures.items()}


def _statuses(doc: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["status"] for r in doc["requirements"]}


def _assert_full_pass(run: dict[str, Any], agency: str, seed: int = SEED) -> None:
    doc = run["doc"]
    assert doc, run["stderr"] or run["stdout"]
    bad = [(r["id"], r["status"], r["detail"]) for r in doc["requirements"] if r["status"] != "pass"]
    assert bad == []
    assert sorted(_statuses(doc)) == sorted(r.id for r in REQUIREMENTS if r.agency == agency)
    assert doc["verdict"] == "PASS" and run["code"] == 0
    assert doc["coverage"]["ratio"] == 1.0
    assert doc["certificate"]["seed"] == seed and doc["certificate"]["agency"] == agency
    _check_folder(run)


@pytest.mark.parametrize("agency", AGENCIES)
def test_reference_fakes_pass(runs: dict[Run, dict[str, Any]], agency: str) -> None:
    _assert_full_pass(runs[REFERENCE[agency]], agency)


@pytest.mark.parametrize("agency", sorted(IN_TIME_RUNS))
def test_reference_fakes_served_in_time_pass(runs: dict[Run, dict[str, Any]], agency: str) -> None:
    # a vendor may answer its writes 202 with a work resource (CONTRACT.md §13): certify follows
    # the work to completion and grades the record it holds; PASS in full
    run = runs[IN_TIME_RUNS[agency]]
    _assert_full_pass(run, agency)
    followed = [e for r in run["doc"]["requirements"] for e in r["evidence"] or []
                if e["response"]["status"] == 202
                and (e["response"].get("work") or {}).get("status") == "done"]
    assert followed, "no write was answered 202 and followed to its work's end"
    assert all(re.fullmatch(rf"/{agency}/work/[^/]+", e["response"]["work"]["location"]) for e in followed)


def test_an_independent_vss_written_from_the_contract_passes(runs: dict[Run, dict[str, Any]]) -> None:
    # tests/vendor_vss imports nothing of the reference: PASS, exit 0, every requirement run
    run = runs[Run("vss", INDEPENDENT)]
    _assert_full_pass(run, "vss")
    assert run["doc"]["summary"]["pass"] == 23
    assert run["vendor_exit"] == 0  # and it stopped cleanly on SIGTERM


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_broken_variant_fails_exactly(runs: dict[Run, dict[str, Any]], variant: str) -> None:
    agency, expected = EXPECTED[variant]
    run = runs[BROKEN_RUNS[variant]]
    doc = run["doc"]
    assert doc, run["stderr"] or run["stdout"]
    statuses = _statuses(doc)
    ran = _phases(variant)
    # exactly the ids it breaks fail; every other requirement of the phases run passed, and the
    # phases left out are listed as not run (never passed)
    assert {i for i, s in statuses.items() if s == "fail"} == set(expected), BROKEN[variant]
    assert {i for i, s in statuses.items() if s not in ("pass", "not run")} == set(expected)
    assert {i for i, s in statuses.items() if s == "not run"} == \
        {r.id for r in REQUIREMENTS if r.agency == agency and r.phase not in ran}
    assert sorted(statuses) == sorted(r.id for r in REQUIREMENTS if r.agency == agency)
    # graded by severity: FAIL (exit 1) on a critical or major; else CONDITIONAL PASS (exit 3):
    # minors only, or phases left out
    verdict = "FAIL" if {_SEVERITY[i] for i in expected} - {"minor"} else "CONDITIONAL PASS"
    assert doc["verdict"] == verdict and run["code"] == EXIT_CODES[verdict]
    assert doc["summary"]["failed"] == sorted(expected)
    _check_folder(run)
    for r in doc["requirements"]:
        if r["status"] == "fail":
            assert r["detail"] and (r["evidence"] or r["phase"] in ("performance", "security"))


def test_every_agency_has_broken_variants_across_phases() -> None:
    # at least three per agency, a business rule among them and a resilience or security defect
    phase = {r.id: r.phase for r in REQUIREMENTS}
    broken: dict[str, list[set[str]]] = defaultdict(list)
    for agency, ids in EXPECTED.values():
        assert ids and all(i.startswith(agency.upper() + "-") for i in ids)
        broken[agency].append({phase[i] for i in ids})
    for agency in AGENCIES:
        phases = set().union(*broken[agency])
        assert len(broken[agency]) >= 3, agency
        assert "rules" in phases and phases & {"resilience", "security"}, agency
    assert sorted(BROKEN) == sorted(EXPECTED)


def _cases(doc: dict[str, Any]) -> dict[str, Any]:
    """The cases each rule requirement was decided on (drawn from the seed)."""
    return {r["id"]: (r.get("data") or {}).get("cases") for r in doc["requirements"] if r["phase"] == "rules"}


def test_the_same_seed_gives_the_same_digest_another_seed_or_vendor_another(
        runs: dict[Run, dict[str, Any]]) -> None:
    first, again = runs[REFERENCE["vss"]]["doc"], runs[Run("vss", "reference", again=True)]["doc"]
    other = runs[Run("vss", "reference", OTHER_SEED)]
    _assert_full_pass(other, "vss", OTHER_SEED)
    # two runs, one seed: the same verdict, digest and rule cases (their documents differ: the
    # date, the ports and the timings are the run's own)
    assert first["verdict"] == again["verdict"] == "PASS"
    assert first["results_digest"] == again["results_digest"]
    assert first["sha256"] != again["sha256"]
    assert _cases(first) == _cases(again)
    assert _cases(first)["VSS-CARD-002"] and _cases(first)["VSS-FUN-001"]
    # another seed draws other cases and stamps another digest
    assert _cases(other["doc"])["VSS-CARD-002"] != _cases(first)["VSS-CARD-002"]
    assert other["doc"]["results_digest"] != first["results_digest"]
    # a broken vendor, same seed: another verdict, another digest
    broken = runs[BROKEN_RUNS["card_to_31_12"]]["doc"]
    assert broken["certificate"]["seed"] == SEED
    assert broken["results_digest"] != first["results_digest"]


def test_bad_input_exits_2(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "lienthong", "certify", "vss", "--base-url",
                           "ftp://nowhere"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--base-url must be an origin" in proc.stdout
