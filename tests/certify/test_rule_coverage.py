"""Rule checks cover the rule, not three dates; one record is shown for every agency.

The cases each rule check draws from the seed cover every branch and boundary of its rule
(checked here against the fakes' own implementation of the rule, written apart from the
suite's); and real certifications — ``certify.certify`` against a vendor served on 127.0.0.1,
the reference ecosystem in its own process — show that a wrong-branch vendor FAILs on the
requirement it breaks, with the cases in the result, and that a vendor writing a second record
behind a correct answer FAILs the idempotency requirements of health and portal.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from certify import rules
from certify._run_context import Ctx, Options
from certify.certificate import Certificate
from certify.runner import certify
from fakes.agencies import _benefits
from fakes.serve import free_port
from scenarios import load

SEED = 20250701
TODAYS = [dt.date(2026, 3, 9), dt.date(2026, 2, 28), dt.date(2028, 2, 29), dt.date(2028, 3, 1),
          dt.date(2027, 9, 30), dt.date(2027, 10, 1), dt.date(2030, 12, 31), dt.date(2025, 1, 1)]


# -- the cases drawn -----------------------------------------------------------------------
def _branch_of(birth: dt.date) -> str:
    """Which branch the fakes' rule takes (an implementation the suite does not share)."""
    sixth = _benefits.add_months(birth, 72)
    return "30/09" if sixth <= dt.date(sixth.year, 9, 30) else "day before"


@pytest.mark.parametrize("today", TODAYS)
@pytest.mark.parametrize("seed", [SEED, 7, 123456])
def test_card_cases_cover_both_branches_and_their_boundaries(today: dt.date, seed: int) -> None:
    births = dict(rules.card_case_births(today, np.random.default_rng([seed, 2])))
    assert list(births) == [label for _, label in rules.CARD_CASES]
    for label, birth in births.items():
        sixth = _benefits.add_months(birth, 72)
        assert birth <= today < sixth, (label, birth)            # under 72 months: a card is due
        assert rules.card_validity(birth) == _benefits.card_validity(birth)
    branches = {label: _branch_of(b) for label, b in births.items()}
    assert set(branches.values()) == {"30/09", "day before"}
    by_key = {key: births[label] for key, label in rules.CARD_CASES}
    assert _benefits.add_months(by_key["on 30/09"], 72).timetuple()[1:3] \
        == (9, 30)
    assert _benefits.add_months(by_key["on 01/10"], 72).timetuple()[1:3] == (10, 1)
    assert _benefits.add_months(by_key["on 02/10"], 72).timetuple()[1:3] == (10, 2)
    assert by_key["born 29/02"].timetuple()[1:3] == (2, 29)
    # a card always valid to 30/09 of its sixth year is wrong on at least one case, and so is a
    # card always valid to the day before 72 months
    always_0930 = {b: dt.date(_benefits.add_months(b, 72).year, 9, 30) for b in births.values()}
    always_day_before = {b: _benefits.add_months(b, 72) - dt.timedelta(days=1) for b in births.values()}
    assert any(always_0930[b] != _benefits.card_validity(b)[1] for b in births.values())
    assert any(always_day_before[b] != _benefits.card_validity(b)[1] for b in births.values())


def test_card_cases_differ_from_seed_to_seed() -> None:
    today = dt.date(2026, 3, 9)
    draws = {tuple(b for _, b in rules.card_case_births(today, np.random.default_rng([s, 2])))
             for s in (SEED, 7, 8, 9)}
    assert len(draws) > 1
    again = rules.card_case_births(today, np.random.default_rng([SEED, 2]))
    assert again == rules.card_case_births(today, np.random.default_rng([SEED, 2]))


@pytest.mark.parametrize("today", TODAYS)
def test_the_72_month_boundary_is_the_fakes_refusal_boundary(today: dt.date) -> None:
    old = rules.youngest_too_old(today)
    assert _benefits.add_months(old, 72) <= today                     # refused child_too_old
    assert _benefits.add_months(old + dt.timedelta(days=1), 72) > today  # served


