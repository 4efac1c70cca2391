"""Reconciliation: what the registers hold after a run against what the dossiers should have made.

After every run the admin export of each agency (``GET /admin/export/{agency}``) is compared with
the dossiers the journeys submitted:

- every accepted (completed) birth → one birth record for its e-birth certificate, one personal
  ID, one residence entry in the household asked for (variants with TT), one child BHYT card
  valid to the 72-month rule (variants with BHYT) — and none of those when the variant has no
  such step;
- every accepted death → one death record for its notice, the person marked deceased and
  their residence removed once, exactly one funeral payment of the right amount by the right
  payer when the variant pays and the deceased is eligible (VSS for pensioners and the insured,
  social affairs for social-protection beneficiaries and people with merit), one survivor
  settlement when asked and eligible — and no payment otherwise;
- no card or payment for anyone the run did not ask for, no duplicate;
- no dossier lost (accepted but missing from the portal's register, or stored under another
  code than the one the submitter was given: ``code_mismatch``, incident F3), stuck (not
  terminal) or refused although valid; no dossier returned for a missing attachment the
  submitter did send (``lost_attachment``, incident F10); every child card valid to the
  72-month rule (``card_validity``; a card valid to 31/12 of its issue year is incident F8).

A submission that got no 202 (the client timed out, or the answer was lost) may still have been
accepted: the register is searched for its hospital document, and a dossier found there is
*accepted without answer* — listed apart, checked like any other, and its cards and payments are
not strays.

A rejected dossier keeps the records of the steps it finished (they happened) and must have none
of the steps after the rejection. Each :class:`Violation` names the dossier and the rule;
personal identifiers in the details are masked (``001******123``).
"""

from __future__ import annotations

import calendar as _cal
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from fakes.ids import mask
from scenarios.model import Scenario

__all__ = [
    "EXPORTED_AGENCIES",
    "Reconciliation",
    "Submission",
    "Violation",
    "card_valid_to",
    "expected_steps",
    "fetch_exports",
    "reconcile",
]

EXPORTED_AGENCIES = ("health", "justice", "police", "vss", "social", "portal")
TERMINAL = ("completed", "rejected")
_FUNERAL_TASKS = ("pay_funeral_allowance", "pay_funeral_support")


@dataclass(frozen=True)
class Submission:
    """One dossier a journey submitted and the portal accepted (answered 202 with ``code``).

    ``document`` is the hospital document id (e-birth certificate or death notice);
    ``household`` the household a birth registers into; ``status`` the deceased's benefit
    status (death dossiers). ``answered=False``: the submission got no 202 (``code`` empty,
    ``refusal`` the problem code or ``status N``); ``returned``: the problem code of a first
    submission the portal returned before accepting a resubmission.
    """

    index: int
    code: str
    service: str
    variant: str
    document: str
    household: str = ""
    status: str = "none"
    answered: bool = True
    refusal: str = ""
    returned: str = ""


@dataclass(frozen=True)
class Violation:
    """A broken reconciliation rule for one dossier (``dossier`` is its portal code)."""

    dossier: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.dossier}: {self.rule} — {self.detail}"


