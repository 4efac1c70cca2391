"""Fixtures for the fakes' tests: real servers on 127.0.0.1 and a small client."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakes._orchestrator import TERMINAL  # completed, rejected, failed
from fakes.auth import citizen_key
from fakes.ids import make_pid
from fakes.serve import Handle, start_thread
from scenarios import Scenario, load

_serial = itertools.count(1)


def fresh_pid(sex: str = "F", year: int = 1990) -> str:
    """A PID no other test uses (Hanoi province)."""
    return make_pid("001", sex, year, next(_serial))


def citizen(pid: str) -> str:
    """The caller name under which :class:`Api` speaks for the citizen ``pid`` with its own key."""
    return f"citizen:{pid}"


class Api:
    """A blocking client of one fake server, speaking as the scenario's callers; ``citizen:<pid>``
    (:func:`citizen`) is the citizen ``pid`` with its own key (CONTRACT.md §2)."""

    def __init__(self, handle: Handle) -> None:
        self.handle = handle
        self.http = httpx.Client(base_url=handle.base_url, timeout=30)

    def key(self, who: str) -> str:
        """The API key of caller ``who``: for ``<citizen caller>:<pid>`` that citizen's key."""
        name, _, pid = who.partition(":")
        return citizen_key(self.handle.keys[name], pid) if pid else self.handle.keys[who]

    def headers(self, who: str | None, key: str | None = None) -> dict[str, str]:
        out = {} if who is None else {"X-API-Key": self.key(who)}
        if key is not None:
            out["Idempotency-Key"] = key
        return out

    def post(self, who: str | None, path: str, body: Any, key: str | None = "auto") -> httpx.Response:
        key = uuid.uuid4().hex if key == "auto" else key
        return self.http.post(path, json=body, headers=self.headers(who, key))

    def get(self, who: str | None, path: str) -> httpx.Response:
        return self.http.get(path, headers=self.headers(who))

    def export(self, agency: str) -> dict[str, Any]:
        r = self.get("admin", f"/admin/export/{agency}")
        assert r.status_code == 200, r.text
        registers: dict[str, Any] = r.json()["registers"]
        return registers

    def exports(self) -> dict[str, Any]:
        return {a: self.export(a) for a in ("health", "justice", "police", "vss", "social", "portal")}

    def ok(self, who: str, path: str, body: Any) -> dict[str, Any]:
        r = self.post(who, path, body)
        assert r.status_code in (200, 201, 202), r.text
        doc: dict[str, Any] = r.json()
        return doc

    # -- factories -------------------------------------------------------------------------
    def cert(self, **over: Any) -> dict[str, Any]:
        body = {"facility_code": "01001", "mother_name": "Nguyễn Thị Lan",
                "mother_birth_date": "1995-04-12", "mother_pid": fresh_pid(),
                "residence_province": "001", "residence_commune": "00070", "child_sex": "M",
                "child_birth_date": "2026-03-01", "weight_grams": 3100,
                "place_of_birth": "Bệnh viện Phụ sản Hà Nội"}
        return self.ok("hospital", "/health/birth-certificates", {**body, **over})

    def notice(self, **over: Any) -> dict[str, Any]:
        body = {"facility_code": "01001", "deceased_pid": fresh_pid("M", 1950),
                "deceased_name": "Lê Văn Hùng", "deceased_sex": "M",
                "deceased_birth_date": "1950-07-01", "death_date": "2026-03-05",
                "place_of_death": "Bệnh viện Bạch Mai"}
        return self.ok("hospital", "/health/death-notices", {**body, **over})

    def birth_dossier(self, variant: str = "ks_tt_bhyt", **cert: Any) -> dict[str, Any]:
        c = self.cert(**cert)
        return {"service": "birth", "variant": variant, "channel": "online",
                "applicant_name": c["mother_name"], "applicant_pid": c["mother_pid"],
                "birth": {"birth_certificate_id": c["id"], "child_name": "Trần Minh An",
                          "unit_code": "00070", "declarant_relation": "mother",
                          "household_id": f"HK{next(_serial):010d}", "relation_to_head": "child",
                          "address": "12 Phố Huế"}}

    def death_dossier(self, variant: str = "kt_xtt_funeral", status: str = "pensioner",
                      **notice: Any) -> dict[str, Any]:
        n = self.notice(**notice)
        return {"service": "death", "variant": variant, "channel": "desk",
                "applicant_name": "Lê Thị Hoa", "applicant_pid": fresh_pid("F", 1975),
                "death": {"death_notice_id": n["id"], "unit_code": "00070", "status": status,
                          "declarant_relation": "child", "claimant_name": "Lê Thị Hoa",
                          "claimant_relation": "child", "bank_account": "0123456789"}}

    def wait(self, dossier_id: str, who: str = "desk", timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            doc: dict[str, Any] = self.get(who, f"/portal/dossiers/{dossier_id}").json()
            if doc["status"] in TERMINAL or time.monotonic() > deadline:
                return doc
            time.sleep(0.02)

    def submit_and_wait(self, body: dict[str, Any], who: str = "desk") -> dict[str, Any]:
        r = self.post(who, "/portal/dossiers", body)
        assert r.status_code == 202, r.text
        return self.wait(r.json()["id"], who)

    def birth_record(self, **cert: Any) -> dict[str, Any]:
        c = self.cert(**cert)
        return self.ok("portal", "/justice/births", {
            "birth_certificate_id": c["id"], "child_name": "Trần Minh An", "unit_code": "00070",
            "declarant_name": "Nguyễn Thị Lan", "declarant_relation": "mother"})

    def child(self, **cert: Any) -> dict[str, Any]:
        """A registered child with a PID: the police's answer."""
        b = self.birth_record(**cert)
        return self.ok("portal", "/police/pids", {"birth_register_no": b["register_no"]})

    def death_record(self, status: str = "pensioner", **notice: Any) -> dict[str, Any]:
        n = self.notice(**notice)
        return self.ok("portal", "/justice/deaths", {
            "death_notice_id": n["id"], "unit_code": "00070", "declarant_name": "Lê Thị Hoa",
            "declarant_relation": "child", "status": status})


def instant(s: Scenario) -> Scenario:
    """``s`` with its agencies answering every write at once (201), as before agencies in time."""
    return s.model_copy(update={"load": s.load.model_copy(update={"agencies": "instant"})})


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    """The default scenario with instant agencies: the API tests check answers, not desks."""
    return instant(load("hanoi-baseline"))


def serve_thread(scenario: Scenario, run_dir: Path, **kw: Any) -> Handle:
    """A real server on a free loopback port, scenario clock at 2026-03-09 (speed 1)."""
    return start_thread(scenario, run_dir, speed=kw.pop("speed", 1.0), **kw)


@pytest.fixture(scope="module")
def server(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Handle]:
    handle = serve_thread(scenario, tmp_path_factory.mktemp("fakes"))
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def api(server: Handle) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.http.close()


@pytest.fixture
def served() -> Iterator[Any]:
    """``served(handle) -> Api``: a client of a started server; both closed after the test."""
    handles: list[Handle] = []
    clients: list[Api] = []

    def go(handle: Handle) -> Api:
        handles.append(handle)
        clients.append(Api(handle))
        return clients[-1]

    yield go
    for c in clients:
        c.http.close()
    for h in handles:
        h.stop()