def _ctx(seed: int, today: dt.date) -> Ctx:
    return Ctx(agency="vss", scenario=load("hanoi-baseline"), seed=seed, vendor=None, eco=None,  # type: ignore[arg-type]
               proxy=None, today=today, options=Options(), openapi={}, vendor_url="",  # type: ignore[arg-type]
               eco_url="")


@pytest.mark.parametrize("seed", [SEED, 7])
def test_amount_dates_straddle_every_rate_change(seed: int) -> None:
    ctx = _ctx(seed, dt.date(2026, 3, 9))
    money = ctx.scenario.money
    for table in ("base_pay", "standard_level"):
        days = [d for _, d in rules.amount_case_days(ctx, table, "X")]
        rates = getattr(money, table)
        for rate in rates[1:]:
            before = rate.since - dt.timedelta(days=1)
            assert before in days and rate.since in days
            assert money.amount_on(rates, before) != money.amount_on(rates, rate.since)
        assert rates[0].since in days and all(rates[0].since <= d <= ctx.today for d in days)
        periods = {money.amount_on(rates, d) for d in days}
        assert periods == {r.vnd for r in rates}
    other = [d for _, d in rules.amount_case_days(_ctx(seed + 1, ctx.today), "base_pay", "X")]
    assert other != [d for _, d in rules.amount_case_days(ctx, "base_pay", "X")]  # drawn days move


# -- real certifications -------------------------------------------------------------------
class _Served:
    """An ASGI app on a free loopback port in a thread of this process."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                                    lifespan="on"))
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve([self.sock])),
                                       daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "vendor did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)


def _vendor(agency: str, upstream: str, run_dir: Path, wrap: Any = None) -> _Served:
    from fakes.app import AGENCIES, create_app

    scenario = load("hanoi-baseline").model_copy(update={"faults": ()})
    app: Any = create_app(scenario, run_dir, agencies=(agency,), speed=1.0, instant=True,
                          base_urls={a: upstream for a in AGENCIES if a != agency})
    return _Served(wrap(app) if wrap else app)


def _certify(agency: str, phases: tuple[str, ...], wrap: Any = None, seed: int = SEED) -> Certificate:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"vendor-{agency}-") as tmp:
        vendor = _vendor(agency, f"http://127.0.0.1:{port}", Path(tmp), wrap)
        try:
            return certify(agency, vendor.url, seed=seed, phases=phases, ecosystem_port=port,
                           options=Options(link_timeout_s=15.0))
        finally:
            vendor.stop()


def _results(cert: Certificate, phase: str) -> dict[str, dict[str, Any]]:
    """The results of ``phase`` in the certificate's JSON document."""
    doc = json.loads(json.dumps(cert.document()))
    return {r["id"]: r for r in doc["requirements"] if r["phase"] == phase}