@dataclass
class Reconciliation:
    """The outcome: ``violations`` (empty when the registers match) and what was checked."""

    violations: list[Violation] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)
    unanswered: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when no rule is broken."""
        return not self.violations

    def by_rule(self) -> dict[str, int]:
        """How many violations per rule."""
        return dict(Counter(v.rule for v in self.violations))

    def as_dict(self, limit: int = 200) -> dict[str, Any]:
        """Plain JSON data: counts, rules and the first ``limit`` violations."""
        return {
            "passed": self.passed,
            "violations": len(self.violations),
            "by_rule": self.by_rule(),
            "checked": dict(self.checked),
            "accepted_without_answer": list(self.unanswered[:limit]),
            "first": [asdict(v) for v in self.violations[:limit]],
        }

    def add(self, dossier: str, rule: str, detail: str) -> None:
        """Records a violation (masking any identifier-looking tokens in ``detail``)."""
        self.violations.append(Violation(dossier, rule, _mask_text(detail)))


def _mask_text(text: str) -> str:
    return " ".join(mask(w) if w.isdigit() and len(w) >= 9 else w for w in text.split(" "))


def fetch_exports(
    base_url: str, admin_key: str, timeout_s: float = 60.0
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """``{agency: {table: rows}}`` from ``GET /admin/export/{agency}`` of every agency (httpx).

    Raises ``httpx.HTTPError`` when an export cannot be read.
    """
    import httpx

    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with httpx.Client(base_url=base_url, timeout=timeout_s, headers={"X-API-Key": admin_key}) as client:
        for agency in EXPORTED_AGENCIES:
            reply = client.get(f"/admin/export/{agency}")
            reply.raise_for_status()
            out[agency] = reply.json()["registers"]
    return out


def card_valid_to(birth: date) -> date:
    """Last valid day of a child BHYT card: the day before 72 months of age, or 30/09 of that
    year when the sixth birthday falls on or before 30/09 (DOMAIN.md §5)."""
    year = birth.year + 6
    six = date(year, birth.month, min(birth.day, _cal.monthrange(year, birth.month)[1]))
    school = date(year, 9, 30)
    return school if six <= school else six - timedelta(days=1)


def expected_steps(scenario: Scenario, service: str, variant: str, status: str) -> list[str]:
    """The steps a completed dossier of ``variant`` must have done (payer steps by ``status``)."""
    steps = scenario.services[service].variants[variant].steps  # type: ignore[index]
    out = []
    for sid in steps:
        when = scenario.steps[sid].when_status
        if when is None or status in when:
            out.append(sid)
    return out


# -- the check ------------------------------------------------------------------------------------


class _Index:
    """The exported registers, indexed by the keys reconciliation looks up."""

    def __init__(self, exports: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]]) -> None:
        def rows(agency: str, table: str) -> list[Mapping[str, Any]]:
            return list(exports.get(agency, {}).get(table, []))

        self.births = _group(rows("justice", "births"), "birth_certificate_id")
        self.births_by_no = _group(rows("justice", "births"), "register_no")
        self.deaths = _group(rows("justice", "deaths"), "death_notice_id")
        self.people = _group(rows("police", "people"), "pid")
        issued = [r for r in rows("police", "pid_requests") if r.get("status") == "issued" and r.get("pid")]
        self.pids_by_birth = _group(issued, "birth_register_no")
        self.residences = _group([r for r in rows("police", "residences") if _active(r)], "pid")
        self.removals = _group(rows("police", "removals"), "pid")
        self.cards = _group(rows("vss", "cards"), "pid")
        self.vss_pay = _group(rows("vss", "funeral_allowances"), "death_register_no")
        self.survivor = _group(rows("vss", "survivor_benefits"), "death_register_no")
        self.social_pay = _group(rows("social", "funeral_supports"), "death_register_no")
        portal = rows("portal", "dossiers")
        self.dossiers = {str(d.get("id")): d for d in portal}
        self.by_document: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for d in portal:
            doc = _document_of(d)
            if doc:
                self.by_document[doc].append(d)


def _active(row: Mapping[str, Any]) -> bool:
    return str(row.get("status", "active")) in ("active", "registered") and not row.get("removed_on")


def _group(rows: Iterable[Mapping[str, Any]], key: str) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        if r.get(key) is not None:
            out[str(r[key])].append(r)
    return out


def _document_of(d: Mapping[str, Any]) -> str:
    for section, key in (("birth", "birth_certificate_id"), ("death", "death_notice_id")):
        part = d.get(section) or (d.get("input") or {}).get(section)
        if isinstance(part, Mapping) and part.get(key):
            return str(part[key])
    return ""


def reconcile(
    scenario: Scenario,
    submissions: Sequence[Submission],
    exports: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]],
) -> Reconciliation:
    """Checks the registers in ``exports`` against ``submissions`` (see the module docstring)."""
    idx, out = _Index(exports), Reconciliation()
    wanted_cards: set[str] = set()
    wanted_pay: set[str] = set()
    for sub in submissions:
        if not sub.answered:
            stored = _unanswered(idx, sub, out)
            if stored is None:
                continue
            sub = replace(sub, code=str(stored.get("id")))
        else:
            stored = _stored(idx, sub, out)
        out.checked["dossiers"] += 1
        if sub.returned:
            out.add(sub.code, "lost_attachment", _returned(sub))
        if stored is None:
            continue
        status = str(stored.get("status"))
        if status not in TERMINAL:
            out.add(sub.code, "stuck", f"status {status!r} at the end of the run")
            continue
        done = _done_steps(scenario, sub, stored)
        if status == "rejected":
            code, text = _rejection(stored)
            rule = "lost_attachment" if code == "missing_attachment" else "refused_valid_dossier"
            out.add(sub.code, rule, text)
        if sub.service == "birth":
            wanted_cards |= _check_birth(scenario, idx, sub, done, out)
        else:
            wanted_pay |= _check_death(scenario, idx, sub, done, out)
    _check_strays(idx, wanted_cards, wanted_pay, out)
    return out


def _what(sub: Submission) -> str:
    return "e-birth certificate" if sub.service == "birth" else "death notice"


def _returned(sub: Submission) -> str:
    return (
        f"submitted with its {_what(sub)} {sub.document} but returned ({sub.returned}); "
        "accepted when submitted again"
    )


def _unanswered(idx: _Index, sub: Submission, out: Reconciliation) -> Mapping[str, Any] | None:
    """The register's dossier for a submission that got no 202, if the portal accepted it."""
    same_doc = [
        d for d in idx.by_document.get(sub.document, []) if d.get("service", sub.service) == sub.service
    ]
    if len(same_doc) == 1:
        out.unanswered.append(str(same_doc[0].get("id")))
        out.checked["accepted_without_answer"] += 1
        return same_doc[0]
    if len(same_doc) > 1:
        out.add("-", "duplicate_dossier", f"{len(same_doc)} dossiers for {_what(sub)} {sub.document}")
        return None
    if sub.refusal == "missing_attachment":
        out.checked["dossiers"] += 1
        out.add(
            f"#{sub.index}",
            "lost_attachment",
            f"submitted with its {_what(sub)} {sub.document} but returned twice (missing_attachment)",
        )
    return None


