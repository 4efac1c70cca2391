"""The certificate: the results, the graded verdict and the JSON document (``sha256`` included).

The front door (``lienthong certify``) writes it: ``certificate.json`` is :meth:`Certificate.document`;
the HTML page and junit.xml are rendered from it by the one report writer (``lienthong.report``).

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
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from certify._exchanges import scrub
from certify._outcomes import Outcome
from certify.requirements import Requirement

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