@pytest.fixture
def always_to_30_09(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The wrong-branch vendor: every child card valid to 30/09 of the year the child turns six
    (the 30/09 branch taken even when the 72-month day comes after it)."""
    from fakes.agencies import vss

    def wrong(birth: dt.date) -> tuple[dt.date, dt.date]:
        return birth, dt.date(_benefits.add_months(birth, 72).year, 9, 30)

    monkeypatch.setattr(vss, "card_validity", wrong)
    yield


@pytest.fixture(scope="module")
def reference_vss_rules() -> dict[str, dict[str, Any]]:
    """The reference VSS certified on its rules (before any variant is patched in)."""
    return _results(_certify("vss", ("rules",)), "rules")


def test_a_card_always_valid_to_30_09_fails_vss_card_002(
        reference_vss_rules: dict[str, dict[str, Any]], always_to_30_09: None) -> None:
    results = _results(_certify("vss", ("rules",)), "rules")
    # exactly the requirement it breaks fails, beyond whatever the reference itself gets
    changed = {i for i, r in results.items() if r["status"] != reference_vss_rules[i]["status"]}
    assert changed == {"VSS-CARD-002"}, {i: results[i]["detail"] for i in changed}
    assert results["VSS-CARD-002"]["status"] == "fail"
    r = results["VSS-CARD-002"]
    cases = r["data"]["cases"]
    assert [c["case"] for c in cases] == [label for _, label in rules.CARD_CASES]
    wrong = [c for c in cases if c["result"] == "fail"]
    # the day-before branch after 02/10 is wrong; the 30/09 branch and its boundaries are right
    assert {c["case"] for c in wrong} >= {dict(rules.CARD_CASES)["after 02/10"],
                                          dict(rules.CARD_CASES)["on 02/10"]}
    assert all(c["result"] == "pass" for c in cases if c not in wrong)
    # the detail names the field and shows expected and got in clear (dates are not personal)
    first = next(c for c in cases if c["case"] == dict(rules.CARD_CASES)["on 02/10"])
    sixth = dt.date.fromisoformat(first["turns_72_months"])
    assert f"valid_to: expected '{sixth - dt.timedelta(days=1)}', got '{sixth.year}-09-30'" in r["detail"]
    assert r["evidence"]


def test_the_reference_vss_passes_its_rules_with_every_case_listed(
        reference_vss_rules: dict[str, dict[str, Any]]) -> None:
    results = reference_vss_rules
    assert {i: r["detail"] for i, r in results.items() if r["status"] != "pass"} == {}
    card = results["VSS-CARD-002"]["data"]["cases"]
    assert all(c["result"] == "pass" and c["expected"].startswith("valid ") for c in card)
    refused = results["VSS-CARD-003"]["data"]["cases"]
    assert [c["expected"] for c in refused][-1] == "201 card"
    assert {c["expected"] for c in refused[:-1]} == {"422 child_too_old"}
    amounts = results["VSS-FUN-001"]["data"]["cases"]
    assert {c["status"] for c in amounts} == {"pensioner", "insured"}
    assert {"2023-06-30", "2023-07-01", "2024-06-30", "2024-07-01"} <= {c["death_date"] for c in amounts}
    text = json.dumps([r.get("data") for r in results.values()])
    assert not re.search(r"(?<!\d)\d{12}(?!\d)|[A-Z]{2}\d{13}", text)  # no full identifier


class _ShadowWriter:
    """A vendor that answers every write correctly and, behind that answer, makes the same write
    a second time under another key: a second record of one write (its answers hide it)."""

    def __init__(self, app: Any, path: str) -> None:
        self.app, self.path = app, path

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        key = dict(scope.get("headers", [])).get(b"idempotency-key")
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path or not key:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)

        def replay() -> Any:
            sent = False

            async def once() -> dict[str, Any]:
                nonlocal sent
                if sent:
                    return {"type": "http.disconnect"}
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return once

        async def drop(message: dict[str, Any]) -> None:
            return None

        shadow = dict(scope, headers=[(k, v + b"-shadow" if k == b"idempotency-key" else v)
                                      for k, v in scope["headers"]])
        await self.app(shadow, replay(), drop)
        await self.app(scope, replay(), send)


@pytest.mark.parametrize(("agency", "path"), [("health", "/health/birth-certificates"),
                                              ("portal", "/portal/dossiers")])
def test_a_second_record_behind_a_correct_answer_fails_idempotency(agency: str, path: str) -> None:
    cert = _certify(agency, ("resilience",), wrap=lambda app: _ShadowWriter(app, path))
    results = _results(cert, "resilience")
    for rid in (f"{agency.upper()}-IDEM-001", f"{agency.upper()}-IDEM-003"):
        r = results[rid]
        assert r["status"] == "fail", (rid, r["detail"])
        assert ("two records of one write" in r["detail"]) if agency == "health" else \
            ("number of dossiers for certificate" in r["detail"] and "expected 1, got 2" in r["detail"])
    for rid in (f"{agency.upper()}-IDEM-002", f"{agency.upper()}-IDEM-004"):
        assert results[rid]["status"] == "pass", results[rid]["detail"]
