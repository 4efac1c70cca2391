"""Field types, models and helpers shared by the agency routers."""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Callable, Coroutine, Hashable, Iterable
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Depends, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.responses import Response

from fakes._env import Env
from fakes.ids import PROVINCES, RECORD_ID_PATTERN, SerialAllocator, mask, validate_pid
from fakes.problems import PROBLEM_RESPONSES, Problem

__all__ = [
    "PID_PATTERN",
    "PROBLEMS",
    "Blocks",
    "Body",
    "Code5",
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
    "check_past",
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

_NAME = re.compile(r"[^\W\d_]+(?:[ '.-]+[^\W\d_]+)*\.?")


def _name(value: str) -> str:
    """NFC-normalise and trim a person's name; refuse digits, symbols and odd spacing."""
    value = " ".join(unicodedata.normalize("NFC", value).split())
    if not 1 <= len(value) <= 100 or not _NAME.fullmatch(value):
        raise ValueError("a name is 1-100 letters, spaces, ' - and . (stored as NFC)")
    return value


def _pid(value: str) -> str:
    reason = validate_pid(value)
    if reason is not None:
        raise ValueError(f"[invalid_pid] {reason}")
    return value


def _province(value: str) -> str:
    if value not in PROVINCES:
        raise ValueError("not one of the 63 PID province codes (CONTRACT.md §3)")
    return value


#: 12 ASCII digits (the province must be known too): documented in the OpenAPI, checked by
#: ``fakes.ids.validate_pid`` so that a malformed PID is refused ``invalid_pid`` (CONTRACT.md §3).
PID_PATTERN = r"^[0-9]{12}$"
Name = Annotated[str, Field(min_length=1, max_length=400), AfterValidator(_name)]
Pid = Annotated[str, Field(max_length=40, examples=["001226000042"],
                           json_schema_extra={"pattern": PID_PATTERN}), AfterValidator(_pid)]
#: A PID province code (``001`` Hà Nội): one of ``fakes.ids.PROVINCES``.
Province = Annotated[str, Field(examples=["001"], json_schema_extra={"enum": sorted(PROVINCES)}),
                     AfterValidator(_province)]
#: The id of a register record (CONTRACT.md §3): what a 409 names in ``existing``.
RecordId = Annotated[str, Field(pattern=RECORD_ID_PATTERN, examples=["TH0000000001"])]
Code5 = Annotated[str, Field(pattern=r"^[0-9]{5}$", examples=["00070"])]
Text = Annotated[str, Field(min_length=1, max_length=200)]
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


def check_past(env: Env, field: str, day: dt.date) -> None:
    """Raise Problem 422 when ``day`` is after the scenario date or before 1900."""
    today = env.clock.today()
    if day > today:
        raise Problem(422, "future_date", f"{field} {day} is after today ({today})",
                      errors=[{"field": field, "message": "in the future"}])
    if day.year < 1900:
        raise Problem(422, "invalid_date", f"{field} {day} is before 1900",
                      errors=[{"field": field, "message": "before 1900"}])

