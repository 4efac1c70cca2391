"""The certification's folder: ``manifest.json``, ``certificate.json`` (the certificate's own
document, unchanged) and, from the one report writer, ``certificate.html`` and ``junit.xml``.

:func:`certificate_report` turns a certificate's document into a :class:`~lienthong.report.Report`:
the verdict first, passed / failed / not run, a table per phase (id, severity, requirement,
status, detail) with the evidence that decided each requirement (request → response and a curl
reproducer), no thresholds, and one check per requirement grouped by phase, so junit.xml has a
testcase per requirement (failed: ``<failure>`` with the detail; not run: ``<skipped>``).
The page is written as ``certificate.html`` with the same renderer as every ``report.html``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certify.certificate import case_text
from certify.requirements import PHASES
from lienthong._report_html import render_html
from lienthong._report_junit import render_junit
from lienthong.report import Check, KeyFigure, Report, Section, Table
from lienthong.runs import RunFolder, start_run

if TYPE_CHECKING:
    from certify.certificate import Certificate
    from scenarios import Scenario

__all__ = ["certificate_report", "mask_argv", "write_certification"]

_SECRET_OPTIONS = ("--api-key",)


def certificate_report(doc: Mapping[str, Any]) -> Report:
    """The report of a certificate's JSON document (``Certificate.document()``)."""
    stamp, summ, cov = doc["certificate"], doc["summary"], doc["coverage"]
    reqs: Sequence[Mapping[str, Any]] = doc["requirements"]
    failed = f" Failed: {', '.join(summ['failed'])}." if summ["failed"] else ""
    errors = f", {summ['error']} suite errors" if summ.get("error") else ""
    not_run = (doc.get("not_run") or {}).get("phases") or []
    left_out = f" Not run: {', '.join(not_run)}." if not_run else ""
    verdict = (f"{doc['verdict']} — {summ['pass']} passed, {summ['fail']} failed, {summ['not run']} "
               f"not run{errors} of {summ['requirements']} requirements.{failed}{left_out}")
    missing = f"; not exercised: {', '.join(cov['missing'])}" if cov["missing"] else ""
    phases = [p for p in PHASES if any(r["phase"] == p for r in reqs)]
    phases += sorted({r["phase"] for r in reqs} - set(phases))
    sections = [Section("Coverage", text=[
        f"{cov['exercised_count']} of {cov['contract_count']} operations of the contract exercised "
        f"({cov['ratio']:.0%}){missing}."])]
    sections += [_phase_section(p, [r for r in reqs if r["phase"] == p]) for p in phases]
    if doc.get("performance"):
        sections.append(Section("Performance", text=[_compact(doc["performance"])]))
    return Report(
        title=f"lienthong certification: {stamp['agency']}",
        verdict=verdict,
        key_figures=[
            KeyFigure("passed", summ["pass"], status="pass" if summ["pass"] else None),
            KeyFigure("failed", summ["fail"], status="fail" if summ["fail"] else None),
            KeyFigure("not run", summ["not run"]),
            KeyFigure("operations exercised", f"{cov['exercised_count']} of {cov['contract_count']}"),
        ],
        sections=sections,
        checks=[_check(r) for p in phases for r in reqs if r["phase"] == p],
        notes=[doc["grading"], "Identifiers and API keys are masked in the evidence.",
               f"SHA-256 {doc['sha256']} · results digest {doc['results_digest']} "
               "(check with certify.verify on certificate.json)."],
        meta={"target": str(stamp["target"]), "date": str(stamp["date"]),
              "scenario": f"{stamp['scenario']} {str(stamp['scenario_digest'])[:16]}…",
              "seed": str(stamp["seed"]), "suite": str(stamp["suite_version"]),
              "phases": ", ".join(stamp["phases"])},
        graded_exit_code=int(doc["exit_code"]),
    )


def _phase_section(phase: str, rows: Sequence[Mapping[str, Any]]) -> Section:
    table = Table(phase, ("id", "severity", "requirement", "source", "status", "detail"),
                  [(r["id"], r["severity"], r["text"], r["source"], r["status"], r["detail"]) for r in rows])
    evidence = [(r["id"], _exchange(e), e["curl"]) for r in rows for e in r["evidence"]]
    tables = [table]
    cases = [(r["id"], str(i + 1), case_text(c)) for r in rows
             for i, c in enumerate((r.get("data") or {}).get("cases") or ())]
    if cases:
        tables.append(Table(f"{phase}: cases", ("id", "#", "case"), cases,
                            note="The branches and boundaries each check covered."))
    if evidence:
        tables.append(Table(f"{phase}: evidence", ("id", "request → response", "curl"), evidence,
                            note="The exchanges that decided each requirement (at most three)."))
    return Section(f"Phase: {phase}", tables=tables)


def _exchange(e: Mapping[str, Any]) -> str:
    req, resp = e["request"], e["response"]
    body = f" {_compact(req['body'])}" if req.get("body") is not None else ""
    answer = f"{resp['status']} {_compact(resp.get('body'))}" if resp.get("status") else "no answer"
    error = f" ({resp['error']})" if resp.get("error") else ""
    return f"{req['method']} {req['url']}{body} → {answer}{error}"


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _check(r: Mapping[str, Any]) -> Check:
    curl = "\n".join(str(e["curl"]) for e in r.get("evidence") or () if e.get("curl"))
    return Check(f"{r['id']} ({r['severity']}) {r['text']}", passed=r["status"] == "pass",
                 detail=str(r["detail"]), group=r["phase"], skipped=r["status"] == "not run",
                 evidence=curl)


def mask_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with the value of ``--api-key`` masked (it goes into the manifest)."""
    out: list[str] = []
    hide = False
    for arg in argv:
        if hide:
            out.append("***")
            hide = False
        elif arg in _SECRET_OPTIONS:
            out.append(arg)
            hide = True
        elif arg.startswith(tuple(f"{o}=" for o in _SECRET_OPTIONS)):
            out.append(arg.split("=", 1)[0] + "=***")
        else:
            out.append(arg)
    return out


def write_certification(cert: Certificate, folder: str | Path, scenario: Scenario, *,
                        started: datetime, argv: Sequence[str], source: str | None = None,
                        settings: Mapping[str, Any] | None = None) -> RunFolder:
    """Write the certification's folder (``folder`` itself, as ``--out`` promises) and close its
    manifest with the certificate's exit code (0 PASS, 3 CONDITIONAL PASS, 1 FAIL).

    ``scenario`` is the scenario before the vendor was swapped in (its digest is the
    certificate's ``scenario_digest``); ``argv`` goes into the manifest as given (mask secrets
    first: :func:`mask_argv`).
    """
    run = start_run(scenario, kind="certify", folder=folder, seed=int(cert.stamp["seed"]), argv=argv,
                    source=source, settings=settings, now=started)
    out = run.path
    doc = cert.document()
    (out / "certificate.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
    report = certificate_report(doc)
    (out / "certificate.html").write_text(render_html(report), encoding="utf-8")
    (out / "junit.xml").write_text(render_junit(report), encoding="utf-8")
    run.finish(exit_code=cert.exit_code, verdict=cert.verdict, sha256=doc["sha256"],
               results_digest=doc["results_digest"])
    return run
