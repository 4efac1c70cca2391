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

With agencies in time (``load.agencies = "in_time"``) a dossier not terminal when the run ends
but waiting on an agency's work in progress is *in work* (counted, not a violation: it is open,
as the twin's dossiers open at its horizon); instant agencies have no such excuse.

A rejected dossier keeps the records of the steps it finished (they happened) and must have none
of the steps after the rejection. Each :class:`Violation` names the dossier and the rule;
personal identifiers in the details are masked (``001******123``).
"""

from __future__ import annotations

import calendar as _cal
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from fakes.ids import mask
from loadtests._config import LoadConfig
from loadtests._merge import Merged
from loadtests.placement import Placement
from loadtests.registers import (
    EXPORTED_AGENCIES,
    ContractRegisters,
    ExportRegisters,
    Memo,
    MixedRegisters,
    NotVerifiable,
    Registers,
    fetch_exports,
)
from scenarios.benefits import is_emergency_cause
from scenarios.clock import ScenarioClock
from scenarios.model import AGENCY_IDS, Scenario

__all__ = [
    "EXPORTED_AGENCIES",
    "NotVerifiable",
    "Reconciliation",
    "Submission",
    "Violation",
    "card_valid_to",
    "expected_steps",
    "fetch_exports",
    "reconcile",
    "reconcile_run",
    "run_days",
]

TERMINAL = ("completed", "rejected", "failed")


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
    """The outcome: ``violations`` (empty when the registers match), what was checked, and what
    could not be checked (``unverified``: check → count; ``reasons``: agency → why).

    ``passed`` means no rule is broken among the checks made; ``complete`` that every check
    could be made. Only both together say the registers reconcile.
    """

    violations: list[Violation] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)
    unanswered: list[str] = field(default_factory=list)
    unverified: Counter[str] = field(default_factory=Counter)
    reasons: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def passed(self) -> bool:
        """True when no rule is broken among the checks that could be made."""
        return not self.violations

    @property
    def complete(self) -> bool:
        """True when every check could be made (nothing not verifiable, no error)."""
        return not self.unverified and not self.error

    @property
    def status(self) -> str:
        """``passed`` | ``failed`` (a rule broken) | ``not verified`` (nothing broken, but not
        everything could be checked)."""
        if self.violations:
            return "failed"
        return "passed" if self.complete else "not verified"

    def verified_share(self) -> float:
        """Checks made / checks wanted (1.0 when nothing was wanted)."""
        made, missed = sum(self.checked.values()), sum(self.unverified.values())
        return made / (made + missed) if made + missed else 1.0

    def by_rule(self) -> dict[str, int]:
        """How many violations per rule."""
        return dict(Counter(v.rule for v in self.violations))

    def as_dict(self, limit: int = 200) -> dict[str, Any]:
        """Plain JSON data: counts, rules and the first ``limit`` violations."""
        return {
            "passed": self.passed,
            "complete": self.complete,
            "status": self.status,
            "violations": len(self.violations),
            "by_rule": self.by_rule(),
            "checked": dict(self.checked),
            "not_verifiable": dict(self.unverified),
            "not_verifiable_reasons": dict(self.reasons),
            "verified_share": round(self.verified_share(), 4),
            "sources": dict(self.sources),
            "error": self.error,
            "accepted_without_answer": list(self.unanswered[:limit]),
            "first": [asdict(v) for v in self.violations[:limit]],
        }

    def add(self, dossier: str, rule: str, detail: str) -> None:
        """Records a violation (masking any identifier-looking tokens in ``detail``)."""
        self.violations.append(Violation(dossier, rule, _mask_text(detail)))

    def cannot(self, what: str, agency: str, reason: str) -> None:
        """Records that check ``what`` could not be made at ``agency`` (the first reason kept)."""
        self.unverified[what] += 1
        self.reasons.setdefault(agency, reason)

    def merge(self, other: Reconciliation) -> None:
        """Adds ``other``'s findings to this one."""
        self.violations += other.violations
        self.checked.update(other.checked)
        self.unanswered += other.unanswered
        self.unverified.update(other.unverified)
        for agency, reason in other.reasons.items():
            self.reasons.setdefault(agency, reason)

    def _in_work(self) -> str:
        k = self.checked.get("in_work", 0)
        return f" ({k} still in work at a desk when the run ended)" if k else ""

    def summary(self) -> str:
        """One sentence: what reconciled, what broke, what could not be verified and why."""
        n = self.checked.get("dossiers", 0)
        if self.error:
            return f"Reconciliation could not run: {self.error}."
        if self.violations:
            rules = ", ".join(f"{v} {k}" for k, v in sorted(self.by_rule().items()))
            text = f"Reconciliation: {len(self.violations)} violations ({rules})."
        elif self.complete:
            return f"Registers reconcile with all {n} accepted dossiers{self._in_work()}."
        else:
            text = f"No violation among the checks made on {n} accepted dossiers{self._in_work()}."
        if not self.complete:
            missed = sum(self.unverified.values())
            why = "; ".join(f"{a}: {r}" for a, r in sorted(self.reasons.items()))
            text += (f" {missed} checks not verifiable ({self.verified_share():.0%} of checks "
                     f"verified) — {why}.")
        return text


