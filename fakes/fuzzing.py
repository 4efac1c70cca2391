"""Schemathesis hooks that let a generic fuzzer write to the fakes (CONTRACT.md §14, *Fuzzing*).

``/openapi.json`` states every rule a schema can say; the rules it cannot (*Rules a schema cannot
say*, §14: another record, today, two fields compared, the scenario) refuse nearly every body a
fuzzer draws at random. Loaded as schemathesis hooks, this module makes the schema-valid writes
valid for the server too, changing only what those rules concern:

- **record**: a field naming another record (a birth certificate, a notice, a register number, a
  PID) gets a record that exists and fits, created for that one call through the API itself
  (``/health`` with the hospital's key, the other registers with the portal's key);
- **today**: a date after the scenario's today (``GET /healthz``) is brought back to it, a PID
  whose birth year is after today's moves to the 1900s (its sex kept);
- **fields**: two dates one rule compares are put in order;
- **scenario**: a portal dossier's ``variant`` becomes one of the scenario's variants of its service;
- a register read that takes exactly one of a key and a day (§10) gets one of them;
- the write's ``Idempotency-Key`` gets a unique suffix: the server remembers every key (§3), also
  from an earlier run, and answers 409 ``idempotency_key_reused`` to a key sent with another body.

Only a body (or query) schemathesis judges schema-valid is touched (a positive case, or a negative
one whose fault lies elsewhere); other cases go out as drawn. Every edit keeps it schema-valid.
An auth provider sends each operation with the key of a caller holding its scope (§2).

Use, against fakes served with instant agencies::

    lienthong fakes serve --instant --port 8000 &
    SCHEMATHESIS_HOOKS=fakes.fuzzing schemathesis run http://127.0.0.1:8000/openapi.json \\
        --checks all --phases examples,coverage,fuzzing,stateful -n 100

``LIENTHONG_FUZZ_SCENARIO`` names the served scenario (catalog name or path; default
``hanoi-baseline``): the keys and the variants are read from it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import re
import secrets
import threading
import time
import unicodedata
import uuid
from typing import Any

import httpx
import schemathesis
from schemathesis.core.parameters import ParameterLocation

from fakes.ids import make_pid
from scenarios import Scenario, load

__all__ = ["EITHER_QUERY", "LETTER_BLOCKS", "MARK_BLOCKS", "SCENARIO_ENV", "Writer", "caller_for", "repair",
           "repair_query", "spell_properties"]

SCENARIO_ENV = "LIENTHONG_FUZZ_SCENARIO"

_HEAD_CALLER = {"health": "hospital", "justice": "portal", "police": "portal", "vss": "portal",
                "social": "portal", "portal": "desk", "admin": "admin"}


def caller_for(path: str) -> str | None:
    """The scenario caller whose key an operation under ``path`` is sent with (CONTRACT §2):
    the hospital for health, the portal for the registers it writes and reads, a desk for the
    portal, the admin for exports; None for the open endpoints (``/healthz``, ``/metrics``)."""
    return _HEAD_CALLER.get(path.split("/")[1])


def _pid_year(pid: str) -> int:
    return 1900 + 100 * (int(pid[3]) // 2) + int(pid[4:6])


def _past_pid(pid: Any, today: dt.date) -> Any:
    """``pid`` with a birth year not after today's: a PID of 2000-2099 born after today moves
    back a century (the century digit minus 2 keeps its sex); anything else as it is."""
    if isinstance(pid, str) and len(pid) == 12 and pid.isascii() and pid.isdigit() \
            and _pid_year(pid) > today.year:
        return pid[:3] + str(int(pid[3]) - 2) + pid[4:]
    return pid


def _day(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def _ordered(first: Any, second: Any, today: dt.date, strict: bool) -> tuple[Any, Any]:
    """Two ISO days put in order, neither after ``today`` (strictly apart when ``strict``);
    values that are not days come back as they are."""
    a, b = _day(first), _day(second)
    if a is None or b is None:
        return first, second
    a, b = sorted((a, b))
    b = min(b, today)
    if b <= dt.date(1900, 1, 1) and strict:
        b = today
    a = min(a, b - dt.timedelta(days=1) if strict else b)
    return a.isoformat(), b.isoformat()


class Writer:
    """Creates the records a write refers to, through the API of the server at ``base_url``.

    Every record is new (fresh PIDs, household ids), so a reference it fills in names a record
    no other call used: no ``already_*`` refusal, no 409."""

    def __init__(self, base_url: str, keys: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.keys = keys
        self._serial = itertools.count(secrets.randbelow(10**9))
        self._lock = threading.Lock()
        self._today: tuple[float, dt.date] | None = None

    def today(self) -> dt.date:
        """The scenario's date (``/healthz``'s ``now``), read again after a second: the clock
        runs faster than the wall's."""
        if self._today is None or time.monotonic() - self._today[0] > 1.0:
            now = self.http.get("/healthz").json()["now"]
            self._today = (time.monotonic(), dt.date.fromisoformat(now[:10]))
        return self._today[1]

    def fresh_pid(self, sex: str) -> tuple[str, str]:
        """A PID no earlier run is likely to have used (a random birth year of 1930-1989 and
        serial: 60 million of them) and its holder's birth date."""
        with self._lock:
            n = next(self._serial)
        year = 1930 + secrets.randbelow(60)
        return make_pid("001", sex, year, n % 1_000_000), f"{year}-07-01"

    def post(self, caller: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(path, json=body, headers={"X-API-Key": self.keys[caller],
                                                     "Idempotency-Key": uuid.uuid4().hex})
        if r.status_code not in (200, 201):
            raise RuntimeError(f"fakes.fuzzing could not create a record: POST {path} answered "
                               f"{r.status_code} {r.text[:300]} (are the agencies served --instant?)")
        doc: dict[str, Any] = r.json()
        return doc

    def _ago(self, days: int) -> str:
        return (self.today() - dt.timedelta(days=days)).isoformat()

    def certificate(self) -> dict[str, Any]:
        return self.post("hospital", "/health/birth-certificates", {
            "facility_code": "01001", "mother_name": "Nguyễn Thị Lan", "mother_birth_date": "1995-04-12",
            "mother_pid": self.fresh_pid("F")[0], "residence_province": "001",
            "residence_commune": "00070", "child_sex": "M", "child_birth_date": self._ago(10),
            "weight_grams": 3100, "place_of_birth": "Bệnh viện Phụ sản Hà Nội"})

    def notice(self, person: tuple[str, str] | None = None) -> dict[str, Any]:
        """A death notice (died three days ago) of ``person`` (PID, birth date), else of a new one."""
        pid, born = person or self.fresh_pid("M")
        return self.post("hospital", "/health/death-notices", {
            "facility_code": "01001", "deceased_pid": pid,
            "deceased_name": "Lê Văn Hùng", "deceased_sex": "M", "deceased_birth_date": born,
            "death_date": self._ago(3), "place_of_death": "Bệnh viện Bạch Mai"})

    def birth_record(self) -> dict[str, Any]:
        return self.post("portal", "/justice/births", {
            "birth_certificate_id": self.certificate()["id"], "child_name": "Trần Minh An",
            "unit_code": "00070", "declarant_name": "Nguyễn Thị Lan", "declarant_relation": "mother"})

    def child(self) -> dict[str, Any]:
        """A child registered at birth ten days ago, with a PID, alive, no residence, no card."""
        return self.post("portal", "/police/pids", {"birth_register_no": self.birth_record()["register_no"]})

    def resident(self) -> dict[str, Any]:
        child = self.child()
        with self._lock:
            household = f"HK{next(self._serial):010d}"
        self.post("portal", "/police/residences", {
            "pid": child["pid"], "household_id": household, "relation_to_head": "child",
            "address": "12 Phố Huế", "commune_code": "00070"})
        return child

    def death_record(self, status: str, person: tuple[str, str] | None = None) -> dict[str, Any]:
        return self.post("portal", "/justice/deaths", {
            "death_notice_id": self.notice(person)["id"], "unit_code": "00070",
            "declarant_name": "Lê Thị Hoa", "declarant_relation": "child", "status": status})

    def removable(self) -> tuple[str, str]:
        """A PID with a residence, registered dead at police: what a removal names."""
        person = self.resident()
        death = self.death_record("none", (person["pid"], str(person["birth_date"])))
        self.post("portal", "/police/deaths", {"death_register_no": death["register_no"]})
        return person["pid"], death["register_no"]


def _pick(options: list[str], seed: Any) -> str:
    """One of ``options``, the same one for the same generated ``seed``."""
    digest = hashlib.sha256(repr(seed).encode()).digest()
    return options[digest[0] % len(options)]


def repair(method: str, path: str, body: Any, writer: Writer, scenario: Scenario) -> Any:
    """``body`` (a schema-valid write to ``method path``) changed only where a rule beyond the
    schema (CONTRACT §14) would refuse it, so that the server accepts it."""
    if method != "POST" or not isinstance(body, dict):
        return body
    today = writer.today()
    b = dict(body)
    if path == "/health/birth-certificates":
        b["mother_pid"] = _past_pid(b.get("mother_pid"), today)
        b["mother_birth_date"], b["child_birth_date"] = _ordered(
            b.get("mother_birth_date"), b.get("child_birth_date"), today, strict=True)
    elif path == "/health/death-notices":
        b["deceased_pid"] = _past_pid(b.get("deceased_pid"), today)
        b["deceased_birth_date"], b["death_date"] = _ordered(
            b.get("deceased_birth_date"), b.get("death_date"), today, strict=False)
    elif path == "/justice/births":
        b["birth_certificate_id"] = writer.certificate()["id"]
    elif path == "/justice/deaths":
        b["death_notice_id"] = writer.notice()["id"]
    elif path == "/police/pids":
        b["birth_register_no"] = writer.birth_record()["register_no"]
    elif path == "/police/residences":
        b["pid"] = writer.child()["pid"]
    elif path == "/police/deaths":
        b["death_register_no"] = writer.death_record("none")["register_no"]
    elif path == "/police/residence-removals":
        b["pid"], b["death_register_no"] = writer.removable()
    elif path == "/vss/child-cards":
        b["pid"] = writer.child()["pid"]
    elif path in ("/vss/funeral-allowances", "/vss/survivor-benefits"):
        status = _pick(["pensioner", "insured"], body.get("death_register_no"))
        b["death_register_no"] = writer.death_record(status)["register_no"]
    elif path == "/social/funeral-supports":
        status = _pick(["social", "merit"], body.get("death_register_no"))
        b["death_register_no"] = writer.death_record(status)["register_no"]
    elif path == "/portal/dossiers":
        b = _repair_dossier(b, writer, scenario, today)
    return b


def _repair_dossier(b: dict[str, Any], writer: Writer, scenario: Scenario, today: dt.date) -> dict[str, Any]:
    b["applicant_pid"] = _past_pid(b.get("applicant_pid"), today)
    service = scenario.services.get(b.get("service"))  # type: ignore[arg-type]
    if service is not None and b.get("variant") not in service.variants:
        b["variant"] = _pick(sorted(service.variants), b.get("variant"))
    part = b.get(b.get("service"))  # type: ignore[arg-type]
    if isinstance(part, dict):  # the documents the dossier's steps will read
        part = dict(part)
        if b["service"] == "birth":
            part["birth_certificate_id"] = writer.certificate()["id"]
        else:
            part["death_notice_id"] = writer.notice()["id"]
        b[b["service"]] = part
    return b


#: Register reads that take exactly one of a key and a day (CONTRACT §10): path → (key, day).
EITHER_QUERY = {"/vss/child-cards": ("pid", "issued_on"),
                "/vss/funeral-allowances": ("death_register_no", "paid_on"),
                "/vss/survivor-benefits": ("death_register_no", "paid_on"),
                "/social/funeral-supports": ("death_register_no", "paid_on")}


def repair_query(path: str, query: dict[str, Any] | None, today: dt.date) -> dict[str, Any]:
    """A register read's schema-valid query with exactly one of its key and its day: both → the
    key alone; neither → today's day."""
    q = dict(query or {})
    if path not in EITHER_QUERY:
        return q
    key, day = EITHER_QUERY[path]
    if key in q and day in q:
        del q[day]
    elif key not in q and day not in q:
        q[day] = today.isoformat()
    return q


#: The blocks whose letters and marks the spelled-out classes hold (see :func:`spell_properties`):
#: Latin (Vietnamese's precomposed letters included), Greek (with its precomposed extension),
#: Cyrillic, kana, a slice of CJK ideographs and of Hangul syllables; the common combining marks.
LETTER_BLOCKS = ((0x41, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x1E00, 0x1EFF), (0x1F00, 0x1FFF),
                 (0x3041, 0x30FF), (0x4E00, 0x4EFF), (0xAC00, 0xACFF))
MARK_BLOCKS = ((0x300, 0x36F),)


def _ranges(prefix: str, blocks: tuple[tuple[int, int], ...]) -> str:
    """The code points of ``blocks`` whose Unicode general category starts ``prefix`` (``L``,
    ``M``) by Python's ``unicodedata`` (the server's judge) and that NFC keeps as they are (the
    server stores names in NFC), as the ranges of a regex class."""
    out: list[str] = []
    for low, high in blocks:
        start = None
        for cp in range(low, high + 2):
            inside = (cp <= high and unicodedata.category(chr(cp)).startswith(prefix)
                      and unicodedata.normalize("NFC", chr(cp)) == chr(cp))
            if inside and start is None:
                start = cp
            elif not inside and start is not None:
                out.append(f"\\u{start:04X}" + ("" if start == cp - 1 else f"-\\u{cp - 1:04X}"))
                start = None
    return "".join(out)


_CLASSES: dict[str, str] = {}


def spell_properties(pattern: str) -> str:
    """``pattern`` with ``\\p{L}`` and ``\\p{M}`` spelled out as the letters of
    :data:`LETTER_BLOCKS` and the marks of :data:`MARK_BLOCKS`: a subset of each property, so
    that every name drawn from it is one the published pattern (and the server) accepts, and
    small enough for Hypothesis (each of the whole properties, some 700 ranges, takes it a
    second a name). Names stored from them (NFC) stay in the blocks."""
    if "\\p{" not in pattern:
        return pattern
    if not _CLASSES:
        _CLASSES.update({"L": _ranges("L", LETTER_BLOCKS), "M": _ranges("M", MARK_BLOCKS)})
    out, in_class, i = [], False, 0
    while i < len(pattern):
        if pattern.startswith(("\\p{L}", "\\p{M}"), i):
            raw = _CLASSES[pattern[i + 3]]
            out.append(raw if in_class else f"[{raw}]")
            i += 5
            continue
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        in_class = (in_class and c != "]") or (not in_class and c == "[")
        out.append(c)
        i += 1
    return "".join(out)


def _spell_all(node: Any) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "pattern" and isinstance(v, str):
                node[k] = spell_properties(v)
            else:
                _spell_all(v)
    elif isinstance(node, list):
        for v in node:
            _spell_all(v)


# -- the schemathesis side -------------------------------------------------------------------------

_state: dict[str, Any] = {}
_state_lock = threading.Lock()


def _scenario() -> Scenario:
    with _state_lock:
        if "scenario" not in _state:
            _state["scenario"] = load(os.environ.get(SCENARIO_ENV, "hanoi-baseline"))
        scenario: Scenario = _state["scenario"]
        return scenario


def _writer(base_url: str) -> Writer:
    with _state_lock:
        writer = _state.get(base_url)
        if writer is None:
            scenario = _state.get("scenario") or load(os.environ.get(SCENARIO_ENV, "hanoi-baseline"))
            _state["scenario"] = scenario
            writer = _state[base_url] = Writer(base_url, {n: c.key for n, c in scenario.callers.items()})
        return writer


@schemathesis.hook
def before_load_schema(context: schemathesis.HookContext, raw_schema: dict[str, Any]) -> None:
    """Every ``\\p{L}``/``\\p{M}`` of a pattern spelled out (:func:`spell_properties`): schemathesis
    reads ``\\p{L}`` as a few Latin blocks (without Vietnamese ``ễ``, U+1EC5, so it calls the stored
    name ``Nguyễn`` a schema violation) and ``\\p{M}`` as U+20D0-U+20FF among others, unassigned
    from U+20F1 (so it draws "valid" names the schema refuses)."""
    _spell_all(raw_schema)


@schemathesis.auth(refresh_interval=None)
class ScenarioKeys:
    """Each operation sent with the key of the scenario caller :func:`caller_for` names."""

    def get(self, case: schemathesis.Case, ctx: Any) -> str | None:
        caller = caller_for(case.operation.path)
        return None if caller is None else _scenario().callers[caller].key

    def set(self, case: schemathesis.Case, data: str | None, ctx: Any) -> None:
        if data is not None:
            case.headers["X-API-Key"] = data


_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _valid(case: schemathesis.Case, location: str, value: Any) -> bool:
    """Whether ``value`` (the case's body or query) is valid against the operation's schema for
    that location, as schemathesis itself judges it (a hook's edits, its mode after them)."""
    try:
        loc = ParameterLocation(location)
        cls = case.operation.schema.adapter.jsonschema_validator_cls
        return bool(case._validate_component(loc, value, cls))
    except (AttributeError, TypeError, ValueError):  # another schemathesis: its generation mode
        meta = case.meta
        return meta is not None and meta.generation.mode.is_positive


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    """A write whose body is schema-valid (a positive case, or a negative one whose fault lies
    elsewhere): the references, dates and variant :func:`repair` fills in, and a fresh
    ``Idempotency-Key`` (the drawn one with a unique suffix; the server remembers keys across
    runs); a register read with a schema-valid query: :func:`repair_query`. Anything else goes
    out as drawn."""
    method, path = case.method.upper(), case.operation.path
    if method == "POST" and isinstance(case.body, dict) and _valid(case, "body", case.body):
        case.body = repair("POST", path, case.body, _writer(_base_url(case, kwargs)), _scenario())
        key = case.headers.get("Idempotency-Key")
        if isinstance(key, str) and _KEY.fullmatch(key):  # a malformed key stays malformed
            case.headers["Idempotency-Key"] = f"{key[:95]}.{uuid.uuid4().hex}"
    elif method == "GET" and path in EITHER_QUERY and _valid(case, "query", dict(case.query or {})):
        case.query = repair_query(path, case.query, _writer(_base_url(case, kwargs)).today())


def _base_url(case: schemathesis.Case, kwargs: dict[str, Any]) -> str:
    base = kwargs.get("base_url") or case.operation.base_url or case.operation.schema.get_base_url()
    return str(base).rstrip("/")
