"""The certificate: the results, the graded verdict and the JSON document (``sha256`` included),
optionally signed with Ed25519.

The front door (``lienthong certify``) writes it: ``certificate.json`` is :meth:`Certificate.document`;
the HTML page and junit.xml are rendered from it by the one report writer (``lienthong.report``).

**Statuses.** Each requirement of the agency is one of

- ``pass`` — its check ran and the vendor's answers met it;
- ``fail`` — its check ran and the vendor's answers did not meet it;
- ``not run`` — its check did not run: its phase was left out (``--phases``), a prerequisite the
  suite could not build, or a load generator that could not hold the declared rate;
- ``error`` — its check raised an exception the suite did not expect: a bug of the suite, not a
  verdict on the vendor (the traceback is in the requirement's ``data``).

**Grading rule** (by severity, see :mod:`certify.requirements`), first match wins:

============================  =====  ===============================================================
verdict                       exit   when
============================  =====  ===============================================================
FAIL                          1      a *critical* or *major* requirement failed (a suite error
                                     elsewhere does not undo a failure that was established)
INCOMPLETE                    4      none failed that way, but a check ended in ``error``
CONDITIONAL PASS              3      no error, but a *minor* requirement failed or a requirement of
                                     the agency was not run (left out, blocked, or absent)
PASS                          0      every requirement of the agency was run and passed
============================  =====  ===============================================================

Exit code 2 is bad input (the command names the problem). A certificate therefore never says PASS
unless every requirement of the agency ran: ``--phases rules`` gives at best CONDITIONAL PASS and
lists the other phases under ``not_run``.

The JSON is stamped with the suite version, scenario digest, seed, target URL and date, and
carries ``sha256``: the SHA-256 of the canonical JSON of every other field except ``signature``
(sorted keys, no spaces), so any edit is detectable. ``results_digest`` hashes only what must be
reproducible — agency, seed, scenario digest, the requirement statuses and the verdict — so two
runs with the same seed against the same implementation can be compared at a glance.

**Signature** (``--sign KEYFILE``): ``signature`` holds an Ed25519 signature over the canonical
JSON of every other field (``sha256`` included), the signer's public key and its id (the first 16
hex digits of the SHA-256 of the raw public key). :func:`check_document` verifies both. A valid
signature proves who signed *this file* and that it is unchanged since; it does not prove that
the run was honest, nor that the system certified is the one the vendor runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from certify._exchanges import scrub, scrub_doc
from certify._outcomes import Outcome
from certify.requirements import PHASES, Requirement, requirements_for

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["EXIT_CODES", "GRADING", "STATUSES", "Certificate", "Check", "Result", "case_text",
           "check_document", "generate_keys", "grade", "load_private_key", "load_public_key",
           "verify"]

Verdict = Literal["PASS", "CONDITIONAL PASS", "INCOMPLETE", "FAIL"]
STATUSES = ("pass", "fail", "not run", "error")
EXIT_CODES: dict[str, int] = {"PASS": 0, "FAIL": 1, "CONDITIONAL PASS": 3, "INCOMPLETE": 4}
GRADING = ("FAIL (exit 1) if any critical or major requirement failed; else INCOMPLETE (exit 4) if a "
           "check ended in a suite error; else CONDITIONAL PASS (exit 3) if a minor requirement "
           "failed or any requirement of the agency was not run (a phase left out, a prerequisite "
           "missing); else PASS (exit 0): every requirement ran and passed.")
_MAX_EVIDENCE = 3
_SIGNED_FIELDS = "every field but signature, canonical JSON (sorted keys, no spaces, UTF-8)"


def case_text(case: Any) -> str:
    """One covered case as a person reads it: a string as is, a dict as ``key: value`` pairs
    (``case`` first, ``result`` last)."""
    if not isinstance(case, dict):
        return str(case)
    head = [str(case["case"])] if "case" in case else []
    rest = [f"{k}: {v}" for k, v in case.items() if k not in ("case", "result")]
    tail = [f"→ {case['result']}"] if "result" in case else []
    return scrub(" · ".join(head + rest) + (" " + tail[0] if tail else ""))


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
                **({"data": scrub_doc(self.outcome.data)} if self.outcome.data else {})}


def grade(results: list[Result], missing: int = 0) -> Verdict:
    """The verdict of ``results`` by the grading rule above (``missing``: requirements of the
    agency with no result at all, which count as not run)."""
    failed = {r.requirement.severity for r in results if r.status == "fail"}
    if failed & {"critical", "major"}:
        return "FAIL"
    if any(r.status == "error" for r in results):
        return "INCOMPLETE"
    if failed or missing or any(r.status != "pass" for r in results):
        return "CONDITIONAL PASS"
    return "PASS"


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _digest(doc: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in doc.items()
                                      if k not in ("sha256", "signature")})).hexdigest()


def verify(doc: dict[str, Any]) -> bool:
    """True when ``doc['sha256']`` matches the rest of the certificate (``signature`` aside; use
    :func:`check_document` to check a signature too)."""
    return doc.get("sha256") == _digest(doc)


# -- signing ------------------------------------------------------------------------------
def _key_id(public: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_keys(folder: str | Path, name: str = "certify-signing") -> tuple[Path, Path]:
    """Write a new Ed25519 key pair into ``folder``: ``<name>.key`` (private, PEM PKCS#8, mode
    0600) and ``<name>.pub`` (public, PEM). Returns both paths.

    Raises FileExistsError rather than overwrite a key.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    where = Path(folder)
    where.mkdir(parents=True, exist_ok=True)
    private, public = where / f"{name}.key", where / f"{name}.pub"
    for p in (private, public):
        if p.exists():
            raise FileExistsError(f"{p} exists: not overwriting a key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    private.touch(mode=0o600)
    private.write_bytes(pem)
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in PEM file ``path``. Raises ValueError naming the problem."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"cannot read the signing key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key ({type(key).__name__})")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    """The Ed25519 public key in PEM file ``path``. Raises ValueError naming the problem."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"cannot read the public key {path}: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key ({type(key).__name__})")
    return key


def _sign(doc: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    from cryptography.hazmat.primitives import serialization

    public = key.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    body = {k: v for k, v in doc.items() if k != "signature"}
    return {"algorithm": "Ed25519", "key_id": _key_id(public),
            "public_key": base64.b64encode(raw).decode(), "signed": _SIGNED_FIELDS,
            "value": base64.b64encode(key.sign(_canonical(body))).decode()}


@dataclass
class Check:
    """What :func:`check_document` found: ``valid`` and the reasons (problems first)."""

    valid: bool
    problems: list[str]
    notes: list[str]
    key_id: str | None = None


def check_document(doc: dict[str, Any], pubkey: Ed25519PublicKey | None = None) -> Check:
    """Check a certificate's ``sha256`` and, if present, its signature; with ``pubkey`` the
    certificate must be signed by that key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    problems: list[str] = []
    notes: list[str] = []
    if not isinstance(doc.get("sha256"), str):
        problems.append("no sha256 field: not a certificate written by lienthong certify")
    elif not verify(doc):
        problems.append(f"sha256 does not match the content: the certificate was changed after it "
                        f"was written (recorded {doc['sha256'][:16]}…, content hashes to "
                        f"{_digest(doc)[:16]}…)")
    else:
        notes.append(f"sha256 {doc['sha256'][:16]}… matches the content")
    sig = doc.get("signature")
    key_id = None
    if sig is None:
        (problems if pubkey is not None else notes).append(
            "not signed" + (": --pubkey asks for a signature" if pubkey is not None else
                            " (only the hash was checked; anyone can recompute a hash)"))
        return Check(not problems, problems, notes)
    try:
        if sig.get("algorithm") != "Ed25519":
            raise ValueError(f"unknown signature algorithm {sig.get('algorithm')!r}")
        embedded = Ed25519PublicKey.from_public_bytes(base64.b64decode(sig["public_key"]))
        value = base64.b64decode(sig["value"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        problems.append(f"the signature field is malformed: {exc}")
        return Check(False, problems, notes)
    key_id = _key_id(embedded)
    if sig.get("key_id") != key_id:
        problems.append(f"the signature's key_id {sig.get('key_id')!r} is not its public key's "
                        f"({key_id})")
    if pubkey is not None and _key_id(pubkey) != key_id:
        problems.append(f"signed by key {key_id}, not by the --pubkey given ({_key_id(pubkey)})")
    body = {k: v for k, v in doc.items() if k != "signature"}
    try:
        (pubkey or embedded).verify(value, _canonical(body))
        notes.append(f"Ed25519 signature by key {key_id} verifies"
                     + ("" if pubkey is not None else " (pass --pubkey to check whose key it is)"))
    except InvalidSignature:
        problems.append(f"the Ed25519 signature does not verify against key "
                        f"{_key_id(pubkey) if pubkey is not None else key_id}: the signed content "
                        "was changed or the signature belongs to another key")
    return Check(not problems, problems, notes, key_id)


@dataclass
class Certificate:
    """Everything a certification run established (``signer``: sign the document with it)."""

    stamp: dict[str, Any]
    results: list[Result]
    coverage: dict[str, Any]
    performance: dict[str, Any] = field(default_factory=dict)
    signer: Ed25519PrivateKey | None = None

    def missing(self) -> list[Requirement]:
        """Requirements of the certified agency with no result in this certificate."""
        agency = self.stamp.get("agency")
        have = {r.requirement.id for r in self.results}
        try:
            every = requirements_for(str(agency))
        except ValueError:
            return []
        return [r for r in every if r.id not in have]

    @property
    def verdict(self) -> Verdict:
        return grade(self.results, len(self.missing()))

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def failed_ids(self) -> set[str]:
        return {r.requirement.id for r in self.results if r.status == "fail"}

    def not_run(self) -> dict[str, Any]:
        """What was not run and why: whole phases, then each requirement with its reason."""
        rows = [{"id": r.requirement.id, "phase": r.requirement.phase, "reason": scrub(r.outcome.detail)}
                for r in self.results if r.status == "not run"]
        rows += [{"id": r.id, "phase": r.phase, "reason": "no result in this certificate"}
                 for r in self.missing()]
        by_phase: dict[str, list[str]] = {}
        for r in self.results:
            by_phase.setdefault(r.requirement.phase, []).append(r.status)
        for m in self.missing():
            by_phase.setdefault(m.phase, []).append("not run")
        phases = [p for p in PHASES if by_phase.get(p) and all(s == "not run" for s in by_phase[p])]
        return {"phases": phases, "requirements": rows}

    def results_digest(self) -> str:
        rows = [self.stamp["agency"], self.stamp["seed"], self.stamp["scenario_digest"], self.verdict,
                *(f"{r.requirement.id}={r.status}" for r in self.results)]
        return hashlib.sha256("\n".join(map(str, rows)).encode()).hexdigest()

    def document(self) -> dict[str, Any]:
        """The certificate as JSON data, ``sha256`` included (and ``signature`` with a signer)."""
        counts = Counter(r.status for r in self.results)
        by_sev = {s: dict(Counter(r.status for r in self.results if r.requirement.severity == s))
                  for s in ("critical", "major", "minor")}
        missing = len(self.missing())
        doc: dict[str, Any] = {
            "certificate": self.stamp, "verdict": self.verdict, "exit_code": self.exit_code,
            "grading": GRADING,
            "summary": {"requirements": len(self.results) + missing, "pass": counts["pass"],
                        "fail": counts["fail"], "not run": counts["not run"] + missing,
                        "error": counts["error"], "by_severity": by_sev,
                        "failed": sorted(self.failed_ids()),
                        "errors": sorted(r.requirement.id for r in self.results if r.status == "error")},
            "not_run": self.not_run(),
            "coverage": self.coverage, "performance": self.performance,
            "results_digest": self.results_digest(),
            "requirements": [r.doc() for r in self.results],
        }
        doc["sha256"] = _digest(doc)
        if self.signer is not None:
            doc["signature"] = _sign(doc, self.signer)
        return doc