def _in_work(stored: Mapping[str, Any]) -> bool:
    """True when a dossier not yet terminal is being worked: a step waits on an agency's work
    in progress (agencies in time: a desk has it), or is ready and about to be sent."""
    steps = stored.get("steps") or ()
    return any(s.get("status") in ("waiting", "pending", "in_flight") for s in steps)


def _results(stored: Mapping[str, Any]) -> dict[str, str]:
    """The PID and death register number a dossier's finished steps were given, if any."""
    out: dict[str, str] = {}
    for step in stored.get("steps") or ():
        result = step.get("result") if step.get("status") == "done" else None
        if isinstance(result, Mapping):
            if step.get("task") == "issue_pid" and result.get("pid"):
                out["pid"] = str(result["pid"])
            if step.get("task") == "register_death" and result.get("register_no"):
                out["register_no"] = str(result["register_no"])
    return out


def _mask_text(text: str) -> str:
    return " ".join(mask(w) if w.isdigit() and len(w) >= 9 else w for w in text.split(" "))


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


def reconcile(
    scenario: Scenario,
    submissions: Sequence[Submission],
    registers: Registers | Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]],
    *,
    days: Sequence[date] | None = None,
    fresh: Registers | None = None,
) -> Reconciliation:
    """Checks the registers against ``submissions`` (see the module docstring).

    ``registers`` is a :class:`~loadtests.registers.Registers` (contract reads, exports or a mix)
    or plain ``/admin/export`` documents ``{agency: {table: rows}}``. ``days`` are the scenario
    dates the run covered: where a register is read through the contract, cards and payments
    made on those days are listed to find any made for someone no dossier asked for.
    A check whose register cannot be read is counted as not verifiable, with the reason.

    The agencies may still be working while the registers are read (agencies in time): a card or
    payment that looks like a stray is first traced back, through ``fresh`` (live reads, default
    ``registers``) read after it, to a dossier that was still in work when the portal was read.
    """
    regs = registers if isinstance(registers, Registers) else ExportRegisters(registers)
    checker = _Checker(scenario, regs, fresh)
    out = Reconciliation(sources={a: regs.source(a) for a in EXPORTED_AGENCIES})
    wanted_cards: set[str] = set()
    wanted_pay: set[str] = set()
    workers = min(regs.concurrency, len(submissions))
    if workers > 1:  # reads over HTTP: a few dossiers at a time
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(checker.dossier, submissions))
    else:
        parts = [checker.dossier(sub) for sub in submissions]
    for part, cards, pay in parts:
        out.merge(part)
        wanted_cards |= cards
        wanted_pay |= pay
    checker.strays(wanted_cards, wanted_pay, list(days) if days is not None else None, out)
    return out