def _stored(idx: _Index, sub: Submission, out: Reconciliation) -> Mapping[str, Any] | None:
    stored = idx.dossiers.get(sub.code)
    if stored is not None:
        return stored
    same_doc = idx.by_document.get(sub.document, [])
    if len(same_doc) == 1:
        out.add(
            sub.code,
            "code_mismatch",
            f"the submitter was given {sub.code}; the register holds it as {same_doc[0].get('id')}",
        )
        return same_doc[0]
    out.add(sub.code, "lost", "accepted (202) but not in the portal's register")
    return None


def _rejection(stored: Mapping[str, Any]) -> tuple[str, str]:
    """``(problem code, description)`` of a rejected dossier's rejected step."""
    for step in stored.get("steps") or ():
        if step.get("status") == "rejected":
            err = step.get("error") or {}
            code = str(err.get("code") if isinstance(err, Mapping) else err)
            return code, f"step {step.get('step')} rejected ({code})"
    return "", "rejected"


def _done_steps(scenario: Scenario, sub: Submission, stored: Mapping[str, Any]) -> set[str]:
    if stored.get("status") == "completed":
        return set(expected_steps(scenario, sub.service, sub.variant, sub.status))
    return {str(s.get("step")) for s in stored.get("steps") or () if s.get("status") == "done"}


def _one(
    out: Reconciliation, sub: Submission, rows: Sequence[Mapping[str, Any]], wanted: bool, what: str
) -> Mapping[str, Any] | None:
    out.checked[what] += 1
    if wanted and len(rows) == 1:
        return rows[0]
    if wanted:
        out.add(sub.code, f"{what}_count", f"{len(rows)} {what} records, expected 1")
    elif rows:
        out.add(
            sub.code, f"unexpected_{what}", f"{len(rows)} {what} records for a step the dossier did not do"
        )
    return None


def _check_birth(
    scenario: Scenario, idx: _Index, sub: Submission, done: set[str], out: Reconciliation
) -> set[str]:
    ks = _one(out, sub, idx.births.get(sub.document, []), "ks" in done, "birth_record")
    if ks is None:
        return set()
    person = _one(
        out, sub, idx.pids_by_birth.get(str(ks.get("register_no")), []), "pid" in done, "personal_id"
    )
    if person is None:
        return set()
    pid = str(person.get("pid"))
    _check_code(sub, person, "PID request", out)
    residence = _one(out, sub, idx.residences.get(pid, []), "tt" in done, "residence")
    if residence is not None:
        _check_code(sub, residence, "residence", out)
    if residence is not None and sub.household and str(residence.get("household_id")) != sub.household:
        out.add(
            sub.code,
            "wrong_household",
            f"child {pid} registered in {residence.get('household_id')}, not {sub.household}",
        )
    card = _one(out, sub, idx.cards.get(pid, []), "bhyt" in done, "card")
    if card is not None:
        _check_card(sub, card, ks, out)
    return {pid} if "bhyt" in done else set()


