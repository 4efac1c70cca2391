from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from matplotlib.figure import Figure as MplFigure

from lienthong.report import (
    Check,
    Estimate,
    Figure,
    KeyFigure,
    Report,
    Section,
    Table,
    ThresholdResult,
    evaluate_thresholds,
    mask_id,
    read_metrics,
    scrub,
    verdict_from_thresholds,
)
from scenarios.model import Threshold


def th(metric: str, expr: str) -> Threshold:
    return Threshold(metric=metric, expr=expr)


def one(metric: str, expr: str, metrics: dict) -> ThresholdResult:
    [r] = evaluate_thresholds([th(metric, expr)], metrics)
    return r


# --- threshold evaluation ------------------------------------------------------------------------


def test_threshold_pass_and_fail_exact() -> None:
    m = {"birth.e2e": {"p95": 1.2, "unit": "wd"}, "death.e2e": {"p95": 6.5, "unit": "wd"}}
    ok = one("birth.e2e", "p95 <= 3wd", m)
    bad = one("death.e2e", "p95 <= 6wd", m)
    assert (ok.status, ok.observed, ok.limit, ok.unit) == ("pass", 1.2, 3.0, "wd")
    assert (bad.status, bad.observed, bad.failed) == ("fail", 6.5, True)
    assert bad.describe() == "death.e2e p95 = 6.50 WD (limit ≤ 6 WD): fail"


def test_threshold_boundaries_of_each_operator() -> None:
    m = {"x.y": {"count": 3}}
    assert [one("x.y", f"count {op} 3", m).status for op in ("<=", ">=", "<", ">", "==")] == [
        "pass",
        "pass",
        "fail",
        "fail",
        "pass",
    ]


def test_percent_thresholds_compare_fractions() -> None:
    m = {"birth.e2e": {"attainment": 0.949}, "http.errors": {"rate": 0.009}}
    att = one("birth.e2e", "attainment >= 95%", m)
    assert (att.status, att.limit, att.observed_text, att.limit_text) == ("fail", 0.95, "94.9%", "≥ 95%")
    assert one("http.errors", "rate < 1%", m).status == "pass"
    assert one("http.errors", "rate < 0.5%", m).status == "fail"


def test_clock_units_convert_into_the_thresholds_unit() -> None:
    m = {"http.latency": {"p95": 1500.0, "p50": 200.0, "unit": "ms"}, "job.time": {"max": 2.5, "unit": "s"}}
    r = one("http.latency", "p95 <= 1s", m)
    assert (r.status, r.observed, r.unit) == ("fail", 1.5, "s")
    assert one("http.latency", "p50 <= 0.25s", m).status == "pass"
    r = one("job.time", "max < 3000ms", m)
    assert (r.status, r.observed) == ("pass", 2500.0)


def test_working_days_do_not_convert_to_clock_time() -> None:
    r = one("birth.e2e", "p95 <= 3wd", {"birth.e2e": {"p95": 100.0, "unit": "ms"}})
    assert r.status == "fail"
    assert "unit mismatch" in r.note


def test_unit_on_a_unitless_statistic_is_a_failure_not_a_pass() -> None:
    r = one("reconcile.violations", "count <= 0wd", {"reconcile.violations": {"count": 0}})
    assert r.status == "fail"
    assert "takes no unit" in r.note


def test_not_measured_is_reported_not_passed() -> None:
    m = {"birth.e2e": {"p95": float("nan"), "p50": None}}
    missing_metric = one("http.latency", "p95 <= 1000ms", m)
    missing_stat = one("birth.e2e", "p99 <= 3wd", m)
    nan_value = one("birth.e2e", "p95 <= 3wd", m)
    none_value = one("birth.e2e", "p50 <= 3wd", m)
    for r in (missing_metric, missing_stat, nan_value, none_value):
        assert r.status == "not measured"
        assert not r.failed
        assert r.observed_text == "not measured"
    assert "http.latency" in missing_metric.note


