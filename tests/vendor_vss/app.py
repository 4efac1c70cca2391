"""A vendor's VSS agency (``/vss``), written from ``fakes/CONTRACT.md`` alone (§1–§3, §7, §10).

Nothing here comes from the reference fakes: only the standard library and Starlette. The agency
reads people from police and death records from justice at ``--upstream`` with the scenario's
``vss`` key, and takes "today" from the upstream's ``GET /healthz`` (the scenario clock, §1).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import sqlite3
import time
import tomllib
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MAX_BODY = 64 * 1024
CLOCK_REFRESH_S = 10.0
UPSTREAM_TIMEOUT_S = 10.0
KEY_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
PID_RE = re.compile(r"[0-9]{3}[0-3][0-9]{8}")  # century/sex digit 0-3: born 1900-2099 (§3)
# A name's shape (CONTRACT.md §3, §14 pattern `name`): L a letter, M a combining mark.
NAME_SHAPE_RE = re.compile(r"L[LM]*(?:[ '.-]+L[LM]*)*\.?")
FACILITY_RE = re.compile(r"[0-9]{5}")
REGISTER_NO_RE = re.compile(r"[A-Za-z0-9.-]{1,64}")
BANK_RE = re.compile(r"[0-9]{6,20}")
JSON_TYPE_RE = re.compile(r"application/(json|[^;/]+\+json)\s*(;.*)?", re.IGNORECASE | re.DOTALL)
RELATIONS = ("mother", "father", "grandparent", "spouse", "child", "parent", "sibling", "relative", "other")
PAID_STATUSES = ("pensioner", "insured")
# Province codes of the personal ID (Circular 59/2021/TT-BCA, the 63 pre-2025 provinces; the 2025
# merged provinces kept one of these). The BHYT province is the same code on two digits.
PROVINCES = frozenset(f"{n:03d}" for n in (
    1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35, 36, 37, 38,
    40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75, 77, 79, 80,
    82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96))


# ---------------------------------------------------------------- configuration and problems


@dataclass(frozen=True)
class Config:
    scenario: str
    callers: dict[str, tuple[str, frozenset[str]]]  # key -> (caller name, scopes)
    base_pay: tuple[tuple[date, int], ...]  # (since, vnd), oldest first
    funeral_multiple: float
    seed: int
    timezone: str
    upstream: str
    upstream_key: str


def load_config(scenario_file: str | Path, upstream: str) -> Config:
    """Read the resolved scenario TOML (``lienthong scenarios show NAME --toml``)."""
    doc = tomllib.loads(Path(scenario_file).read_text(encoding="utf-8"))
    callers = {c["key"]: (name, frozenset(c.get("scopes", ()))) for name, c in doc["callers"].items()}
    money = doc.get("money", {})
    pay = tuple(sorted((_as_date(row["since"]), int(row["vnd"])) for row in money.get("base_pay", ())))
    return Config(
        scenario=doc.get("meta", {}).get("name", "?"),
        callers=callers,
        base_pay=pay,
        funeral_multiple=float(money.get("funeral_base_pay_multiple", 10)),
        seed=int(doc.get("meta", {}).get("seed", 0)),
        timezone=doc.get("calendar", {}).get("timezone", "Asia/Ho_Chi_Minh"),
        upstream=upstream.rstrip("/"),
        upstream_key=doc["callers"]["vss"]["key"],
    )


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


class Problem(Exception):
    """An RFC 7807 answer; ``detail`` must already be masked."""

    def __init__(self, status: int, code: str, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(code)
        self.status, self.code, self.title, self.detail, self.extra = status, code, title, detail, extra

    def response(self) -> Response:
        body = {"type": f"https://lienthong.example/problems/{self.code}", "title": self.title,
                "status": self.status, "detail": self.detail or self.title, "code": self.code, **self.extra}
        headers = {"WWW-Authenticate": "ApiKey"} if self.status == 401 else None
        return JSONResponse(body, self.status, headers=headers, media_type="application/problem+json")


def mask(value: str) -> str:
    """``001226000042`` -> ``001******042``: keep three characters at each end."""
    return value[:3] + "*" * (len(value) - 6) + value[-3:] if len(value) > 6 else "*" * len(value)


def invalid(errors: list[dict[str, str]]) -> Problem:
    return Problem(422, "validation_error", "Request body is invalid",
                   "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors), errors=errors)


# ---------------------------------------------------------------- validation


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError("expected a string")
    return unicodedata.normalize("NFC", v).strip()


def _matching(rx: re.Pattern[str], what: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        s = _text(v)
        if not rx.fullmatch(s):
            raise ValueError(f"expected {what}")
        return s
    return check


def _name(v: Any) -> str:
    if isinstance(v, str) and len(v) > 400:
        raise ValueError("names are read up to 400 characters")
    s = " ".join(_text(v).split())
    if not 1 <= len(s) <= 100:
        raise ValueError("names are 1-100 characters")
    shape = "".join(c if c in " '-." else unicodedata.category(c)[0] if unicodedata.category(c)[0] in "LM"
                    else "?" for c in s)
    if not NAME_SHAPE_RE.fullmatch(shape):
        raise ValueError("names are words of letters joined by spaces, ' - and ., one . at the end")
    return s


def _relation(v: Any) -> str:
    s = _text(v)
    if s not in RELATIONS:
        raise ValueError(f"one of {', '.join(RELATIONS)}")
    return s


Spec = dict[str, tuple[bool, Callable[[Any], Any]]]  # field -> (required, checker)

CARD: Spec = {"pid": (False, _text), "initial_care_facility": (False, _matching(FACILITY_RE, "5 digits"))}
PAYMENT: Spec = {"death_register_no": (True, _matching(REGISTER_NO_RE, "a register number")),
                 "claimant_name": (True, _name), "claimant_relation": (True, _relation),
                 "bank_account": (False, _matching(BANK_RE, "6-20 digits"))}


def validate(data: Any, spec: Spec) -> dict[str, Any]:
    """Checked and NFC-normalised body; a null optional field counts as absent."""
    if not isinstance(data, dict):
        raise invalid([{"field": "", "message": "expected a JSON object"}])
    errors = [{"field": k, "message": "unknown field"} for k in data if k not in spec]
    out: dict[str, Any] = {}
    for name, (required, check) in spec.items():
        if data.get(name) is None:
            if required:
                errors.append({"field": name, "message": "field required"})
            continue
        try:
            out[name] = check(data[name])
        except ValueError as e:
            errors.append({"field": name, "message": str(e)})
    if errors:
        raise invalid(errors)
    return out


def pid_ok(pid: str) -> bool:
    return bool(PID_RE.fullmatch(pid)) and pid[:3] in PROVINCES


def pid_year(pid: str) -> int:
    """The birth year of a well-formed PID: the century digit fixes the century (CONTRACT.md §3)."""
    return 1900 + 100 * (int(pid[3]) // 2) + int(pid[4:6])


def card_validity(birth: date) -> tuple[date, date]:
    """(72-month day, last valid day): the day before it, or 30/09 when it falls on or before 30/09."""
    try:
        d72 = birth.replace(year=birth.year + 6)
    except ValueError:  # born 29/02: six years later has none; the month's last day (BLDS Art. 148)
        d72 = date(birth.year + 6, 2, 28)
    sep30 = date(d72.year, 9, 30)
    return d72, sep30 if d72 <= sep30 else d72 - timedelta(days=1)


# ---------------------------------------------------------------- upstream and clock


class Upstream:
    """Blocking ``urllib`` GETs run in threads; no proxies (everything is on loopback)."""

    def __init__(self, origin: str, key: str) -> None:
        self.origin, self.key = origin, key
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    async def get(self, path: str, *, auth: bool = True) -> tuple[int, Any]:
        return await asyncio.to_thread(self._get, path, auth)

    def _get(self, path: str, auth: bool) -> tuple[int, Any]:
        headers = {"Accept": "application/json", **({"X-API-Key": self.key} if auth else {})}
        request = urllib.request.Request(self.origin + path, headers=headers)
        try:
            try:
                with self._opener.open(request, timeout=UPSTREAM_TIMEOUT_S) as r:
                    return r.status, json.loads(r.read() or b"null")
            except urllib.error.HTTPError as e:
                with e:
                    raw = e.read()
                try:
                    return e.code, json.loads(raw or b"null")
                except ValueError:
                    return e.code, None
        except (OSError, ValueError) as e:  # refused, reset, timeout, not JSON
            raise Problem(502, "upstream_error", "An upstream agency failed",
                          f"{path.split('/')[1]} unreachable: {type(e).__name__}; retry") from None

    async def read(self, agency: str, path: str, missing: Problem) -> dict[str, Any]:
        """The record at ``path``; ``missing`` on 404, 502 on anything but 200."""
        status, body = await self.get(path)
        if status == 404:
            raise missing
        if status != 200 or not isinstance(body, dict):
            raise Problem(502, "upstream_error", "An upstream agency failed",
                          f"{agency} answered {status}; retry")
        return body


class Clock:
    """The scenario clock, anchored on the upstream's ``GET /healthz`` and re-read every few seconds.

    Read lazily: the upstream may start after this agency. The anchor is (scenario ``now``, the
    wall time it was computed at, ``speed``); between reads the clock runs at ``speed``.
    """

    def __init__(self, upstream: Upstream, tz: str) -> None:
        self.upstream, self.tz = upstream, ZoneInfo(tz)
        self.anchor: tuple[datetime, float, float] | None = None
        self.read_at = 0.0  # time.monotonic() of the last successful read

    async def now(self) -> datetime:
        if self.anchor is None or time.monotonic() - self.read_at > CLOCK_REFRESH_S:
            try:
                status, body = await self.upstream.get("/healthz", auth=False)
                if status != 200 or not isinstance(body, dict):
                    raise Problem(502, "upstream_error", "An upstream agency failed",
                                  f"upstream /healthz answered {status}; retry")
                speed = float(body["speed"])
                wall = float(body["t0"]) + float(body["minute"]) * 60 / speed if "t0" in body else time.time()
                self.anchor = (datetime.fromisoformat(body["now"]), wall, speed)
                self.read_at = time.monotonic()
            except (Problem, KeyError, TypeError, ValueError, ZeroDivisionError):
                if self.anchor is None:
                    raise Problem(502, "upstream_error", "Scenario clock unavailable",
                                  "cannot read the upstream's /healthz; retry") from None
        now, wall, speed = self.anchor
        return (now + timedelta(seconds=(time.time() - wall) * speed)).astimezone(self.tz)

    async def today(self) -> date:
        return (await self.now()).date()


# ---------------------------------------------------------------- store


SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (caller TEXT, key TEXT, fingerprint TEXT, status INTEGER,
    body TEXT, PRIMARY KEY (caller, key));                    -- this store is the VSS agency's only
CREATE TABLE IF NOT EXISTS cards (card_code TEXT PRIMARY KEY, bhxh TEXT UNIQUE, pid TEXT UNIQUE,
    body TEXT);
CREATE TABLE IF NOT EXISTS payments (kind TEXT, payment_id TEXT PRIMARY KEY, death_register_no TEXT,
    body TEXT, UNIQUE (kind, death_register_no));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER);
"""
Write = Callable[[sqlite3.Connection], dict[str, Any]]  # the register write, run inside the commit
Endpoint = Callable[[Request], Awaitable[Response]]


