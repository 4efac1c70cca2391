"""Evidence a person can act on: a failure names the field and shows expected vs got; personal
identifiers are compared in full but shown masked, with a fingerprint and the first difference;
a personal-data leak is located (request, field, kind, position) without being printed.

The leak is shown through a real certification (``certify.certify``, security phase) of the
reference VSS served with a 404 that echoes the PID asked for.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from certify._outcomes import Cases, Failed, covering, expect_equal, fingerprint, mismatch
from tests.certify.test_rule_coverage import _certify, _results

_FULL = re.compile(r"(?<![\d*])\d{12}(?![\d*])|(?<![\w*])[A-Z]{2}\d{13}(?![\d*])")


def test_two_card_codes_that_mask_alike_are_told_apart() -> None:
    a, b = "TE1010000012008", "TE1010000013008"
    text = mismatch("card_code", a, b)
    assert text.startswith("card_code: expected TE1*********008 [fp ")
    assert fingerprint(a) in text and fingerprint(b) in text and fingerprint(a) != fingerprint(b)
    assert "first difference at character 12 of 15" in text
    assert a not in text and b not in text


def test_a_personal_value_of_another_length_says_so() -> None:
    text = mismatch("pid", "001226000042", "00122600004")
    assert "first difference at character 12 of 12; 11 characters instead of 12" in text
    assert not _FULL.search(text)


def test_non_personal_values_are_shown_in_clear() -> None:
    with pytest.raises(Failed) as err:
        expect_equal("valid_to", "2031-10-01", "2031-09-30", why="born 2025-10-02")
    assert err.value.detail == "valid_to: expected '2031-10-01', got '2031-09-30' — born 2025-10-02"
    assert mismatch("amount_vnd", 23_400_000, None) == \
        "amount_vnd: expected 23400000, got nothing (null or absent)"


def test_a_field_holding_an_identifier_is_masked_whatever_its_name() -> None:
    text = mismatch("existing", "TE1010000012008", "KS-00070-2026-Q01-000001")
    assert "TE1*********008" in text and "KS-******************001" in text


def test_cases_are_kept_on_a_failure_and_every_case_runs() -> None:
    @covering
    def check(_ctx: Any, cases: Cases) -> Any:
        for n in (1, 2, 3):
            with cases.case(f"case {n}", f"{n}"):
                expect_equal("n", n, 2 if n == 1 else n)
        return cases.passed("done")

    with pytest.raises(Failed) as err:
        check(None)
    items = err.value.data["cases"]
    assert [(i["case"], i["result"]) for i in items] == [("case 1", "fail"), ("case 2", "pass"),
                                                         ("case 3", "pass")]
    assert err.value.detail.startswith("1 of 3 cases failed: [case 1] n: expected 1, got 2")
    json.dumps(items)


class _EchoingNotFound:
    """A careless vendor: a 404 for a PID it does not know names that PID in full."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        last = scope.get("path", "").rsplit("/", 1)[-1]
        if scope["type"] != "http" or scope["method"] != "GET" or not re.fullmatch(r"\d{12}", last):
            await self.app(scope, receive, send)
            return
        held: list[dict[str, Any]] = []

        async def hold(message: dict[str, Any]) -> None:
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                if held[0]["status"] == 404:
                    doc = json.loads(b"".join(m.get("body", b"") for m in held[1:]))
                    doc["detail"] = f"no card for the child {last}"
                    body = json.dumps(doc).encode()
                    headers = [(k, str(len(body)).encode() if k == b"content-length" else v)
                               for k, v in held[0]["headers"]]
                    held[:] = [dict(held[0], headers=headers), {"type": "http.response.body", "body": body}]
                for m in held:
                    await send(m)

        await self.app(scope, receive, hold)


def test_a_leak_is_located_without_being_printed() -> None:
    results = _results(_certify("vss", ("security",), wrap=_EchoingNotFound), "security")
    r = results["VSS-SEC-003"]
    assert r["status"] == "fail"
    assert re.search(r"GET /vss/child-cards/001\*{6}\d{3} → 404: field detail carries a full PID at "
                     r"character 23 \(001\*{6}\d{3}, fp [0-9a-f]{8}\)", r["detail"]), r["detail"]
    leaks = r["data"]["leaks"]
    assert leaks and {(x["field"], x["kind"], x["position"]) for x in leaks} == {("detail", "PID", 23)}
    assert not _FULL.search(r["detail"] + json.dumps(r["data"]))
    assert {i: x["status"] for i, x in results.items() if i != "VSS-SEC-003"} == \
        {"VSS-SEC-001": "pass", "VSS-SEC-002": "pass"}
