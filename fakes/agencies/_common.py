"""Field types, models and helpers shared by the agency routers."""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Callable, Coroutine, Hashable, Iterable
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Depends, Query, Request
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from starlette.responses import Response

from fakes._env import Env
from fakes.ids import PROVINCES, RECORD_ID_PATTERN, SerialAllocator, mask, validate_pid
from fakes.problems import PROBLEM_RESPONSES, Problem

__all__ = [
    "DATE_PATTERN",
    "FIRST_DAY",
    "LAST_DAY",
    "NAME_PATTERN",
    "PID_PATTERN",
    "PROBLEMS",
    "TEXT_PATTERN",
    "Blocks",
    "Body",
    "Code5",
    "Day",
    "Flag",
    "Items",
    "Name",
    "Pid",
    "Province",
    "RecordId",
    "Ref",
    "RegisterNo",
    "Relation",
    "Sex",
    "Text",
    "WholeNumber",
    "check_past",
    "check_pid_born",
    "env_of",
    "items_response",
    "json_response",
    "list_docs",
    "not_found",
    "one_doc",
    "raw_response",
    "search_by",
    "search_key",
]

#: A name as stored (NFC, trimmed, inner white space collapsed to one space): words of letters
#: (``\p{L}``, each followed by its combining marks ``\p{M}``, so an NFD spelling matches too)
#: joined by runs of space, ``'``, ``-`` and ``.``, with at most one ``.`` after the last word.
#: ``\p{..}`` are Unicode property escapes (ECMA-262 with the ``u`` flag, JSON Schema 2020-12).
NAME_PATTERN = r"^\p{L}[\p{L}\p{M}]*(?:[ '.-]+\p{L}[\p{L}\p{M}]*)*\.?$"
#: ``NAME_PATTERN`` over the shape of a name (``L`` a letter, ``M`` a mark, ``?`` anything that
#: is neither nor a separator): Python's ``re`` has no ``\p{..}``.
_NAME_SHAPE = re.compile(r"L[LM]*(?:[ '.-]+L[LM]*)*\.?")
_NAME_MAX = 100


def _shape(value: str) -> str:
    out = []
    for ch in value:
        kind = unicodedata.category(ch)[0]
        out.append(kind if kind in "LM" else ch if ch in " '.-" else "?")
    return "".join(out)


def _name(value: str) -> str:
    """NFC-normalise and collapse a person's name; refuse digits, symbols and odd punctuation."""
    value = " ".join(unicodedata.normalize("NFC", value).split())
    if not 1 <= len(value) <= _NAME_MAX or not _NAME_SHAPE.fullmatch(_shape(value)):
        raise ValueError(f"a name is 1-{_NAME_MAX} letters (with their marks), words joined by "
                         "spaces, ' - and ., at most one . at the end (stored as NFC)")
    return value


#: Calendar bounds of every date a client sends, and of a PID's birth year (century digits 0-3).
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2099, 12, 31)


def _ranges(digits: str) -> str:
    """``"0124579"`` -> ``"0-24579"``: runs of three or more consecutive digits as ranges."""
    out, i = [], 0
    while i < len(digits):
        j = i
        while j + 1 < len(digits) and int(digits[j + 1]) == int(digits[j]) + 1:
            j += 1
        out.append(digits[i] + ("-" + digits[j] if j - i >= 2 else digits[i + 1:j + 1]))
        i = j + 1
    return "".join(out)


#: The 63 PID province codes as one regex (``(?:00[12468]|01[0124579]|...)``).
_PROVINCE_RE = "(?:" + "|".join(
    head + "[" + _ranges("".join(sorted(c[2] for c in PROVINCES if c[:2] == head))) + "]"
    for head in sorted({c[:2] for c in PROVINCES})) + ")"
#: A PID as far as a regex can say (CONTRACT.md §3): a known province, century/sex digit 0-3
#: (born 1900-2099), two year digits, a six-digit serial. Not after today's year: the server.
PID_PATTERN = f"^{_PROVINCE_RE}[0-3][0-9]{{8}}$"
#: An ISO date in 1900-01-01..2099-12-31 (with ``format: date``: a real calendar day).
DATE_PATTERN = r"^(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"
#: Holds a character that is not white space (Unicode White_Space, what trimming removes).
TEXT_PATTERN = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def _pid(value: str) -> str:
    reason = validate_pid(value, latest_year=LAST_DAY.year)
    if reason is not None:
        raise ValueError(f"[invalid_pid] {reason}")
    return value


def _province(value: str) -> str:
    if value not in PROVINCES:
        raise ValueError("not one of the 63 PID province codes (CONTRACT.md §3)")
    return value