class _Checker:
    """The rules for one dossier at a time, reading through ``regs``."""

    def __init__(self, scenario: Scenario, regs: Registers, fresh: Registers | None = None) -> None:
        self.s, self.regs, self.fresh = scenario, regs, fresh or regs
        self.in_work: list[Submission] = []  # appended from the reading threads (atomic)
        self._issued: dict[bool, set[str]] = {}

    def dossier(self, sub: Submission) -> tuple[Reconciliation, set[str], set[str]]:
        """``(findings, cards wanted, payments wanted)`` of one submission."""
        out = Reconciliation()
        try:
            return out, *self._dossier(sub, out)
        except NotVerifiable as exc:
            out.cannot("dossier", exc.agency, exc.reason)
            return out, set(), set()

    def _dossier(self, sub: Submission, out: Reconciliation) -> tuple[set[str], set[str]]:
        if not sub.answered:
            stored = self._unanswered(sub, out)
            if stored is None:
                return set(), set()
            sub = replace(sub, code=str(stored.get("id")))
        else:
            stored = self._stored(sub, out)
        out.checked["dossiers"] += 1
        if sub.returned:
            out.add(sub.code, "lost_attachment", _returned(sub))
        if stored is None:
            return set(), set()
        status = str(stored.get("status"))
        if status not in TERMINAL:
            if self.s.load.agencies == "in_time" and _in_work(stored):
                # Still queued at a desk: open at the end, like the twin's open dossiers. Its
                # later steps may already be booked, so what it will be paid is not a stray.
                out.checked["in_work"] += 1
                self.in_work.append(sub)
                issued = _results(stored)
                return ({issued["pid"]} if issued.get("pid") else set(),
                        {issued["register_no"]} if issued.get("register_no") else set())
            out.add(sub.code, "stuck", f"status {status!r} at the end of the run")
            return set(), set()
        done = _done_steps(self.s, sub, stored)
        if status == "rejected":
            code, text = _rejection(stored)
            rule = "lost_attachment" if code == "missing_attachment" else "refused_valid_dossier"
            out.add(sub.code, rule, text)
        elif status == "failed":
            out.add(sub.code, "failed_dossier", _failure(stored))
        if sub.service == "birth":
            return self._birth(sub, done, out), set()
        return set(), self._death(sub, done, out)

    def _find(self, out: Reconciliation, what: str, agency: str, table: str, field: str,
              value: str) -> list[Mapping[str, Any]] | None:
        try:
            return self.regs.find(agency, table, field, value)
        except NotVerifiable as exc:
            out.cannot(what, exc.agency, exc.reason)
            return None

    def _by_document(self, sub: Submission) -> list[Mapping[str, Any]]:
        rows = self.regs.find("portal", "dossiers", "document", sub.document)
        return [d for d in rows if d.get("service", sub.service) == sub.service]

    def _unanswered(self, sub: Submission, out: Reconciliation) -> Mapping[str, Any] | None:
        """The register's dossier for a submission that got no 202, if the portal accepted it."""
        same_doc = self._by_document(sub)
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

    def _stored(self, sub: Submission, out: Reconciliation) -> Mapping[str, Any] | None:
        stored = self.regs.find("portal", "dossiers", "id", sub.code)
        if len(stored) == 1:
            return stored[0]
        same_doc = self._by_document(sub)
        if len(same_doc) == 1:
            out.add(
                sub.code,
                "code_mismatch",
                f"the submitter was given {sub.code}; the register holds it as {same_doc[0].get('id')}",
            )
            return same_doc[0]
        out.add(sub.code, "lost", "accepted (202) but not in the portal's register")
        return None

    def _one(self, out: Reconciliation, sub: Submission, what: str, wanted: bool, agency: str,
             table: str, field: str, value: str) -> Mapping[str, Any] | None:
        """The one record ``wanted`` (None otherwise, or when it is missing or doubled: a
        violation) or when the register cannot be read (not verifiable)."""
        rows = self._find(out, what, agency, table, field, value)
        if rows is None:
            return None
        if table == "residences":  # only active entries count; removed ones are history
            rows = [r for r in rows if _active(r)]
        elif table == "pid_requests":  # a PID is issued once its request is
            rows = [r for r in rows if r.get("status") == "issued" and r.get("pid")]
        out.checked[what] += 1
        if wanted and len(rows) == 1:
            return rows[0]
        if wanted:
            out.add(sub.code, f"{what}_count", f"{len(rows)} {what} records, expected 1")
        elif rows:
            text = f"{len(rows)} {what} records for a step the dossier did not do"
            out.add(sub.code, f"unexpected_{what}", text)
        return None

    @staticmethod
    def _after(out: Reconciliation, *whats: str) -> None:
        """Checks ``whats`` could not be made: the record they start from could not be read
        (its reason is already recorded)."""
        for what in whats:
            out.unverified[what] += 1

    def _birth(self, sub: Submission, done: set[str], out: Reconciliation) -> set[str]:
        unread = len(out.unverified)
        ks = self._one(out, sub, "birth_record", "ks" in done, "justice", "births",
                       "birth_certificate_id", sub.document)
        if ks is None:
            if len(out.unverified) > unread:
                self._after(out, "residence", "card")
            return set()
        person = self._one(out, sub, "personal_id", "pid" in done, "police", "pid_requests",
                           "birth_register_no", str(ks.get("register_no")))
        if person is None:
            if len(out.unverified) > unread:
                self._after(out, "residence", "card")
            return set()
        pid = str(person.get("pid"))
        _check_code(sub, person, "PID request", out)
        residence = self._one(out, sub, "residence", "tt" in done, "police", "residences", "pid", pid)
        if residence is not None:
            _check_code(sub, residence, "residence", out)
            if sub.household and str(residence.get("household_id")) != sub.household:
                out.add(
                    sub.code,
                    "wrong_household",
                    f"child {pid} registered in {residence.get('household_id')}, not {sub.household}",
                )
        card = self._one(out, sub, "card", "bhyt" in done, "vss", "cards", "pid", pid)
        if card is not None:
            _check_card(sub, card, ks, out)
        return {pid} if "bhyt" in done else set()

    def _death(self, sub: Submission, done: set[str], out: Reconciliation) -> set[str]:
        unread = len(out.unverified)
        kt = self._one(out, sub, "death_record", "kt" in done, "justice", "deaths", "death_notice_id",
                       sub.document)
        if kt is None:
            if len(out.unverified) > unread:
                self._after(out, "residence_removal", "vss_funeral_payment",
                            "social_funeral_payment", "survivor_settlement")
            return set()
        reg, pid = str(kt.get("register_no")), str(kt.get("deceased_pid"))
        if "xtt" in done:
            people = self._find(out, "marked_deceased", "police", "people", "pid", pid)
            if people is not None:
                out.checked["marked_deceased"] += 1
                if len(people) != 1 or people[0].get("alive") not in (False, 0):
                    out.add(sub.code, "not_marked_deceased", f"person {pid} not recorded as deceased once")
        removal = self._one(out, sub, "residence_removal", "xtt" in done, "police", "removals", "pid", pid)
        if removal is not None:
            _check_code(sub, removal, "residence removal", out)
        death_day = date.fromisoformat(str(kt.get("death_date")))
        pay = (("vss", "funeral_allowances", "vss_funeral_payment", "funeral_vss"),
               ("social", "funeral_supports", "social_funeral_payment", "funeral_social"),
               ("vss", "survivor_benefits", "survivor_settlement", "survivor"))
        for agency, table, what, step in pay:
            payment = self._one(out, sub, what, step in done, agency, table, "death_register_no", reg)
            if payment is not None and what != "survivor_settlement":
                _check_amount(self.s, sub, payment, death_day, agency, out, cause=kt.get("cause"))
        return {reg} if done & {"funeral_vss", "funeral_social", "survivor"} else set()

    def strays(self, cards: set[str], payments: set[str], days: list[date] | None,
               out: Reconciliation) -> None:
        """No card or payment for anyone no dossier asked for, on the days the run covered."""
        tables = (("vss", "cards", "pid", "card_for_someone_else", "card(s) for person"),
                  ("vss", "funeral_allowances", "death_register_no", "payment_for_someone_else",
                   "vss payment(s) for death record"),
                  ("social", "funeral_supports", "death_register_no", "payment_for_someone_else",
                   "social payment(s) for death record"),
                  ("vss", "survivor_benefits", "death_register_no", "payment_for_someone_else",
                   "survivor payment(s) for death record"))
        for agency, table, key, rule, text in tables:
            what = f"nothing_else.{agency}.{table}"
            try:
                if days is None and not self.regs.whole(agency):
                    raise NotVerifiable(agency, "the dates the run covered are not known")
                rows = self.regs.made_on(agency, table, days or [])
            except NotVerifiable as exc:
                out.cannot(what, exc.agency, exc.reason)
                continue
            out.checked[what] += 1
            wanted = cards if table == "cards" else payments
            counts = Counter(str(r.get(key)) for r in rows if r.get(key) is not None)
            if any(ident not in wanted for ident in counts) and self.in_work:
                wanted = wanted | self._issued_since(table == "cards")
            for ident, n in sorted(counts.items()):
                if ident not in wanted:
                    out.add("-", rule, f"{n} {text} {ident} no dossier asked for")

    def _issued_since(self, births: bool) -> set[str]:
        """The PIDs (births) or death register numbers issued to dossiers that were still in work
        when the portal was read, as the agencies' registers show them now: a card or payment read
        before these reads belongs to a step whose record they already hold."""
        if births not in self._issued:
            out: set[str] = set()
            for sub in self.in_work:
                if (sub.service == "birth") == births:
                    for regs in dict.fromkeys((self.fresh, self.regs)):  # live reads, else what was read
                        try:
                            out |= self._issued_to(regs, sub, births)
                            break
                        except NotVerifiable:
                            continue
            self._issued[births] = out
        return self._issued[births]

    @staticmethod
    def _issued_to(regs: Registers, sub: Submission, births: bool) -> set[str]:
        if not births:
            return {str(kt.get("register_no"))
                    for kt in regs.find("justice", "deaths", "death_notice_id", sub.document)}
        return {str(person.get("pid"))
                for ks in regs.find("justice", "births", "birth_certificate_id", sub.document)
                for person in regs.find("police", "pid_requests", "birth_register_no",
                                        str(ks.get("register_no")))}


