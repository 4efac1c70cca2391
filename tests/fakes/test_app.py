"""The app as a whole: operations endpoints, problem documents, body limits and bad inputs
leaving every register unchanged (Hypothesis), over a real loopback server."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes.app import BODY_LIMIT, create_app
from fakes.serve import Handle
from scenarios import Scenario
from tests.fakes.conftest import Api, fresh_pid


def test_create_app_refuses_unknown_agencies(scenario: Scenario, tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="unknown agency 'tax'"):
        create_app(scenario, tmp_path, agencies=("health", "tax"))


def test_healthz_reports_the_scenario_clock(api: Api) -> None:
    doc = api.http.get("/healthz").json()
    assert doc["status"] == "ok" and doc["scenario"] == "hanoi-baseline"
    assert doc["agencies"] == ["health", "justice", "police", "vss", "social", "portal"]
    assert doc["now"].startswith("2026-03-09T00:") and doc["speed"] == 1.0


def test_metrics_count_requests_per_agency_and_route(api: Api) -> None:
    api.cert()
    text = api.http.get("/metrics").text
    assert ('lienthong_http_requests_total{agency="health",route="/health/birth-certificates",'
            'method="POST",status="201"}') in text
    assert 'lienthong_http_request_seconds_bucket{agency="health",route=' in text
    assert "lienthong_fault_overhead_seconds_count" in text


def test_export_needs_admin_and_a_known_agency(api: Api) -> None:
    assert api.get("portal", "/admin/export/vss").status_code == 403
    r = api.get("admin", "/admin/export/tax")
    assert (r.status_code, r.json()["code"]) == (404, "unknown_agency")
    assert set(api.export("police")) == {"people", "pid_requests", "residences", "removals", "work"}


def test_oversized_and_malformed_bodies(api: Api) -> None:
    big = {"pid": "0" * (BODY_LIMIT + 1)}
    r = api.post("portal", "/vss/child-cards", big)
    assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")
    r = api.http.post("/vss/child-cards", content=b"{not json",
                      headers={**api.headers("portal", "k-bad-json"),
                               "content-type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_json")


def test_validation_problem_lists_the_fields(api: Api) -> None:
    r = api.post("hospital", "/health/death-notices", {"facility_code": "1", "deceased_sex": "X"})
    doc = r.json()
    assert (r.status_code, doc["code"]) == (422, "validation_error")
    fields = {e["field"] for e in doc["errors"]}
    assert {"facility_code", "deceased_sex", "deceased_pid", "death_date"} <= fields
    assert r.headers["content-type"] == "application/problem+json"
    assert set(doc) >= {"type", "title", "status", "detail", "code"}


# -- Hypothesis: bad inputs get a 4xx with a code and leave every register unchanged ----------

CERT = {"facility_code": "01001", "mother_name": "Nguyễn Thị Lan", "mother_birth_date": "1995-04-12",
        "mother_pid": "001195000001", "residence_province": "001", "residence_commune": "00070",
        "child_sex": "M", "child_birth_date": "2026-03-01", "weight_grams": 3100,
        "place_of_birth": "Bệnh viện"}
NOTICE = {"facility_code": "01001", "deceased_pid": "001050000001", "deceased_name": "Lê Văn Hùng",
          "deceased_sex": "M", "deceased_birth_date": "1950-07-01", "death_date": "2026-03-05",
          "place_of_death": "Bệnh viện"}
Target = tuple[str, str, dict[str, Any], str, str, str]
TARGETS: list[Target] = [("hospital", "/health/birth-certificates", CERT, "mother_pid", "child_birth_date",
            "child_sex"),
           ("hospital", "/health/death-notices", NOTICE, "deceased_pid", "death_date",
            "deceased_sex")]

bad_pid = st.one_of(st.text(max_size=14), st.from_regex(r"\A\d{11}\Z"),
                    st.from_regex(r"\A(00[02-9]|099|[1-9]\d\d)\d{9}\Z"),
                    st.from_regex(r"\A\d{12}[a-z]\Z"), st.integers())
future = st.dates(min_value=dt.date(2026, 3, 10), max_value=dt.date(2300, 1, 1))
bad_enum = st.text(max_size=5).filter(lambda s: s not in ("M", "F"))


@st.composite
def bad_request(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    who, path, base, pid_field, date_field, enum_field = draw(st.sampled_from(TARGETS))
    body = dict(base)
    kind = draw(st.sampled_from(["pid", "future", "missing", "enum", "extra", "before_birth",
                                 "name", "type"]))
    if kind == "pid":
        body[pid_field] = draw(bad_pid)
    elif kind == "future":
        body[date_field] = draw(future).isoformat()
    elif kind == "missing":
        body.pop(draw(st.sampled_from(sorted(base))))
    elif kind == "enum":
        body[enum_field] = draw(bad_enum)
    elif kind == "extra":
        body[draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in base))] = 1
    elif kind == "before_birth":
        body.update(deceased_birth_date="2000-01-02", death_date="2000-01-01") \
            if "deceased_pid" in body else body.update(mother_birth_date="2026-03-02")
    elif kind == "name":
        field = "mother_name" if "mother_name" in body else "deceased_name"
        body[field] = draw(st.sampled_from(["", "   ", "Lan2", "<script>", "x" * 101, "Lan\u0000"]))
    else:
        body[draw(st.sampled_from(sorted(base)))] = draw(st.sampled_from([None, [], {}, 1.5]))
    return who, path, body


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=bad_request())
def test_bad_inputs_get_a_coded_4xx_and_change_nothing(server: Handle, api: Api,
                                                       request: tuple[str, str, dict[str, Any]]) -> None:
    who, path, body = request
    before = api.exports()
    r = api.post(who, path, body)
    assert 400 <= r.status_code < 500, (body, r.text)
    assert r.json()["code"] in {"validation_error", "invalid_pid", "future_date", "invalid_date",
                                "death_before_birth"}, r.text
    assert api.exports() == before


@settings(max_examples=20, deadline=None)
@given(name=st.sampled_from(["Nguyễn Thị Ánh", "Đặng Văn Ước", "Phạm Thị Thuỳ", "Lê Hoàng Yến"]),
       form=st.sampled_from(["NFC", "NFD", "NFKD"]))
def test_names_are_stored_as_nfc(api: Api, name: str, form: str) -> None:
    doc = api.cert(mother_name=unicodedata.normalize(form, name), mother_pid=fresh_pid())  # type: ignore[arg-type]
    assert doc["mother_name"] == unicodedata.normalize("NFC", name)


def test_openapi_lists_every_endpoint_with_problem_responses(server: Handle) -> None:
    spec = httpx.get(server.base_url + "/openapi.json").json()
    post = spec["paths"]["/vss/child-cards"]["post"]
    assert {"201", "401", "403", "409", "422"} <= set(post["responses"])
    assert "application/problem+json" in post["responses"]["422"]["content"]
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert len(spec["paths"]) == 32  # 28 + GET /<agency>/work/{work_id} of four agencies
    accepted = post["responses"]["202"]["content"]["application/json"]["schema"]
    assert accepted == {"$ref": "#/components/schemas/WorkView"}
    assert "/justice/work/{work_id}" in spec["paths"]
