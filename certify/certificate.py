"""The certificate: JSON (machine), HTML (person), junit.xml (CI), with a graded verdict.

**Grading rule** (by severity, see :mod:`certify.requirements`):

- **FAIL** — any *critical* or *major* requirement failed;
- **CONDITIONAL PASS** — none did, but a *minor* requirement failed or a requirement was not
  run (a phase left out, or a prerequisite the suite could not build): connect on the
  condition that those are fixed or run;
- **PASS** — every requirement of the agency was run and passed.

Exit codes: 0 PASS, 3 CONDITIONAL PASS, 1 FAIL.

The JSON is stamped with the suite version, scenario digest, seed, target URL and date, and
carries ``sha256``: the SHA-256 of the canonical JSON of every other field (sorted keys, no
spaces), so any edit is detectable. ``results_digest`` hashes only what must be reproducible —
agency, seed, scenario digest, the requirement statuses and the verdict — so two runs with the
same seed against the same implementation can be compared at a glance.
"""

from __future__ import annotations

import hashlib
import html
import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from certify._exchanges import scrub
from certify._outcomes import Outcome
from certify.requirements import PHASES, Requirement

__all__ = ["EXIT_CODES", "Certificate", "Result", "grade", "verify"]

Verdict = Literal["PASS", "CONDITIONAL PASS", "FAIL"]
EXIT_CODES: dict[str, int] = {"PASS": 0, "FAIL": 1, "CONDITIONAL PASS": 3}
GRADING = ("FAIL if any critical or major requirement failed; CONDITIONAL PASS if none did but a "
           "minor one failed or a requirement was not run; PASS if every requirement passed.")
_MAX_EVIDENCE = 3


@dataclass
class Result:
    """A requirement and the decision on it."""

    requirement: Requirement
    outcome: Outcome
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return self.outcome.status

    def doc(self) -> dict[str, Any]:
        r = self.requirement
        return {"id": r.id, "agency": r.agency, "phase": r.phase, "severity": r.severity,
                "text": r.text, "source": r.source, "status": self.status,
                "detail": scrub(self.outcome.detail), "seconds": round(self.seconds, 3),
                "evidence": [e.evidence() for e in self.outcome.exchanges[:_MAX_EVIDENCE]],
                **({"data": self.outcome.data} if self.outcome.data else {})}


def grade(results: list[Result]) -> Verdict:
    """The verdict of ``results`` by the grading rule above."""
    failed = {r.requirement.severity for r in results if r.status == "fail"}
    if failed & {"critical", "major"}:
        return "FAIL"
    if failed or any(r.status == "not run" for r in results):
        return "CONDITIONAL PASS"
    return "PASS"


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def verify(doc: dict[str, Any]) -> bool:
    """True when ``doc['sha256']`` matches the rest of the certificate."""
    rest = {k: v for k, v in doc.items() if k != "sha256"}
    return doc.get("sha256") == hashlib.sha256(_canonical(rest)).hexdigest()


@dataclass
class Certificate:
    """Everything a certification run established."""

    stamp: dict[str, Any]
    results: list[Result]
    coverage: dict[str, Any]
    performance: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        return grade(self.results)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def failed_ids(self) -> set[str]:
        return {r.requirement.id for r in self.results if r.status == "fail"}

    def results_digest(self) -> str:
        rows = [self.stamp["agency"], self.stamp["seed"], self.stamp["scenario_digest"], self.verdict,
                *(f"{r.requirement.id}={r.status}" for r in self.results)]
        return hashlib.sha256("\n".join(map(str, rows)).encode()).hexdigest()

    def document(self) -> dict[str, Any]:
        """The certificate as JSON data, ``sha256`` included."""
        counts = Counter(r.status for r in self.results)
        by_sev = {s: dict(Counter(r.status for r in self.results if r.requirement.severity == s))
                  for s in ("critical", "major", "minor")}
        doc: dict[str, Any] = {
            "certificate": self.stamp, "verdict": self.verdict, "exit_code": self.exit_code,
            "grading": GRADING,
            "summary": {"requirements": len(self.results), "pass": counts["pass"],
                        "fail": counts["fail"], "not run": counts["not run"], "by_severity": by_sev,
                        "failed": sorted(self.failed_ids())},
            "coverage": self.coverage, "performance": self.performance,
            "results_digest": self.results_digest(),
            "requirements": [r.doc() for r in self.results],
        }
        doc["sha256"] = hashlib.sha256(_canonical(doc)).hexdigest()
        return doc

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Write certificate.json, certificate.html and junit.xml into ``folder``."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        doc = self.document()
        paths = {"json": out / "certificate.json", "html": out / "certificate.html",
                 "junit": out / "junit.xml"}
        paths["json"].write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        paths["html"].write_text(render_html(doc), encoding="utf-8")
        paths["junit"].write_text(render_junit(doc), encoding="utf-8")
        return paths


