"""``lienthong sim`` and ``lienthong size`` end to end on a tiny scenario (real twin, real files)."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lienthong.cli import app
from tests.sim.conftest import SLOW_CARD_STEP, only_run, tiny_toml, toml_at

TINY = tiny_toml(days=7, replications=2, warmup_days=1)

# The child-card step takes an hour a card at one desk: ~3.6 desks of work a day, so it fails.
# Two weeks, so that dossiers stuck behind it can be older than the 3 WD deadline at the horizon.
SLOW_CARD = TINY.replace('name = "tiny"', 'name = "tiny-slow-card"') + SLOW_CARD_STEP
runner = CliRunner()


def test_sim_writes_a_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    result = runner.invoke(app, ["sim", toml_at(tmp_path, TINY), "--days", "7", "-r", "2", "-w", "1",
                                 "--out", str(out), "--records"])  # fmt: skip
    assert result.exit_code == 0, result.output
    run = only_run(out)
    assert run.name.startswith("tiny-sim-", 16)
    names = {p.name for p in run.iterdir()}
    assert {"manifest.json", "metrics.json", "steps.csv", "report.html", "report.md", "junit.xml",
            "backlog.png", "attainment.png", "utilisation.png", "steps.png", "records"} <= names  # fmt: skip
    assert {p.name for p in (run / "records").iterdir()} == {"steps.csv", "dossiers.csv"}

    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["kind"] == "sim" and manifest["exit_code"] == 0
    assert manifest["settings"] == {
        "days": 7,
        "replications": 2,
        "workers": 1,
        "warmup_days": 1.0,
        "records": True,
    }
    assert isinstance(manifest["command"], list)  # sys.argv: pytest's own here
    assert "report.html" in manifest["files"]

    html = (run / "report.html").read_text(encoding="utf-8")
    doc = json.loads((run / "metrics.json").read_text())
    assert doc["verdict"].startswith("Yes: both groups meet their deadlines — birth p95 ")
    assert doc["verdict"] in html and doc["verdict"] in result.output.replace("\n", " ").replace("  ", " ")
    assert html.count('src="data:image/png;base64,') == 4
    assert doc["metrics"]["services"]["birth"]["arrivals"]["values"][0] > 0

    cases = ET.parse(run / "junit.xml").getroot().findall("./testsuite[@name='thresholds']/testcase")
    assert len(cases) == 6  # hanoi-baseline's thresholds, inherited

    with (run / "steps.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["step"] for r in rows] == [
        "ks",
        "pid",
        "tt",
        "bhyt",
        "kt",
        "xtt",
        "funeral_vss",
        "funeral_social",
        "survivor",
    ]
    assert 0 <= float(rows[0]["attainment"]) <= 1 and 0 <= float(rows[0]["p_wait"]) <= 1


def test_sim_names_the_failing_step_and_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    result = runner.invoke(app, ["sim", toml_at(tmp_path, SLOW_CARD), "--days", "14", "-r", "2", "-w", "2",
                                 "--out", str(out)])  # fmt: skip
    assert result.exit_code == 1, result.output
    doc = json.loads((only_run(out) / "metrics.json").read_text())
    assert doc["verdict"].startswith("No: the vss step bhyt (issue child card) fails — ")
    assert "so the birth group misses its deadline" in doc["verdict"]
    p95, attainment = doc["thresholds"][:2]
    assert (p95["expr"], p95["status"]) == ("p95 <= 3wd", "fail")
    assert (attainment["expr"], attainment["status"]) == ("attainment >= 0.95", "fail")
    assert doc["metrics"]["services"]["birth"]["open_late"]["mean"] > 0


def test_bad_scenario_exits_2_naming_the_key(tmp_path: Path) -> None:
    bad = toml_at(
        tmp_path, TINY.replace("[agencies.vss]\ndesks = 1", "[agencies.vss]\ndesk = 1"), "bad.toml"
    )
    result = runner.invoke(app, ["sim", bad, "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "agencies.vss.desk" in result.output
    assert not (tmp_path / "runs").exists()


def test_unknown_scenario_name_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sim", "hanoi-baseln", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "did you mean 'hanoi-baseline'" in result.output


def test_size_finds_capacity_and_writes_the_curve(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    result = runner.invoke(app, ["size", toml_at(tmp_path, TINY), "--target", "step.bhyt.p95 <= 1wd",
                                 "--days", "7", "-r", "2", "-w", "1", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    run = only_run(out)
    assert {"curve.png", "points.csv", "report.html", "junit.xml", "manifest.json"} <= {
        p.name for p in run.iterdir()
    }
    doc = json.loads((run / "metrics.json").read_text())
    assert list(doc["metrics"]["capacity"]) == ["vss"]
    assert doc["verdict"].startswith("step.bhyt.p95 <= 1wd holds with 95% confidence at vss ")
    assert "Capacity–attainment curve" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "brith.p95 <= 3wd"], "unknown service 'brith'"),
        (["--target", "birth.p95 <= 3wd", "--agency", "social"], "agency 'social' does no step"),
    ],
)
def test_size_bad_input_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["size", toml_at(tmp_path, TINY), *args, "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert message in result.output


def test_a_group_without_demand_is_not_simulated_never_nan(tmp_path: Path) -> None:
    """``deaths_per_wd = 0``: the verdict judges the birth group alone and says the death group is
    not simulated; nothing in the console or the report reads "nan"; exit 0."""
    assert "deaths_per_wd = 10" in TINY
    text = TINY.replace('name = "tiny"', 'name = "tiny-no-deaths"')
    text = text.replace("deaths_per_wd = 10", "deaths_per_wd = 0")
    result = runner.invoke(app, ["sim", toml_at(tmp_path, text), "--days", "7", "-r", "2", "-w", "1",
                                 "--out", str(tmp_path / "runs")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "The death group is not simulated: it has no demand." in result.output
    assert "the birth group meets its deadline" in result.output
    report = (only_run(tmp_path / "runs") / "report.md").read_text(encoding="utf-8")
    assert "nan" not in result.output.lower() and " nan" not in report.lower()


def test_all_records_writes_every_replication_and_no_wait_outlasts_its_sojourn(tmp_path: Path) -> None:
    """``--all-records``: each replication's records under ``records/rep-<r>/`` (different draws);
    in every row the wait so far is at most the time in the system (open rows cut at the
    horizon); metrics.json carries P(wait) per step and the throughput per day and week."""
    out = tmp_path / "runs"
    result = runner.invoke(app, ["sim", toml_at(tmp_path, TINY), "--days", "7", "-r", "2", "-w", "1",
                                 "--out", str(out), "--all-records"])  # fmt: skip
    assert result.exit_code == 0, result.output
    run = only_run(out)
    assert sorted(p.name for p in (run / "records").iterdir()) == ["rep-0", "rep-1"]
    steps = {}
    for rep in ("rep-0", "rep-1"):
        with (run / "records" / rep / "steps.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        assert rows and all(float(r["wait"]) <= float(r["sojourn"]) + 1e-9 for r in rows)
        steps[rep] = [(r["dossier"], r["step"], r["end"]) for r in rows]
    assert steps["rep-0"] != steps["rep-1"]
    m = json.loads((run / "metrics.json").read_text())["metrics"]
    assert 0 <= m["steps"]["ks"]["p_wait"]["mean"] <= 1
    birth = m["services"]["birth"]
    assert len(birth["throughput_per_day"]) == 7 and len(birth["throughput_per_week"]) == 1
    assert sum(birth["throughput_per_day"]) == pytest.approx(birth["throughput_per_week"][0])