class Store:
    def __init__(self, path: str | Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def replay(self, caller: str, key: str, fingerprint: str) -> Response | None:
        row = self.db.execute("SELECT fingerprint, status, body FROM idempotency WHERE caller=? AND key=?",
                              (caller, key)).fetchone()
        if row is None:
            return None
        if row[0] != fingerprint:
            raise Problem(409, "idempotency_key_reused", "Idempotency-Key reused with another body",
                          "this key was first used with another request; use a new key")
        return Response(row[2], row[1], media_type="application/json",
                        headers={"Idempotent-Replayed": "true"})

    def commit(self, caller: str, key: str, fingerprint: str, write: Write) -> Response:
        """One transaction: a replay if the key landed meanwhile, else ``write`` and the key's answer."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if (hit := self.replay(caller, key, fingerprint)) is not None:
                self.db.execute("ROLLBACK")
                return hit
            body = json.dumps(write(self.db), ensure_ascii=False)
            self.db.execute("INSERT INTO idempotency VALUES (?, ?, ?, 201, ?)",
                            (caller, key, fingerprint, body))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return Response(body, 201, media_type="application/json")

    def one(self, sql: str, *args: Any) -> dict[str, Any] | None:
        row = self.db.execute(sql, args).fetchone()
        return json.loads(row[0]) if row else None

    def all(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self.db.execute(sql, args)]

    def next(self, db: sqlite3.Connection, name: str) -> int:
        n = db.execute("INSERT INTO counters VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1"
                       " RETURNING value", (name,)).fetchone()[0]
        return int(n)


# ---------------------------------------------------------------- the agency


class Vss:
    def __init__(self, cfg: Config, db_path: str | Path) -> None:
        self.cfg, self.store = cfg, Store(db_path)
        self.upstream = Upstream(cfg.upstream, cfg.upstream_key)
        self.clock = Clock(self.upstream, cfg.timezone)
        # BHXH serials: n -> (a*n + b) mod 10^8 is a bijection when gcd(a, 10) = 1: no collisions.
        a = 2 * (cfg.seed % 10**7) + 1
        self.mult, self.offset = (a + 2 if a % 5 == 0 else a), cfg.seed % 10**8

    def caller(self, request: Request, scope: str) -> str:
        found = self.cfg.callers.get(request.headers.get("x-api-key", ""))
        if found is None:
            raise Problem(401, "unauthenticated", "Missing or unknown API key", "send a known X-API-Key")
        if scope not in found[1]:
            raise Problem(403, "forbidden", "Caller lacks the scope", f"this endpoint needs {scope}")
        return found[0]

    # ---- writes (§3 order of checks): auth, key, size, content type, JSON, validation (with the
    # PID checks), replay, business rules, one commit

    async def write(self, request: Request, spec: Spec,
                    rules: Callable[[dict[str, Any]], Awaitable[Write]],
                    check: Callable[[dict[str, Any]], None] | None = None) -> Response:
        caller = self.caller(request, "vss:write")
        key = request.headers.get("idempotency-key")
        if key is None:
            raise Problem(400, "idempotency_key_missing", "Idempotency-Key required", "every POST needs one")
        if not KEY_RE.fullmatch(key):
            raise Problem(400, "idempotency_key_invalid", "Idempotency-Key malformed",
                          "1-128 characters of A-Za-z0-9._:-")
        raw = await _body(request)
        if not JSON_TYPE_RE.fullmatch(request.headers.get("content-type", "")):
            raise Problem(415, "unsupported_media_type", "Unsupported media type",
                          "send Content-Type: application/json")
        try:
            data = json.loads(raw)
        except ValueError:
            raise Problem(400, "invalid_json", "Body is not JSON", "send a UTF-8 JSON object") from None
        body = validate(data, spec)
        if check is not None:
            check(body)
        canonical = json.dumps([request.url.path, body], sort_keys=True, ensure_ascii=False)
        fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
        if (hit := self.store.replay(caller, key, fingerprint)) is not None:
            return hit
        write = await rules(body)
        return self.store.commit(caller, key, fingerprint, write)

    @staticmethod
    def card_pid(body: dict[str, Any]) -> None:
        """§7: an absent, null or empty PID is no_pid; a malformed one invalid_pid (validation)."""
        pid = body.get("pid") or ""
        if not pid:
            raise Problem(422, "no_pid", "No personal ID", "the child has no PID yet", errors=[
                {"field": "pid", "message": "field required"}])
        if not pid_ok(pid):
            raise Problem(422, "invalid_pid", "Invalid personal ID",
                          f"{mask(pid)} is not 12 digits with a known province",
                          errors=[{"field": "pid", "message": "12 digits, known province"}])

    async def card_rules(self, body: dict[str, Any]) -> Write:
        pid = body["pid"]
        today = await self.clock.today()
        if pid_year(pid) > today.year:  # §3: nobody holds the PID of someone born later
            raise Problem(422, "invalid_pid", "Invalid personal ID",
                          f"{mask(pid)} is of someone born after {today.year}",
                          errors=[{"field": "pid", "message": "born after today's year"}])
        person = await self.upstream.read("police", f"/police/people/{pid}", Problem(
            422, "no_pid", "No personal ID", f"police has not issued {mask(pid)}"))
        if person.get("alive") is False:
            raise Problem(422, "person_deceased", "Person is deceased", f"{mask(pid)} is registered dead")
        born = _field_date(person, "birth_date", "police")
        d72, valid_to = card_validity(born)
        if today >= d72:
            months = (today.year - born.year) * 12 + today.month - born.month - (today.day < born.day)
            raise Problem(422, "child_too_old", "Child is 6 or older",
                          f"child born {born} is {months} months old on {today}; cards are for children"
                          " under 72 months")
        province = pid[1:3]

        def write(db: sqlite3.Connection) -> dict[str, Any]:
            self._no_card(pid)
            serial = (self.mult * self.store.next(db, f"bhxh:{province}") + self.offset) % 10**8
            bhxh = f"{province}{serial:08d}"
            # §3: the card's record id, named by a 409 in `existing` (its code holds the BHXH number)
            card = {"card_id": f"CARD-{self.store.next(db, 'card'):08d}",
                    "card_code": f"TE1{province}{bhxh}", "bhxh": bhxh, "pid": pid,
                    "full_name": person.get("full_name"), "birth_date": born.isoformat(),
                    "valid_from": born.isoformat(), "valid_to": valid_to.isoformat(),
                    "issued_on": today.isoformat(),
                    "initial_care_facility": body.get("initial_care_facility")}
            db.execute("INSERT INTO cards VALUES (?, ?, ?, ?)",
                       (card["card_code"], bhxh, pid, json.dumps(card, ensure_ascii=False)))
            return card
        return write

    def _no_card(self, pid: str) -> None:
        card = self.store.one("SELECT body FROM cards WHERE pid=?", pid)
        if card is not None:
            raise Problem(409, "already_issued", "Card already issued",
                          f"child {mask(pid)} already holds card {card['card_id']}",
                          existing=card["card_id"])

    def payment_rules(self, kind: str) -> Callable[[dict[str, Any]], Awaitable[Write]]:
        funeral = kind == "funeral"
        code, prefix = ("already_paid", "MT") if funeral else ("already_settled", "TT")

        def unique(no: str) -> None:
            row = self.store.one("SELECT body FROM payments WHERE kind=? AND death_register_no=?", kind, no)
            if row is not None:
                raise Problem(409, code, "Already paid" if funeral else "Already settled",
                              f"{row['payment_id']} was made for this death", existing=row["payment_id"])

        async def rules(body: dict[str, Any]) -> Write:
            no = body["death_register_no"]
            death = await self.upstream.read("justice", f"/justice/deaths/{urllib.parse.quote(no, safe='')}",
                                             Problem(422, "death_not_registered", "Death not registered",
                                                     "justice holds no such death record"))
            if death.get("status") not in PAID_STATUSES:
                raise Problem(422, "not_eligible", "Not eligible",
                              f"status {death.get('status')!r}: VSS pays pensioners and the insured only")
            died = _field_date(death, "death_date", "justice")
            unit = multiple = amount = None
            if funeral:
                rates = [vnd for since, vnd in self.cfg.base_pay if since <= died]
                if not rates:
                    raise Problem(422, "invalid_date", "Invalid date", f"no base pay in force on {died}")
                unit, m = rates[-1], self.cfg.funeral_multiple
                multiple = int(m) if m.is_integer() else m
                amount = round(unit * m)
            today = await self.clock.today()

            def write(db: sqlite3.Connection) -> dict[str, Any]:
                unique(no)
                payment = {"payment_id": f"{prefix}-{today.year}-{self.store.next(db, kind):07d}",
                           "death_register_no": no, "deceased_pid": death.get("deceased_pid"),
                           "death_date": died.isoformat(), "status": death["status"],
                           "regime": "bhxh_funeral" if funeral else "survivor",
                           "unit_vnd": unit, "multiple": multiple, "amount_vnd": amount,
                           "claimant_name": body["claimant_name"], "paid_on": today.isoformat()}
                db.execute("INSERT INTO payments VALUES (?, ?, ?, ?)",
                           (kind, payment["payment_id"], no, json.dumps(payment, ensure_ascii=False)))
                return payment
            return write
        return rules

    # ---- reads

    def get_one(self, request: Request, sql: str, param: str) -> Response:
        self.caller(request, "vss:read")
        ident = request.path_params[param]
        record = self.store.one(sql, ident)
        if record is None:
            raise Problem(404, "not_found", "Not found", f"no record {mask(ident)}")
        return JSONResponse(record)

    def get_items(self, request: Request, by: dict[str, str]) -> Response:
        """§10 register read: exactly one of the parameters in ``by`` (param → SQL)."""
        self.caller(request, "vss:read")
        given = {k: request.query_params.get(k, "").strip() for k in by if k in request.query_params}
        if len(given) != 1 or not next(iter(given.values())):
            raise invalid([{"field": " | ".join(by), "message": "exactly one query parameter required"}])
        (param, value), = given.items()
        return JSONResponse({"items": self.store.all(by[param], value)})

    async def healthz(self, request: Request) -> Response:
        body: dict[str, Any] = {"status": "ok", "scenario": self.cfg.scenario, "agencies": ["vss"]}
        with contextlib.suppress(Problem):
            body["now"] = (await self.clock.now()).isoformat()
        return JSONResponse(body)


def _field_date(record: dict[str, Any], field: str, agency: str) -> date:
    try:
        return date.fromisoformat(record[field])
    except (KeyError, TypeError, ValueError):
        raise Problem(502, "upstream_error", "An upstream agency failed",
                      f"{agency} sent a record without a valid {field}") from None


async def _body(request: Request) -> bytes:
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        raise Problem(413, "payload_too_large", "Body too large", "bodies are at most 64 KiB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Problem(413, "payload_too_large", "Body too large", "bodies are at most 64 KiB")
        chunks.append(chunk)
    return b"".join(chunks)


def problems(fn: Endpoint) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        try:
            return await fn(request)
        except Problem as p:
            return p.response()
    return endpoint


def create_app(cfg: Config, db_path: str | Path) -> Starlette:
    vss = Vss(cfg, db_path)

    async def post_card(r: Request) -> Response:
        return await vss.write(r, CARD, vss.card_rules, vss.card_pid)

    async def get_work(r: Request) -> Response:  # §13: every write is answered 201, so no work exists
        return vss.get_one(r, "SELECT body FROM cards WHERE 0 AND ?", "work_id")

    async def list_cards(r: Request) -> Response:
        return vss.get_items(r, {
            "pid": "SELECT body FROM cards WHERE pid=? ORDER BY rowid",
            "issued_on": "SELECT body FROM cards WHERE json_extract(body, '$.issued_on')=? ORDER BY rowid"})

    async def get_card(r: Request) -> Response:
        return vss.get_one(r, "SELECT body FROM cards WHERE card_code=?", "card_code")

    routes = [Route("/healthz", problems(vss.healthz), methods=["GET"]),
              Route("/vss/child-cards", problems(post_card), methods=["POST"]),
              Route("/vss/child-cards", problems(list_cards), methods=["GET"]),
              Route("/vss/child-cards/{card_code}", problems(get_card), methods=["GET"]),
              Route("/vss/work/{work_id}", problems(get_work), methods=["GET"])]
    for kind, path in (("funeral", "/vss/funeral-allowances"), ("survivor", "/vss/survivor-benefits")):
        routes += payment_routes(vss, kind, path)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "internal_error")
        return Problem(status, code, code.replace("_", " ").capitalize()).response()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        vss.store.db.close()

    return Starlette(routes=routes, lifespan=lifespan,
                     exception_handlers={HTTPException: http_error, Exception: http_error})


def payment_routes(vss: Vss, kind: str, path: str) -> list[Route]:
    rules, select = vss.payment_rules(kind), f"SELECT body FROM payments WHERE kind='{kind}' AND"

    async def post(r: Request) -> Response:
        return await vss.write(r, PAYMENT, rules)

    async def items(r: Request) -> Response:
        return vss.get_items(r, {
            "death_register_no": f"{select} death_register_no=? ORDER BY rowid",
            "paid_on": f"{select} json_extract(body, '$.paid_on')=? ORDER BY rowid"})

    async def one(r: Request) -> Response:
        return vss.get_one(r, f"{select} payment_id=?", "payment_id")

    return [Route(path, problems(post), methods=["POST"]), Route(path, problems(items), methods=["GET"]),
            Route(path + "/{payment_id}", problems(one), methods=["GET"])]
