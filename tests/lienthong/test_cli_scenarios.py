import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import scenarios
from lienthong.cli import app

runner = CliRunner()


def test_list_names_every_catalog_scenario() -> None:
    result = runner.invoke(app, ["scenarios", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in scenarios.catalog():
        assert name in result.output


def test_show_gives_derived_volumes() -> None:
    result = runner.invoke(app, ["scenarios", "show", "hanoi-baseline"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "360.0" in result.output  # 450 × 0.80 births per WD in variant G1-A
    assert "450.0" in result.output and "150.0" in result.output
    assert "death_group_deadline" in result.output


@pytest.mark.parametrize("name", scenarios.catalog())
def test_show_prints_the_legal_basis(name: str) -> None:
    result = runner.invoke(app, ["scenarios", "show", name], env={"COLUMNS": "1000"})
    assert result.exit_code == 0, result.output
    basis = scenarios.load(name).meta.legal_basis
    assert f"legal basis: {basis}" in result.output
    # the era's procedure codes, on each service's row
    codes = {svc.tthc_code for svc in scenarios.load(name).services.values()}
    assert all(code in result.output for code in codes)


def test_show_pilot_names_ttlt_05_2015_and_its_limits() -> None:
    result = runner.invoke(app, ["scenarios", "show", "hanoi-2022"], env={"COLUMNS": "1000"})
    assert "legal basis: TTLT 05/2015/TTLT-BTP-BCA-BYT" in result.output
    assert "deadline 20 WD (22 with verification)" in result.output and "2.000986" in result.output
    assert "250 working days/year" in result.output
    # G1-C (KS + BHYT) has TTLT 05/2015's own limit and code, on its own row
    (g1c,) = [line for line in result.output.splitlines() if "G1-C" in line and "ks → pid → bhyt" in line]
    assert "deadline 15 WD (17 with verification), 2.001023" in g1c, g1c


def test_show_toml_round_trips() -> None:
    result = runner.invoke(app, ["scenarios", "show", "hanoi-baseline", "--toml"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    assert scenarios.loads(result.stdout) == scenarios.load("hanoi-baseline")


def test_validate_broken_file_names_key_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "hanoi-baseline"\n[[faults]]\nkind = "outgae"\nend = "1d"\n', encoding="utf-8")
    result = runner.invoke(app, ["scenarios", "validate", str(bad), "hanoi-baseline"])
    assert result.exit_code == 2
    assert "faults[0].kind" in result.output and "did you mean 'outage'" in result.output


def test_validate_every_catalog_file_exits_0() -> None:
    files = [str(scenarios.resolve(n)) for n in scenarios.catalog()]
    result = runner.invoke(app, ["scenarios", "validate", *files])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok") == len(files)
    # only the twin-only what-ifs warn (a task the fakes do not run), each naming the key
    twin_only = [n for n in scenarios.catalog() if "twin-only" in scenarios.load(n).meta.tags]
    assert result.output.count("warn") == len(twin_only)
    assert all("steps.cc.task" in result.output for _ in twin_only)


def test_validate_warns_of_a_task_only_the_twin_runs(tmp_path: Path) -> None:
    """Valid for the twin (exit 0), but the live run would refuse it: the warning names the key."""
    path = tmp_path / "twin-only.toml"
    path.write_text('extends = "hanoi-baseline"\n[meta]\nname = "t"\n'
                    '[steps.ks]\ntask = "twin:court_review"\n', encoding="utf-8")
    result = runner.invoke(app, ["scenarios", "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "warn" in result.output and "steps.ks.task: 'twin:court_review'" in result.output


def test_validate_refuses_a_misspelt_task_naming_the_key_and_the_task_meant(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text('extends = "hanoi-baseline"\n[meta]\nname = "t"\n[steps.ks]\ntask = "register_brith"\n',
                    encoding="utf-8")
    result = runner.invoke(app, ["scenarios", "validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "steps.ks.task" in result.output and "did you mean 'register_birth'?" in result.output
    show = runner.invoke(app, ["scenarios", "show", str(path)])
    assert show.exit_code == 2 and "Traceback" not in show.output

def test_show_unknown_name_suggests_closest() -> None:
    result = runner.invoke(app, ["scenarios", "show", "hanoi-baseln"])
    assert result.exit_code == 2
    assert "did you mean 'hanoi-baseline'" in result.output


def test_console_script_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "lienthong", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("lienthong ")