def _active(row: Mapping[str, Any]) -> bool:
    if row.get("active") in (False, 0):
        return False
    return str(row.get("status", "active")) in ("active", "registered") and not row.get("removed_on")


def _what(sub: Submission) -> str:
    return "e-birth certificate" if sub.service == "birth" else "death notice"


def _returned(sub: Submission) -> str:
    return (
        f"submitted with its {_what(sub)} {sub.document} but returned ({sub.returned}); "
        "accepted when submitted again"
    )






def _failure(stored: Mapping[str, Any]) -> str:
    """A failed dossier's reason: "<step> (<agency>): <the portal's detail>"."""
    f = stored.get("failure") or {}
    if not isinstance(f, Mapping):
        return "failed"
    return f"{f.get('step')} ({f.get('agency')}): {f.get('detail') or f.get('code') or 'failed'}"


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




def _check_amount(
    scenario: Scenario,
    sub: Submission,
    payment: Mapping[str, Any],
    day: date,
    payer: str,
    out: Reconciliation,
    cause: str | None = None,
) -> None:
    """The amount a funeral payment must have: VSS and merit pay the base-pay multiple; social
    affairs the standard-level multiple, 50 × for an emergency cause of death (CONTRACT §8)."""
    money = scenario.money
    if payer == "vss" or sub.status == "merit":
        want = int(money.funeral_base_pay_multiple * money.amount_on(money.base_pay, day))
    elif is_emergency_cause(cause):
        want = int(money.emergency_funeral_multiple * money.amount_on(money.standard_level, day))
    else:
        want = int(money.social_funeral_multiple * money.amount_on(money.standard_level, day))
    got = payment.get("amount_vnd")
    if got is None or int(got) != want:
        out.add(
            sub.code,
            "payment_amount",
            f"{payer} paid {got} VND, expected {want} for a death on {day.isoformat()}",
        )


