"""Schemathesis over /openapi.json of a real loopback server: no 5xx, no schema violation.

Each operation is called with a key whose caller holds its scope; eight examples per
operation keep the run bounded (a couple of hundred calls in all). Schemathesis' pytest plugin
does not run under this pytest, so its Python API drives Hypothesis directly.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from fakes.app import create_app
from fakes.serve import Handle
from scenarios import Scenario, load
from tests.fakes.conftest import serve_thread

CALLER_FOR = {"health:write": "hospital", "portal:submit": "desk", "portal:read": "desk",
              "admin": "admin"}


def _operations() -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as run_dir:
        spec = create_app(load("hanoi-baseline"), run_dir).api.openapi()
        return [(m.upper(), p) for p, ops in sorted(spec["paths"].items()) for m in ops]


def caller_for(method: str, path: str) -> str:
    head = path.split("/")[1]
    scope = {"admin": "admin", "portal": "portal:submit" if method == "POST" else "portal:read"}.get(
        head, f"{head}:{'write' if method == 'POST' else 'read'}")
    return CALLER_FOR.get(scope, "portal")


@pytest.fixture(scope="module")
def contract_server(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Handle]:
    handle = serve_thread(scenario, Path(tmp_path_factory.mktemp("contract")))
    yield handle
    handle.stop()


# Business rules refuse schema-valid data (an unknown certificate id, a child too old): 422.
CONFIG = {"checks": {"positive_data_acceptance": {
    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]}}}


@pytest.fixture(scope="module")
def api_schema(contract_server: Handle) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(contract_server.base_url + "/openapi.json",
                                         config=schemathesis.Config.from_dict(CONFIG))


@pytest.mark.parametrize(("method", "path"), _operations())
def test_operation_conforms_to_the_openapi(api_schema: schemathesis.BaseSchema,
                                           contract_server: Handle, method: str, path: str) -> None:
    operation = api_schema[path][method]
    headers = {"X-API-Key": contract_server.keys[caller_for(method, path)]}

    @given(case=operation.as_strategy())
    @settings(max_examples=8, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers)

    check()
