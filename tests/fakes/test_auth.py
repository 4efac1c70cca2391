"""Every caller of the scenario × every endpoint: 401 / 403 / allowed, over a socket."""

from __future__ import annotations

import re

import httpx
import pytest

from fakes.auth import Auth, citizen_key
from fakes.problems import Problem
from fakes.serve import Handle
from scenarios import Scenario
from scenarios.model import Caller

OPEN = {"/healthz", "/metrics"}


def required_scope(method: str, path: str) -> str:
    """The scope CONTRACT.md §2 names for an endpoint."""
    head = path.split("/")[1]
    if head == "admin":
        return "admin"
    if head == "portal":
        return "portal:submit" if method == "POST" else "portal:read"
    return f"{head}:{'write' if method == 'POST' else 'read'}"


def endpoints(server: Handle) -> list[tuple[str, str]]:
    spec = httpx.get(server.base_url + "/openapi.json").json()
    out = []
    for path, ops in spec["paths"].items():
        for method in ops:
            out.append((method.upper(), re.sub(r"\{[^}]+\}", "X", path)))
    return sorted(out)


def test_every_caller_on_every_endpoint(server: Handle, scenario: Scenario) -> None:
    eps = endpoints(server)
    assert len(eps) >= 25
    # a citizen caller speaks with one citizen's key; its configured key is the issuer secret
    callers: dict[str, str | None] = {
        n: citizen_key(c.key, "001190000001") if c.role == "citizen" else c.key
        for n, c in scenario.callers.items()}
    callers |= {"(none)": None, "(unknown)": "lt-not-a-key-000"}
    seen = {401: 0, 403: 0, "allowed": 0}
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        for method, path in eps:
            for name, key in callers.items():
                headers = {"Idempotency-Key": "auth-matrix"}
                if key is not None:
                    headers["X-API-Key"] = key
                r = http.request(method, path, headers=headers,
                                 json={} if method == "POST" else None)
                if path in OPEN:
                    assert r.status_code == 200, (method, path, name)
                    continue
                caller = scenario.callers.get(name)
                if caller is None:
                    assert r.status_code == 401, (method, path, name, r.text)
                    assert r.headers["www-authenticate"] == "ApiKey"
                    seen[401] += 1
                elif required_scope(method, path) not in caller.scopes:
                    assert (r.status_code, r.json()["code"]) == (403, "forbidden"), (method, path, name)
                    seen[403] += 1
                else:
                    assert r.status_code not in (401, 403), (method, path, name, r.text)
                    assert r.status_code < 500, (method, path, name, r.text)
                    seen["allowed"] += 1
    assert all(seen.values()), seen


def test_auth_check_unit() -> None:
    auth = Auth({"a": Caller(key="k-0000001", role="agency", agency="vss", scopes=("vss:read",))})
    assert auth.check("k-0000001", "vss:read").agency == "vss"
    with pytest.raises(Problem) as e401:
        auth.check(None, "vss:read")
    with pytest.raises(Problem) as e403:
        auth.check("k-0000001", "vss:write")
    assert (e401.value.status, e403.value.status) == (401, 403)


def test_error_bodies_mask_personal_data(server: Handle, scenario: Scenario) -> None:
    pid = "001226123456"
    r = httpx.get(f"{server.base_url}/police/people/{pid}",
                  headers={"X-API-Key": scenario.callers["portal"].key})
    assert r.status_code == 404
    assert pid not in r.text and "001******456" in r.text