# -- a run's reconciliation ---------------------------------------------------------------------


def reconcile_run(s: Scenario, merged: Merged, placement: Placement, cfg: LoadConfig,
                  auditor_key: str | None = None) -> Reconciliation:
    """Reconciles a run's submissions with the registers, each read through the agency that owns
    it (the contract's register reads at its URL, with ``auditor_key``, default the scenario's
    ``auditor`` caller), or from ``/admin/export`` for the agencies the run's own fakes serve
    (the fast path)."""
    auditor = s.callers.get("auditor")
    contract = ContractRegisters(placement.urls, auditor_key or (auditor.key if auditor else None))
    try:
        sources: dict[str, Registers] = dict.fromkeys(AGENCY_IDS, contract)
        submissions = [Submission(**d) for d in merged.submissions]
        admin = s.callers.get("admin")
        if placement.embedded and admin is not None and "portal" not in placement.embedded:
            portal = Memo(contract)  # the portal's dossiers before the exports (see fetch_exports)
            portal.warm([sub.code for sub in submissions])
            sources["portal"] = portal
        if placement.embedded and admin is not None:
            try:
                exports = fetch_exports(placement.urls[placement.embedded[0]], admin.key, placement.embedded)
            except Exception:  # the fakes cannot export (e.g. gone): read them like anyone else
                exports = None
            if exports is not None:
                fast = ExportRegisters(exports, "admin export of the reference fakes")
                sources.update(dict.fromkeys(placement.embedded, fast))
        return reconcile(s, submissions, MixedRegisters(sources), days=run_days(s, cfg), fresh=contract)
    finally:
        contract.close()


def run_days(s: Scenario, cfg: LoadConfig, until: float | None = None) -> list[date]:
    """The scenario dates a run covered on its clock: from its first arrival to ``until`` (wall,
    default now), at most 400."""
    clock = _clock_of(cfg)
    first = cfg.shift_minutes / 1440.0
    last = max(first, float(clock.minute(time.time() if until is None else until)) / 1440.0)
    n = min(400, int(last) - int(first) + 1)
    return [s.calendar.start + timedelta(days=int(first) + d) for d in range(n)]


def _clock_of(cfg: LoadConfig) -> ScenarioClock:
    return ScenarioClock(t0=cfg.t0, speed=cfg.speed)