def test_summary_statistics_with_ci_and_estimates() -> None:
    m = {
        "birth.e2e": {"p95": {"mean": 2.0, "ci95": [1.8, 2.3], "values": [1.9, 2.1]}, "unit": "wd"},
        "death.e2e": {"p95": Estimate(4.0, 0.5, "wd"), "p50": {"mean": None, "ci95": None}},
    }
    r = one("birth.e2e", "p95 <= 3wd", m)
    assert (r.status, r.observed, r.observed_text) == ("pass", 2.0, "2.00 ± 0.30 WD")
    assert r.half_width == pytest.approx(0.3)
    assert one("death.e2e", "p95 <= 3wd", m).status == "fail"
    assert one("death.e2e", "p50 <= 3wd", m).status == "not measured"


def test_hanoi_baseline_thresholds_on_a_twin_run() -> None:
    from scenarios import load

    metrics = {
        "birth.e2e": {"p95": 1.2, "attainment": 0.98, "unit": "wd"},
        "death.e2e": {"p95": 2.1, "unit": "wd"},
    }
    statuses = [r.status for r in evaluate_thresholds(load().thresholds, metrics)]
    assert statuses == ["pass", "pass", "pass", "not measured", "not measured", "not measured"]


def test_verdicts_from_thresholds() -> None:
    m = {"birth.e2e": {"p95": 4.6, "unit": "wd"}, "death.e2e": {"p95": 2.1, "unit": "wd"}}
    rs = evaluate_thresholds([th("birth.e2e", "p95 <= 3wd"), th("death.e2e", "p95 <= 6wd")], m)
    assert verdict_from_thresholds(rs) == (
        "No: 1 of 2 measured thresholds fails — birth.e2e p95 4.60 WD vs a limit of ≤ 3 WD."
    )
    assert verdict_from_thresholds(rs[1:]) == (
        "Yes: the run meets all 1 measured thresholds — death.e2e p95 2.10 WD (limit ≤ 6 WD)."
    )
    none = evaluate_thresholds([th("http.latency", "p95 <= 1s")], m)
    assert verdict_from_thresholds(none).startswith("Not judged")


# --- formatting and masking ---------------------------------------------------------------------


def test_estimate_formatting() -> None:
    assert str(Estimate(1.2, 0.05, "wd")) == "1.20 ± 0.05 WD"
    assert str(Estimate(0.9823, 0.004, "%")) == "98.2% ± 0.4%"
    assert str(Estimate(1234.5, None, "ms")) == "1,234 ms"
    assert str(Estimate(12.345)) == "12.3"
    with pytest.raises(ValueError, match="negative half-width -1"):
        Estimate(1.0, -1.0)


def test_mask_and_scrub() -> None:
    assert mask_id("001203004123") == "001******123"
    text = "citizen 001203004123, bhxh 0123456789, card TE1010123456789, run 20261123-031500-x-1a2b3c4d"
    assert (
        scrub(text)
        == "citizen 001******123, bhxh 012****789, card TE1*********789, run 20261123-031500-x-1a2b3c4d"
    )
    digest = "ab" + "1234567890123" + "cd"
    assert scrub(digest) == digest
    assert scrub("160000 dossiers") == "160000 dossiers"


# --- writing ------------------------------------------------------------------------------------


def _png(path: Path) -> Path:
    fig = MplFigure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [0, 1])
    fig.savefig(path)
    return path


def _report(tmp_path: Path) -> Report:
    png = _png(tmp_path / "elsewhere.png")
    metrics: dict[str, Any] = {
        "birth.e2e": {"p95": 4.6, "attainment": 0.69, "unit": "wd"},
        "note": {"text": "patient 001203004123"},
    }
    results = evaluate_thresholds(
        [
            th("birth.e2e", "p95 <= 3wd"),
            th("birth.e2e", "attainment >= 0.95"),
            th("http.latency", "p95 <= 1s"),
        ],
        metrics,
    )
    return Report(
        title="hanoi-baseline — twin",
        verdict="No: the vss BHYT card step fails — 31% late, p95 4.6 WD vs a 2 WD limit.",
        key_figures=[KeyFigure("birth p95", Estimate(4.6, 0.2, "wd"), status="fail")],
        sections=[
            Section(
                "Steps",
                text=["Per step, mean over replications ± 95% CI half-width."],
                tables=[
                    Table("Per step", ["step", "p95"], [["bhyt", Estimate(4.6, 0.3, "wd")], ["ks", 0.5]])
                ],
                figures=[Figure("Backlog", png, "open dossiers")],
            )
        ],
        thresholds=results,
        checks=[
            Check("Little's law", True, "L = λW within 2%"),
            Check("conservation", False, "3 lost: 001203004123"),
        ],
        metrics=metrics,
        notes=["capacity is [U]"],
        meta={"run": "20261123-031500-hanoi-baseline-sim-1a2b3c4d", "seed": "20250701"},
    )


