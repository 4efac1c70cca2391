"""``lienthong run`` end to end: real fakes (child process), real Locust (child process), real files.

The test process itself never imports Locust: ``run_scenario`` starts the load in a child.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

import scenarios
from lienthong._comparison import twin_prediction
from lienthong.cli import app
from lienthong.live import RunSettings, run_scenario
from loadtests._merge import merge


def _short(s: scenarios.Scenario, wall_s: float = 5.0) -> float:
    """The speed that plays the scenario's days in ``wall_s`` seconds."""
    return s.load.days * 1440 * 60 / wall_s


def test_a_compressed_day_runs_end_to_end_and_reconciles(tmp_path: Path) -> None:
    s = scenarios.load("hanoi-baseline")
    out = run_scenario(
        s, RunSettings(speed=_short(s), multiplier=0.2, out=tmp_path, drain_s=20), twin=twin_prediction
    )
    files = {p.name for p in out.path.iterdir()}
    assert {"manifest.json", "metrics.json", "report.html", "report.md", "junit.xml"} <= files
    assert {"throughput.png", "latency.png", "backlog.png"} <= files
    assert out.reconciliation.passed, out.reconciliation.violations[:5]
    assert out.exit_code == 0 and out.report.verdict.startswith("Yes:"), out.report.verdict
    assert out.reconciliation.complete and out.reconciliation.sources["vss"].startswith("admin export")
    manifest = json.loads((out.path / "manifest.json").read_text())
    assert manifest["exit_code"] == 0 and manifest["kind"] == "run"
    merged = merge(out.path / "load")
    # every arrival of the stream got exactly one journey row, in dossier order
    assert merged.journeys["dossier"].tolist() == list(range(merged.journeys.size))
    assert out.metrics["outcomes"]["not_started"] == 0
    assert out.metrics["twin"]["services"]["birth"]["arrivals"] == int(
        np.sum(merged.journeys["service"] == 0)
    )
    html = (out.path / "report.html").read_text()
    assert "data:image/png;base64" in html and "001" not in out.report.verdict


def test_a_crash_of_the_fakes_mid_run_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    s = scenarios.load("hanoi-baseline")
    settings = RunSettings(speed=_short(s, 6.0), multiplier=0.2, out=tmp_path, drain_s=25, crash_after_s=3.0)
    out = run_scenario(s, settings)
    assert out.reconciliation.passed, out.reconciliation.violations[:5]
    assert out.metrics["outcomes"]["completed"] > 0
    log = (out.path / "fakes" / "clock.json").read_text()
    assert json.loads(log)["speed"] == settings.speed  # the restart kept the run's clock


def test_bad_input_exits_2_with_the_problem_named() -> None:
    result = CliRunner().invoke(app, ["run", "--speed", "0"])
    assert result.exit_code == 2
    assert "--speed" in result.output


def test_an_unknown_scenario_exits_2() -> None:
    result = CliRunner().invoke(app, ["run", "no-such-scenario"])
    assert result.exit_code == 2


def test_load_with_an_unknown_scenario_or_bad_target_exits_2() -> None:
    unknown = CliRunner().invoke(app, ["load", "hanoi-baseln", "--target", "http://127.0.0.1:9"])
    assert unknown.exit_code == 2
    assert "did you mean 'hanoi-baseline'" in unknown.output
    bad = CliRunner().invoke(app, ["load", "hanoi-baseline", "--target", "ftp://x"])
    assert bad.exit_code == 2
    assert "--target must be an http(s) URL" in bad.output


def test_the_test_process_was_never_patched_by_gevent() -> None:
    assert "locust" not in sys.modules
    import socket

    assert socket.socket.__module__ == "socket"


def test_a_scenario_with_a_task_the_fakes_do_not_run_exits_2_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "twin-only.toml"
    path.write_text('extends = "hanoi-baseline"\n[meta]\nname = "t"\n'
                    '[steps.ks]\ntask = "twin:court_review"\n', encoding="utf-8")
    for args in (["run", str(path), "--instant"], ["fakes", "serve", "--scenario", str(path), "--port", "0"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "steps.ks.task" in result.output and "twin:court_review" in result.output


def test_dossiers_whose_retries_run_out_fail_the_run_by_name(tmp_path: Path) -> None:
    """VSS answers 503 from 10:00 to the end of the day and the portal's retry budget is one hour:
    the birth dossiers with a card step end ``failed`` (not stuck, not silent): counted in the
    outcomes, named in the checks and the reconciliation, and the run exits 1."""
    path = tmp_path / "vss-down.toml"
    path.write_text(
        'extends = "hanoi-baseline"\n[meta]\nname = "vss-down"\n'
        '[load.portal_retry]\nwithin = "1h"\n'
        '[[faults]]\nkind = "error"\nagency = "vss"\nstart = "10h"\nend = "1d"\nrate = 1.0\nstatus = 503\n',
        encoding="utf-8")
    s = scenarios.load(str(path))
    out = run_scenario(s, RunSettings(speed=_short(s, 6.0), multiplier=0.1, out=tmp_path / "runs", drain_s=20,
                                      instant=True))
    failed = out.metrics["outcomes"]["failed"]
    assert failed > 0 and out.metrics["outcomes"]["stuck"] == 0
    assert out.metrics["outcomes"]["completed"] > 0  # the morning's dossiers, and those without a card
    rules = [v.rule for v in out.reconciliation.violations]
    assert rules.count("failed_dossier") == failed and set(rules) == {"failed_dossier"}
    details = [v.detail for v in out.reconciliation.violations]
    assert all(d.startswith(("bhyt (vss): vss did not take POST /vss/child-cards: last answer 503",
                             "funeral_vss (vss): vss did not take POST /vss/funeral-allowances: "
                             "last answer 503")) for d in details), details[:3]
    assert out.exit_code == 1
    report = (out.path / "report.md").read_text(encoding="utf-8")
    assert f"{failed} failed (retries ran out at bhyt (vss) ×" in report
    births = out.metrics["journeys"]["birth"]
    assert births["failed"] + births["completed"] + births["rejected"] + births["open"] + births["stuck"] \
        <= births["count"] and births["attainment"] < 1.0


def test_a_scenario_that_shares_the_citizen_key_is_driven_with_it(tmp_path: Path) -> None:
    """``callers.citizen.shared = true``: the load test submits and polls online dossiers with the
    one shared key (not a key per applicant); everything completes and reconciles."""
    import sqlite3

    path = tmp_path / "shared.toml"
    path.write_text('extends = "hanoi-baseline"\n[meta]\nname = "shared-citizen-key"\n'
                    '[callers.citizen]\nshared = true\n', encoding="utf-8")
    s = scenarios.load(str(path))
    out = run_scenario(s, RunSettings(speed=_short(s), multiplier=0.1, out=tmp_path / "runs", drain_s=15,
                                      instant=True))
    assert out.reconciliation.passed, out.reconciliation.violations[:5]
    with sqlite3.connect(out.path / "fakes" / "portal.db") as db:
        docs = [json.loads(d) for (d,) in db.execute("SELECT doc FROM dossiers")]
    online = [d for d in docs if d["channel"] == "online"]
    assert online and all(d["shared_key"] and d["caller"] == "citizen" for d in online)
    assert all(not d["shared_key"] for d in docs if d["channel"] == "desk")
