"""A pytest plugin for teams' own end-to-end tests of the linked services.

Fixtures: ``lienthong_scenario`` (the scenario), ``lienthong_ecosystem`` (the reference fakes on
a free loopback port in a child process, with their keys — or real endpoints when a base URL is
configured), ``lienthong_client`` (an ``httpx.Client`` per actor: ``lienthong_client("hospital")``;
``lienthong_client("citizen", pid=...)`` speaks for that citizen with its own key, fakes/CONTRACT.md
§2, and without ``pid`` for the fixed synthetic citizen ``SYNTHETIC_CITIZEN``),
``lienthong_citizens`` (synthetic citizens from the scenario seed, as request bodies) and
``lienthong_reconcile`` (checks the registers against the dossiers you submitted).

Options (or environment variables): ``--lienthong-base-url`` / ``LIENTHONG_BASE_URL`` to test real
endpoints, ``--lienthong-scenario`` / ``LIENTHONG_SCENARIO``, ``--lienthong-auditor-key`` /
``LIENTHONG_AUDITOR_KEY`` (for reconciliation against real endpoints: a key with every ``:read``
scope, default the scenario's ``auditor`` caller), ``--lienthong-in-time`` /
``LIENTHONG_IN_TIME=1`` (the reference fakes work as agencies in time — desks, office hours —
instead of answering at once, which is what API tests want and the default here). Enable it with
``pytest_plugins = ["loadtests.pytest_plugin"]`` (or the ``pytest11`` entry point). A test::

    def test_a_birth_dossier_completes(lienthong_client, lienthong_citizens, lienthong_reconcile):
        hospital = lienthong_client("hospital")
        kind, path, cert = lienthong_citizens.certificate(0)
        doc = hospital.post(path, json=cert, headers={"Idempotency-Key": "cert-0"}).json()
        body = lienthong_citizens.dossier(0, doc["id"])
        citizen = lienthong_client("citizen", pid=body["applicant_pid"])  # the applicant's own key
        dossier = citizen.post("/portal/dossiers", json=body, headers={"Idempotency-Key": "d-0"}).json()
        final = lienthong_citizens.wait(citizen, dossier["id"])
        assert final["status"] == "completed"
        assert lienthong_reconcile([lienthong_citizens.submission(0, dossier["id"], doc["id"])]).passed
"""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import scenarios
from fakes.citizen_keys import citizen_key
from loadtests._payloads import CitizenPayloads
from loadtests.placement import with_time
from loadtests.reconcile import Reconciliation, Submission, reconcile
from loadtests.registers import EXPORTED_AGENCIES, ContractRegisters, fetch_exports
from scenarios.model import DEATH_STATUSES, Scenario

__all__ = ["EXAMPLE", "SYNTHETIC_CITIZEN", "Citizens", "Ecosystem"]

#: The citizen ``lienthong_client("citizen")`` speaks for when no ``pid`` is given: a valid Hanoi
#: PID (a woman born 1990) that no seeded citizen has. It may read and submit its own dossiers only.
SYNTHETIC_CITIZEN = "001190000001"

#: The documented test above, as source (the test suite runs exactly this text).
EXAMPLE = textwrap.dedent(str(__doc__).split("A test::\n", 1)[1]).strip() + "\n"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lienthong", "lienthong end-to-end fixtures")
    group.addoption("--lienthong-base-url", default=None, help="test real endpoints at this base URL")
    group.addoption(
        "--lienthong-scenario", default=None, help="scenario name or path (default hanoi-baseline)"
    )
    group.addoption("--lienthong-auditor-key", default=None,
                    help="key with every :read scope, for reconciliation against real endpoints")
    group.addoption("--lienthong-in-time", action="store_true", default=False,
                    help="the reference fakes work as agencies in time (desks, office hours) "
                         "instead of answering at once")


def _option(config: pytest.Config, name: str, env: str) -> str | None:
    value = config.getoption(name, default=None)
    return value if value else os.environ.get(env) or None


@dataclass
class Ecosystem:
    """Where the services are (``base_url``), the callers' keys (a ``citizen`` caller's is the
    issuer secret of its citizens' keys, not a key: see ``lienthong_client``), and the fakes'
    folder if started."""

    base_url: str
    keys: dict[str, str]
    run_dir: Path | None = None
    handle: Any = None

    def restart(self) -> None:
        """SIGKILL and restart the reference fakes on the same folder and port (crash tests)."""
        from urllib.parse import urlparse

        from fakes.serve import start_subprocess

        if self.handle is None or self.run_dir is None:
            raise RuntimeError("restart() needs the reference fakes, not real endpoints")
        self.handle.kill()
        if self.handle.process.stdout is not None:
            self.handle.process.stdout.close()
        fresh = start_subprocess(
            str(self.run_dir / "scenario.toml"), self.run_dir, port=urlparse(self.base_url).port or 0
        )
        self.handle = fresh


@pytest.fixture(scope="session")
def lienthong_scenario(pytestconfig: pytest.Config) -> Scenario:
    """The scenario the fixtures use."""
    return scenarios.load(
        _option(pytestconfig, "--lienthong-scenario", "LIENTHONG_SCENARIO") or "hanoi-baseline"
    )


