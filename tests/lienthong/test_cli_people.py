"""Tests for lienthong/commands/people.py: ``lienthong people generate``."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

from typer.testing import CliRunner

import scenarios
from lienthong.cli import app

S = scenarios.load("hanoi-baseline")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_generates_files_and_masks_the_sample(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["people", "generate", "--out", str(out), "--size", "3000", "--days", "60", "--sample", "4"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["size"] == 3000 and manifest["seed"] == S.meta.seed
    for name, info in manifest["files"].items():
        assert digest(out / name) == info["sha256"]
    assert len(re.findall(r'"pid": "\d{3}\*{6}\d{3}"', result.output)) == 4
    with (out / "people.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3000 + manifest["births"]
    printed = result.output
    assert not any(r["pid"] and r["pid"] in printed for r in rows)
    assert not any(r["full_name"] in printed for r in rows)
    assert not any(r["bhxh"] and r["bhxh"] in printed for r in rows)


def test_cli_refuses_bad_input_with_exit_code_2(tmp_path: Path) -> None:
    runner = CliRunner()
    for args, message in (
        (["--size", "0"], "--size must be at least 1"),
        (["--days", "-1"], "--days must be >= 0"),
        (["--scenario", "no-such-scenario"], "no-such-scenario"),
        (["--format", "xml", "--size", "10"], "unknown format 'xml'"),
    ):
        result = runner.invoke(app, ["people", "generate", "--out", str(tmp_path), *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output