def _iso_date(value: Any) -> Any:
    """A date is an ISO ``YYYY-MM-DD`` string (a date object from the server's own code)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return value
    raise ValueError("a date is a string YYYY-MM-DD")


def _in_calendar(day: dt.date) -> dt.date:
    if day < FIRST_DAY:
        raise ValueError(f"[invalid_date] {day} is before {FIRST_DAY}")
    if day > LAST_DAY:
        raise ValueError(f"[future_date] {day} is after {LAST_DAY}, so after today")
    return day


def _whole_number(value: Any) -> Any:
    """A JSON number with no fractional part: never a boolean or a string."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a whole JSON number (not a boolean or a string)")
    return value


def _flag(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


#: A person's name: what is stored (and what ``pattern`` and ``maxLength`` describe) is the name
#: NFC-normalised, trimmed and with inner white space collapsed; up to 400 characters are read.
Name = Annotated[str, Field(min_length=1, max_length=400,
                            json_schema_extra={"pattern": NAME_PATTERN, "maxLength": _NAME_MAX}),
                 AfterValidator(_name)]
Pid = Annotated[str, Field(max_length=40, examples=["001226000042"],
                           json_schema_extra={"pattern": PID_PATTERN}), AfterValidator(_pid)]
#: A PID province code (``001`` Hà Nội): one of ``fakes.ids.PROVINCES``.
Province = Annotated[str, Field(examples=["001"], json_schema_extra={"enum": sorted(PROVINCES)}),
                     AfterValidator(_province)]
#: A date a client sends: ``YYYY-MM-DD`` only, 1900-01-01..2099-12-31 (before: ``invalid_date``,
#: after: ``future_date``, when that is all that is wrong); "not after today" is the endpoint's.
Day = Annotated[dt.date, BeforeValidator(_iso_date), AfterValidator(_in_calendar),
                Field(json_schema_extra={"pattern": DATE_PATTERN})]
#: A whole number: a JSON integer (``1`` or ``1.0``), never ``true`` or ``"1"``.
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
#: ``true`` or ``false``, never ``1``, ``"true"`` or ``"yes"``.
Flag = Annotated[bool, BeforeValidator(_flag)]
#: The id of a register record (CONTRACT.md §3): what a 409 names in ``existing``.
RecordId = Annotated[str, Field(pattern=RECORD_ID_PATTERN, examples=["TH0000000001"])]
Code5 = Annotated[str, Field(pattern=r"^[0-9]{5}$", examples=["00070"])]
#: Free text: 1-200 characters once trimmed (so not white space only).
Text = Annotated[str, Field(min_length=1, max_length=200, json_schema_extra={"pattern": TEXT_PATTERN})]
Ref = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,40}$", examples=["GCS-01001-2026-000001"])]
RegisterNo = Annotated[str, Field(pattern=r"^K[ST]-[0-9]{5}-[0-9]{4}-Q[0-9]{2}-[0-9]{6}$",
                                  examples=["KT-00070-2026-Q01-000003"])]
Relation = Literal["mother", "father", "grandparent", "spouse", "child", "parent", "sibling",
                   "relative", "other"]
Sex = Literal["M", "F"]

PROBLEMS = PROBLEM_RESPONSES
T = TypeVar("T")


class Blocks:
    """Serials of a ``fakes.ids.SerialAllocator`` drawn ``block`` at a time, handed out one
    by one in the allocator's order (a draw costs the same for 1 or 64 serials).

    ``used(key)`` counts the drawn block, so persisting it with every issued serial keeps a
    restart from reissuing any serial of the block (the unissued rest becomes a gap).
    """

    def __init__(self, alloc: SerialAllocator, block: int = 64) -> None:
        self.alloc, self.block = alloc, block
        self._ready: dict[Hashable, list[int]] = {}

    def next(self, key: Hashable) -> int:
        """The next serial of ``key``. Raises OverflowError when the key has none left."""
        ready = self._ready.get(key)
        if not ready:
            count = max(1, min(self.block, self.alloc.remaining(key)))
            ready = self._ready[key] = self.alloc.allocate(key, count).tolist()[::-1]
        return int(ready.pop())

    def used(self, key: Hashable) -> int:
        """Serials of ``key`` drawn from the allocator (issued or in the current block)."""
        return self.alloc.used(key)


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Items(BaseModel, Generic[T]):
    """The answer of a register read (CONTRACT.md §10): every matching record."""

    items: list[T]


def env_of(request: Request) -> Env:
    """The server's Env."""
    env: Env = request.app.state.env
    return env


