"""CONTRACT.md's tables against the served ``/openapi.json``: the prose and the machine form of the
contract cannot drift apart.

The field table of §14 (every constraint a client's request is held to, with the named patterns
it uses), the rules §14 says a schema cannot express (each in its operation's description), the
operations each agency must serve (§1), the record ids a 409 names (§3) and the province codes (§3)
are parsed from the prose and compared with the OpenAPI document of a real loopback server, in
both directions where the OpenAPI has the same list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakes.agencies._common import DATE_PATTERN, NAME_PATTERN, PID_PATTERN, TEXT_PATTERN
from fakes.ids import PROVINCES, bhyt_province_code
from fakes.serve import Handle
from scenarios import Scenario
from tests.fakes.conftest import serve_thread

CONTRACT = Path(__file__).resolve().parents[2] / "fakes" / "CONTRACT.md"
AGENCIES = ("health", "justice", "police", "vss", "social", "portal")
KEYWORDS = ("pattern", "minLength", "maxLength", "minimum", "maximum", "enum")


@pytest.fixture(scope="module")
def openapi(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    handle: Handle = serve_thread(scenario, tmp_path_factory.mktemp("openapi"))
    try:
        doc: dict[str, Any] = httpx.get(handle.base_url + "/openapi.json", timeout=30).json()
        yield doc
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def prose() -> str:
    return CONTRACT.read_text(encoding="utf-8")


def _section(text: str, start: str, end: str) -> str:
    i = text.index(start)
    return text[i:text.index(end, i + len(start))]


def _rows(block: str) -> list[list[str]]:
    """The cells of each body row of the markdown table(s) in ``block`` (``\\|`` is a ``|`` in a
    cell, as GitHub's tables read it, code spans included)."""
    rows = []
    for line in block.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|[-| ]+\|", line.strip()):
            cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
            rows.append([c.strip().replace("\\|", "|") for c in cells])
    return rows[1:]  # the header


def _code(cell: str) -> str:
    m = re.fullmatch(r"`([^`]*)`", cell)
    assert m, f"expected a `code` cell, got {cell!r}"
    return m[1]


# -- the OpenAPI side -------------------------------------------------------------------------

def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _alternatives(spec: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(spec, schema)
    return [_resolve(spec, a) for a in schema.get("anyOf", [schema])]


def _constraints(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for alt in _alternatives(spec, schema):
        for k in KEYWORDS:
            if k in alt:
                out[k] = sorted(alt[k]) if k == "enum" else float(alt[k]) if k in ("minimum", "maximum") \
                    else alt[k]
    return out


def _fields(spec: dict[str, Any], schema: dict[str, Any],
            prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for alt in _alternatives(spec, schema):
        for name, prop in alt.get("properties", {}).items():
            objects = [a for a in _alternatives(spec, prop) if "properties" in a]
            if objects:
                yield from _fields(spec, objects[0], f"{prefix}{name}.")
            elif constraints := _constraints(spec, prop):
                yield prefix + name, constraints


def _served_constraints(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(``METHOD /path``, field) → constraints, for every request body field and register-read
    query parameter of the agencies' operations."""
    out = {}
    for path, item in spec["paths"].items():
        if path.split("/")[1] not in AGENCIES:
            continue
        for method, op in item.items():
            endpoint = f"{method.upper()} {path}"
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body is not None:
                for field, constraints in _fields(spec, body):
                    out[(endpoint, field)] = constraints
            for param in op.get("parameters", []):
                if param["in"] == "query" and (constraints := _constraints(spec, param["schema"])):
                    out[(endpoint, "?" + param["name"])] = constraints
    return out


# -- the prose side ---------------------------------------------------------------------------

def _patterns(prose: str) -> dict[str, str]:
    """The named patterns of §14 (``- `name`: `regex` — …``)."""
    block = _section(prose, "<!-- field-patterns -->", "<!-- /field-patterns -->")
    found = dict(re.findall(r"^- `(\w+)`: `([^`]+)`", block, re.M))
    assert set(found) == {"name", "pid", "date", "text"}, found
    return found


def _parse_constraint(cell: str, patterns: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in (p.strip() for p in cell.split(";")):
        if m := re.fullmatch(r"pattern `([^`]+)`", part):
            out["pattern"] = m[1]
        elif m := re.fullmatch(r"pattern: (\w+)", part):
            out["pattern"] = patterns[m[1]]
        elif m := re.fullmatch(r"length (\d*)\.\.(\d*)", part):
            out.update({k: int(v) for k, v in (("minLength", m[1]), ("maxLength", m[2])) if v})
        elif m := re.fullmatch(r"range (\d*)\.\.(\d*)", part):
            out.update({k: float(v) for k, v in (("minimum", m[1]), ("maximum", m[2])) if v})
        elif part == "enum: provinces":
            out["enum"] = sorted(PROVINCES)
        elif m := re.fullmatch(r"enum: (.+)", part):
            out["enum"] = sorted(m[1].split())
        else:
            raise AssertionError(f"CONTRACT.md §14: cannot read the constraint {part!r}")
    return out


def _prose_table(prose: str) -> dict[tuple[str, str], tuple[dict[str, Any], str]]:
    block = _section(prose, "<!-- field-constraints -->", "<!-- /field-constraints -->")
    patterns = _patterns(prose)
    table: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
    for endpoint, field, constraint, refused in _rows(block):
        key = (endpoint, _code(field))
        assert key not in table, f"CONTRACT.md §14 lists {key} twice"
        table[key] = (_parse_constraint(constraint, patterns), refused)
    return table


def test_the_named_patterns_are_the_servers(prose: str) -> None:
    """The prose's patterns are the ones the models publish (and the PID's is the 63 codes)."""
    assert _patterns(prose) == {"name": NAME_PATTERN, "pid": PID_PATTERN, "date": DATE_PATTERN,
                                "text": TEXT_PATTERN}
    heads = {f"{n:03d}" for n in range(1000) if re.fullmatch(PID_PATTERN, f"{n:03d}0" + "0" * 8)}
    assert heads == set(PROVINCES)


def test_the_field_table_is_the_openapi_request_constraints(prose: str, openapi: dict[str, Any]) -> None:
    table = _prose_table(prose)
    served = _served_constraints(openapi)
    assert len(table) > 60  # the whole table was read, not a fragment
    only_prose = sorted(set(table) - set(served))
    only_openapi = sorted(set(served) - set(table))
    assert not only_prose, f"CONTRACT.md §14 lists constraints /openapi.json does not have: {only_prose}"
    assert not only_openapi, f"/openapi.json constrains fields CONTRACT.md §14 does not list: {only_openapi}"
    differ = {k: (table[k][0], served[k]) for k in table if table[k][0] != served[k]}
    assert not differ, f"prose vs OpenAPI: {differ}"


def test_the_field_table_names_the_code_of_each_refusal(prose: str) -> None:
    pid = re.search(r"12 ASCII digits `PPP G YY RRRRRR`", prose)
    assert pid, "§3 describes the PID"
    for (endpoint, field), (constraints, refused) in _prose_table(prose).items():
        codes = set(re.findall(r"`(\w+)`", refused))
        if constraints.get("pattern") == PID_PATTERN:  # a PID: invalid_pid (no_pid when optional)
            expected = {"invalid_pid", "no_pid"} if endpoint == "POST /vss/child-cards" else {"invalid_pid"}
        elif constraints.get("pattern") == DATE_PATTERN:  # out of the calendar, else not a date
            expected = {"invalid_date", "future_date", "validation_error"}
        elif field == "callback_url":  # the portal reads the URL itself (§9)
            expected = {"callback_not_allowed", "validation_error"}
        else:
            expected = {"validation_error"}
        assert codes == expected, (endpoint, field, refused)


def _beyond_schema(prose: str) -> dict[str, set[str]]:
    """§14 *Rules a schema cannot say*: endpoint → the codes its rules refuse with."""
    block = _section(prose, "<!-- beyond-schema -->", "<!-- /beyond-schema -->")
    out: dict[str, set[str]] = {}
    for endpoint, _rule, kind, refused in _rows(block):
        assert kind in ("record", "today", "fields", "scenario"), (endpoint, kind)
        out.setdefault(endpoint, set()).add(_code(refused.split(" (")[0]))
    return out


def test_the_rules_beyond_the_schema_are_in_the_operations_descriptions(
        prose: str, openapi: dict[str, Any]) -> None:
    """Every write's refusals that no schema can express are listed in §14 and, for the agencies,
    named in the operation's OpenAPI description; each code is one §3 lists."""
    rules = _beyond_schema(prose)
    known = set(re.findall(r"`(\w+)`", _section(prose, "| status | codes |", "\n\n")))
    writes = {f"POST {p}" for p, item in openapi["paths"].items()
              if "post" in item and p.split("/")[1] in AGENCIES}
    assert set(rules) == writes, set(rules) ^ writes
    for endpoint, codes in rules.items():
        assert codes <= known, (endpoint, codes - known)
        if endpoint.startswith("POST /portal/"):  # the portal's route is not described so (yet)
            continue
        description = openapi["paths"][endpoint.split()[1]]["post"]["description"]
        missing = {c for c in codes if f"`{c}`" not in description}
        assert not missing, (endpoint, missing)


def test_each_agency_serves_the_operations_section_1_lists(prose: str, openapi: dict[str, Any]) -> None:
    block = _section(prose, "**What an implementation of one agency must serve.**", "\n\n**")
    listed = {agency: set(re.findall(r"`((?:GET|POST) [^`]+)`", ops)) for agency, ops in _rows(block)}
    assert set(listed) == set(AGENCIES)
    for agency in AGENCIES:
        served = {f"{m.upper()} {p}" for p, item in openapi["paths"].items()
                  if p.startswith(f"/{agency}/") for m in item}
        assert listed[agency] == served, (agency, listed[agency] ^ served)


def test_the_province_table_is_the_pid_codes_with_their_bhyt_codes(prose: str,
                                                                   openapi: dict[str, Any]) -> None:
    block = _section(prose, "| PID code (BHYT code) province |", "\n\n")
    found = re.findall(r"`(\d{3})` \(`(\d{2})`\) ([^|]+?) *\|", block)
    assert {code: name for code, _, name in found} == dict(PROVINCES)
    assert all(bhyt == bhyt_province_code(code) for code, bhyt, _ in found)
    cert = openapi["components"]["schemas"]["BirthCertificateIn"]["properties"]["residence_province"]
    assert sorted(cert["enum"]) == sorted(PROVINCES)


def _record_id_pattern(prose: str) -> str:
    m = re.search(r"is unique in it, matches `([^`]+)`", prose)
    assert m, "§3 gives the pattern of record ids"
    return m[1]


def test_record_ids_and_existing_carry_the_record_id_pattern(prose: str, openapi: dict[str, Any]) -> None:
    pattern = _record_id_pattern(prose)
    block = _section(prose, "| register | record id field", "\n\n")
    fields = {_code(row[1].split()[0]) for row in _rows(block)}
    assert fields == {"register_no", "request_id", "death_register_no", "residence_id", "removal_id",
                      "card_id", "payment_id"}
    schemas = openapi["components"]["schemas"]
    assert schemas["ProblemModel"]["properties"]["existing"]["anyOf"][0]["pattern"] == pattern
    opaque = fields - {"register_no", "death_register_no"}  # the KS/KT numbers have a fixed format
    seen = set()
    for name, schema in schemas.items():
        if name.endswith("In"):
            continue
        for field in opaque & set(schema.get("properties", {})):
            assert schema["properties"][field].get("pattern") == pattern, (name, field)
            seen.add(field)
    assert seen == opaque  # every opaque record id is in some answer
    for name, kind in (("Birth", "KS"), ("Death", "KT")):
        fixed = schemas[name]["properties"]["register_no"]["pattern"]
        number = f"{kind}-00070-2026-Q01-000012"
        assert re.fullmatch(fixed, number) and re.fullmatch(pattern, number)
    card = schemas["Card"]["properties"]
    assert (card["card_code"]["pattern"], card["bhxh"]["pattern"]) == ("^TE1[0-9]{12}$", "^[0-9]{10}$")
    assert "`^TE1[0-9]{12}$`" in prose


def test_the_problem_statuses_of_section_3_are_documented_on_every_write(prose: str,
                                                                         openapi: dict[str, Any]) -> None:
    block = _section(prose, "| status | codes |", "\n\n")
    statuses = {row[0] for row in _rows(block)}
    assert {"400", "401", "403", "413", "415", "422"} <= statuses
    for path, item in openapi["paths"].items():
        if path.split("/")[1] in AGENCIES and "post" in item:
            documented = set(item["post"]["responses"])
            assert {"400", "401", "403", "413", "415", "422"} <= documented, (path, documented)
