"""The certification requirements as data: a stable id, one sentence, its source and a severity.

Ids read ``<AGENCY>-<AREA>-<NNN>`` (``VSS-CARD-003``) and never change meaning; a retired
requirement keeps its id out of use. ``source`` cites DOMAIN.md (the legal basis) or CONTRACT.md
(the HTTP contract). Severity grades the verdict (see :mod:`certify.certificate`):

- ``critical`` — a wrong legal outcome, money, identity or a security hole;
- ``major`` — a contract violation another system will trip over (codes, shapes, latency);
- ``minor`` — a defect an integrator can live with for a while.

Requirements common to every agency (contract, security, idempotency, performance) are written
once as templates and instantiated per agency with its prefix.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

__all__ = ["AGENCIES", "PHASES", "REQUIREMENTS", "Requirement", "requirements_for", "table_digest"]

AGENCIES = ("health", "justice", "police", "vss", "social", "portal")
PHASES = ("contract", "rules", "resilience", "security", "performance")
Severity = Literal["critical", "major", "minor"]
Phase = Literal["contract", "rules", "resilience", "security", "performance"]


@dataclass(frozen=True, slots=True)
class Requirement:
    """One requirement of one agency. ``key`` names the check that decides it."""

    id: str
    agency: str
    phase: Phase
    severity: Severity
    text: str
    source: str

    @property
    def key(self) -> str:
        """The id without the agency prefix (``IDEM-001``), used to find generic checks."""
        return self.id.split("-", 1)[1]


_C = "CONTRACT.md"
# (key, phase, severity, text, source, agencies it applies to)
_COMMON: tuple[tuple[str, Phase, Severity, str, str, tuple[str, ...]], ...] = (
    ("API-001", "contract", "major",
     "Every operation answers valid requests only with documented statuses, content types and "
     "bodies matching the OpenAPI schemas, and never with a 5xx.",
     f"{_C} §1, §3; /openapi.json", AGENCIES),
    ("API-002", "contract", "major",
     "Requests violating the schema (wrong types, missing or unknown fields, bad enums) are "
     "refused with a 4xx RFC 7807 problem document, never accepted or answered with a 5xx.",
     f"{_C} §3 (Validation, Errors)", AGENCIES),
    ("IDEM-001", "resilience", "critical",
     "A replayed write (same Idempotency-Key, same body) returns the first status and body and "
     "creates nothing new.", f"{_C} §3 (Idempotency)", AGENCIES),
    ("IDEM-002", "resilience", "major",
     "The same Idempotency-Key with another body is refused 409 idempotency_key_reused.",
     f"{_C} §3 (Idempotency)", AGENCIES),
    ("IDEM-003", "resilience", "critical",
     "Two concurrent deliveries of one write (duplicate delivery) both get the one result; "
     "one record is created.", f"{_C} §3, §12 (duplicate_delivery)", AGENCIES),
    ("IDEM-004", "resilience", "minor",
     "A write without an Idempotency-Key is refused 400 idempotency_key_missing.",
     f"{_C} §3 (Idempotency)", AGENCIES),
    ("RES-001", "resilience", "critical",
     "A client that times out on a slow write and retries with the same key ends with exactly "
     "one record: nothing lost, nothing duplicated.", f"{_C} §3, §9 (Orchestration)",
     ("justice", "police", "vss", "social")),
    ("RES-002", "resilience", "major",
     "When an upstream agency is down the write is refused 502 upstream_error and leaves nothing "
     "behind; the retry after recovery creates the record once.", f"{_C} §3 (502), §12 (outage)",
     ("justice", "police", "vss", "social")),
    ("SEC-001", "security", "critical",
     "Every endpoint refuses a request without an X-API-Key or with an unknown key: 401 "
     "unauthenticated (no ignored auth).", f"{_C} §2", AGENCIES),
    ("SEC-002", "security", "critical",
     "Every endpoint refuses a known caller without the endpoint's scope: 403 forbidden.",
     f"{_C} §2; scenario.callers", AGENCIES),
    ("SEC-003", "security", "major",
     "No error body contains a full personal ID, BHXH number or BHYT card code (masked "
     "001******123).", f"{_C} §3 (Errors); DOMAIN.md §5 (identifiers)", AGENCIES),
    ("PERF-001", "performance", "major",
     "At the declared rate (open model) the p95 latency from the intended start meets the "
     "scenario's http.latency threshold.", "scenario [[thresholds]] http.latency; DOMAIN.md §3 "
     "(same-working-day steps)", AGENCIES),
    ("PERF-002", "performance", "major",
     "At the declared rate the share of failed requests meets the scenario's http.errors "
     "threshold.", "scenario [[thresholds]] http.errors", AGENCIES),
)

# (id, phase, severity, text, source)
_SPECIFIC: dict[str, tuple[tuple[str, Phase, Severity, str, str], ...]] = {
    "health": (
        ("HEALTH-GCS-001", "rules", "major",
         "A valid e-birth certificate is issued 201 with id GCS-<facility>-<year>-<6 digits> and "
         "the XML9 fields as sent.", "DOMAIN.md §4 (XML9, QĐ 130/QĐ-BYT); CONTRACT.md §4"),
        ("HEALTH-GCS-002", "rules", "major",
         "A child birth date after today is refused 422 future_date.", "DOMAIN.md §4; CONTRACT.md §4"),
        ("HEALTH-GCS-003", "rules", "major",
         "A mother born after the child is refused 422 invalid_date.", "DOMAIN.md §4; CONTRACT.md §4"),
        ("HEALTH-GCS-004", "rules", "major",
         "A mother's personal ID that is not 12 digits with a known province is refused 422 "
         "invalid_pid.", "DOMAIN.md §5 (PPP G YY RRRRRR)"),
        ("HEALTH-GBT-001", "rules", "major",
         "A death notice is issued 201 with id GBT-<facility>-<year>-<6 digits>; a death before "
         "the birth is refused 422 death_before_birth.", "DOMAIN.md §4 (giấy báo tử); CONTRACT.md §4"),
        ("HEALTH-LINK-001", "rules", "major",
         "A linked birth dossier whose certificate the vendor issued completes through the "
         "reference portal.", "DOMAIN.md §3 group 1 step 1 (certificate pulled from health data)"),
    ),
    "justice": (
        ("JUSTICE-KS-001", "rules", "critical",
         "A birth is registered from the certificate held by health: register number "
         "KS-<unit>-<year>-Q<book>-<entry>, sex, birth date and mother from the certificate.",
         "DOMAIN.md §3 group 1 step 3, §5 (Số/Quyển số); CONTRACT.md §5"),
        ("JUSTICE-KS-002", "rules", "major",
         "A birth with a certificate health does not hold is refused 422 "
         "unknown_birth_certificate.", "DOMAIN.md §4; CONTRACT.md §5"),
        ("JUSTICE-KS-003", "rules", "critical",
         "One birth registration per certificate: a second one is refused 409 "
         "already_registered naming the first.", "DOMAIN.md §3; CONTRACT.md §3 (uniqueness)"),
        ("JUSTICE-KT-001", "rules", "critical",
         "A death is registered from the notice held by health, carrying the deceased's PID, "
         "death date and benefit status.", "DOMAIN.md §3 group 2 step 3, §4 (Mẫu 02)"),
        ("JUSTICE-KT-002", "rules", "major",
         "A death with a notice health does not hold is refused 422 unknown_death_notice.",
         "DOMAIN.md §4; CONTRACT.md §5"),
        ("JUSTICE-KT-003", "rules", "critical",
         "One death registration per person: a second notice for the same PID is refused 409 "
         "already_registered.", "DOMAIN.md §3 group 2; CONTRACT.md §5"),
        ("JUSTICE-LINK-001", "rules", "major",
         "A linked birth dossier registered by the vendor completes through the reference portal.",
         "DOMAIN.md §3 group 1 (ND 63 Art. 6–8)"),
    ),
    "police": (
        ("POLICE-PID-001", "rules", "critical",
         "A registered birth gets a PID PPP G YY RRRRRR: the registration province, the "
         "century/sex digit and the birth year.", "DOMAIN.md §5 (Circular 59/2021/TT-BCA)"),
        ("POLICE-PID-002", "rules", "major",
         "A PID request for a birth justice has not registered is refused 422 "
         "unknown_birth_record.", "DOMAIN.md §3 group 1 step 4; CONTRACT.md §6"),
        ("POLICE-PID-003", "rules", "critical",
         "One PID per birth record (409 already_issued) and distinct births never share a PID.",
         "DOMAIN.md §5; CONTRACT.md §6"),
        ("POLICE-TT-001", "rules", "major",
         "Permanent residence is registered for a known person (201) and refused for an unknown "
         "one (404 unknown_person) or a second time (409 already_resident).",
         "DOMAIN.md §3 group 1 step 5 (Law on Residence 2020)"),
        ("POLICE-XTT-001", "rules", "critical",
         "Residence removal is refused for a person not registered dead (422 person_alive).",
         "DOMAIN.md §3 group 2 step 4"),
        ("POLICE-XTT-002", "rules", "critical",
         "After the death is recorded the residence is removed once (201, then 409 "
         "already_registered) and the person shows removed.", "DOMAIN.md §3 group 2 step 4"),
        ("POLICE-LINK-001", "rules", "major",
         "A linked birth dossier whose PID and residence the vendor issues completes through the "
         "reference portal.", "DOMAIN.md §3 group 1 steps 4–5"),
    ),
    "vss": (
        ("VSS-CARD-001", "rules", "critical",
         "A child under 6 with a PID gets a card coded TE1 + the BHYT province (01 for Hanoi) + "
         "a 10-digit BHXH number.", "DOMAIN.md §5 (BHYT code XX L PP N×10; QĐ 1351/QĐ-BHXH)"),
        ("VSS-CARD-002", "rules", "critical",
         "The card is valid from birth to the day before the child is 72 months old, or to 30/09 "
         "of that year when that day falls on or before 30/09 (never 31/12, incident F8).",
         "DOMAIN.md §5 (Công văn 1331/BHXH, 2015), §10 F8"),
        ("VSS-CARD-003", "rules", "major",
         "A child aged 72 months or more on the day is refused 422 child_too_old.",
         "DOMAIN.md §5; TTLT 05/2015 (children under 6)"),
        ("VSS-CARD-004", "rules", "major",
         "A card request without a PID, or for a PID police never issued, is refused 422 no_pid.",
         "DOMAIN.md §3 group 1 step 6; CONTRACT.md §7"),
        ("VSS-CARD-005", "rules", "critical",
         "One first card per child: a second request is refused 409 already_issued.",
         "DOMAIN.md §2 (BHYT covers first-time cards only)"),
        ("VSS-FUN-001", "rules", "critical",
         "The funeral allowance is 10 × the base pay in force on the date of death: 14,900,000 "
         "VND before 2023-07-01, 18,000,000 VND from then, 23,400,000 VND from 2024-07-01.",
         "DOMAIN.md §6 (Luật BHXH 2014 Art. 66; ND 24/2023; ND 73/2024)"),
        ("VSS-FUN-002", "rules", "critical",
         "Only pensioners and the insured are paid: other statuses are refused 422 not_eligible.",
         "DOMAIN.md §6"),
        ("VSS-FUN-003", "rules", "critical",
         "One funeral allowance per death (409 already_paid under any key); a death justice has "
         "not registered is refused 422 death_not_registered.", "DOMAIN.md §6; CONTRACT.md §7"),
        ("VSS-SURV-001", "rules", "major",
         "A survivor benefit is settled once per death of a pensioner or insured person "
         "(409 already_settled).", "DOMAIN.md §3 group 2 step 5a"),
        ("VSS-LINK-001", "rules", "major",
         "A linked KS+TT+BHYT dossier completes through the reference portal with the vendor's "
         "card.", "DOMAIN.md §3 group 1 step 6"),
    ),
    "social": (
        ("SOCIAL-FUN-001", "rules", "critical",
         "Funeral support for a social-protection beneficiary is 20 × the standard level on the "
         "date of death: 7,200,000 VND before 2024-07-01, 10,000,000 VND from then.",
         "DOMAIN.md §6 (ND 20/2021 Art. 11; ND 76/2024)"),
        ("SOCIAL-FUN-002", "rules", "critical",
         "Funeral support for a person with merit is 10 × the base pay on the date of death.",
         "DOMAIN.md §6 (Ordinance 2020; ND 131/2021 Art. 121)"),
        ("SOCIAL-FUN-003", "rules", "critical",
         "Pensioners, the insured and others are refused 422 not_eligible (VSS pays them).",
         "DOMAIN.md §2, §6"),
        ("SOCIAL-FUN-004", "rules", "critical",
         "One payment per death (409 already_paid); an unregistered death is refused 422 "
         "death_not_registered.", "DOMAIN.md §6 (only the highest applicable rate is paid)"),
        ("SOCIAL-LINK-001", "rules", "major",
         "A linked death dossier of a social-protection beneficiary completes through the "
         "reference portal with the vendor's payment.", "DOMAIN.md §3 group 2 step 5b"),
    ),
    "portal": (
        ("PORTAL-DOS-001", "rules", "major",
         "A dossier is stored before the answer: 202 with Location and a dossier code "
         "G1-<province>-<YYYYMMDD>-<6 digits> (G2 for deaths).",
         "DOMAIN.md §3 group 1 steps 1–2; CONTRACT.md §9"),
        ("PORTAL-DOS-002", "rules", "major",
         "An unknown variant is refused 422 unknown_variant; a dossier without its group's "
         "section 422 missing_attachment.", "DOMAIN.md §2 (variants), §10 F10"),
        ("PORTAL-DOS-003", "rules", "critical",
         "A KS+TT+BHYT dossier completes with one birth record, one PID, one residence and one "
         "card valid to 72 months in the agencies' registers.", "DOMAIN.md §2 G1-A, §3, §5"),
        ("PORTAL-DOS-004", "rules", "critical",
         "A pensioner's KT+XTT+funeral dossier completes with the residence removed and exactly "
         "one funeral allowance of 10 × base pay from VSS, none from social affairs.",
         "DOMAIN.md §2, §3 group 2, §6"),
        ("PORTAL-DOS-005", "rules", "major",
         "A step an agency refuses ends the dossier rejected with that agency's problem code.",
         "DOMAIN.md §3 (ND 63 Art. 8), §10 F9; CONTRACT.md §9"),
        ("PORTAL-SEC-004", "security", "critical",
         "Each citizen has its own key, bound to its PID: citizen A reads the dossiers it submitted, "
         "not citizen B's (404 unknown_dossier, left out of a list by document), and cannot submit "
         "one for B (403); a forged citizen key and the issuer secret itself are 401.",
         f"{_C} §2 (citizen keys)"),
        ("PORTAL-RES-003", "resilience", "critical",
         "An agency outage during orchestration delays the dossier but it completes exactly once "
         "after recovery (no lost step, no second card).", f"{_C} §9 (retries); DOMAIN.md §10 F7"),
    ),
}


def _build() -> tuple[Requirement, ...]:
    out: list[Requirement] = []
    for agency in AGENCIES:
        prefix = agency.upper()
        specific = [Requirement(i, agency, p, s, t, src) for i, p, s, t, src in _SPECIFIC[agency]]
        common = [Requirement(f"{prefix}-{k}", agency, p, s, t, src)
                  for k, p, s, t, src, who in _COMMON if agency in who]
        rows = specific + common
        out += sorted(rows, key=lambda r: (PHASES.index(r.phase), r.id))
    return tuple(out)


REQUIREMENTS: tuple[Requirement, ...] = _build()


def requirements_for(agency: str, phases: tuple[str, ...] = PHASES) -> list[Requirement]:
    """The requirements of ``agency`` in ``phases``, in phase order.

    Raises ValueError naming an unknown agency or phase.
    """
    if agency not in AGENCIES:
        raise ValueError(f"unknown agency {agency!r}; expected one of {', '.join(AGENCIES)}")
    if bad := [p for p in phases if p not in PHASES]:
        raise ValueError(f"unknown phase {bad[0]!r}; expected some of {', '.join(PHASES)}")
    return [r for r in REQUIREMENTS if r.agency == agency and r.phase in phases]


def table_digest() -> str:
    """SHA-256 of the requirements table: part of the suite version stamped on certificates."""
    text = "\n".join("|".join((r.id, r.phase, r.severity, r.text, r.source)) for r in REQUIREMENTS)
    return hashlib.sha256(text.encode()).hexdigest()
