"""Phase (d), security: every endpoint of the agency refuses missing and unknown keys (401) and
callers without its scope (403); no error body carries a full personal identifier.

The endpoints come from the contract (our OpenAPI), not from the vendor's; who holds which
scope comes from the scenario's ``[callers]``. This is schemathesis' *ignored auth* check made
exhaustive: every operation × every wrong caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from certify import _test_data as data
from certify._dossiers import birth_dossier, submit
from certify._exchanges import PERSONAL, Exchange, scrub
from certify._outcomes import Blocked, Failed, Outcome, ensure, fingerprint, identifier_kind, passed
from certify._run_context import Check, Ctx
from fakes.citizen_keys import citizen_key
from fakes.ids import mask

__all__ = ["CHECKS", "operations", "scope_of"]

_WRONG_KEY = "lt-not-a-key-0000"


def operations(openapi: dict[str, Any], agency: str) -> list[tuple[str, str]]:
    """``(METHOD, path template)`` of every operation of ``agency`` in the contract, sorted."""
    ops = [(m.upper(), p) for p, item in openapi.get("paths", {}).items()
           if p.startswith(f"/{agency}/") for m in item if m in ("get", "post", "put", "delete", "patch")]
    return sorted(ops)


def scope_of(agency: str, method: str) -> str:
    """The scope an endpoint needs (CONTRACT.md §2)."""
    if agency == "portal":
        return "portal:read" if method == "GET" else "portal:submit"
    return f"{agency}:{'read' if method == 'GET' else 'write'}"


def _concrete(path: str, value: str = "X0000000001") -> str:
    out = []
    for part in path.split("/"):
        out.append(value if part.startswith("{") else part)
    return "/".join(out)


def _probe(ctx: Ctx, method: str, path: str, key: str | None) -> Exchange:
    body: dict[str, Any] | None = {} if method == "POST" else None
    return ctx.vendor.call(method, _concrete(path), key=key, body=body,
                           idem=ctx.key("sec", [method, path]) if method == "POST" else None)


def missing_or_unknown_key_refused_401(ctx: Ctx) -> Outcome:
    bad: list[Exchange] = []
    seen: list[Exchange] = []
    for method, path in operations(ctx.openapi, ctx.agency):
        for key in (None, _WRONG_KEY):
            ex = _probe(ctx, method, path, key)
            seen.append(ex)
            if ex.status != 401 or ex.code != "unauthenticated":
                bad.append(ex)
    ensure(not bad, "; ".join(f"{e.method} {e.url.split('://')[1].split('/', 1)[1]} "
                              f"{'without a key' if 'X-API-Key' not in e.headers else 'wrong key'}"
                              f" → {e.status} {e.code}" for e in bad[:6]), *bad[:3])
    return passed(f"{len(seen)} requests without or with a wrong key: all 401", *seen[:2])


def caller_without_the_scope_refused_403(ctx: Ctx) -> Outcome:
    """Every caller lacking the scope: 403. A citizen caller probes with one citizen's key
    (its configured key is the issuer secret, CONTRACT.md §2); an agency other than the portal
    need not verify citizen keys, so there 401 ``unauthenticated`` refuses one as well."""
    bad: list[Exchange] = []
    n = 0
    first: Exchange | None = None
    pid = data.pid_of(ctx, "F", 1990)
    keys = {name: _citizen(ctx, name, "X", pid) if caller.role == "citizen" else caller.key
            for name, caller in ctx.scenario.callers.items()}
    for method, path in operations(ctx.openapi, ctx.agency):
        need = scope_of(ctx.agency, method)
        for name, caller in sorted(ctx.scenario.callers.items()):
            if need in caller.scopes:
                continue
            citizen = caller.role == "citizen"
            ex = _probe(ctx, method, path, keys[name])
            n += 1
            first = first or ex
            if citizen and ctx.agency != "portal" and (ex.status, ex.code) == (401, "unauthenticated"):
                continue
            if ex.status != 403 or ex.code != "forbidden":
                bad.append(ex)
                ctx.notes.setdefault("sec002", []).append(f"{name} {method} {path} → {ex.status}")
    ensure(n > 0, "no caller without the scope in the scenario: nothing to test")
    ensure(not bad, "out-of-scope callers not refused 403: "
           + "; ".join(ctx.notes.get("sec002", [])[:6]), *bad[:3])
    return passed(f"{n} out-of-scope calls: all 403", *([first] if first else []))


def _leaks(ex: Exchange) -> list[dict[str, Any]]:
    """Where the error body of ``ex`` carries a full personal identifier: the field path, the
    kind of identifier, the 1-based character position in that field and the identifier masked
    (never in full)."""
    if ex.status < 400 or ex.response is None:
        return []
    doc = ex.response  # `existing` too: a record id, never personal (CONTRACT.md §3)
    return list(_walk(doc, "body" if isinstance(doc, str) else ""))


def _walk(doc: Any, path: str) -> Iterator[dict[str, Any]]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _walk(v, f"{path}[{i}]")
    elif isinstance(doc, str | int) and not isinstance(doc, bool):
        text = str(doc)
        for m in PERSONAL.finditer(text):
            yield {"field": path or "body", "kind": identifier_kind(m.group(0)) or "identifier",
                   "position": m.start() + 1, "masked": mask(m.group(0)),
                   "fingerprint": fingerprint(m.group(0))}


def _where(ex: Exchange) -> str:
    """``GET /vss/child-cards/001******042 → 404`` (identifiers in the path masked)."""
    path = "/" + ex.url.split("://", 1)[-1].split("/", 1)[-1]
    return f"{ex.method} {scrub(path)} → {ex.status}"


def _identifier_probes(ctx: Ctx) -> list[Exchange]:
    """Requests whose refusal is tempted to echo an identifier back."""
    pid = data.pid_of(ctx, "M", ctx.today.year)
    out = []
    for method, path in operations(ctx.openapi, ctx.agency):
        if method == "GET" and "{" in path:
            out.append(ctx.vendor.get(_concrete(path, pid), _reader(ctx)))
    probes: dict[str, tuple[str, dict[str, Any]]] = {
        "vss": ("/vss/child-cards", {"pid": pid}),
        "police": ("/police/residences", {"pid": pid, "household_id": "HK0000000001",
                                           "relation_to_head": "child", "address": "1 Phố Huế",
                                           "commune_code": "00070"}),
        "health": ("/health/birth-certificates",
                   dict(data.certificate_body(ctx, ctx.today), mother_pid=pid[:3] + "9" + pid[4:] + "1")),
    }
    if ctx.agency in probes:
        path, body = probes[ctx.agency]
        caller = "hospital" if ctx.agency == "health" else "portal"
        out.append(ctx.vendor.post(path, body, caller, idem=ctx.key("sec3", body)))
    if ctx.agency == "portal":
        cert = {"id": "GCS-01001-2026-999998"}
        out.append(submit(ctx, ctx.vendor, dict(birth_dossier(ctx, cert["id"]), applicant_pid="99" + pid),
                          "sec3"))
    return out


def _reader(ctx: Ctx) -> str:
    need = scope_of(ctx.agency, "GET")
    for name, caller in sorted(ctx.scenario.callers.items()):
        if need in caller.scopes and caller.role != "citizen":
            return name
    return "admin"


def no_full_identifier_in_error_bodies(ctx: Ctx) -> Outcome:
    probes = _identifier_probes(ctx)
    errors = [e for e in ctx.vendor.log if e.status >= 400]
    leaky = [(e, found) for e in errors if (found := _leaks(e))]
    if leaky:
        where = [dict(leak, request=_where(e)) for e, found in leaky for leak in found]
        first = "; ".join(f"{w['request']}: field {w['field']} carries a full {w['kind']} at character "
                          f"{w['position']} ({w['masked']}, fp {w['fingerprint']})" for w in where[:3])
        raise Failed(f"{len(leaky)} error bodies carry full identifiers ({len(where)} in all): {first}",
                     *[e for e, _ in leaky[:3]], data={"leaks": where[:50]})
    return passed(f"{len(errors)} error bodies scanned (the run so far and {len(probes)} probes): "
                  "no full identifier", *probes[:2])


def _citizen(ctx: Ctx, issuer: str, label: str, pid: str) -> str:
    """The key of the citizen ``pid`` issued by caller ``issuer`` (CONTRACT.md §2), known to the
    vendor client as caller ``<issuer>-<label>``: evidence masks it and a reproducer takes it
    from ``$LIENTHONG_KEY``, never in clear (it carries the PID)."""
    ctx.vendor.keys[f"{issuer}-{label}"] = key = citizen_key(ctx.scenario.callers[issuer].key, pid)
    return key


def _forged(key: str) -> str:
    """``key`` with the last character of its signature changed."""
    return key[:-1] + ("0" if key[-1] != "0" else "1")


def citizen_reads_only_its_own_dossiers(ctx: Ctx) -> Outcome:
    """Two citizens A and B, each with its own key (CONTRACT.md §2): each submits its own
    dossier; A reads A's, by id and by document, and not B's (404 unknown_dossier, left out of
    the list); A cannot submit a dossier for B (403); a forged citizen key and the issuer
    secret itself are 401."""
    issuer = next((n for n, c in sorted(ctx.scenario.callers.items()) if c.role == "citizen"), None)
    if issuer is None:
        raise Blocked(f"scenario {ctx.scenario.meta.name!r} has no caller with role citizen")
    dossiers: dict[str, tuple[str, str, dict[str, Any]]] = {}
    names: dict[str, str] = {}
    for who in ("A", "B"):
        cert = data.certificate(ctx, f"sec4/cert{who}", ctx.today)
        body = birth_dossier(ctx, cert["id"])
        _citizen(ctx, issuer, who, body["applicant_pid"])
        names[who] = f"{issuer}-{who}"
        ex = submit(ctx, ctx.vendor, body, f"sec4/{who}", caller=names[who])
        ensure(ex.status == 202, f"citizen {who} submitting its own dossier: {ex.status} {ex.code}", ex)
        dossiers[who] = (ex.response["id"], cert["id"], body)
    a, b = names["A"], names["B"]
    own = ctx.vendor.get(f"/portal/dossiers/{dossiers['A'][0]}", a)
    other = ctx.vendor.get(f"/portal/dossiers/{dossiers['B'][0]}", a)
    ensure(own.status == 200, f"citizen A cannot read its own dossier: {own.status} {own.code}", own)
    ensure(other.status == 404 and other.code == "unknown_dossier",
           f"citizen A reads citizen B's dossier: {other.status} {other.code}", other)
    shown = [own, other]
    listed = ctx.vendor.get(f"/portal/dossiers?document={dossiers['B'][1]}", a)
    if listed.status not in (404, 405, 501):  # the list is §10's; PORTAL-DOS decides if it is served
        items = listed.response.get("items") if isinstance(listed.response, dict) else None
        ensure(listed.status == 200 and isinstance(items, list),
               f"GET /portal/dossiers?document= as citizen A: {listed.status} {listed.code}", listed)
        assert isinstance(items, list)
        ensure(not any(isinstance(i, dict) and i.get("id") == dossiers["B"][0] for i in items),
               "citizen A finds citizen B's dossier by its document", listed)
        shown.append(listed)
    cert = data.certificate(ctx, "sec4/certAB", ctx.today)
    for_b = dict(birth_dossier(ctx, cert["id"]), applicant_pid=dossiers["B"][2]["applicant_pid"])
    ex = submit(ctx, ctx.vendor, for_b, "sec4/AB", caller=a)
    ensure((ex.status, ex.code) == (403, "forbidden"),
           f"citizen A submitting a dossier whose applicant_pid is B's: {ex.status} {ex.code}", ex)
    forged = ctx.vendor.get(f"/portal/dossiers/{dossiers['A'][0]}", key=_forged(ctx.vendor.keys[a]))
    ensure((forged.status, forged.code) == (401, "unauthenticated"),
           f"a forged citizen key (A's, one signature character changed): {forged.status} {forged.code}",
           forged)
    secret = ctx.vendor.get(f"/portal/dossiers/{dossiers['A'][0]}", issuer)
    ensure((secret.status, secret.code) == (401, "unauthenticated"),
           f"the citizen caller's issuer secret sent as a key: {secret.status} {secret.code}", secret)
    return passed("citizen keys are per citizen: A reads its own dossier and not B's (404), cannot "
                  "submit for B (403); a forged key and the issuer secret are 401 "
                  f"(callers {a}, {b}: the keys of CONTRACT.md §2 for the two applicants)",
                  own, other, *shown[2:], ex, forged, secret)


# The requirement each check decides: the key of a requirement common to every agency
# (``SEC-001`` decides ``VSS-SEC-001`` and every other agency's) or the full id of one agency's.
CHECKS: dict[str, Check] = {
    "SEC-001": missing_or_unknown_key_refused_401,
    "SEC-002": caller_without_the_scope_refused_403,
    "SEC-003": no_full_identifier_in_error_bodies,
    "PORTAL-SEC-004": citizen_reads_only_its_own_dossiers,
}
