"""Grades that cannot lie, through the real CLI against a real vendor on 127.0.0.1.

The vendor is the reference VSS served alone (``broken_vendors.start_vendor``), calling its
upstream agencies through the certification's ecosystem port. Each certification is
``python -m lienthong certify`` in a child process with ``TMPDIR`` pointed at a fresh folder, so
the test can count the ``certify-*`` folders a run leaves behind (it must leave none).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from certify.requirements import requirements_for
from fakes.serve import free_port
from tests.certify.broken_vendors import Vendor, start_vendor

_FAST = ["--contract-examples", "4", "--seed", "20250702"]


@pytest.fixture(scope="module")
def vendor() -> Iterator[tuple[Vendor, int]]:
    port = free_port()
    v = start_vendor("vss", "reference", f"http://127.0.0.1:{port}")
    try:
        yield v, port
    finally:
        v.stop()


def _temp(tmp_path: Path) -> Path:
    temp = tmp_path / "temp"
    temp.mkdir()
    return temp


def _leftovers(temp: Path) -> list[str]:
    return sorted(p.name for p in temp.iterdir() if p.name.startswith("certify-"))


def _certify(vendor: tuple[Vendor, int], out: Path, temp: Path, *args: str,
             env: dict[str, str] | None = None) -> dict[str, Any]:
    v, port = vendor
    assert _leftovers(temp) == []
    proc = subprocess.run(
        [sys.executable, "-m", "lienthong", "certify", "vss", "--base-url", v.base_url,
         "--ecosystem-port", str(port), "--out", str(out), *_FAST, *args],
        cwd=out.parent, capture_output=True, text=True, timeout=300,
        env={**os.environ, "TMPDIR": str(temp), "COLUMNS": "200", **(env or {})})
    doc = json.loads((out / "certificate.json").read_text(encoding="utf-8")) \
        if (out / "certificate.json").exists() else {}
    return {"code": proc.returncode, "out": proc.stdout, "err": proc.stderr, "doc": doc,
            "left": _leftovers(temp), "cwd": sorted(p.name for p in out.parent.iterdir())}


@contextlib.contextmanager
def _running(vendor: tuple[Vendor, int], tmp_path: Path, temp: Path,
             *args: str) -> Iterator[subprocess.Popen[str]]:
    """``lienthong certify vss`` running in a child (``TMPDIR`` = ``temp``), killed on the way out
    if the test left it running."""
    v, port = vendor
    proc = subprocess.Popen(
        [sys.executable, "-m", "lienthong", "certify", "vss", "--base-url", v.base_url,
         "--ecosystem-port", str(port), "--out", str(tmp_path / "cert"), *args],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "TMPDIR": str(temp)})
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def rules_only(vendor: tuple[Vendor, int], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("rules-only")
    return _certify(vendor, root / "cert", _temp(root), "--phases", "rules")


def test_a_phase_subset_is_at_best_conditional_pass(rules_only: dict[str, Any]) -> None:
    run = rules_only
    doc = run["doc"]
    assert doc, run["out"] + run["err"]
    ran = [r for r in doc["requirements"] if r["phase"] == "rules"]
    assert ran and all(r["status"] == "pass" for r in ran), [(r["id"], r["detail"]) for r in ran]
    assert (doc["verdict"], doc["exit_code"], run["code"]) == ("CONDITIONAL PASS", 3, 3)
    assert doc["not_run"]["phases"] == ["contract", "resilience", "security", "performance"]
    left_out = {r.id for r in requirements_for("vss") if r.phase != "rules"}
    assert {r["id"] for r in doc["requirements"] if r["status"] == "not run"} == left_out
    assert all(r["detail"] == "phase " + r["phase"] + " left out (--phases rules)"
               for r in doc["requirements"] if r["id"] in left_out)
    assert doc["summary"]["requirements"] == len(requirements_for("vss"))
    assert re.search(r"^CONDITIONAL PASS — 10 passed, 0 failed, 13 not run of 23", run["out"], re.M)
    assert "not run: contract, resilience, security, performance" in run["out"]
    assert run["left"] == []  # the run's temporary folders are gone


def test_leaving_out_performance_alone_is_conditional_pass(tmp_path: Path) -> None:
    port = free_port()  # a fresh store, as the README asks of a vendor
    fresh = start_vendor("vss", "reference", f"http://127.0.0.1:{port}")
    try:
        run = _certify((fresh, port), tmp_path / "cert", _temp(tmp_path), "--phases",
                       "contract,rules,resilience,security")
    finally:
        fresh.stop()
    doc = run["doc"]
    assert doc, run["out"] + run["err"]
    bad = [(r["id"], r["status"], r["detail"]) for r in doc["requirements"]
           if r["phase"] != "performance" and r["status"] != "pass"]
    assert bad == []
    assert (doc["verdict"], run["code"]) == ("CONDITIONAL PASS", 3)
    assert doc["not_run"]["phases"] == ["performance"]
    assert "not run: performance" in run["out"] and run["left"] == []
    # nothing left in the folder it ran in but the certificate (Hypothesis kept its files there)
    assert run["cwd"] == ["cert", "temp"]


def test_a_suite_error_is_incomplete_not_the_vendors_fail(vendor: tuple[Vendor, int],
                                                          tmp_path: Path) -> None:
    """The load generator cannot start (a gevent that does not import, first on PYTHONPATH):
    the performance checks raise inside the suite. The vendor did nothing wrong."""
    broken = tmp_path / "site" / "gevent"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text('raise ImportError("gevent broken on purpose by the test")\n')
    path = os.pathsep.join(filter(None, [str(broken.parent), os.environ.get("PYTHONPATH")]))
    run = _certify(vendor, tmp_path / "cert", _temp(tmp_path), "--phases", "performance",
                   "--rate", "2", "--perf-seconds", "1", env={"PYTHONPATH": path})
    doc = run["doc"]
    assert doc, run["out"] + run["err"]
    perf = {r["id"]: r for r in doc["requirements"] if r["phase"] == "performance"}
    assert {r["status"] for r in perf.values()} == {"error"}
    for r in perf.values():
        assert r["detail"].startswith("suite error, not a verdict on the vendor")
        assert "gevent broken on purpose" in r["data"]["traceback"]
    assert (doc["verdict"], doc["exit_code"], run["code"]) == ("INCOMPLETE", 4, 4)
    assert doc["summary"]["fail"] == 0 and doc["summary"]["errors"] == sorted(perf)
    assert "suite errors (not a verdict on the vendor): VSS-PERF-001, VSS-PERF-002" in run["out"]
    manifest = json.loads((tmp_path / "cert" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["exit_code"] == 4
    assert run["left"] == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_removes_its_temporary_folders(vendor: tuple[Vendor, int], tmp_path: Path,
                                                          sig: signal.Signals) -> None:
    port = vendor[1]
    temp = _temp(tmp_path)
    with _running(vendor, tmp_path, temp, *_FAST) as proc:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # mid-run: the ecosystem answers behind the proxy
            try:
                up = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
                if up and _leftovers(temp):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("the certification never got its ecosystem up")
        assert _leftovers(temp)[0].startswith("certify-vss-")
        time.sleep(1.0)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out[-2000:]
    assert "interrupted (SIG" in out and "no certificate written" in out
    assert _leftovers(temp) == []
    assert not (tmp_path / "cert" / "certificate.json").exists()
    with pytest.raises(httpx.HTTPError):  # the reference ecosystem and its proxy are stopped
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)


def test_stopping_the_load_run_kills_its_load_process(vendor: tuple[Vendor, int], tmp_path: Path) -> None:
    temp = _temp(tmp_path)

    def generators() -> list[psutil.Process]:  # this run's load process (its files are in temp)
        return [p for p in psutil.process_iter(["cmdline"])
                if "certify._load_generator" in " ".join(p.info["cmdline"] or ())
                and str(temp) in " ".join(p.info["cmdline"] or ())]

    with _running(vendor, tmp_path, temp, "--phases", "performance", "--rate", "2",
                  "--perf-seconds", "60") as proc:
        deadline = time.monotonic() + 60
        while not generators() and time.monotonic() < deadline:
            time.sleep(0.2)
        (load,) = generators()
        time.sleep(2.0)  # mid-load
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out[-2000:]
    assert "interrupted (SIGTERM)" in out
    assert not load.is_running() or load.status() == psutil.STATUS_ZOMBIE
    assert generators() == [] and _leftovers(temp) == []


def test_reproducers_run_as_written(vendor: tuple[Vendor, int], rules_only: dict[str, Any]) -> None:
    """Every reproducer of the rules phase sent to the vendor, run with bash after the run: the
    vendor answers as recorded (writes replay under their Idempotency-Key, reads read). A
    refusal the vendor decides by reading an upstream agency cannot repeat once the
    certification's ecosystem is stopped: the vendor then says 502 upstream_error, and nothing
    else is accepted."""
    doc = rules_only["doc"]
    assert doc, rules_only["out"] + rules_only["err"]
    # the rules phase of an agency calls it as the portal (citizens, with their own keys per
    # CONTRACT.md §2, only appear in the portal's security phase)
    keys = {"portal": "lt-portal-key-0001"}
    same: list[tuple[str, str, int]] = []
    for r in doc["requirements"]:
        for e in r["evidence"]:
            curl, req = e["curl"], e["request"]
            if not req["url"].startswith(vendor[0].base_url) or req.get("caller") not in keys:
                continue
            # masked in the evidence, in clear in the reproducer
            if isinstance(req["body"], dict) and "pid" in req["body"]:
                assert "*" in req["body"]["pid"] and re.search(r'"pid": "\d{12}"', curl), curl
            if "*" in req["url"]:
                assert re.search(r"/[A-Z]{2}\d{13}", curl), curl
            assert "lt-" not in curl  # no key in the reproducer: it comes from $LIENTHONG_KEY
            done = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=30,
                                  env={**os.environ, "LIENTHONG_KEY": keys[req["caller"]]})
            assert done.returncode == 0, done.stderr
            status = int(done.stdout.split()[1])
            if status == e["response"]["status"]:
                same.append((r["id"], req["method"], status))
            else:
                assert (status, "upstream_error") == (502, json.loads(done.stdout.split("\n\n", 1)[1])
                                                      .get("code")), (r["id"], curl, done.stdout[-500:])
    statuses = {(m, s) for _, m, s in same}
    assert {("POST", 201), ("GET", 200), ("POST", 422)} <= statuses, same
    assert len(same) >= 8, same
    some = next(e["curl"] for r in doc["requirements"] for e in r["evidence"]
                if e["request"].get("caller") == "portal")
    unset = {k: v for k, v in os.environ.items() if k != "LIENTHONG_KEY"}
    missing = subprocess.run(["bash", "-c", some], capture_output=True, text=True, env=unset, timeout=30)
    assert missing.returncode != 0 and "set LIENTHONG_KEY to the API key of caller portal" in missing.stderr


def test_list_reads_at_80_columns() -> None:
    proc = subprocess.run([sys.executable, "-m", "lienthong", "certify", "vss", "--list"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for r in requirements_for("vss"):
        assert f"{r.id}  ({r.severity})" in lines
    text = " ".join(line.strip() for line in lines)
    assert "source: scenario [[thresholds]] http.latency" in text  # not "scenario []"
    for r in requirements_for("vss"):  # each sentence whole, in as few lines as 80 columns allow
        start = lines.index(f"{r.id}  ({r.severity})") + 1
        block = lines[start:next(i for i in range(start, len(lines)) if lines[i].startswith("  source:"))]
        assert " ".join(line.strip() for line in block) == r.text
        assert len(block) <= len(r.text) // 60 + 1, block


def test_the_default_rate_is_the_national_peak_and_the_achieved_rate_is_measured(
        vendor: tuple[Vendor, int], tmp_path: Path) -> None:
    run = _certify(vendor, tmp_path / "cert", _temp(tmp_path), "--phases", "performance",
                   "--perf-seconds", "6")
    perf = run["doc"]["performance"]
    assert perf, run["out"] + run["err"]
    derived = perf["declared_from"]
    assert derived["scenario"] == "national-2025" and derived["surge_scenario"] == "incident-f5-vneid-surge"
    assert perf["declared_rate_per_s"] == derived["rate_per_s"] == pytest.approx(2.08, abs=0.01)
    assert perf["requests"] == 13 and perf["sent"] == 13 and perf["seconds"] == 6  # ⌈2.08 × 6⌉
    # measured from the send times: close to the schedule's rate, and not copied from it
    assert perf["achieved_rate_per_s"] == pytest.approx(perf["planned_rate_per_s"], rel=0.1)
    assert "performance: declared 2.0798/s, achieved" in run["out"]
    assert run["left"] == []