def json_response(doc: dict[str, Any], status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    """A JSON response from a plain dict (skipping FastAPI's encoder)."""
    return Response(json.dumps(doc, ensure_ascii=False).encode(), status, headers=headers,
                    media_type="application/json")


def raw_response(text: str, status: int = 200) -> Response:
    """A JSON response from a document stored as JSON text (no parse and re-encode)."""
    return Response(text.encode(), status, media_type="application/json")


def not_found(what: str, ident: str, code: str = "not_found") -> Problem:
    """404 naming the kind of record and the (masked) identifier."""
    return Problem(404, code, f"no {what} {mask(ident)}")


async def one_doc(request: Request, agency: str, sql: str, ident: str, what: str,
                  code: str = "not_found") -> Response:
    """The stored JSON of one register entry of ``agency`` (after pending writes settle).

    Raises Problem 404 naming ``what`` and ``ident`` when ``sql`` finds nothing.
    """
    store = env_of(request).stores[agency]
    await store.settled()
    doc = store.raw(sql, ident)
    if doc is None:
        raise not_found(what, ident, code)
    return raw_response(doc)


def items_response(docs: Iterable[str]) -> Response:
    """200 ``{"items": [...]}`` from documents stored as JSON text (no parse and re-encode)."""
    return raw_response('{"items":[' + ",".join(docs) + "]}")


async def list_docs(request: Request, agency: str, sql: str, key: str) -> Response:
    """``{"items": [...]}``: the stored JSON of every register entry of ``agency`` that ``sql``
    finds for ``key`` (after pending writes settle); an empty list when there is none."""
    store = env_of(request).stores[agency]
    await store.settled()
    return items_response(str(row[0]) for row in store.db.execute(sql, (key,)))


def search_key(name: str, example: str) -> Callable[..., Coroutine[Any, Any, str]]:
    """A dependency giving the required query parameter ``name`` of a register read.

    Missing or empty → 422 ``validation_error``. That is checked before FastAPI validates the
    declared parameter (which only documents it in the OpenAPI), since FastAPI's handler would
    call a missing ``birth_certificate_id`` a missing attachment.
    """

    def present(request: Request) -> None:
        if not request.query_params.get(name):
            raise Problem(422, "validation_error", f"the query parameter {name} is required",
                          errors=[{"field": name, "message": "missing or empty"}])

    async def dependency(_: None = Depends(present),
                         value: str = Query(alias=name, min_length=1, examples=[example])) -> str:
        return value

    dependency.__name__ = f"search_{name}"
    return dependency


def search_by(key: tuple[str, str], day: str) -> Callable[..., Coroutine[Any, Any, tuple[str, str]]]:
    """A dependency giving ``(parameter, value)`` of a register read that takes exactly one of
    a key parameter (``key``: name and example) or a day ``day`` (ISO date).

    Neither, both, an empty value or a day that is not a date → 422 ``validation_error``.
    """
    name, example = key

    def exactly_one(request: Request) -> None:
        q = request.query_params
        given = [k for k in (name, day) if k in q]
        if len(given) != 1 or not q.get(given[0]):
            field = given[0] if len(given) == 1 else f"{name}|{day}" if given else name
            raise Problem(422, "validation_error", f"give exactly one of the query parameters {name} "
                          f"and {day}", errors=[{"field": field, "message": "missing, empty or both"}])
        if given[0] == day:
            try:
                dt.date.fromisoformat(q[day])
            except ValueError:
                raise Problem(422, "validation_error", f"{day} must be a date (YYYY-MM-DD)",
                              errors=[{"field": day, "message": "not a date"}]) from None

    async def dependency(_: None = Depends(exactly_one),
                         by_key: str | None = Query(None, alias=name, min_length=1, examples=[example]),
                         by_day: dt.date | None = Query(None, alias=day)) -> tuple[str, str]:
        return (name, str(by_key)) if by_key else (day, str(by_day))

    dependency.__name__ = f"search_{name}_or_{day}"
    return dependency


def check_pid_born(env: Env, field: str, pid: str | None) -> None:
    """Raise Problem 422 ``invalid_pid`` when ``pid`` says its holder is born after the scenario's
    year (CONTRACT.md §3: part of validation, checked before a replay is looked up)."""
    if pid is None:
        return
    reason = validate_pid(pid, latest_year=env.clock.today().year)
    if reason is not None:
        raise Problem(422, "invalid_pid", f"{field}: {reason}",
                      errors=[{"field": field, "message": reason}])


def check_past(env: Env, field: str, day: dt.date) -> None:
    """Raise Problem 422 when ``day`` is after the scenario date or before 1900."""
    today = env.clock.today()
    if day > today:
        raise Problem(422, "future_date", f"{field} {day} is after today ({today})",
                      errors=[{"field": field, "message": "in the future"}])
    if day.year < 1900:
        raise Problem(422, "invalid_date", f"{field} {day} is before 1900",
                      errors=[{"field": field, "message": "before 1900"}])

