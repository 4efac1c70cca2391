"""RFC 7807 problem documents with a stable ``code``, and the handlers that emit them."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from fakes.ids import RECORD_ID_PATTERN

__all__ = ["HEALTH_RESPONSES", "PROBLEM_RESPONSES", "Problem", "ProblemModel", "dependency_unavailable",
           "install_handlers", "internal_error", "problem_response"]

PROBLEM_TYPE = "https://lienthong.example/problems/"
MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """A refusal to send as a problem document: ``Problem(422, "child_too_old", "...")``."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail = status, code, detail
        self.title = title or code.replace("_", " ").capitalize()
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The problem document as a dict."""
        doc = {
            "type": PROBLEM_TYPE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        doc.update(self.extra)
        return doc


class FieldError(BaseModel):
    """One invalid field of a 400/422 (``field`` is a dotted path)."""

    field: str
    message: str


class ProblemModel(BaseModel):
    """Schema of a problem document (RFC 7807 plus ``code``; CONTRACT.md §3)."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] | None = Field(
        default=None, description="400/422: the invalid fields (dotted paths)")
    existing: str | None = Field(
        default=None, pattern=RECORD_ID_PATTERN,
        description="409 of business uniqueness: the record id of the record that already holds "
                    "the fact, never a PID, BHXH number or card code (CONTRACT.md §3)")


def problem_response(problem: Problem) -> Response:
    """A ``Response`` carrying ``problem``."""
    return Response(
        json.dumps(problem.body(), ensure_ascii=False).encode(),
        problem.status,
        headers=problem.headers,
        media_type=MEDIA_TYPE,
    )


def _doc(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "model": ProblemModel,
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemModel"}}},
    }


#: Problem responses every agency route may give, for the OpenAPI document.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _doc("Missing or malformed Idempotency-Key, or malformed JSON"),
    401: _doc("Missing or unknown X-API-Key"),
    403: _doc("Caller lacks the scope"),
    404: _doc("Unknown resource"),
    409: _doc("Idempotency key reused with another body, or the fact already exists"),
    413: _doc("Body over 64 KiB"),
    415: _doc("A write whose Content-Type is not application/json"),
    422: _doc("Validation error or business-rule refusal"),
    500: _doc("The server failed (internal_error, with request_id)"),
    502: _doc("An upstream agency failed"),
    503: _doc("Injected outage"),
}

#: The problem a portal's ``/healthz`` may give, for the OpenAPI document.
HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: _doc("An agency the portal calls over HTTP does not answer (dependency_unavailable)"),
}


def dependency_unavailable(dead: dict[str, str], **extra: Any) -> Problem:
    """The 503 ``dependency_unavailable`` of a ``/healthz`` whose server calls agencies over HTTP
    and ``dead`` (agency → base URL) do not answer; ``unavailable`` lists them, ``extra`` adds
    fields (the healthz's own)."""
    names = ", ".join(f"{agency} at {url}" for agency, url in sorted(dead.items()))
    return Problem(503, "dependency_unavailable", f"no answer from {names}",
                   title="Dependency unavailable", unavailable=dict(sorted(dead.items())), **extra)


_CODED = re.compile(r"\[([a-z_]+)\]")
#: Fields that reference an attachment: a write missing only these is ``missing_attachment``.
_ATTACHMENTS = (("birth_certificate_id",), ("death_notice_id",))


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))} for e in exc.errors()
    ]
    keys = [e for e in exc.errors() if tuple(e.get("loc", ()))[:2] == ("header", "Idempotency-Key")]
    if keys:
        missing = keys[0].get("type") == "missing"
        return problem_response(
            Problem(
                400,
                "idempotency_key_missing" if missing else "idempotency_key_invalid",
                "writes need an Idempotency-Key header"
                if missing
                else "Idempotency-Key must be 1-128 characters of A-Za-z0-9._:-",
                errors=errors,
            )
        )
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return problem_response(Problem(400, "invalid_json", "the body is not valid JSON", errors=errors))
    if all(e.get("type") == "missing" and tuple(e.get("loc", ()))[-1:] in _ATTACHMENTS
           for e in exc.errors()):
        return problem_response(Problem(422, "missing_attachment", "the attachment of the request "
                                        "did not arrive", errors=errors))
    fields = ", ".join(sorted({e["field"] for e in errors}))
    # a coded error (a malformed PID: invalid_pid) gives its code only when it is all that is wrong
    coded = {m[1] if (m := _CODED.search(e["message"])) else "" for e in errors}
    code = coded.pop() if len(coded) == 1 and "" not in coded else "validation_error"
    return problem_response(Problem(422, code, f"invalid fields: {fields}", errors=errors))


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc)


_HTTP_CODES = {
    400: "invalid_json",  # FastAPI's own body parsing: invalid UTF-8, JSON nested too deep
    404: "not_found",
    405: "method_not_allowed",
    401: "unauthenticated",
    403: "forbidden",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    detail = ("the body is not valid JSON in UTF-8, or is nested too deep to read" if code == "invalid_json"
              else str(exc.detail))
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # Starlette's Allow names one route's methods; the path may have more
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return problem_response(Problem(exc.status_code, code, detail, headers=headers))


def _allowed_methods(request: Request) -> str:
    """The methods the app's OpenAPI documents at the request's path (RFC 9110 §15.5.6): a path
    served by one route per method (GET and POST on ``/justice/births``) allows them all."""
    table = getattr(request.app.state, "allowed_methods", None)
    if table is None:
        paths = request.app.openapi().get("paths", {}) if hasattr(request.app, "openapi") else {}
        table = [(re.compile("[^/]+".join(map(re.escape, re.split(r"\{[^/{}]+\}", path))) + "$"),
                  ", ".join(sorted(m.upper() for m in ops)))
                 for path, ops in paths.items()]
        request.app.state.allowed_methods = table
    path = request.url.path
    return next((methods for pattern, methods in table if pattern.match(path)), "")


log = logging.getLogger("fakes")


def internal_error(exc: BaseException, method: str, path: str) -> Problem:
    """The 500 ``internal_error`` problem for an exception no handler expected, logged (with its
    traceback) under a new request id that the problem carries (``request_id`` and header
    ``X-Request-Id``), so a client's report can be found in the server's log."""
    rid = uuid.uuid4().hex[:16]
    log.error("request %s: %s %s failed: %s: %s", rid, method, path, type(exc).__name__, exc,
              exc_info=(type(exc), exc, exc.__traceback__))
    exc.lienthong_answered = True  # type: ignore[attr-defined]  # logged and answered: not again
    return Problem(500, "internal_error", f"the server failed on this request; its log has it under "
                   f"request id {rid}", headers={"X-Request-Id": rid}, request_id=rid)


async def _internal(request: Request, exc: Exception) -> Response:
    return problem_response(internal_error(exc, request.method, request.url.path))


def install_handlers(app: FastAPI) -> None:
    """Turn validation errors, HTTP errors and ``Problem`` into problem documents, and any other
    exception into a logged 500 ``internal_error`` problem."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _internal)