# -- junit ---------------------------------------------------------------------------------
def render_junit(doc: dict[str, Any]) -> str:
    """One testsuite per phase, one testcase per requirement (not run = skipped)."""
    stamp = doc["certificate"]
    root = ET.Element("testsuites", name=f"lienthong certify {stamp['agency']}: {doc['verdict']}")
    props = ET.SubElement(root, "properties")
    for k in ("suite_version", "scenario_digest", "seed", "target", "date"):
        ET.SubElement(props, "property", name=k, value=str(stamp[k]))
    ET.SubElement(props, "property", name="sha256", value=doc["sha256"])
    for phase in PHASES:
        rows = [r for r in doc["requirements"] if r["phase"] == phase]
        if not rows:
            continue
        suite = ET.SubElement(root, "testsuite", name=phase, tests=str(len(rows)),
                              failures=str(sum(r["status"] == "fail" for r in rows)),
                              skipped=str(sum(r["status"] == "not run" for r in rows)), errors="0")
        for r in rows:
            case = ET.SubElement(suite, "testcase", classname=f"{r['agency']}.{phase}",
                                 name=f"{r['id']} ({r['severity']}) {r['text']}",
                                 time=str(r["seconds"]))
            curl = "\n".join(e["curl"] for e in r["evidence"])
            if r["status"] == "fail":
                ET.SubElement(case, "failure", message=r["detail"], type=r["severity"]).text = curl
            elif r["status"] == "not run":
                ET.SubElement(case, "skipped", message=r["detail"])
            else:
                ET.SubElement(case, "system-out").text = r["detail"]
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# -- html ----------------------------------------------------------------------------------
_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{margin-bottom:.2em}.v{font-size:1.6em;font-weight:700;padding:.3em .6em;border-radius:6px;
display:inline-block}.PASS{background:#d8f3dc}.FAIL{background:#ffd6d6}.COND{background:#fff1c1}
table{border-collapse:collapse;width:100%;margin:1em 0}td,th{border-bottom:1px solid #ddd;
padding:.3em .5em;text-align:left;vertical-align:top;font-size:.92em}.pass{color:#1b7f3b}
.fail{color:#b00020;font-weight:700}.nr{color:#8a6d00}pre{background:#f6f6f6;padding:.5em;
overflow-x:auto;font-size:.8em;white-space:pre-wrap}small{color:#666}details{margin:.2em 0}"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def render_html(doc: dict[str, Any]) -> str:
    """A self-contained page: verdict first, then coverage, requirements and evidence."""
    s, summ = doc["certificate"], doc["summary"]
    cls = {"PASS": "PASS", "FAIL": "FAIL"}.get(doc["verdict"], "COND")
    rows = []
    for r in doc["requirements"]:
        st = {"pass": "pass", "fail": "fail"}.get(r["status"], "nr")
        ev = "".join(
            f"<pre>{_e(json.dumps(e['request'], ensure_ascii=False, indent=1))}\n→ "
            f"{_e(json.dumps(e['response'], ensure_ascii=False, indent=1))}\n\n$ {_e(e['curl'])}</pre>"
            for e in r["evidence"])
        rows.append(
            f"<tr><td><b>{_e(r['id'])}</b><br><small>{_e(r['phase'])} · {_e(r['severity'])}</small></td>"
            f"<td>{_e(r['text'])}<br><small>{_e(r['source'])}</small>"
            f"<details><summary>{_e(r['detail'])}</summary>{ev}</details></td>"
            f"<td class={st}>{_e(r['status'])}</td></tr>")
    perf = doc.get("performance") or {}
    perf_html = (f"<h2>Performance</h2><pre>{_e(json.dumps(perf, indent=1, ensure_ascii=False))}</pre>"
                 if perf else "")
    cov = doc["coverage"]
    missing = f" — not exercised: {_e(', '.join(cov['missing']))}" if cov["missing"] else ""
    return f"""<!doctype html><html lang=en><meta charset=utf-8>
<title>Certificate {_e(s['agency'])} — {_e(doc['verdict'])}</title><style>{_CSS}</style>
<h1>lienthong certification: {_e(s['agency'])}</h1>
<p><span class="v {cls}">{_e(doc['verdict'])}</span> — {summ['pass']} passed, {summ['fail']} failed,
{summ['not run']} not run of {summ['requirements']} requirements.
{('Failed: ' + _e(', '.join(summ['failed']))) if summ['failed'] else ''}</p>
<p><small>{_e(doc['grading'])}</small></p>
<table><tr><th>target</th><td>{_e(s['target'])}</td><th>date</th><td>{_e(s['date'])}</td></tr>
<tr><th>scenario</th><td>{_e(s['scenario'])} <small>{_e(s['scenario_digest'][:16])}…</small></td>
<th>seed</th><td>{_e(s['seed'])}</td></tr>
<tr><th>suite</th><td>{_e(s['suite_version'])}</td><th>phases</th><td>{_e(', '.join(s['phases']))}</td></tr>
<tr><th>coverage</th><td colspan=3>{cov['exercised_count']} of {cov['contract_count']} operations
exercised ({cov['ratio']:.0%}){missing}</td></tr>
</table>
<h2>Requirements</h2><table><tr><th>id</th><th>requirement and evidence</th><th>status</th></tr>
{''.join(rows)}</table>{perf_html}
<p><small>SHA-256 {_e(doc['sha256'])} · results digest {_e(doc['results_digest'])} ·
identifiers and keys masked</small></p></html>
"""
