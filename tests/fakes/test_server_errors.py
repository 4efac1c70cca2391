"""Every 5xx is an RFC 7807 problem with a request id the server's log has (issue: handlers that
crashed answered a plain-text 500 and logged nothing a client could point at).

A real server on 127.0.0.1 whose SQLite register is broken under it (a table dropped, as a
damaged file would be): the next write and read fail inside the handler.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from fakes.serve import start_thread
from scenarios import load
from tests.fakes.conftest import Api, fresh_pid, instant


def test_a_failing_handler_answers_a_problem_with_a_request_id_the_log_has(
        tmp_path: Path, served: Any, caplog: pytest.LogCaptureFixture) -> None:
    api: Api = served(start_thread(instant(load("hanoi-baseline")), tmp_path, speed=60.0))
    cert = api.cert()
    with sqlite3.connect(tmp_path / "health.db") as db:
        db.execute("DROP TABLE birth_certificates")
    caplog.set_level(logging.ERROR, logger="fakes")
    body = {"facility_code": "01001", "mother_name": "Nguyễn Thị Lan", "mother_birth_date": "1995-04-12",
            "mother_pid": fresh_pid(), "residence_province": "001", "residence_commune": "00070",
            "child_sex": "M", "child_birth_date": "2026-03-01", "weight_grams": 3100,
            "place_of_birth": "Bệnh viện Phụ sản Hà Nội"}
    for r in (api.post("hospital", "/health/birth-certificates", body),
              api.get("auditor", f"/health/birth-certificates/{cert['id']}")):
        assert r.status_code == 500, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        doc = r.json()
        assert doc["code"] == "internal_error" and doc["status"] == 500
        rid = doc["request_id"]
        assert r.headers["x-request-id"] == rid and rid in doc["detail"]
        logged = [rec for rec in caplog.records if rid in rec.getMessage()]
        assert logged and logged[0].exc_info, "the log has the request id and the traceback"
        assert "birth_certificates" in logged[0].getMessage()  # what failed, for whoever reads it
    assert api.get("auditor", "/healthz").status_code == 200  # the server lives on


def test_bodies_that_are_not_json_in_utf8_are_invalid_json_whatever_breaks_the_parser(
        tmp_path: Path, served: Any) -> None:
    api: Api = served(start_thread(instant(load("hanoi-baseline")), tmp_path, speed=60.0))
    for n, body in enumerate((b'{"facility_code": "\xff\xfe"}', b"[" * 5000 + b"]" * 5000, b"{bad")):
        r = api.http.post("/health/birth-certificates", content=body,
                          headers={**api.headers("hospital", f"k{n}"), "Content-Type": "application/json"})
        assert (r.status_code, r.json()["code"]) == (400, "invalid_json"), r.text  # a code of §3's table
        if n == 1:  # the parser's own error: the detail names both causes it cannot tell apart
            assert "nested too deep" in r.json()["detail"]
    assert api.export("health")["birth_certificates"] == []
