"""The published OpenAPI says what the models enforce (issue #14, point 6): a body valid against
``/openapi.json`` is accepted unless a rule CONTRACT.md §14 lists as beyond any schema refuses it.

Two halves:

- the named patterns of §14 (``name``, ``pid``, ``date``, ``text``) against the validators behind
  them, both ways, with jsonschema_rs (the validator schemathesis itself uses: ECMA-262 with
  Unicode property escapes) as the judge of what the published schema admits;
- schemathesis' positive bodies for three endpoints, generated from the served document of a real
  loopback server, sent as a generic fuzzer would: every one is accepted, or refused with a code
  §14's *Rules a schema cannot say* lists for that endpoint; for the two health writes, whose
  rules depend only on the body and today, the exact answer is predicted from the body.

A generated body jsonschema_rs itself finds invalid is skipped: schemathesis widens ``\\p{M}`` to
U+20D0-U+20FF, where U+20F1-U+20FF are unassigned (no marks), so a few of its "positive" names
are not schema-valid at all.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from fakes.agencies._common import NAME_PATTERN, Body, Day, Name, Pid, Text
from fakes.fuzzing import LETTER_BLOCKS, MARK_BLOCKS, spell_properties
from fakes.ids import PROVINCES
from fakes.serve import Handle
from scenarios import Scenario
from tests.fakes.conftest import serve_thread

CONTRACT = Path(__file__).resolve().parents[2] / "fakes" / "CONTRACT.md"
_FAST = settings(max_examples=300, deadline=None, database=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow])


# -- the named patterns against the validators ---------------------------------------------------

class _Name(Body):
    v: Name


class _Pid(Body):
    v: Pid


class _Day(Body):
    v: Day


class _Text(Body):
    v: Text


def _accepts(model: type[BaseModel], value: Any) -> Any:
    """The value ``model`` stores for ``value``, or None when it refuses it."""
    try:
        return model.model_validate({"v": value}).v  # type: ignore[attr-defined]
    except ValidationError:
        return None


def _published(model: type[BaseModel]) -> Any:
    """A jsonschema_rs validator of the field as the OpenAPI publishes it (formats asserted)."""
    schema = model.model_json_schema()["properties"]["v"]
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


# letters (Latin, Vietnamese, others), combining marks, the separators, and what a name may not hold
_NAMEISH = st.text(st.one_of(
    st.sampled_from("aăâbđeêioôơuưyAĂĐÔƠƯ"), st.characters(categories=["L"]),
    st.characters(categories=["M"]), st.sampled_from(" '.-"), st.sampled_from("0\t_,!²Ⅻ\u20f1")),
    min_size=1, max_size=30)


@_FAST
@given(raw=_NAMEISH)
def test_a_name_is_accepted_exactly_when_its_stored_form_matches_the_published_pattern(raw: str) -> None:
    valid = _published(_Name).is_valid
    stored = _accepts(_Name, raw)
    if stored is not None:
        assert valid(stored), (raw, stored)  # accepted: what is stored is schema-valid
    if valid(raw):
        assert stored is not None, raw  # schema-valid as sent: accepted


@_FAST
@given(raw=st.one_of(st.from_regex(r"[0-9]{12}", fullmatch=True),
                     st.builds(lambda p, rest: p + rest, st.sampled_from(sorted(PROVINCES)),
                               st.from_regex(r"[0-9]{9}", fullmatch=True)),
                     st.text(max_size=14)))
def test_a_pid_is_accepted_exactly_when_it_matches_the_published_pattern(raw: str) -> None:
    assert (_accepts(_Pid, raw) is not None) == _published(_Pid).is_valid(raw), raw


@_FAST
@given(raw=st.one_of(st.dates().map(dt.date.isoformat),
                     st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
                     st.text(max_size=12), st.integers(), st.booleans()))
def test_a_date_is_accepted_exactly_when_it_matches_the_published_schema(raw: Any) -> None:
    assert (_accepts(_Day, raw) is not None) == _published(_Day).is_valid(raw), raw


@_FAST
@given(raw=st.text(st.one_of(st.characters(), st.sampled_from("\t\n\x0b\x0c\r \x85\xa0\u2028\u3000\ufeff")),
                   max_size=12))
def test_free_text_is_accepted_exactly_when_it_matches_the_published_schema(raw: str) -> None:
    assert (_accepts(_Text, raw) is not None) == _published(_Text).is_valid(raw), repr(raw)


# -- schema-valid bodies against a real server ----------------------------------------------------

def _beyond_schema() -> dict[str, set[str]]:
    """CONTRACT.md §14 *Rules a schema cannot say*: endpoint → the codes its rules refuse with."""
    text = CONTRACT.read_text(encoding="utf-8")
    block = text[text.index("<!-- beyond-schema -->"):text.index("<!-- /beyond-schema -->")]
    out: dict[str, set[str]] = {}
    for endpoint, code in re.findall(r"^\| (POST \S+) \|.*\| `(\w+)`[^|]*\|$", block, re.M):
        out.setdefault(endpoint, set()).add(code)
    return out


@pytest.fixture(scope="module")
def fuzzed(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Handle]:
    handle = serve_thread(scenario, tmp_path_factory.mktemp("fuzzed"))
    yield handle
    handle.stop()


def _year(pid: str) -> int:
    return 1900 + 100 * (int(pid[3]) // 2) + int(pid[4:6])


def _birth_certificate(body: dict[str, Any], today: dt.date, _: Scenario) -> tuple[int, str | None]:
    mother, child = (dt.date.fromisoformat(body[k]) for k in ("mother_birth_date", "child_birth_date"))
    if _year(body["mother_pid"]) > today.year:
        return 422, "invalid_pid"
    if child > today:
        return 422, "future_date"
    if mother >= child:
        return 422, "invalid_date"
    return 201, None


def _death_notice(body: dict[str, Any], today: dt.date, _: Scenario) -> tuple[int, str | None]:
    born, died = (dt.date.fromisoformat(body[k]) for k in ("deceased_birth_date", "death_date"))
    if _year(body["deceased_pid"]) > today.year:
        return 422, "invalid_pid"
    if died > today or born > today:
        return 422, "future_date"
    if died < born:
        return 422, "death_before_birth"
    return 201, None


def _dossier(body: dict[str, Any], today: dt.date, scenario: Scenario) -> tuple[int, str | None]:
    if _year(body["applicant_pid"]) > today.year:  # part of validation, before the variant (§9)
        return 422, "invalid_pid"
    service = scenario.services.get(body["service"])
    if service is None or body["variant"] not in service.variants:
        return 422, "unknown_variant"
    return 202, None


ENDPOINTS = {"/health/birth-certificates": ("hospital", _birth_certificate),
             "/health/death-notices": ("hospital", _death_notice),
             "/portal/dossiers": ("desk", _dossier)}


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
def test_schema_valid_bodies_are_accepted_unless_a_rule_beyond_the_schema_refuses_them(
        fuzzed: Handle, scenario: Scenario, path: str) -> None:
    spec = httpx.get(fuzzed.base_url + "/openapi.json", timeout=30).json()
    operation = schemathesis.openapi.from_dict(spec)[path]["POST"]
    ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    valid = jsonschema_rs.Draft202012Validator({"$ref": ref, "components": spec["components"]},
                                               validate_formats=True).is_valid
    today = dt.date.fromisoformat(httpx.get(fuzzed.base_url + "/healthz").json()["now"][:10])
    who, predict = ENDPOINTS[path]
    allowed = _beyond_schema()[f"POST {path}"]
    answers: dict[Any, int] = {}

    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE))
    def send(case: schemathesis.Case) -> None:
        body = case.body
        if not isinstance(body, dict) or not valid(body):
            reject()  # one of schemathesis' few "positives" that are not schema-valid
        r = httpx.post(fuzzed.base_url + path, json=body, timeout=30,
                       headers={"X-API-Key": fuzzed.keys[who], "Idempotency-Key": uuid.uuid4().hex})
        code = None if r.is_success else r.json()["code"]
        assert code is None or code in allowed, (r.status_code, r.text, body)
        assert (r.status_code, code) == predict(body, today, scenario), (r.text, body)
        answers[code] = answers.get(code, 0) + 1

    send()
    assert sum(answers.values()) >= 20, answers  # most bodies were sent, not skipped


# -- the name pattern the fuzzing hooks hand schemathesis ------------------------------------------

def test_the_hooks_name_pattern_admits_only_names_the_published_pattern_and_the_server_accept() -> None:
    """``fakes.fuzzing`` gives schemathesis the name pattern with ``\\p{L}``/``\\p{M}`` spelled
    out as a few blocks (CONTRACT §14 *Fuzzing*): every letter and mark it holds, and names built
    of them, are accepted by the published pattern and by the server, and stored (NFC) as names
    the spelled pattern still matches (schemathesis validates responses by it)."""
    pattern = spell_properties(NAME_PATTERN)
    spelled = jsonschema_rs.Draft202012Validator({"type": "string", "pattern": pattern})
    published = _published(_Name).is_valid
    letters = [chr(c) for low, high in LETTER_BLOCKS for c in range(low, high + 1)
               if spelled.is_valid(chr(c))]
    marks = [chr(c) for low, high in MARK_BLOCKS for c in range(low, high + 1)
             if spelled.is_valid("a" + chr(c))]
    assert len(letters) > 1000 and len(marks) > 100, (len(letters), len(marks))
    assert "ễ" in letters and "\u0301" in marks
    for name in [*letters, *("a" + m for m in marks), *(a + m for a in letters[::7] for m in marks[::11])]:
        stored = _accepts(_Name, name)
        assert stored is not None and published(name), repr(name)
        assert spelled.is_valid(stored), (repr(name), repr(stored))
    assert not spelled.is_valid("a\u20f1") and not spelled.is_valid("Nguyen1")