@pytest.fixture(scope="session")
def lienthong_ecosystem(
    pytestconfig: pytest.Config, lienthong_scenario: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ecosystem]:
    """The reference fakes on a free loopback port (a child process), or the configured endpoints."""
    keys = {name: c.key for name, c in lienthong_scenario.callers.items()}
    base = _option(pytestconfig, "--lienthong-base-url", "LIENTHONG_BASE_URL")
    if base:
        auditor = _option(pytestconfig, "--lienthong-auditor-key", "LIENTHONG_AUDITOR_KEY")
        if auditor:
            keys["auditor"] = auditor
        yield Ecosystem(base.rstrip("/"), keys)
        return
    from fakes.serve import start_subprocess

    in_time = bool(pytestconfig.getoption("--lienthong-in-time", default=False)) \
        or os.environ.get("LIENTHONG_IN_TIME", "") not in ("", "0")
    run_dir = tmp_path_factory.mktemp("lienthong-fakes")
    served = with_time(lienthong_scenario, instant=not in_time)
    (run_dir / "scenario.toml").write_text(scenarios.dump(served), encoding="utf-8")
    handle = start_subprocess(str(run_dir / "scenario.toml"), run_dir)
    eco = Ecosystem(handle.base_url, dict(handle.keys), run_dir, handle)
    try:
        yield eco
    finally:
        eco.handle.stop()
        if eco.handle.process.stdout is not None:
            eco.handle.process.stdout.close()


@pytest.fixture
def lienthong_client(
    lienthong_ecosystem: Ecosystem, lienthong_scenario: Scenario
) -> Iterator[Callable[..., httpx.Client]]:
    """``lienthong_client("hospital")``: an ``httpx.Client`` sending that caller's API key.

    A caller with role ``citizen`` has one key per citizen (fakes/CONTRACT.md §2):
    ``lienthong_client("citizen", pid="001195012345")`` speaks for that citizen (it submits the
    dossiers whose ``applicant_pid`` is ``pid`` and reads only those); without ``pid``, for the
    synthetic citizen ``SYNTHETIC_CITIZEN``. ``pid`` for any other caller is a ValueError.
    """
    opened: list[httpx.Client] = []

    def make(caller: str, pid: str | None = None) -> httpx.Client:
        if caller not in lienthong_ecosystem.keys:
            raise KeyError(f"no caller {caller!r}; callers: {', '.join(sorted(lienthong_ecosystem.keys))}")
        key = lienthong_ecosystem.keys[caller]
        known = lienthong_scenario.callers.get(caller)
        if known is not None and known.role == "citizen":
            key = citizen_key(key, SYNTHETIC_CITIZEN if pid is None else pid)
        elif pid is not None:
            raise ValueError(f"caller {caller!r} is not a citizen caller: it takes no pid")
        client = httpx.Client(base_url=lienthong_ecosystem.base_url, timeout=30, headers={"X-API-Key": key})
        opened.append(client)
        return client

    yield make
    for c in opened:
        c.close()


class Citizens:
    """Synthetic citizens of the scenario's arrival stream (seeded), as request bodies by index."""

    def __init__(self, scenario: Scenario, stream: np.ndarray) -> None:
        self.scenario, self.stream = scenario, stream
        self.payloads = CitizenPayloads(scenario, stream)

    def __len__(self) -> int:
        return int(self.stream.size)

    def certificate(self, k: int) -> tuple[str, str, dict[str, Any]]:
        """``(kind, path, body)`` of the hospital document of arrival ``k``."""
        return self.payloads.certificate(self.stream[k])

    def dossier(self, k: int, document_id: str, *, complete: bool = True) -> dict[str, Any]:
        """The portal submission of arrival ``k`` referring to its hospital document."""
        return self.payloads.dossier(self.stream[k], document_id, complete=complete)

    def submission(self, k: int, code: str, document_id: str) -> Submission:
        """What reconciliation needs to know about a dossier you submitted."""
        a = self.stream[k]
        service = "birth" if int(a["service"]) == 0 else "death"
        variant = tuple(self.scenario.services[service].variants)[int(a["variant"])]  # type: ignore[index]
        status = DEATH_STATUSES[int(a["status"])] if service == "death" else "none"
        household = self.payloads.household_of(int(a["dossier"])) if service == "birth" else ""
        return Submission(int(a["dossier"]), code, service, variant, document_id, household, status)

    def wait(self, client: httpx.Client, dossier_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """Polls the dossier until it is completed, rejected or failed; TimeoutError after
        ``timeout_s``."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            body: dict[str, Any] = client.get(f"/portal/dossiers/{dossier_id}").json()
            if body.get("status") in ("completed", "rejected", "failed"):
                return body
            time.sleep(0.05)
        raise TimeoutError(f"dossier {dossier_id} not terminal after {timeout_s}s")


@pytest.fixture(scope="session")
def lienthong_citizens(lienthong_scenario: Scenario) -> Citizens:
    """Citizens for the first simulated day of the scenario (same seed → same people)."""
    from sim.arrivals import arrivals

    return Citizens(lienthong_scenario, arrivals(lienthong_scenario, days=1))


@pytest.fixture
def lienthong_reconcile(
    lienthong_scenario: Scenario, lienthong_ecosystem: Ecosystem
) -> Callable[[Sequence[Submission]], Reconciliation]:
    """``lienthong_reconcile(submissions)``: the registers against your dossiers — the reference
    fakes' export, or, against real endpoints (``--lienthong-base-url``), each agency's own register
    reads (CONTRACT.md §10) with the ``auditor`` key. ``.passed``: no rule broken among the checks
    made; ``.complete``: every check could be made (``.reasons`` says why not)."""

    def check(submissions: Sequence[Submission]) -> Reconciliation:
        if lienthong_ecosystem.handle is not None:
            exports = fetch_exports(lienthong_ecosystem.base_url, lienthong_ecosystem.keys["admin"])
            return reconcile(lienthong_scenario, submissions, exports)
        urls = dict.fromkeys(EXPORTED_AGENCIES, lienthong_ecosystem.base_url)
        with ContractRegisters(urls, lienthong_ecosystem.keys.get("auditor")) as registers:
            return reconcile(lienthong_scenario, submissions, registers)

    return check
