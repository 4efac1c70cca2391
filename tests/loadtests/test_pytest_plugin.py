"""The pytest plugin's fixtures against the reference fakes (a real child process)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx

from loadtests.pytest_plugin import EXAMPLE, Citizens, Ecosystem
from loadtests.reconcile import Reconciliation, Submission

# the plugin's documented ten-line test, run as written in its docstring (and the README)
_documented: dict[str, Any] = {}
exec(compile(EXAMPLE, "loadtests/pytest_plugin.py: the documented test", "exec"), _documented)
test_the_documented_ten_line_test_passes = _documented["test_a_birth_dossier_completes"]


def test_the_ecosystem_is_on_loopback_with_keys(lienthong_ecosystem: Ecosystem) -> None:
    assert lienthong_ecosystem.base_url.startswith("http://127.0.0.1:")
    assert {"hospital", "desk", "citizen", "admin"} <= set(lienthong_ecosystem.keys)


def test_reconciliation_catches_a_card_nobody_asked_for(
    lienthong_client: Callable[[str], httpx.Client],
    lienthong_citizens: Citizens,
    lienthong_reconcile: Callable[[Sequence[Submission]], Reconciliation],
) -> None:
    # a dossier completed behind the harness's back: its card is a stray to reconciliation
    hospital, desk = lienthong_client("hospital"), lienthong_client("desk")
    stream = lienthong_citizens.stream
    k = next(
        i
        for i in range(1, len(lienthong_citizens))
        if stream[i]["service"] == 0 and stream[i]["variant"] == 0
    )
    _, path, cert = lienthong_citizens.certificate(k)
    doc = hospital.post(path, json=cert, headers={"Idempotency-Key": f"cert-{k}"}).json()
    body = lienthong_citizens.dossier(k, doc["id"])
    d = desk.post("/portal/dossiers", json=body, headers={"Idempotency-Key": f"d-{k}"}).json()
    final = lienthong_citizens.wait(desk, d["id"])
    assert final["status"] == "completed"
    pid = final["result"]["pid"]
    strays = [v.detail for v in lienthong_reconcile([]).violations if v.rule == "card_for_someone_else"]
    assert any(f"{pid[:3]}******{pid[-3:]}" in detail for detail in strays)
