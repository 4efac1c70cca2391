"""The hot routes served without FastAPI's per-request machinery, with the same semantics.

``DirectRoutes(api, auth)`` wraps the FastAPI app. For each ``APIRoute`` whose endpoint takes
only a pydantic body, the ``Request``, ``require(scope)``, ``idem_key`` and ``str`` path
parameters, it builds a plan once; a request matching a plan on the *happy path* (known key
holding the scope, well-formed ``Idempotency-Key`` on writes, a JSON content type and a body
that ``model_validate_json`` accepts) calls the endpoint directly. Everything else (unknown
routes, a missing or unknown key, a missing scope, a bad key header, an empty, malformed or
invalid body, another content type) is handed to FastAPI unchanged, body included, so every
refusal is exactly FastAPI's. Problems the endpoint raises become problem documents as
FastAPI's handler makes them. The OpenAPI document is FastAPI's, from the same routes.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from fakes._request_body import read_body, replay_body
from fakes.auth import Auth, Who
from fakes.idempotency import KEY_PATTERN, idem_key
from fakes.problems import Problem, problem_response

__all__ = ["DirectRoutes", "api_routes", "json_type"]

_KEY = re.compile(KEY_PATTERN)
Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Plan:
    route: APIRoute
    regex: re.Pattern[str]
    endpoint: Callable[..., Any]
    scope: str
    body: type[BaseModel] | None
    body_arg: str | None
    who_arg: str
    key_arg: str | None
    request_arg: str | None
    path_args: tuple[str, ...]


def _plan(route: APIRoute) -> _Plan | None:
    """The plan of ``route``, or None when its endpoint takes anything this router does not
    model (then FastAPI serves it)."""
    endpoint = route.endpoint
    try:
        hints = typing.get_type_hints(endpoint)
    except (NameError, TypeError):  # pragma: no cover - unresolvable annotations
        return None
    body = body_arg = key_arg = request_arg = who_arg = None
    scope: str | None = None
    path_args: list[str] = []
    for name, param in inspect.signature(endpoint).parameters.items():
        hint = hints.get(name)
        dep = getattr(param.default, "dependency", None)
        if dep is not None and getattr(dep, "scope", None) is not None:
            who_arg, scope = name, dep.scope
        elif dep is idem_key:
            key_arg = name
        elif hint is Request:
            request_arg = name
        elif isinstance(hint, type) and issubclass(hint, BaseModel) and body is None:
            body, body_arg = hint, name
        elif hint is str and param.default is inspect.Parameter.empty \
                and name in route.param_convertors:
            path_args.append(name)
        else:
            return None
    if who_arg is None or scope is None or len(route.methods or ()) != 1:
        return None
    return _Plan(route, route.path_regex, endpoint, scope, body, body_arg, who_arg, key_arg,
                 request_arg, tuple(path_args))


class DirectRoutes:
    """ASGI: the planned routes of ``api`` on their happy path, everything else to ``api``."""

    def __init__(self, api: FastAPI, auth: Auth) -> None:
        self.api, self.auth = api, auth
        self.plans: dict[str, list[_Plan]] = {}
        for route in api_routes(api.routes):
            if (plan := _plan(route)) is not None:
                method = next(iter(route.methods or ()))
                self.plans.setdefault(method, []).append(plan)

    def who(self, key: str, scope: str) -> Who | None:
        """The caller of ``key`` if it holds ``scope`` (``Auth.lookup``: fixed keys cached,
        citizen keys verified)."""
        return self.auth.lookup(key, scope)

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.api(scope, receive, send)
            return
        path = scope["path"]
        for plan in self.plans.get(scope["method"], ()):
            match = plan.regex.match(path)
            if match is not None:
                await self._serve(plan, match, scope, receive, send)
                return
        await self.api(scope, receive, send)

    async def _serve(self, plan: _Plan, match: re.Match[str], scope: Message, receive: Any,
                     send: Any) -> None:
        api_key = idem = ctype = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                api_key = value if api_key is None else api_key
            elif name == b"idempotency-key":
                idem = value if idem is None else idem
            elif name == b"content-type":
                ctype = value if ctype is None else ctype
        body = b""
        if plan.body is not None:
            body = await read_body(receive)
        args = self._args(plan, api_key, idem, ctype, body)
        if args is None:  # not the happy path: FastAPI answers, with the body replayed
            await self.api(scope, replay_body(body, receive) if plan.body is not None else receive,
                           send)
            return
        params = match.groupdict()
        for name in plan.path_args:
            args[name] = plan.route.param_convertors[name].convert(params[name])
        scope["app"] = self.api
        scope["route"] = plan.route
        scope["endpoint"] = plan.endpoint
        scope["path_params"] = params
        if plan.request_arg is not None:
            args[plan.request_arg] = Request(scope, replay_body(body, receive))
        try:
            response = await plan.endpoint(**args)
        except Problem as problem:
            response = problem_response(problem)
        await response(scope, receive, send)

    def _args(self, plan: _Plan, api_key: bytes | None, idem: bytes | None,
              ctype: bytes | None, body: bytes) -> dict[str, Any] | None:
        if api_key is None:
            return None
        who = self.who(api_key.decode("latin-1"), plan.scope)
        if who is None:
            return None
        args: dict[str, Any] = {plan.who_arg: who}
        if plan.key_arg is not None:
            if idem is None:
                return None
            key = idem.decode("latin-1")
            if _KEY.fullmatch(key) is None:
                return None
            args[plan.key_arg] = key
        if plan.body is not None:
            if not body or ctype is None or not json_type(ctype):
                return None
            try:
                args[str(plan.body_arg)] = plan.body.model_validate_json(body)
            except ValidationError:
                return None
        return args


def api_routes(routes: Any) -> list[APIRoute]:
    """The APIRoutes of ``routes``, through routers included without a prefix or
    dependencies (the agencies' routers carry their prefix themselves)."""
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        context = getattr(route, "include_context", None)
        inner = getattr(route, "original_router", None)
        if context is not None and inner is not None and not context.prefix \
                and not context.dependencies:
            out += api_routes(inner.routes)
    return out


def json_type(ctype: bytes) -> bool:
    """``application/json`` or ``application/*+json`` (parameters allowed), as FastAPI."""
    mime = ctype.split(b";", 1)[0].strip().lower()
    return mime == b"application/json" or (mime.startswith(b"application/")
                                           and mime.endswith(b"+json"))
