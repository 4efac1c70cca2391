"""``lienthong run`` with real systems in the loop: where each agency is, reconciliation through
each agency's own read endpoints, and a report whatever fails.

Real fakes (child processes), real Locust (child process), a real HTTP proxy standing in for
someone else's endpoints.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import scenarios
from fakes.serve import start_subprocess
from lienthong.cli import app
from lienthong.live import RunSettings, run_scenario
from loadtests.placement import place
from loadtests.registers import ContractRegisters, NotVerifiable
from tests.loadtests._proxy import Proxy

S = scenarios.load("hanoi-baseline")
FAST = S.load.days * 1440 * 60 / 6.0  # the scenario's day in 6 s of wall time


def _with_vss_at(url: str) -> scenarios.Scenario:
    agencies = dict(S.agencies)
    agencies["vss"] = agencies["vss"].model_copy(update={"base_url": url})
    return S.model_copy(update={"agencies": agencies})


def test_an_agency_with_a_base_url_is_a_real_system_and_the_fakes_serve_the_rest() -> None:
    mixed = place(_with_vss_at("http://127.0.0.1:9517"), None, "http://127.0.0.1:8870")
    assert mixed.urls["vss"] == "http://127.0.0.1:9517" and "vss" not in mixed.embedded
    assert set(mixed.embedded) == {"health", "justice", "police", "social", "portal"}
    assert mixed.portal == "http://127.0.0.1:8870"
    lines = {line.split()[0]: line for line in mixed.lines()}
    assert "real system" in lines["vss"] and "reference fakes" in lines["police"]
    theirs = place(S, "http://127.0.0.1:9000", None)
    assert theirs.embedded == () and set(theirs.urls.values()) == {"http://127.0.0.1:9000"}


def test_the_fakes_do_not_serve_an_agency_the_scenario_places_elsewhere(tmp_path: Path) -> None:
    with start_subprocess(_with_vss_at("http://127.0.0.1:9"), tmp_path) as fakes:
        health = httpx.get(fakes.base_url + "/healthz").json()
        assert "vss" not in health["agencies"] and "police" in health["agencies"]
        r = httpx.get(fakes.base_url + "/admin/export/vss", headers={"X-API-Key": fakes.key("admin")})
        assert r.status_code == 404 and r.json()["code"] == "unknown_agency"


def test_register_reads_that_cannot_be_made_are_not_verifiable_and_named(tmp_path: Path) -> None:
    with start_subprocess(S, tmp_path) as fakes:
        urls = dict.fromkeys(("health", "justice", "police", "vss", "social", "portal"), fakes.base_url)
        with ContractRegisters(urls, fakes.key("auditor")) as regs:
            assert regs.find("vss", "cards", "pid", "001226000042") == []
            assert regs.find("portal", "dossiers", "id", "G1-001-20260309-000001") == []
        with ContractRegisters(urls, fakes.key("hospital")) as regs, pytest.raises(NotVerifiable) as refused:
            regs.find("vss", "cards", "pid", "001226000042")
        assert refused.value.agency == "vss" and "403" in refused.value.reason
        hide = lambda method, path: "?" in path  # noqa: E731 - serves no register read
        with Proxy(fakes.base_url, hide) as proxy:
            bare = dict.fromkeys(urls, proxy.url)
            with ContractRegisters(bare, fakes.key("auditor")) as regs:
                with pytest.raises(NotVerifiable) as absent:
                    regs.find("justice", "births", "birth_certificate_id", "GCS-01001-2026-000001")
                assert "GET /justice/births?birth_certificate_id=… answered 404" in absent.value.reason


@pytest.mark.slow
def test_a_target_without_register_reads_ends_with_a_report_marking_what_is_not_verifiable(
    tmp_path: Path,
) -> None:
    """Someone else's ecosystem that serves the writes and polls but neither ``/admin/export``
    nor the register reads: the run completes, says what it could not verify, and fails."""
    with start_subprocess(S, tmp_path / "theirs", speed=FAST) as fakes:
        hide = lambda method, path: path.startswith("/admin") or "?" in path  # noqa: E731
        with Proxy(fakes.base_url, hide) as proxy:
            out = run_scenario(
                S, RunSettings(target=proxy.url, multiplier=0.1, out=tmp_path / "runs", drain_s=20)
            )
    assert out.exit_code == 1
    assert out.report.verdict.startswith("Not verified:"), out.report.verdict
    rec = json.loads((out.path / "metrics.json").read_text())["metrics"]["reconciliation"]
    assert rec["status"] == "not verified" and rec["violations"] == 0
    assert rec["not_verifiable"]["birth_record"] > 0 and rec["not_verifiable"]["card"] > 0
    assert "answered 404" in rec["not_verifiable_reasons"]["justice"]
    assert all(src.startswith("contract reads at " + proxy.url) for src in rec["sources"].values())
    assert "registers verified" in (out.path / "junit.xml").read_text()
    assert "not verifiable" in (out.path / "report.html").read_text().lower()


@pytest.mark.slow
def test_a_failed_stage_still_writes_the_report_with_the_error(tmp_path: Path) -> None:
    """The load process cannot start (the scenario has no hospital caller): the run ends with a
    report saying which stage failed, exit 1."""
    broken = S.model_copy(update={"callers": {k: v for k, v in S.callers.items() if k != "hospital"}})
    out = run_scenario(broken, RunSettings(speed=FAST, multiplier=0.05, out=tmp_path, drain_s=5))
    assert out.exit_code == 1
    assert out.report.verdict.startswith("No: the run failed — driving the load failed"), out.report.verdict
    assert {"report.html", "report.md", "junit.xml", "metrics.json"} <= {p.name for p in out.path.iterdir()}
    metrics = json.loads((out.path / "metrics.json").read_text())["metrics"]
    assert "hospital" in metrics["error"]


def test_a_twin_that_fails_is_reported_beside_the_measurement(tmp_path: Path) -> None:
    def broken_twin(*_: object) -> dict[str, object]:
        raise RuntimeError("the twin exploded")

    settings = RunSettings(speed=FAST, multiplier=0.05, out=tmp_path, drain_s=10)
    out = run_scenario(S, settings, twin=broken_twin)
    assert out.exit_code == 0 and out.report.verdict.startswith("Yes:"), out.report.verdict
    md = (out.path / "report.md").read_text()
    assert "The twin could not run: RuntimeError: the twin exploded" in md
    assert "the twin exploded" in (out.path / "junit.xml").read_text()


def test_agency_options_name_a_bad_value_and_exit_2() -> None:
    unknown = CliRunner().invoke(app, ["run", "--agency", "bank=http://127.0.0.1:9"])
    assert unknown.exit_code == 2 and "--agency 'bank=http://127.0.0.1:9'" in unknown.output
    not_http = CliRunner().invoke(app, ["run", "--agency", "vss=ftp://127.0.0.1:9"])
    assert not_http.exit_code == 2 and "http(s) URL" in not_http.output
    port = CliRunner().invoke(app, ["run", "--fakes-port", "70000"])
    assert port.exit_code == 2 and "--fakes-port" in port.output
