"""Run a certification: start the reference ecosystem around the vendor, run the phases, grade
the certificate (the front door writes it).

The vendor's implementation of one agency answers at ``base_url``. The rest of the ecosystem
is the reference fakes, started here in a child process with the scenario's
``agencies.<agency>.base_url`` pointing at the vendor (so the reference portal and agencies call
the vendor). The vendor calls its upstream agencies at the *ecosystem URL*: a proxy on
``ecosystem_port`` in front of the fakes, through which the suite injects upstream outages and
delays. Every choice is made from the seed: data, idempotency keys, schemathesis examples and
arrival times.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from certify import contract, performance, resilience, rules, security
from certify._exchanges import Client, scrub
from certify._fault_proxy import FaultProxy
from certify._outcomes import Blocked, Failed, Outcome
from certify._reference_fakes import start_reference_fakes
from certify._run_context import Check, Ctx, Options
from certify.certificate import Certificate, Result
from certify.requirements import AGENCIES, PHASES, Requirement, requirements_for, table_digest
from fakes.serve import free_port
from scenarios import Scenario, dump, load

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["MAIN_CALLER", "SUITE_VERSION", "CertifyError", "abort", "certification_scenario", "certify"]

SUITE_VERSION = "1.0"
#: The caller whose key ``--api-key`` replaces: the one that writes to the agency.
MAIN_CALLER = {"health": "hospital", "justice": "portal", "police": "portal", "vss": "portal",
               "social": "portal", "portal": "desk"}
_CHECKS: dict[str, dict[str, Check]] = {
    "contract": contract.CHECKS, "rules": rules.CHECKS, "resilience": resilience.CHECKS,
    "security": security.CHECKS, "performance": performance.CHECKS,
}
Progress = Callable[[str, Requirement, Result | None], None]
_ACTIVE: list[contextlib.ExitStack] = []  # the runs in progress in this process (see abort)


class CertifyError(ValueError):
    """A certification cannot run: bad input or an unreachable target (names the problem)."""


def certification_scenario(base: Scenario, agency: str, base_url: str, *, seed: int,
                           api_key: str | None = None) -> Scenario:
    """``base`` with the vendor swapped in for ``agency``, no faults, and ``seed``."""
    agencies = dict(base.agencies)
    if agency not in agencies:
        raise CertifyError(f"scenario {base.meta.name!r} has no agency {agency!r}")
    agencies[agency] = agencies[agency].model_copy(update={"base_url": base_url})
    callers = dict(base.callers)
    if api_key is not None:
        main = MAIN_CALLER[agency]
        if main not in callers:
            raise CertifyError(f"scenario {base.meta.name!r} has no caller {main!r} for --api-key")
        callers[main] = callers[main].model_copy(update={"key": api_key})
    return base.model_copy(update={"agencies": agencies, "callers": callers, "faults": (),
                                   "meta": base.meta.model_copy(update={"seed": seed})})


def _check_inputs(agency: str, base_url: str, phases: Sequence[str]) -> None:
    if agency not in AGENCIES:
        raise CertifyError(f"unknown agency {agency!r}; expected one of {', '.join(AGENCIES)}")
    if not re.fullmatch(r"https?://[^/\s]+/?", base_url):
        raise CertifyError(f"--base-url must be an origin like http://127.0.0.1:9000, got {base_url!r}")
    if bad := [p for p in phases if p not in PHASES]:
        raise CertifyError(f"unknown phase {bad[0]!r}; expected some of {', '.join(PHASES)}")


def _reachable(url: str) -> None:
    try:
        httpx.get(url.rstrip("/") + "/healthz", timeout=5)
    except httpx.HTTPError as exc:
        raise CertifyError(f"cannot reach the target at {url}: {type(exc).__name__} {exc}") from None


def _run_one(ctx: Ctx, req: Requirement) -> Result:
    table = _CHECKS[req.phase]
    check = table.get(req.id) or table.get(req.key)
    ctx.current = req.id
    start = time.perf_counter()
    seen = len(ctx.vendor.log)
    try:
        if check is None:  # a requirement without a check is a bug of the suite, never a pass
            raise RuntimeError(f"no check for requirement {req.id}")
        outcome = check(ctx)
    except Failed as exc:
        outcome = Outcome("fail", exc.detail, exc.exchanges, dict(getattr(exc, "data", None) or {}))
    except Blocked as exc:
        outcome = Outcome("not run", exc.detail, exc.exchanges, dict(getattr(exc, "data", None) or {}))
    except Exception as exc:  # the check itself broke: the suite's bug, no verdict on the vendor
        outcome = _suite_error(exc, ctx.vendor.log[seen:][-1:])
    finally:
        ctx.proxy.clear()
    return Result(req, outcome, time.perf_counter() - start)


def _suite_error(exc: BaseException, exchanges: list[Any]) -> Outcome:
    """An exception inside a check: graded ``error`` (makes the verdict INCOMPLETE), with the
    traceback and the check's last exchange with the vendor, if any."""
    tail = traceback.format_exception_only(exc)[-1].strip()[:600]
    return Outcome("error", f"suite error, not a verdict on the vendor: the check raised {tail}",
                   list(exchanges),
                   data={"traceback": scrub("".join(traceback.format_exception(exc))[-1500:])})


