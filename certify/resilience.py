"""Phase (c), resilience: idempotent replays, duplicate deliveries, client timeouts and
upstream outages, handled without loss or duplication.

"Exactly one record" is shown through the contract's business uniqueness: after the faulty
exchange, the same fact under a *new* key must be refused 409 naming the record the retry got.
Where the contract has no such uniqueness (health, portal) it is shown by reading the vendor's
register (:mod:`certify._main_writes`).
Upstream faults are switched on in the certifier's proxy between the vendor and the fakes.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from certify import _test_data as data
from certify._dossiers import birth_dossier, poll_dossier, submit
from certify._exchanges import Exchange
from certify._main_writes import WRITES, Write
from certify._outcomes import Blocked, Outcome, ensure, expect_equal, first_difference, mismatch, passed
from certify._reference_fakes import reference_registers
from certify._run_context import Check, Ctx

__all__ = ["CHECKS"]


def _w(ctx: Ctx) -> Write:
    return WRITES[ctx.agency]


def _send(ctx: Ctx, w: Write, body: dict[str, Any], key: str | None, **kw: Any) -> Exchange:
    return ctx.vendor.call("POST", w.path, caller=w.caller, body=body, idem=key, **kw)


def _ok(ex: Exchange, w: Write, what: str) -> dict[str, Any]:
    ensure(ex.status == w.status and isinstance(ex.response, dict),
           f"{what}: status expected {w.status}, got {ex.status} {ex.code or ex.error}", ex)
    return dict(ex.response)


def _one_record(ctx: Ctx, w: Write, body: dict[str, Any], doc: dict[str, Any],
                tag: str) -> list[Exchange]:
    """Show there is one record of ``body``, answered ``doc``: where the contract has business
    uniqueness, a new key for the same fact is refused naming the record; elsewhere the vendor's
    register is read (:attr:`Write.one_record`)."""
    if w.unique_code is None:
        return w.one_record(ctx, body, doc) if w.one_record is not None else []
    record = doc[w.id_field]
    ex = _send(ctx, w, body, ctx.key(tag, body, "fresh-key"))
    existing = ex.response.get("existing") if isinstance(ex.response, dict) else None
    ensure(ex.status == 409 and ex.code == w.unique_code,
           f"the same fact under a new key: status expected 409 {w.unique_code}, got {ex.status} "
           f"{ex.code or ex.error}", ex)
    expect_equal("existing", record, existing, ex,
                 why=f"the 409 for the same fact under a new key names the record ({w.id_field})")
    return [ex]


def replay_returns_the_first_answer(ctx: Ctx) -> Outcome:
    w = _w(ctx)
    body = w.make(ctx, "idem1")
    key = ctx.key("idem1", body)
    first = _send(ctx, w, body, key)
    doc = _ok(first, w, "first write")
    again = _send(ctx, w, body, key)
    expect_equal("status of the replay", first.status, again.status, first, again,
                 why="a replay returns the first status")
    diff = first_difference(first.response, again.response)
    ensure(diff is None, "the replay answered another body: " + (mismatch(*diff) if diff else ""),
           first, again)
    proof = _one_record(ctx, w, body, doc, "idem1")
    return passed("the replay returned the first answer; one record", first, again, *proof)


def key_reused_with_another_body_refused(ctx: Ctx) -> Outcome:
    w = _w(ctx)
    body = w.make(ctx, "idem2")
    key = ctx.key("idem2", body)
    _ok(_send(ctx, w, body, key), w, "first write")
    other = w.vary(ctx, body)
    ex = _send(ctx, w, other, key)
    ensure(ex.status == 409 and ex.code == "idempotency_key_reused",
           f"the same key with another body: status expected 409 idempotency_key_reused, got "
           f"{ex.status} {ex.code or ex.error}", ex)
    return passed("key reuse with another body refused", ex)


def concurrent_duplicates_make_one_record(ctx: Ctx) -> Outcome:
    w = _w(ctx)
    body = w.make(ctx, "idem3")
    key = ctx.key("idem3", body)
    gate = threading.Barrier(2)
    out: list[Exchange] = []

    def deliver() -> None:
        gate.wait()
        out.append(_send(ctx, w, body, key))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    a, b = out
    da, db = _ok(a, w, "first delivery"), _ok(b, w, "second delivery")
    expect_equal(w.id_field, da.get(w.id_field), db.get(w.id_field), a, b,
                 why="two deliveries of one write get the one record (first delivery vs second)")
    proof = _one_record(ctx, w, body, da, "idem3")
    return passed("both deliveries got the one record", a, b, *proof)


def write_without_a_key_refused(ctx: Ctx) -> Outcome:
    w = _w(ctx)
    body = w.make(ctx, "idem4")
    ex = _send(ctx, w, body, None)
    ensure(ex.status == 400 and ex.code == "idempotency_key_missing",
           f"a write without Idempotency-Key: status expected 400 idempotency_key_missing, got "
           f"{ex.status} {ex.code or ex.error}", ex)
    return passed("a write without a key is refused", ex)


def timed_out_write_retried_makes_one_record(ctx: Ctx) -> Outcome:
    w = _w(ctx)
    body = w.make(ctx, "res1")
    key = ctx.key("res1", body)
    ctx.proxy.delay(1.0)
    try:
        first = _send(ctx, w, body, key, timeout=0.3)
    finally:
        ctx.proxy.clear()
    time.sleep(1.2)  # the vendor finishes the abandoned request meanwhile
    retry = _send(ctx, w, body, key)
    doc = _ok(retry, w, "retry with the same key after a client timeout")
    proof = _one_record(ctx, w, body, doc, "res1")
    return passed("timed-out write retried: one record", first, retry, *proof)


def upstream_outage_refused_502_then_retry_makes_one_record(ctx: Ctx) -> Outcome:
    w = _w(ctx)
    body = w.make(ctx, "res2")
    key = ctx.key("res2", body)
    ctx.proxy.outage()
    try:
        down = _send(ctx, w, body, key)
    finally:
        ctx.proxy.clear()
    if 200 <= down.status < 300 and down.response_headers.get("idempotent-replayed") == "true":
        raise Blocked(f"the vendor already held this write (a run with seed {ctx.seed} before): the "
                      "outage could not be observed; certify a fresh store or another --seed", down)
    ensure(down.status == 502 and down.code == "upstream_error",
           f"with the upstream down: status expected 502 upstream_error, got {down.status} "
           f"{down.code or down.error}", down)
    retry = _send(ctx, w, body, key)
    doc = _ok(retry, w, "retry after recovery")
    proof = _one_record(ctx, w, body, doc, "res2")
    return passed("outage answered 502; retry created the record once", down, retry, *proof)


def dossier_completes_once_after_an_agency_outage(ctx: Ctx) -> Outcome:
    cert = data.certificate(ctx, "pres3/cert", ctx.today)
    body = birth_dossier(ctx, cert["id"], "ks_bhyt")
    ctx.proxy.outage("/vss")
    try:
        sub = submit(ctx, ctx.vendor, body, "pres3")
        ensure(sub.status == 202, f"submission during a VSS outage: {sub.status} {sub.code}", sub)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(
                p.startswith("/vss") and s == 503 for _, p, s in ctx.proxy.seen()):
            time.sleep(0.1)
        hit = any(p.startswith("/vss") for _, p, _s in ctx.proxy.seen())
        time.sleep(1.0)
    finally:
        ctx.proxy.clear()
    ensure(hit, "the portal never called VSS during the outage (the test could not bite)", sub)
    ex = poll_dossier(ctx.vendor, sub.response["id"], ctx.options.link_timeout_s)
    final = ex.response if isinstance(ex.response, dict) else {}
    ensure(final.get("status") == "completed", f"dossier ended {final.get('status')!r} after the "
           "outage", ex)
    pid = final.get("result", {}).get("pid")
    cards = [c for c in reference_registers(ctx, "vss")["cards"] if c["pid"] == pid]
    expect_equal("number of cards for the child", 1, len(cards), ex, why="after the VSS outage")
    return passed("the dossier completed once after the VSS outage", sub, ex)


# The requirement each check decides: the key of a requirement common to every agency
# (``IDEM-001`` decides ``VSS-IDEM-001`` and every other agency's) or the full id of one agency's.
CHECKS: dict[str, Check] = {
    "IDEM-001": replay_returns_the_first_answer,
    "IDEM-002": key_reused_with_another_body_refused,
    "IDEM-003": concurrent_duplicates_make_one_record,
    "IDEM-004": write_without_a_key_refused,
    "RES-001": timed_out_write_retried_makes_one_record,
    "RES-002": upstream_outage_refused_502_then_retry_makes_one_record,
    "PORTAL-RES-003": dossier_completes_once_after_an_agency_outage,
}