def test_written_files_exist_and_parse(tmp_path: Path) -> None:
    report = _report(tmp_path)
    out = tmp_path / "run"
    paths = report.write(out)
    assert sorted(p.name for p in out.iterdir()) == [
        "elsewhere.png",
        "junit.xml",
        "metrics.json",
        "report.html",
        "report.md",
    ]
    assert paths["html"] == out / "report.html"

    html = paths["html"].read_text(encoding="utf-8")
    assert report.verdict in html
    assert html.count('<img alt="Backlog" src="data:image/png;base64,iVBORw0KGgo') == 1
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert "4.60 ± 0.30 WD" in html

    md = paths["md"].read_text(encoding="utf-8")
    assert f"**{report.verdict}**" in md
    assert "![Backlog](elsewhere.png)" in md
    assert "| bhyt | 4.60 ± 0.30 WD |" in md


def test_junit_has_one_testcase_per_threshold_and_check(tmp_path: Path) -> None:
    paths = _report(tmp_path).write(tmp_path / "run")
    root = ET.parse(paths["junit"]).getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == ["thresholds", "checks"]
    cases = suites["thresholds"].findall("testcase")
    assert [c.get("name") for c in cases] == ["p95 <= 3wd", "attainment >= 0.95", "p95 <= 1s"]
    fail = cases[0].find("failure")
    assert fail is not None and fail.get("message") == "birth.e2e p95 observed 4.60 WD, limit ≤ 3 WD"
    assert cases[1].find("failure") is not None
    assert cases[2].find("skipped") is not None
    assert suites["thresholds"].get("failures") == "2" and suites["thresholds"].get("skipped") == "1"
    assert len(suites["checks"].findall("testcase")) == 2
    assert root.get("tests") == "5" and root.get("failures") == "3"


def test_metrics_json_round_trips(tmp_path: Path) -> None:
    report = _report(tmp_path)
    report.write(tmp_path / "run")
    doc = read_metrics(tmp_path / "run")
    assert doc["metrics"]["birth.e2e"] == report.metrics["birth.e2e"]
    assert doc["verdict"] == report.verdict
    assert (doc["passed"], doc["exit_code"]) == (False, 1)
    assert [t["status"] for t in doc["thresholds"]] == ["fail", "fail", "not measured"]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == doc


def test_personal_data_never_written(tmp_path: Path) -> None:
    paths = _report(tmp_path).write(tmp_path / "run")
    for p in paths.values():
        text = p.read_text(encoding="utf-8")
        assert "001203004123" not in text, p.name
    assert "001******123" in paths["metrics"].read_text(encoding="utf-8")


def test_exit_code_follows_thresholds_and_checks(tmp_path: Path) -> None:
    ok = one("birth.e2e", "p95 <= 3wd", {"birth.e2e": {"p95": 1.0}})
    unmeasured = one("http.latency", "p95 <= 3s", {})
    assert Report("t", "Yes.", thresholds=[ok, unmeasured]).exit_code == 0
    assert Report("t", "No.", thresholds=[ok], checks=[Check("c", False)]).exit_code == 1


def test_numpy_values_and_nan_in_metrics(tmp_path: Path) -> None:
    import numpy as np

    r = Report("t", "Yes.", metrics={"a": np.float64(1.5), "b": np.arange(3), "c": math.nan, "d": (1, 2)})
    r.write(tmp_path)
    assert read_metrics(tmp_path)["metrics"] == {"a": 1.5, "b": [0, 1, 2], "c": None, "d": [1, 2]}


