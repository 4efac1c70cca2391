from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from lienthong import runs
from scenarios import Scenario, dump, load

NOW = datetime(2025, 11, 23, 10, 15, 0, tzinfo=timezone(timedelta(hours=7)))


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load("hanoi-baseline")


def test_digest_is_sha256_of_the_dumped_scenario(scenario: Scenario) -> None:
    assert runs.scenario_digest(scenario) == hashlib.sha256(dump(scenario).encode()).hexdigest()


def test_run_id_format() -> None:
    rid = runs.run_id("hanoi-baseline", "sim", "ab" * 32, 7, NOW)
    short = hashlib.sha256(f"{'ab' * 32}:7".encode()).hexdigest()[:8]
    assert rid == f"20251123-031500-hanoi-baseline-sim-{short}"
    assert runs.run_id("hanoi-baseline", "sim", "ab" * 32, 8, NOW) != rid
    with pytest.raises(ValueError, match="'Sim/x'"):
        runs.run_id("hanoi-baseline", "Sim/x", "ab", 7, NOW)


def test_manifest_contents(tmp_path: Path, scenario: Scenario) -> None:
    argv = ["lienthong", "sim", "hanoi-baseline", "--citizen", "001203004123"]
    run = runs.start_run(
        scenario, kind="sim", root=tmp_path, argv=argv, source="hanoi-baseline", settings={"days": 7}, now=NOW
    )
    assert run.path == tmp_path / run.id
    m = json.loads(run.manifest_path.read_text())
    assert m["id"] == run.id and run.id.startswith("20251123-031500-hanoi-baseline-sim-")
    assert m["scenario"] == {
        "name": "hanoi-baseline",
        "source": "hanoi-baseline",
        "digest": runs.scenario_digest(scenario),
    }
    assert m["seed"] == scenario.meta.seed == 20250701
    assert m["settings"] == {"days": 7}
    assert m["command"] == ["lienthong", "sim", "hanoi-baseline", "--citizen", "001******123"]
    assert m["started"] == "2025-11-23T03:15:00+00:00" and m["ended"] is None
    assert set(m["versions"]) == {"python", "lienthong", "simpy", "numpy", "locust", "fastapi"}
    assert all(v and v != "missing" for v in m["versions"].values())

    (run.file("plots/a.png")).write_bytes(b"x")
    run.finish(exit_code=1, verdict="No.")
    m = json.loads(run.manifest_path.read_text())
    assert m["exit_code"] == 1 and m["verdict"] == "No."
    assert m["files"] == ["plots/a.png"]
    ended = datetime.fromisoformat(m["ended"])
    assert ended.tzinfo is not None and m["duration_s"] >= 0
    assert ended <= datetime.now(UTC)


def test_seed_override_changes_the_hash(tmp_path: Path, scenario: Scenario) -> None:
    a = runs.start_run(scenario, kind="sim", root=tmp_path, argv=[], now=NOW)
    b = runs.start_run(scenario, kind="sim", root=tmp_path, argv=[], seed=1, now=NOW)
    assert a.id.rsplit("-", 1)[1] != b.id.rsplit("-", 1)[1]
    assert json.loads(b.manifest_path.read_text())["seed"] == 1


def test_same_second_runs_do_not_overwrite(tmp_path: Path, scenario: Scenario) -> None:
    a = runs.start_run(scenario, kind="sim", root=tmp_path, argv=[], now=NOW)
    b = runs.start_run(scenario, kind="sim", root=tmp_path, argv=[], now=NOW)
    assert b.id == f"{a.id}-2"
    assert sorted(p.name for p in tmp_path.iterdir()) == [a.id, b.id]


def test_file_outside_the_run_folder_is_refused(tmp_path: Path, scenario: Scenario) -> None:
    run = runs.start_run(scenario, kind="sim", root=tmp_path, argv=[], now=NOW)
    with pytest.raises(ValueError, match="outside the run folder"):
        run.file("../escape.txt")
