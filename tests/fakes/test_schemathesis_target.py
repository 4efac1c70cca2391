"""Issue #14's fuzzing target, at a small example count: schemathesis' CLI with every check and its
four phases, and the shipped hooks (``SCHEMATHESIS_HOOKS=fakes.fuzzing``), against a real server
on 127.0.0.1, reports no failure of any check; and its positive writes are accepted (the hooks
made them valid, so ``positive_data_acceptance`` was not passed vacuously).

The full target (100 examples per operation) and its figures are in CONTRACT.md §14 *Fuzzing*.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakes.serve import Handle
from scenarios import Scenario
from tests.fakes.conftest import serve_thread

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
#: The command of CONTRACT §14 *Fuzzing*, at 5 examples per operation instead of 100.
ARGS = ["--checks", "all", "--phases", "examples,coverage,fuzzing,stateful", "-n", "5", "--seed", "1",
        "--no-color"]


@pytest.fixture(scope="module")
def target(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Handle]:
    handle = serve_thread(scenario, tmp_path_factory.mktemp("target"))
    yield handle
    handle.stop()


def _run(handle: Handle, out: Path) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    report = out / "run.ndjson"
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "fakes.fuzzing"}
    done = subprocess.run([str(SCHEMATHESIS), "run", handle.base_url + "/openapi.json", *ARGS,
                           "--report", "ndjson", "--report-ndjson-path", str(report)],
                          cwd=out, env=env, capture_output=True, text=True, timeout=300, check=False)
    events = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    return done, [e["ScenarioFinished"]["recorder"] for e in events if "ScenarioFinished" in e]


def test_schemathesis_with_every_check_and_phase_and_the_hooks_finds_nothing(
        target: Handle, tmp_path: Path) -> None:
    done, recorders = _run(target, tmp_path)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    checks: Counter[tuple[str, str]] = Counter()
    accepted: Counter[str] = Counter()
    for rec in recorders:
        for results in rec.get("checks", {}).values():
            checks.update((c["name"], c["status"]) for c in results)
        for case_id, inter in rec.get("interactions", {}).items():
            case = rec["cases"].get(case_id, {}).get("value", {})
            mode = (case.get("meta") or {}).get("generation", {}).get("mode")
            if case.get("method") == "POST" and mode == "positive" and inter.get("response") \
                    and 200 <= inter["response"]["status_code"] < 300:
                accepted[case["path"]] += 1
    assert not [k for k in checks if k[1] == "failure"], checks
    ran = {name for name, _ in checks}
    assert {"not_a_server_error", "response_schema_conformance", "positive_data_acceptance",
            "negative_data_rejection", "ignored_auth", "unsupported_method"} <= ran, ran
    spec = httpx.get(target.base_url + "/openapi.json", timeout=30).json()
    writes = {p for p, ops in spec["paths"].items() if "post" in ops}
    assert set(accepted) == writes, (sorted(writes - set(accepted)), accepted)


def test_a_method_a_path_does_not_serve_is_405_allowing_every_method_it_does(target: Handle) -> None:
    """A 405's ``Allow`` lists every documented method of the path (found by schemathesis'
    allow_header_conformance: paths served by a GET and a POST route named only one)."""
    spec = httpx.get(target.base_url + "/openapi.json", timeout=30).json()
    with httpx.Client(base_url=target.base_url, timeout=30) as http:
        for path, ops in spec["paths"].items():
            url = path.replace("{", "x").replace("}", "")
            r = http.request("DELETE", url, headers={"X-API-Key": target.keys["admin"]})
            assert r.status_code == 405, (path, r.status_code)
            assert r.headers["allow"] == ", ".join(sorted(m.upper() for m in ops)), (path, r.headers)
            assert r.json()["code"] == "method_not_allowed"