def test_misuse_raises_with_the_value(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a PNG file"):
        Figure("x", tmp_path / "x.svg")
    with pytest.raises(ValueError, match="row 0 has 1 cells, expected 2"):
        Table("t", ["a", "b"], [["only"]])
    with pytest.raises(ValueError, match="verdict"):
        Report("t", " ")
    with pytest.raises(TypeError, match="not JSON data"):
        Report("t", "v", metrics={"x": object()}).metrics_json()


def test_non_blocking_check_warns_without_failing(tmp_path: Path) -> None:
    r = Report("t", "Yes.", checks=[Check("Little's law", False, "off by 9%", blocking=False)])
    assert r.exit_code == 0
    paths = r.write(tmp_path)
    [case] = ET.parse(paths["junit"]).getroot().iter("testcase")
    assert case.find("failure") is None
    assert case.findtext("system-err") == "warning: off by 9%"
    assert '<span class="badge na">warning</span>' in paths["html"].read_text(encoding="utf-8")


def test_a_check_not_run_is_skipped_never_passed(tmp_path: Path) -> None:
    checks = [Check("ran", True), Check("prerequisite", False, "no card", skipped=True)]
    r = Report("t", "Partly.", checks=checks)
    assert r.passed and r.exit_code == 0 and r.checks[1].status == "not run"
    paths = r.write(tmp_path)
    cases = list(ET.parse(paths["junit"]).getroot().iter("testcase"))
    assert cases[1].find("skipped") is not None and cases[1].find("failure") is None
    assert cases[1].find("skipped").get("message") == "not run: no card"  # type: ignore[union-attr]
    assert '<span class="badge na">not run</span>' in paths["html"].read_text(encoding="utf-8")
    assert "| prerequisite | ⏭️ not run | no card |" in paths["md"].read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="not run has not passed"):
        Check("both", True, skipped=True)


def test_a_graded_exit_code_overrides_pass_fail(tmp_path: Path) -> None:
    r = Report("t", "CONDITIONAL PASS.", checks=[Check("minor", False, "off")], graded_exit_code=3)
    assert not r.passed and r.exit_code == 3
    page = r.write(tmp_path)["html"].read_text(encoding="utf-8")
    assert 'class="verdict na"' in page and "exit code 3" in page


# --- the twin's verdict -------------------------------------------------------------------------


def _stat(mean: float) -> dict[str, Any]:
    return {"mean": mean, "ci95": [mean * 0.9, mean * 1.1], "values": [mean]}


def _summary(bhyt_attainment: float, bhyt_p95: float, birth_p95: float) -> dict[str, Any]:
    def dist(p95: float) -> dict[str, Any]:
        return {k: _stat(p95) for k in ("mean", "p50", "p90", "p95", "p99", "max")}

    step = {"agency": "justice", "limit_wd": 0.0, "attainment": _stat(1.0), "elapsed_wd": dist(0.3)}
    return {
        "services": {
            "birth": {"deadline_wd": 3.0, "attainment": _stat(0.8), "e2e_wd": dist(birth_p95)},
            "death": {"deadline_wd": 6.0, "attainment": _stat(1.0), "e2e_wd": dist(2.1)},
        },
        "steps": {
            "ks": step,
            "bhyt": {
                "agency": "vss",
                "limit_wd": 2.0,
                "attainment": _stat(bhyt_attainment),
                "elapsed_wd": dist(bhyt_p95),
            },
        },
    }


def test_sim_verdict_yes_and_no() -> None:
    from lienthong._report_sim import flat_metrics, sim_verdict
    from scenarios import load

    s = load()
    good = _summary(0.99, 1.0, 1.2)
    results = evaluate_thresholds(s.thresholds[:1], flat_metrics(good))
    assert sim_verdict(s, good, results) == (
        "Yes: both groups meet their deadlines — birth p95 1.2 WD (limit 3), 80% on time, "
        "death p95 2.1 WD (limit 6), 100% on time."
    )
    bad = _summary(0.69, 4.6, 4.1)
    results = evaluate_thresholds(s.thresholds[:1], flat_metrics(bad))
    assert sim_verdict(s, bad, results) == (
        "No: the vss step bhyt (issue child card) fails — 31% late, p95 4.6 WD vs a 2 WD limit, "
        "so the birth group misses its deadline (birth p95 4.1 WD vs 3 WD, 80% on time)."
    )