def _left_out(req: Requirement, phases: tuple[str, ...]) -> Result:
    chosen = ",".join(phases) or "none"
    return Result(req, Outcome("not run", f"phase {req.phase} left out (--phases {chosen})"))


def _order_key(r: Requirement) -> tuple[int, bool, str]:
    # the personal-data scan reads every error body of the run: it goes last in its phase
    return PHASES.index(r.phase), r.key == "SEC-003", r.id


def _order(reqs: list[Requirement]) -> list[Requirement]:
    return sorted(reqs, key=_order_key)


def _coverage(ctx: Ctx) -> dict[str, Any]:
    ops = security.operations(ctx.openapi, ctx.agency)
    patterns = [(m, re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", p) + "$"), p) for m, p in ops]
    seen = set(ctx.notes.get("contract_ops", ()))
    for ex in ctx.vendor.log:
        path = "/" + ex.url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
        seen |= {f"{m} {p}" for m, rx, p in patterns if m == ex.method and rx.match(path)}
    names = [f"{m} {p}" for m, p in ops]
    done = [n for n in names if n in seen]
    return {"contract_count": len(names), "exercised_count": len(done),
            "ratio": len(done) / len(names) if names else 0.0,
            "exercised": done, "missing": [n for n in names if n not in seen]}


def certify(agency: str, base_url: str, *, scenario: str | Scenario = "hanoi-baseline",
            api_key: str | None = None, seed: int | None = None,
            phases: Sequence[str] = PHASES,
            ecosystem_port: int | None = None, options: Options | None = None,
            progress: Progress | None = None, signer: Ed25519PrivateKey | None = None) -> Certificate:
    """Certify the vendor's ``agency`` at ``base_url``; the returned certificate is not written
    anywhere (``lienthong certify`` writes its folder). Every requirement of ``agency`` has a
    result: those of phases left out of ``phases`` are *not run* (the verdict is then at best
    CONDITIONAL PASS). ``signer``: an Ed25519 key the document is signed with.

    The run's temporary folder (``certify-<agency>-*`` in the temp directory: the reference
    ecosystem's stores) is removed on the way out, whatever ends the run (an error, Ctrl-C).

    Raises CertifyError for bad input or an unreachable target.
    """
    phases = tuple(p for p in PHASES if p in phases)
    _check_inputs(agency, base_url, phases)
    base = scenario if isinstance(scenario, Scenario) else load(scenario)
    seed = base.meta.seed if seed is None else seed
    options = options or Options()
    if options.rate is not None and not options.rate > 0:
        raise CertifyError(f"--rate must be positive, got {options.rate}")
    cs = certification_scenario(base, agency, base_url.rstrip("/"), seed=seed, api_key=api_key)
    _reachable(base_url)
    with contextlib.ExitStack() as stack:  # stops the proxy, then the fakes, then removes `work`
        _ACTIVE.append(stack)
        stack.callback(_ACTIVE.remove, stack)  # the last callback to run
        work = Path(tempfile.mkdtemp(prefix=f"certify-{agency}-")).resolve()
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        reference = start_reference_fakes(cs, work / "ecosystem")
        stack.callback(reference.stop)
        proxy = FaultProxy(reference.base_url, ecosystem_port or free_port())
        stack.callback(proxy.stop)
        proxy.start()
        ctx = _context(agency, base_url, cs, seed, options, reference.base_url, proxy)
        ctx.work_dir, ctx.cleanup = work, stack
        stack.callback(ctx.eco.close)
        stack.callback(ctx.vendor.close)
        results = _run_all(ctx, _order(requirements_for(agency, phases)), progress)
    # a phase left out is listed requirement by requirement as not run: never a PASS
    results += [_left_out(r, phases) for r in requirements_for(agency) if r.phase not in phases]
    results.sort(key=lambda r: _order_key(r.requirement))
    stamp = _stamp(ctx, base, base_url, proxy.url, phases)
    return Certificate(stamp, results, _coverage(ctx), ctx.notes.get("performance", {}),
                       signer=signer)


def abort() -> None:
    """Stop every certification running in this process at once — kill its load process, stop
    its proxy and reference fakes, remove its ``certify-*`` folder — whatever it was doing (for a
    signal handler: Ctrl-C or SIGTERM, which some libraries the checks use would swallow as an
    exception). The caller then exits; the interrupted run writes no certificate."""
    while _ACTIVE:
        stack = _ACTIVE[-1]
        with contextlib.suppress(Exception):
            stack.close()
        if _ACTIVE and _ACTIVE[-1] is stack:  # its last callback did not run
            _ACTIVE.pop()


def _run_all(ctx: Ctx, reqs: list[Requirement], progress: Progress | None) -> list[Result]:
    results = []
    for req in reqs:
        if progress is not None:
            progress("start", req, None)
        result = _run_one(ctx, req)
        results.append(result)
        if progress is not None:
            progress("done", req, result)
    return results


def _stamp(ctx: Ctx, base: Scenario, base_url: str, ecosystem_url: str,
           phases: tuple[str, ...]) -> dict[str, Any]:
    """What the certificate says about its own run (``base``: the scenario before the vendor)."""
    return {"suite": "lienthong certify", "suite_version": f"{SUITE_VERSION}+{table_digest()[:12]}",
            "agency": ctx.agency, "target": base_url, "ecosystem": ecosystem_url,
            "scenario": base.meta.name,
            "scenario_digest": hashlib.sha256(dump(base).encode()).hexdigest(),
            "seed": ctx.seed, "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "certification_day": ctx.today.isoformat(), "phases": list(phases),
            "options": {k: v for k, v in vars(ctx.options).items()}}


def _context(agency: str, base_url: str, cs: Scenario, seed: int, options: Options,
             eco_url: str, proxy: FaultProxy) -> Ctx:
    keys = {name: c.key for name, c in cs.callers.items()}
    eco = Client(eco_url, keys, record=False)
    health = eco.get("/healthz")
    openapi = eco.get("/openapi.json")
    if health.status != 200 or openapi.status != 200:
        raise RuntimeError(f"the reference fakes are not healthy: {health.status} {openapi.status}")
    today = dt.date.fromisoformat(str(health.response["now"])[:10])
    return Ctx(agency=agency, scenario=cs, seed=seed, vendor=Client(base_url, keys), eco=eco,
               proxy=proxy, today=today, options=options, openapi=dict(openapi.response),
               vendor_url=base_url.rstrip("/"), eco_url=eco_url)