def _check_code(sub: Submission, row: Mapping[str, Any], what: str, out: Reconciliation) -> None:
    """A police record names the dossier it was made for (``dossier_code``); another code there
    is a code mismatch (incident F3: MPS-side codes that do not match the portal's)."""
    code = row.get("dossier_code")
    if code and str(code) != sub.code:
        out.add(sub.code, "code_mismatch", f"police holds the {what} under dossier code {code}")


def _check_card(sub: Submission, card: Mapping[str, Any], ks: Mapping[str, Any], out: Reconciliation) -> None:
    birth = date.fromisoformat(str(ks.get("child_birth_date")))
    want = card_valid_to(birth)
    got = str(card.get("valid_to"))
    if got != want.isoformat():
        issued = str(card.get("issued_on") or card.get("valid_from") or "")[:4]
        hint = " (31/12 of the issue year)" if issued and got == f"{issued}-12-31" else ""
        out.add(
            sub.code,
            "card_validity",
            f"card valid to {got}{hint}, the 72-month rule gives {want.isoformat()}",
        )
    code = str(card.get("card_code", ""))
    if not code.startswith("TE1"):
        out.add(sub.code, "card_code", f"card code {code} is not a child (TE1) card")


def _check_death(
    scenario: Scenario, idx: _Index, sub: Submission, done: set[str], out: Reconciliation
) -> set[str]:
    kt = _one(out, sub, idx.deaths.get(sub.document, []), "kt" in done, "death_record")
    if kt is None:
        return set()
    reg, pid = str(kt.get("register_no")), str(kt.get("deceased_pid"))
    if "xtt" in done:
        people = idx.people.get(pid, [])
        if len(people) != 1 or people[0].get("alive") not in (False, 0):
            out.add(sub.code, "not_marked_deceased", f"person {pid} not recorded as deceased once")
    removal = _one(out, sub, idx.removals.get(pid, []), "xtt" in done, "residence_removal")
    if removal is not None:
        _check_code(sub, removal, "residence removal", out)
    death_day = date.fromisoformat(str(kt.get("death_date")))
    vss = _one(out, sub, idx.vss_pay.get(reg, []), "funeral_vss" in done, "vss_funeral_payment")
    social = _one(out, sub, idx.social_pay.get(reg, []), "funeral_social" in done, "social_funeral_payment")
    _one(out, sub, idx.survivor.get(reg, []), "survivor" in done, "survivor_settlement")
    for payment, payer in ((vss, "vss"), (social, "social")):
        if payment is not None:
            _check_amount(scenario, sub, payment, death_day, payer, out)
    return {reg} if done & {"funeral_vss", "funeral_social", "survivor"} else set()


def _check_amount(
    scenario: Scenario,
    sub: Submission,
    payment: Mapping[str, Any],
    day: date,
    payer: str,
    out: Reconciliation,
) -> None:
    money = scenario.money
    if payer == "vss" or sub.status == "merit":
        want = int(money.funeral_base_pay_multiple * money.amount_on(money.base_pay, day))
    else:
        want = int(money.social_funeral_multiple * money.amount_on(money.standard_level, day))
    got = payment.get("amount_vnd")
    if got is None or int(got) != want:
        out.add(
            sub.code,
            "payment_amount",
            f"{payer} paid {got} VND, expected {want} for a death on {day.isoformat()}",
        )


def _check_strays(idx: _Index, cards: set[str], payments: set[str], out: Reconciliation) -> None:
    for pid, rows in idx.cards.items():
        if pid not in cards:
            out.add(
                "-", "card_for_someone_else", f"{len(rows)} card(s) for person {pid} no dossier asked for"
            )
    for table, name in ((idx.vss_pay, "vss"), (idx.social_pay, "social"), (idx.survivor, "survivor")):
        for reg, rows in table.items():
            if reg not in payments:
                out.add(
                    "-",
                    "payment_for_someone_else",
                    f"{len(rows)} {name} payment(s) for death record {reg} no dossier asked for",
                )
