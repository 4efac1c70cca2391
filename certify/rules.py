"""Phase (b), business rules: one check per requirement, from DOMAIN.md.

Each check builds its own data (through :mod:`certify._test_data`, in the vendor for the certified
agency and in the reference fakes for the rest), calls the vendor and decides. Expected values
are computed here from the rules themselves (DOMAIN.md §5–6 and the scenario's money table),
never read from the fakes. :data:`CHECKS`, at the end, names the requirement each check decides.

A rule with branches or boundaries is checked on cases drawn from the seed (``ctx.rng(<id>)``)
that cover each of them: card validity on both sides of 30/09 and of the day before 72 months
and for a child born 29 February (:data:`CARD_CASES`), the 72-month refusal at its boundary,
amounts on the first day of each rate table, the day before and the day of each change and a day
inside each period (:func:`amount_case_days`), the PID's year at a year boundary, future and
before-birth dates at the day that flips them. The same seed draws the same cases; another seed
other days, but always every branch. Each such result lists its cases in ``data["cases"]``
(:class:`certify._outcomes.Cases`: the branch, the dates, the expected value, the result).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import time
from typing import Any

from certify import _test_data as data
from certify._dossiers import birth_dossier, death_dossier, poll_dossier, submit
from certify._exchanges import Exchange
from certify._outcomes import Cases, Outcome, covering, ensure, expect_equal, passed
from certify._reference_fakes import reference_registers
from certify._run_context import Check, Ctx
from fakes.ids import PROVINCES, validate_bhyt, validate_pid

__all__ = ["CHECKS"]

AFTER = dt.date(2024, 7, 1)  # a death date after the 2024-07-01 rate change (eligibility checks)


def _created(ex: Exchange, what: str, status: int = 201) -> dict[str, Any]:
    ensure(ex.status == status and isinstance(ex.response, dict),
           f"status: expected {status}, got {ex.status} {ex.code or ex.error} ({what})", ex)
    return dict(ex.response)


def _refused(ex: Exchange, status: int, code: str, what: str) -> None:
    ensure(ex.status == status and ex.code == code,
           f"status and code: expected {status} {code}, got {ex.status} {ex.code or ex.error} ({what})", ex)


def _post(ctx: Ctx, path: str, body: dict[str, Any], caller: str, tag: str, salt: str = "") -> Exchange:
    return ctx.vendor.post(path, body, caller, idem=ctx.key(tag, body, salt))


def _days_ago(ctx: Ctx, days: int) -> dt.date:
    return ctx.today - dt.timedelta(days=days)


def card_validity(birth: dt.date) -> tuple[dt.date, dt.date]:
    """Valid from/to of a child's BHYT card, from DOMAIN.md §5 (written here from the rule, not
    taken from the fakes): to the day before 72 months, or 30/09 when the 72-month day falls on
    or before 30/09 of its year."""
    sixth = seventy_two_months(birth)
    school_end = dt.date(sixth.year, 9, 30)
    return birth, school_end if sixth <= school_end else sixth - dt.timedelta(days=1)


# -- health --------------------------------------------------------------------------------
def birth_certificate_issued_with_the_fields_as_sent(ctx: Ctx) -> Outcome:
    body = data.certificate_body(ctx, _days_ago(ctx, 10), "M")
    ex = _post(ctx, "/health/birth-certificates", body, "hospital", "gcs1")
    doc = _created(ex, "certificate")
    year = body["child_birth_date"][:4]
    ensure(bool(re.fullmatch(rf"GCS-01001-({year}|{ctx.today.year})-\d{{6}}", str(doc.get("id")))),
           f"id {doc.get('id')!r} is not GCS-01001-<year>-<6 digits>", ex)
    for k in ("child_birth_date", "child_sex", "mother_pid", "facility_code"):
        expect_equal(k, body[k], doc.get(k), ex, why="not echoed as sent")
    return passed(f"certificate {doc['id']} issued with the fields as sent", ex)


@covering
def birth_in_the_future_refused(ctx: Ctx, cases: Cases) -> Outcome:
    later = int(ctx.rng("HEALTH-GCS-002").integers(2, 366))
    out = []
    for label, days in (("born tomorrow (boundary)", 1), (f"born in {later} days (drawn)", later)):
        day = ctx.today + dt.timedelta(days=days)
        with cases.case(label, "422 future_date", born=day.isoformat(), today=ctx.today.isoformat()):
            ex = _post(ctx, "/health/birth-certificates", data.certificate_body(ctx, day), "hospital",
                       f"gcs2/{days}")
            out.append(ex)
            _refused(ex, 422, "future_date", f"a birth on {day}, {label}")
    with cases.case("born today (boundary)", "201 certificate", born=ctx.today.isoformat()):
        ex = _post(ctx, "/health/birth-certificates", data.certificate_body(ctx, ctx.today), "hospital",
                   "gcs2/today")
        out.append(ex)
        _created(ex, f"a birth today ({ctx.today})")
    return cases.passed("a birth date in the future is refused future_date; today is not", *out)


@covering
def mother_born_after_the_child_refused(ctx: Ctx, cases: Cases) -> Outcome:
    child = _days_ago(ctx, 10)
    after = int(ctx.rng("HEALTH-GCS-003").integers(1, 10))
    out = []
    for label, days in (("mother born the same day as the child (boundary)", 0),
                        (f"mother born {after} days after the child (drawn)", after)):
        mother = child + dt.timedelta(days=days)
        with cases.case(label, "422 invalid_date", child_born=child.isoformat(),
                        mother_born=mother.isoformat()):
            body = dict(data.certificate_body(ctx, child), mother_birth_date=mother.isoformat())
            ex = _post(ctx, "/health/birth-certificates", body, "hospital", f"gcs3/{days}")
            out.append(ex)
            _refused(ex, 422, "invalid_date", label)
    return cases.passed("a mother not born before the child is refused invalid_date", *out)


@covering
def malformed_mother_pid_refused(ctx: Ctx, cases: Cases) -> Outcome:
    rng = ctx.rng("HEALTH-GCS-004")
    unknown = [f"{n:03d}" for n in range(1000) if f"{n:03d}" not in PROVINCES]
    province = unknown[int(rng.integers(len(unknown)))]
    serial = int(rng.integers(1_000_000))
    plan = ((f"unknown province code {province} (drawn)", f"{province}195{serial:06d}"),
            ("11 digits", f"001195{serial:06d}"[:11]))
    out = []
    for i, (label, bad) in enumerate(plan):
        with cases.case(f"mother PID: {label}", "422 invalid_pid"):
            body = dict(data.certificate_body(ctx, _days_ago(ctx, 10)), mother_pid=bad)
            ex = _post(ctx, "/health/birth-certificates", body, "hospital", f"gcs4/{i}")
            out.append(ex)
            _refused(ex, 422, "invalid_pid", f"mother PID with {label}")
    return cases.passed("an unknown province and an 11-digit PID are refused invalid_pid", *out)


@covering
def death_notice_issued_and_death_before_birth_refused(ctx: Ctx, cases: Cases) -> Outcome:
    rng = ctx.rng("HEALTH-GBT-001")
    born = dt.date(1950, 5, 17) + dt.timedelta(days=int(rng.integers(0, 3650)))
    body = {"facility_code": "01001", "deceased_pid": data.pid_of(ctx, "M", born.year),
            "deceased_name": "Lê Văn Hùng", "deceased_sex": "M", "deceased_birth_date": born.isoformat(),
            "death_date": _days_ago(ctx, 2).isoformat(), "place_of_death": "Bệnh viện Bạch Mai"}
    out = []
    with cases.case("death two days ago", "201 notice GBT-01001-<year>-<6 digits>"):
        ex = _post(ctx, "/health/death-notices", body, "hospital", "gbt1")
        doc = _created(ex, "death notice")
        out.append(ex)
        ensure(bool(re.fullmatch(r"GBT-01001-\d{4}-\d{6}", str(doc.get("id")))),
               f"id: {doc.get('id')!r} is not GBT-01001-<year>-<6 digits>", ex)
    earlier = int(rng.integers(2, 3650))
    for label, delta, want in (("death on the day of birth (boundary)", 0, "201 notice"),
                               ("death the day before birth (boundary)", 1, "422 death_before_birth"),
                               (f"death {earlier} days before birth (drawn)", earlier,
                                "422 death_before_birth")):
        day = born - dt.timedelta(days=delta)
        with cases.case(label, want, born=born.isoformat(), died=day.isoformat()):
            case = dict(body, deceased_pid=data.pid_of(ctx, "M", born.year), death_date=day.isoformat())
            ex = _post(ctx, "/health/death-notices", case, "hospital", f"gbt1/{delta}")
            out.append(ex)
            if delta:
                _refused(ex, 422, "death_before_birth", label)
            else:
                _created(ex, label)
    return cases.passed("notice issued; death before birth refused, death on the birth day issued", *out)


# -- justice -------------------------------------------------------------------------------
def birth_registered_from_the_certificate(ctx: Ctx) -> Outcome:
    cert = data.certificate(ctx, "ks1/cert", _days_ago(ctx, 12), "F")
    body = data.birth_body(ctx, cert["id"])
    ex = _post(ctx, "/justice/births", body, "portal", "ks1")
    doc = _created(ex, "birth registration")
    no = str(doc.get("register_no"))
    ensure(bool(re.fullmatch(r"KS-00070-\d{4}-Q\d{2}-\d{6}", no)),
           f"register number {no!r} is not KS-<unit>-<year>-Q<book>-<entry>", ex)
    for mine, theirs in (("child_sex", "child_sex"), ("child_birth_date", "child_birth_date"),
                         ("mother_pid", "mother_pid")):
        expect_equal(mine, cert[theirs], doc.get(mine), ex, why=f"the certificate's {theirs}")
    got = ctx.vendor.get(f"/justice/births/{no}", "police")
    expect_equal("status of GET /justice/births/{register_no}", 200, got.status, got,
                 why="the record cannot be read back")
    expect_equal("register_no", no, got.response.get("register_no"), got, why="read back")
    return passed(f"birth registered as {no} from the certificate", ex, got)


def birth_with_an_unknown_certificate_refused(ctx: Ctx) -> Outcome:
    body = data.birth_body(ctx, "GCS-01001-2026-999999")
    ex = _post(ctx, "/justice/births", body, "portal", "ks2")
    _refused(ex, 422, "unknown_birth_certificate", "unknown certificate")
    return passed("unknown certificate refused", ex)


def one_birth_registration_per_certificate(ctx: Ctx) -> Outcome:
    cert = data.certificate(ctx, "ks3/cert", _days_ago(ctx, 12))
    body = data.birth_body(ctx, cert["id"])
    first = _created(_post(ctx, "/justice/births", body, "portal", "ks3"), "first registration")
    ex = _post(ctx, "/justice/births", body, "portal", "ks3", salt="again")
    _refused(ex, 409, "already_registered", "second registration of one certificate")
    expect_equal("existing", first["register_no"], ex.response.get("existing"), ex,
                 why="the 409 names the first record")
    return passed("a second registration is refused naming the first", ex)


def death_registered_from_the_notice(ctx: Ctx) -> Outcome:
    n = data.notice(ctx, "kt1/gbt", _days_ago(ctx, 3), dt.date(1948, 2, 3))
    body = data.death_body(ctx, n["id"], "pensioner")
    ex = _post(ctx, "/justice/deaths", body, "portal", "kt1")
    doc = _created(ex, "death registration")
    ensure(bool(re.fullmatch(r"KT-00070-\d{4}-Q\d{2}-\d{6}", str(doc.get("register_no")))),
           f"register number {doc.get('register_no')!r} is not KT-<unit>-<year>-Q<book>-<entry>", ex)
    for k, want in (("deceased_pid", n["deceased_pid"]), ("death_date", n["death_date"]),
                    ("status", "pensioner")):
        expect_equal(k, want, doc.get(k), ex, why="taken from the death notice")
    return passed(f"death registered as {doc['register_no']}", ex)


def death_with_an_unknown_notice_refused(ctx: Ctx) -> Outcome:
    body = data.death_body(ctx, "GBT-01001-2026-999999", "none")
    ex = _post(ctx, "/justice/deaths", body, "portal", "kt2")
    _refused(ex, 422, "unknown_death_notice", "unknown notice")
    return passed("unknown notice refused", ex)


def one_death_registration_per_person(ctx: Ctx) -> Outcome:
    pid = data.pid_of(ctx, "M", 1951)
    n1 = data.notice(ctx, "kt3/a", _days_ago(ctx, 3), dt.date(1951, 1, 9), pid=pid)
    n2 = data.notice(ctx, "kt3/b", _days_ago(ctx, 3), dt.date(1951, 1, 9), pid=pid)
    first = _created(_post(ctx, "/justice/deaths", data.death_body(ctx, n1["id"], "none"), "portal",
                           "kt3/1"), "first death")
    ex = _post(ctx, "/justice/deaths", data.death_body(ctx, n2["id"], "none"), "portal", "kt3/2")
    _refused(ex, 409, "already_registered", "second death of one person")
    expect_equal("existing", first["register_no"], ex.response.get("existing"), ex,
                 why="the 409 names the first record")
    return passed("a second death of one PID is refused", ex)


# -- police --------------------------------------------------------------------------------
def _pid_from(ctx: Ctx, ex: Exchange) -> tuple[str, Exchange]:
    doc = ex.response if isinstance(ex.response, dict) else {}
    if ex.status == 202 and doc.get("request_id"):
        for _ in range(100):
            ex = ctx.vendor.get(f"/police/pid-requests/{doc['request_id']}", "portal")
            if isinstance(ex.response, dict) and ex.response.get("pid"):
                break
            time.sleep(0.1)
        doc = ex.response if isinstance(ex.response, dict) else {}
    ensure(ex.status in (200, 201) and bool(doc.get("pid")),
           f"no PID issued: {ex.status} {ex.code or ex.error}", ex)
    return str(doc["pid"]), ex


def pid_prefix(province: str, sex: str, birth: dt.date) -> str:
    """The first six digits of a PID: province, century/sex digit, two-digit birth year
    (DOMAIN.md §5: 0/1 for men/women born in the 1900s, 2/3 in the 2000s, …)."""
    digit = 2 * ((birth.year - 1900) // 100) + (0 if sex == "M" else 1)
    return f"{province}{digit}{birth.year % 100:02d}"


@covering
def pid_carries_province_century_sex_and_birth_year(ctx: Ctx, cases: Cases) -> Outcome:
    rng = ctx.rng("POLICE-PID-001")
    year = ctx.today.year
    drawn = ctx.today - dt.timedelta(days=int(rng.integers(0, 6 * 365)))
    plan = [("boy born 31/12 of last year: the birth year, not the year of issue", "M",
             dt.date(year - 1, 12, 31)),
            ("girl born 01/01 of this year (year boundary)", "F", dt.date(year, 1, 1)),
            ("child born on a drawn day of the last six years", "MF"[int(rng.integers(2))], drawn)]
    out = []
    for i, (label, sex, birth) in enumerate(plan):
        want = pid_prefix("001", sex, birth)
        with cases.case(label, f"PID starting {want}", sex=sex, born=birth.isoformat()):
            cert = data.certificate(ctx, f"pid1/{i}/cert", birth, sex)
            rec = data.birth(ctx, f"pid1/{i}/ks", cert["id"])
            ex = _post(ctx, "/police/pids", {"birth_register_no": rec["register_no"]}, "portal", f"pid1/{i}")
            pid, ex = _pid_from(ctx, ex)
            out.append(ex)
            ensure(validate_pid(pid) is None, f"pid: malformed ({validate_pid(pid)})", ex)
            expect_equal("pid, first 6 digits", want, pid[:6], ex, personal=False,
                         why=f"province 001, century/sex digit {want[3]} for a {sex} child born "
                         f"{birth}, birth year {want[4:]}")
    return cases.passed("PIDs carry province 001, the century/sex digit and the birth year", *out)


def pid_for_an_unregistered_birth_refused(ctx: Ctx) -> Outcome:
    ex = _post(ctx, "/police/pids", {"birth_register_no": "KS-00070-2026-Q01-999999"}, "portal", "pid2")
    _refused(ex, 422, "unknown_birth_record", "unknown birth record")
    return passed("unknown birth record refused", ex)


def one_pid_per_birth_never_shared(ctx: Ctx) -> Outcome:
    pids, last = [], None
    regs = []
    for i in range(6):
        cert = data.certificate(ctx, f"pid3/{i}/cert", _days_ago(ctx, 20 + i), "MF"[i % 2])
        rec = data.birth(ctx, f"pid3/{i}/ks", cert["id"])
        body = {"birth_register_no": rec["register_no"]}
        pid, last = _pid_from(ctx, _post(ctx, "/police/pids", body, "portal", f"pid3/{i}"))
        pids.append(pid)
        regs.append(body)
    ensure(len(set(pids)) == len(pids), "two births got the same PID", *([last] if last else []))
    ex = _post(ctx, "/police/pids", regs[0], "portal", "pid3/0", salt="again")
    _refused(ex, 409, "already_issued", "second PID for one birth")
    return passed("six births got six PIDs; a second request is refused already_issued", ex)


def _vendor_child(ctx: Ctx, tag: str) -> dict[str, Any]:
    return data.child(ctx, tag, _days_ago(ctx, 18))


def residence_registered_once_for_a_known_person(ctx: Ctx) -> Outcome:
    kid = _vendor_child(ctx, "tt1")
    body = {"pid": kid["pid"], "household_id": f"HK{ctx.serial():010d}", "relation_to_head": "child",
            "address": "12 Phố Huế", "commune_code": "00070"}
    ex = _post(ctx, "/police/residences", body, "portal", "tt1")
    _created(ex, "residence")
    again = _post(ctx, "/police/residences", body, "portal", "tt1", salt="again")
    _refused(again, 409, "already_resident", "second residence")
    stranger = dict(body, pid=data.pid_of(ctx, "M", 2026))
    ex3 = _post(ctx, "/police/residences", stranger, "portal", "tt1/stranger")
    _refused(ex3, 404, "unknown_person", "residence of an unknown person")
    return passed("residence registered once; unknown person refused", ex, again, ex3)


def residence_removal_for_a_living_person_refused(ctx: Ctx) -> Outcome:
    kid = _vendor_child(ctx, "xtt1")
    body = {"pid": kid["pid"], "death_register_no": "KT-00070-2026-Q01-000001"}
    ex = _post(ctx, "/police/residence-removals", body, "portal", "xtt1")
    _refused(ex, 422, "person_alive", "removal for a living person")
    return passed("removal for a living person refused person_alive", ex)


def residence_removed_once_after_the_death(ctx: Ctx) -> Outcome:
    kid = _vendor_child(ctx, "xtt2")
    home = {"pid": kid["pid"], "household_id": f"HK{ctx.serial():010d}", "relation_to_head": "child",
            "address": "3 Hàng Bài", "commune_code": "00070"}
    _created(_post(ctx, "/police/residences", home, "portal", "xtt2/tt"), "residence")
    n = data.notice(ctx, "xtt2/gbt", _days_ago(ctx, 1), kid["birth_date"], pid=kid["pid"], sex="F")
    rec = data.death(ctx, "xtt2/kt", n["id"], "none")
    dead = _post(ctx, "/police/deaths", {"death_register_no": rec["register_no"]}, "portal", "xtt2/dead")
    doc = _created(dead, "record death")
    expect_equal("alive", False, doc.get("alive"), dead, why="the person is marked dead")
    body = {"pid": kid["pid"], "death_register_no": rec["register_no"]}
    ex = _post(ctx, "/police/residence-removals", body, "portal", "xtt2")
    removal = _created(ex, "residence removal")
    expect_equal("household_id", home["household_id"], removal.get("household_id"), ex,
                 why="the removal names the household the person lived in")
    person = ctx.vendor.get(f"/police/people/{kid['pid']}", "vss")
    expect_equal("status of GET /police/people/{pid}", 200, person.status, person)
    expect_equal("residence_status", "removed", person.response.get("residence_status"), person,
                 why="the person shows the residence removed")
    again = _post(ctx, "/police/residence-removals", body, "portal", "xtt2", salt="again")
    _refused(again, 409, "already_registered", "second removal")
    return passed("death recorded, residence removed once", dead, ex, again)


# -- vss -----------------------------------------------------------------------------------
def _card(ctx: Ctx, tag: str, birth: dt.date) -> tuple[dict[str, Any], Exchange, dict[str, Any]]:
    kid = data.child(ctx, f"{tag}/child", birth)
    ex = _post(ctx, "/vss/child-cards", {"pid": kid["pid"], "initial_care_facility": "01001"},
               "portal", tag)
    return _created(ex, f"card for a child born {birth}"), ex, kid


def card_coded_te1_province_and_bhxh_number(ctx: Ctx) -> Outcome:
    doc, ex, kid = _card(ctx, "card1", _days_ago(ctx, 20))
    code, bhxh = str(doc.get("card_code")), str(doc.get("bhxh"))
    province = ctx.scenario.region.bhyt_code
    expect_equal("card_code, first 5 characters", f"TE1{province}", code[:5], ex, personal=False,
                 why="group TE, level 1, BHYT province")
    ensure(validate_bhyt(code, expect_group="TE") is None, f"card code malformed: "
           f"{validate_bhyt(code, expect_group='TE')}", ex)
    ensure(bool(re.fullmatch(r"\d{10}", bhxh)), f"bhxh: {len(bhxh)} characters, expected 10 digits", ex)
    expect_equal("card_code, characters 6-15", bhxh, code[5:], ex, personal=True,
                 why="the card code ends with the card's BHXH number (bhxh)")
    expect_equal("pid", kid["pid"], doc.get("pid"), ex, why="the card names the child's PID")
    return passed("card coded TE1 + province + BHXH number", ex)


def seventy_two_months(birth: dt.date) -> dt.date:
    """The day a child born ``birth`` is 72 months old (calendar months, clamped to the month's
    end: a child born 29 February is 72 months old on 28 February)."""
    return data.months_ago(birth, -72)


def youngest_too_old(today: dt.date) -> dt.date:
    """The latest birth date of a child who is 72 months or older on ``today`` (the next day's
    child is served)."""
    birth = data.months_ago(today, 72)
    while seventy_two_months(birth + dt.timedelta(days=1)) <= today:
        birth += dt.timedelta(days=1)
    while seventy_two_months(birth) > today:
        birth -= dt.timedelta(days=1)
    return birth


#: The branches and boundaries of the card validity rule (DOMAIN.md §5, CONTRACT.md §7), by where
#: the 72-month day falls: each is a case of VSS-CARD-002.
CARD_CASES = (
    ("before 30/09", "72-month day before 30/09: to 30/09 of that year (30/09 branch)"),
    ("on 30/09", "72-month day on 30/09: to 30/09 (boundary, 30/09 branch)"),
    ("on 01/10", "72-month day on 01/10: to the day before, 30/09 (boundary, day-before branch)"),
    ("on 02/10", "72-month day on 02/10: to the day before, 01/10 (first day the branches differ)"),
    ("after 02/10", "72-month day after 02/10: to the day before 72 months (day-before branch)"),
    ("born 29/02", "born 29 February: 72-month day at the end of February, to 30/09"),
)


def _card_branch(birth: dt.date) -> str:
    if (birth.month, birth.day) == (2, 29):
        return "born 29/02"
    sixth = seventy_two_months(birth)
    md = (sixth.month, sixth.day)
    if md < (9, 30):
        return "before 30/09"
    return {(9, 30): "on 30/09", (10, 1): "on 01/10", (10, 2): "on 02/10"}.get(md, "after 02/10")


def card_case_births(today: dt.date, rng: Any) -> list[tuple[str, dt.date]]:
    """One birth date per case of :data:`CARD_CASES`, drawn with ``rng`` among the children under
    72 months on ``today`` (every case has candidates in any six-year window)."""
    first = youngest_too_old(today) + dt.timedelta(days=1)
    groups: dict[str, list[dt.date]] = {}
    for n in range((today - first).days + 1):
        birth = first + dt.timedelta(days=n)
        groups.setdefault(_card_branch(birth), []).append(birth)
    return [(label, groups[key][int(rng.integers(len(groups[key])))])
            for key, label in CARD_CASES if groups.get(key)]


@covering
def card_valid_to_the_72_month_rule(ctx: Ctx, cases: Cases) -> Outcome:
    out = []
    for i, (label, birth) in enumerate(card_case_births(ctx.today, ctx.rng("VSS-CARD-002"))):
        frm, to = card_validity(birth)
        with cases.case(label, f"valid {frm} to {to}", born=birth.isoformat(),
                        turns_72_months=seventy_two_months(birth).isoformat()):
            doc, ex, _ = _card(ctx, f"card2/{i}", birth)
            out.append(ex)
            expect_equal("valid_from", frm.isoformat(), doc.get("valid_from"), ex,
                         why=f"born {birth}: valid from the birth date")
            expect_equal("valid_to", to.isoformat(), doc.get("valid_to"), ex,
                         why=f"born {birth}, 72 months old on {seventy_two_months(birth)}")
    return cases.passed("validity to 72 months with the 30/09 rule, every branch and boundary", *out)


@covering
def card_for_a_child_of_72_months_refused(ctx: Ctx, cases: Cases) -> Outcome:
    rng = ctx.rng("VSS-CARD-003")
    old = youngest_too_old(ctx.today)
    older = old - dt.timedelta(days=int(rng.integers(1, 366)))
    leaps = [dt.date(y, 2, 29) for y in range(ctx.today.year - 12, ctx.today.year)
             if calendar.isleap(y) and dt.date(y + 6, 3, 1) <= ctx.today]  # 72 months either way
    refused = [("72 months old today (boundary)", old), ("older than 72 months (drawn)", older)]
    refused += [("born 29 February, 72 months before today", leaps[-1])] if leaps else []
    out = []
    for i, (label, birth) in enumerate(refused):
        with cases.case(label, "422 child_too_old", born=birth.isoformat(),
                        turns_72_months=seventy_two_months(birth).isoformat()):
            kid = data.child(ctx, f"card3/{i}", birth)
            ex = _post(ctx, "/vss/child-cards", {"pid": kid["pid"]}, "portal", f"card3/{i}")
            _refused(ex, 422, "child_too_old", f"a child born {birth}, {label}")
            out.append(ex)
    young = old + dt.timedelta(days=1)
    with cases.case("one day short of 72 months today (boundary)", "201 card",
                    born=young.isoformat(), turns_72_months=seventy_two_months(young).isoformat()):
        kid = data.child(ctx, "card3/young", young)
        ok = _post(ctx, "/vss/child-cards", {"pid": kid["pid"]}, "portal", "card3/young")
        _created(ok, f"a child born {young}, one day short of 72 months on {ctx.today}")
        out.append(ok)
    return cases.passed("72 months old refused; one day younger served", *out)


def card_without_an_issued_pid_refused(ctx: Ctx) -> Outcome:
    ex = _post(ctx, "/vss/child-cards", {"initial_care_facility": "01001"}, "portal", "card4/none")
    _refused(ex, 422, "no_pid", "no PID")
    ex2 = _post(ctx, "/vss/child-cards", {"pid": data.pid_of(ctx, "M", ctx.today.year)}, "portal", "card4/x")
    _refused(ex2, 422, "no_pid", "a PID police never issued")
    return passed("missing and unknown PIDs refused no_pid", ex, ex2)


def one_card_per_child(ctx: Ctx) -> Outcome:
    doc, _, kid = _card(ctx, "card5", _days_ago(ctx, 30))
    ex = _post(ctx, "/vss/child-cards", {"pid": kid["pid"], "initial_care_facility": "01001"},
               "portal", "card5", salt="again")
    _refused(ex, 409, "already_issued", "second card")
    expect_equal("existing", doc.get("card_id"), ex.response.get("existing"), ex,
                 why="the 409 names the first card by its record id (card_id, CONTRACT.md §3)")
    return passed("a second card is refused already_issued", ex)


def _pay(ctx: Ctx, path: str, tag: str, status: str, death_date: dt.date) -> tuple[Exchange, dict[str, Any]]:
    rec = data.deceased(ctx, f"{tag}/death", status, death_date)
    body = data.claim_body(ctx, rec["register_no"])
    return _post(ctx, path, body, "portal", tag), body


def _amount(ctx: Ctx, table: str, multiple: float, day: dt.date) -> int:
    money = ctx.scenario.money
    return round(money.amount_on(getattr(money, table), day) * multiple)


_TABLE_NAMES = {"base_pay": "base pay", "standard_level": "standard level"}


def amount_case_days(ctx: Ctx, table: str, name: str) -> list[tuple[str, dt.date]]:
    """Death dates covering the rate ``table`` of the scenario's money settings up to today: the
    first day of the table, the day before and the day of each change, and one day drawn from
    the seed inside each period (each a case of the amount check ``name``)."""
    rng = ctx.rng(name)
    rates = sorted((r for r in getattr(ctx.scenario.money, table) if r.since <= ctx.today),
                   key=lambda r: r.since)
    what = _TABLE_NAMES.get(table, table)
    out: list[tuple[str, dt.date]] = []
    for i, rate in enumerate(rates):
        end = rates[i + 1].since - dt.timedelta(days=1) if i + 1 < len(rates) else ctx.today
        if i == 0:
            out.append((f"first day of the {what} table ({rate.since})", rate.since))
        else:
            out.append((f"day before the {what} change of {rate.since}", rate.since - dt.timedelta(days=1)))
            out.append((f"day of the {what} change of {rate.since}", rate.since))
        span = (end - rate.since).days
        if span > 1:
            day = rate.since + dt.timedelta(days=int(rng.integers(1, span)))
            out.append((f"inside the period from {rate.since} (drawn)", day))
    return sorted(out, key=lambda c: c[1])


def _amounts(ctx: Ctx, cases: Cases, name: str, path: str, tag: str, statuses: tuple[str, ...],
             table: str, multiple: float) -> list[Exchange]:
    """Pay one death per case of :func:`amount_case_days`, the statuses taking turns from a
    drawn start, and compare each amount with ``multiple`` × the rate in force that day."""
    out = []
    turn = int(ctx.rng(name + "/status").integers(len(statuses)))
    what = _TABLE_NAMES.get(table, table)
    for i, (label, day) in enumerate(amount_case_days(ctx, table, name)):
        status = statuses[(turn + i) % len(statuses)]
        want = _amount(ctx, table, multiple, day)
        unit = ctx.scenario.money.amount_on(getattr(ctx.scenario.money, table), day)
        with cases.case(label, f"{want:,} VND ({multiple:g} × {unit:,}, {what} in force on {day})",
                        death_date=day.isoformat(), status=status):
            ex, _ = _pay(ctx, path, f"{tag}/{day}", status, day)
            doc = _created(ex, f"payment for a {status} who died {day}")
            out.append(ex)
            expect_equal("amount_vnd", want, doc.get("amount_vnd"), ex,
                         why=f"death on {day}: {multiple:g} × {unit:,} VND, {what} in force that day")
    return out


@covering
def funeral_allowance_is_10_base_pay_on_the_death_date(ctx: Ctx, cases: Cases) -> Outcome:
    mult = ctx.scenario.money.funeral_base_pay_multiple
    out = _amounts(ctx, cases, "VSS-FUN-001", "/vss/funeral-allowances", "fun1", ("pensioner", "insured"),
                   "base_pay", mult)
    return cases.passed(f"{mult:g} × base pay on the date of death, either side of each change", *out)


def _not_eligible(ctx: Ctx, cases: Cases, path: str, tag: str, statuses: tuple[str, ...]) -> Outcome:
    out = []
    for status in statuses:
        with cases.case(f"deceased with status {status}", "422 not_eligible", death_date=AFTER.isoformat()):
            ex, _ = _pay(ctx, path, f"{tag}/{status}", status, AFTER)
            out.append(ex)
            _refused(ex, 422, "not_eligible", f"status {status}")
    return cases.passed(f"statuses {', '.join(statuses)} refused not_eligible", *out)


@covering
def funeral_allowance_only_for_pensioners_and_insured(ctx: Ctx, cases: Cases) -> Outcome:
    return _not_eligible(ctx, cases, "/vss/funeral-allowances", "fun2", ("social", "merit", "none"))


def _once(ctx: Ctx, path: str, tag: str, status: str, code: str) -> Outcome:
    ex, body = _pay(ctx, path, tag, status, AFTER)
    first = _created(ex, "first payment")
    again = _post(ctx, path, body, "portal", tag, salt="again")
    _refused(again, 409, code, "second payment for one death")
    expect_equal("existing", first.get("payment_id"), again.response.get("existing"), again,
                 why="the 409 names the first payment")
    ghost = dict(body, death_register_no="KT-00070-2026-Q01-999999")
    ex3 = _post(ctx, path, ghost, "portal", f"{tag}/ghost")
    _refused(ex3, 422, "death_not_registered", "an unregistered death")
    return passed(f"one payment per death ({code}); unregistered death refused", again, ex3)


def one_funeral_allowance_per_death(ctx: Ctx) -> Outcome:
    return _once(ctx, "/vss/funeral-allowances", "fun3", "pensioner", "already_paid")


def survivor_benefit_settled_once(ctx: Ctx) -> Outcome:
    ex, body = _pay(ctx, "/vss/survivor-benefits", "surv1", "insured", AFTER)
    _created(ex, "survivor settlement")
    again = _post(ctx, "/vss/survivor-benefits", body, "portal", "surv1", salt="again")
    _refused(again, 409, "already_settled", "second settlement")
    return passed("settled once per death", ex, again)


# -- social --------------------------------------------------------------------------------
@covering
def funeral_support_is_20_standard_levels_on_the_death_date(ctx: Ctx, cases: Cases) -> Outcome:
    mult = ctx.scenario.money.social_funeral_multiple
    out = _amounts(ctx, cases, "SOCIAL-FUN-001", "/social/funeral-supports", "sfun1", ("social",),
                   "standard_level", mult)
    return cases.passed(f"{mult:g} × the standard level on the date of death, either side of each "
                        "change", *out)


@covering
def merit_funeral_support_is_10_base_pay(ctx: Ctx, cases: Cases) -> Outcome:
    mult = ctx.scenario.money.funeral_base_pay_multiple
    out = _amounts(ctx, cases, "SOCIAL-FUN-002", "/social/funeral-supports", "sfun2", ("merit",),
                   "base_pay", mult)
    return cases.passed(f"merit: {mult:g} × base pay on the date of death, either side of each change",
                        *out)


@covering
def funeral_support_refused_to_those_vss_pays(ctx: Ctx, cases: Cases) -> Outcome:
    return _not_eligible(ctx, cases, "/social/funeral-supports", "sfun3", ("pensioner", "insured", "none"))


def one_funeral_support_per_death(ctx: Ctx) -> Outcome:
    return _once(ctx, "/social/funeral-supports", "sfun4", "social", "already_paid")


# -- linked dossiers through the reference portal ------------------------------------------
def _through_portal(ctx: Ctx, body: dict[str, Any], tag: str) -> tuple[dict[str, Any], Exchange]:
    sub = submit(ctx, ctx.eco, body, tag)
    ensure(sub.status == 202, f"the reference portal refused the dossier: {sub.status}", sub)
    ex = poll_dossier(ctx.eco, sub.response["id"], ctx.options.link_timeout_s)
    doc = ex.response if isinstance(ex.response, dict) else {}
    bad = [s for s in doc.get("steps", []) if s.get("status") not in ("done", "skipped")]
    ensure(doc.get("status") == "completed", f"dossier {doc.get('status')}: " + "; ".join(
        f"{s['step']} {s['status']} {(s.get('error') or {}).get('code', '')}" for s in bad), ex)
    return doc, ex


def birth_dossier_completes_from_the_vendors_certificate(ctx: Ctx) -> Outcome:
    cert = data.certificate(ctx, "link/cert", _days_ago(ctx, 9))
    _doc, ex = _through_portal(ctx, birth_dossier(ctx, cert["id"], "ks_tt_bhyt"), "link/health")
    return passed("dossier completed from the vendor's certificate", ex)


def birth_dossier_completes_with_the_vendors_birth_record(ctx: Ctx) -> Outcome:
    cert = data.certificate(ctx, "link/cert", _days_ago(ctx, 9))
    doc, ex = _through_portal(ctx, birth_dossier(ctx, cert["id"], "ks_tt"), "link/justice")
    got = ctx.vendor.get(f"/justice/births/{doc['result']['birth_register_no']}", "police")
    ensure(got.status == 200, "the vendor does not hold the birth the dossier names", got)
    return passed("dossier completed with the vendor's birth record", ex, got)


def birth_dossier_completes_with_the_vendors_pid_and_residence(ctx: Ctx) -> Outcome:
    cert = data.certificate(ctx, "link/cert", _days_ago(ctx, 9))
    doc, ex = _through_portal(ctx, birth_dossier(ctx, cert["id"], "ks_tt"), "link/police")
    got = ctx.vendor.get(f"/police/people/{doc['result']['pid']}", "vss")
    ensure(got.status == 200 and got.response.get("residence_status") == "registered",
           "the vendor does not show the PID with its residence", got)
    return passed("dossier completed with the vendor's PID and residence", ex, got)


def birth_dossier_completes_with_the_vendors_card(ctx: Ctx) -> Outcome:
    cert = data.certificate(ctx, "link/cert", _days_ago(ctx, 9))
    doc, ex = _through_portal(ctx, birth_dossier(ctx, cert["id"], "ks_tt_bhyt"), "link/vss")
    code = doc["result"].get("card_code")
    got = ctx.vendor.get(f"/vss/child-cards/{code}", "portal")
    ensure(got.status == 200, "the vendor does not hold the card the dossier names", got)
    return passed("dossier completed with the vendor's card", ex, got)


def death_dossier_completes_with_the_vendors_payment(ctx: Ctx) -> Outcome:
    n = data.notice(ctx, "link/gbt", _days_ago(ctx, 2), dt.date(1940, 3, 3))
    doc, ex = _through_portal(ctx, death_dossier(ctx, n["id"], "social"), "link/social")
    want = _amount(ctx, "standard_level", ctx.scenario.money.social_funeral_multiple, _days_ago(ctx, 2))
    expect_equal("result.funeral_amount_vnd", want, doc["result"].get("funeral_amount_vnd"), ex,
                 why="20 × the standard level on the date of death")
    return passed("death dossier completed with the vendor's payment", ex)


# -- portal --------------------------------------------------------------------------------
def dossier_accepted_202_with_location_and_code(ctx: Ctx) -> Outcome:
    cert = data.certificate(ctx, "dos1/cert", _days_ago(ctx, 8))
    ex = submit(ctx, ctx.vendor, birth_dossier(ctx, cert["id"]), "dos1")
    doc = _created(ex, "birth dossier", 202)
    code = str(doc.get("id"))
    ensure(bool(re.fullmatch(r"G1-001-\d{8}-\d{6}", code)), f"dossier code {code!r} is not "
           "G1-001-YYYYMMDD-NNNNNN", ex)
    ensure(ex.response_headers.get("location", "").endswith(f"/portal/dossiers/{code}"),
           "no Location header naming the dossier", ex)
    n = data.notice(ctx, "dos1/gbt", _days_ago(ctx, 2), dt.date(1944, 4, 4))
    ex2 = submit(ctx, ctx.vendor, death_dossier(ctx, n["id"], "none", "kt_xtt"), "dos1/death")
    doc2 = _created(ex2, "death dossier", 202)
    ensure(bool(re.fullmatch(r"G2-001-\d{8}-\d{6}", str(doc2.get("id")))),
           f"dossier code {doc2.get('id')!r} is not G2-001-YYYYMMDD-NNNNNN", ex2)
    return passed("202 with Location and dossier codes", ex, ex2)


def unknown_variant_and_missing_section_refused(ctx: Ctx) -> Outcome:
    cert = data.certificate(ctx, "dos2/cert", _days_ago(ctx, 8))
    body = dict(birth_dossier(ctx, cert["id"]), variant="ks_tt_bhyt_cccd")
    ex = submit(ctx, ctx.vendor, body, "dos2/variant")
    _refused(ex, 422, "unknown_variant", "unknown variant")
    bare = {k: v for k, v in birth_dossier(ctx, cert["id"]).items() if k != "birth"}
    ex2 = submit(ctx, ctx.vendor, bare, "dos2/bare")
    _refused(ex2, 422, "missing_attachment", "birth dossier without its birth section")
    return passed("unknown variant and missing section refused", ex, ex2)


def _complete(ctx: Ctx, body: dict[str, Any], tag: str) -> tuple[dict[str, Any], Exchange]:
    sub = submit(ctx, ctx.vendor, body, tag)
    doc = _created(sub, "dossier", 202)
    ex = poll_dossier(ctx.vendor, doc["id"], ctx.options.link_timeout_s)
    final = ex.response if isinstance(ex.response, dict) else {}
    ensure(final.get("status") == "completed", f"dossier ended {final.get('status')!r}", ex)
    return final, ex


def birth_dossier_leaves_one_record_of_each_kind(ctx: Ctx) -> Outcome:
    birth = _days_ago(ctx, 8)
    cert = data.certificate(ctx, "dos3/cert", birth)
    _final, ex = _complete(ctx, birth_dossier(ctx, cert["id"]), "dos3")
    justice, police, vss = (reference_registers(ctx, a) for a in ("justice", "police", "vss"))
    births = [b for b in justice["births"] if b["birth_certificate_id"] == cert["id"]]
    ensure(len(births) == 1, f"{len(births)} birth records for the certificate (expected 1)", ex)
    people = [p for p in police["pid_requests"] if p["birth_register_no"] == births[0]["register_no"]]
    ensure(len(people) == 1 and bool(people[0].get("pid")),
           f"{len(people)} PID requests for the child (expected 1, issued)", ex)
    pid = people[0]["pid"]
    homes = [r for r in police["residences"] if r["pid"] == pid]
    cards = [c for c in vss["cards"] if c["pid"] == pid]
    ensure(len(homes) == 1 and len(cards) == 1,
           f"{len(homes)} residences and {len(cards)} cards for the child (expected 1 and 1)", ex)
    expect_equal("valid_to of the card", card_validity(birth)[1].isoformat(), cards[0]["valid_to"], ex,
                 why=f"born {birth}: 72 months with the 30/09 rule")
    return passed("completed with one birth record, PID, residence and card", ex)


def pensioner_death_dossier_paid_once_by_vss(ctx: Ctx) -> Outcome:
    day = _days_ago(ctx, 2)
    n = data.notice(ctx, "dos4/gbt", day, dt.date(1943, 8, 8))
    _final, ex = _complete(ctx, death_dossier(ctx, n["id"], "pensioner"), "dos4")
    justice, police, vss, social = (reference_registers(ctx, a)
                                    for a in ("justice", "police", "vss", "social"))
    deaths = [d for d in justice["deaths"] if d["death_notice_id"] == n["id"]]
    ensure(len(deaths) == 1, f"{len(deaths)} death records (expected 1)", ex)
    no = deaths[0]["register_no"]
    removed = [r for r in police["removals"] if r["death_register_no"] == no]
    paid = [p for p in vss["funeral_allowances"] if p["death_register_no"] == no]
    wrong = [p for p in social["funeral_supports"] if p["death_register_no"] == no]
    want = _amount(ctx, "base_pay", ctx.scenario.money.funeral_base_pay_multiple, day)
    ensure(len(removed) == 1, f"{len(removed)} residence removals (expected 1)", ex)
    ensure(len(paid) == 1 and not wrong, f"{len(paid)} VSS and {len(wrong)} social payments "
           "(expected 1 and 0)", ex)
    expect_equal("amount_vnd of the allowance", want, paid[0]["amount_vnd"], ex,
                 why=f"10 × base pay on {day}")
    return passed("completed with one removal and one allowance of 10 × base pay", ex)


def refused_step_rejects_the_dossier_with_its_code(ctx: Ctx) -> Outcome:
    cert = data.certificate(ctx, "dos5/cert", data.months_ago(ctx.today, 80))
    sub = submit(ctx, ctx.vendor, birth_dossier(ctx, cert["id"], "ks_bhyt"), "dos5")
    doc = _created(sub, "dossier", 202)
    ex = poll_dossier(ctx.vendor, doc["id"], ctx.options.link_timeout_s)
    final = ex.response if isinstance(ex.response, dict) else {}
    ensure(final.get("status") == "rejected", f"a 6-year-old's card dossier ended "
           f"{final.get('status')!r}, expected rejected", ex)
    ensure("child_too_old" in str(final), "the rejection does not carry child_too_old", ex)
    return passed("rejected with the agency's child_too_old", ex)


# The requirement each check decides (ids of certify.requirements; a requirement without a
# check here fails the run as a bug of the suite).
CHECKS: dict[str, Check] = {
    "HEALTH-GCS-001": birth_certificate_issued_with_the_fields_as_sent,
    "HEALTH-GCS-002": birth_in_the_future_refused,
    "HEALTH-GCS-003": mother_born_after_the_child_refused,
    "HEALTH-GCS-004": malformed_mother_pid_refused,
    "HEALTH-GBT-001": death_notice_issued_and_death_before_birth_refused,
    "HEALTH-LINK-001": birth_dossier_completes_from_the_vendors_certificate,
    "JUSTICE-KS-001": birth_registered_from_the_certificate,
    "JUSTICE-KS-002": birth_with_an_unknown_certificate_refused,
    "JUSTICE-KS-003": one_birth_registration_per_certificate,
    "JUSTICE-KT-001": death_registered_from_the_notice,
    "JUSTICE-KT-002": death_with_an_unknown_notice_refused,
    "JUSTICE-KT-003": one_death_registration_per_person,
    "JUSTICE-LINK-001": birth_dossier_completes_with_the_vendors_birth_record,
    "POLICE-PID-001": pid_carries_province_century_sex_and_birth_year,
    "POLICE-PID-002": pid_for_an_unregistered_birth_refused,
    "POLICE-PID-003": one_pid_per_birth_never_shared,
    "POLICE-TT-001": residence_registered_once_for_a_known_person,
    "POLICE-XTT-001": residence_removal_for_a_living_person_refused,
    "POLICE-XTT-002": residence_removed_once_after_the_death,
    "POLICE-LINK-001": birth_dossier_completes_with_the_vendors_pid_and_residence,
    "VSS-CARD-001": card_coded_te1_province_and_bhxh_number,
    "VSS-CARD-002": card_valid_to_the_72_month_rule,
    "VSS-CARD-003": card_for_a_child_of_72_months_refused,
    "VSS-CARD-004": card_without_an_issued_pid_refused,
    "VSS-CARD-005": one_card_per_child,
    "VSS-FUN-001": funeral_allowance_is_10_base_pay_on_the_death_date,
    "VSS-FUN-002": funeral_allowance_only_for_pensioners_and_insured,
    "VSS-FUN-003": one_funeral_allowance_per_death,
    "VSS-SURV-001": survivor_benefit_settled_once,
    "VSS-LINK-001": birth_dossier_completes_with_the_vendors_card,
    "SOCIAL-FUN-001": funeral_support_is_20_standard_levels_on_the_death_date,
    "SOCIAL-FUN-002": merit_funeral_support_is_10_base_pay,
    "SOCIAL-FUN-003": funeral_support_refused_to_those_vss_pays,
    "SOCIAL-FUN-004": one_funeral_support_per_death,
    "SOCIAL-LINK-001": death_dossier_completes_with_the_vendors_payment,
    "PORTAL-DOS-001": dossier_accepted_202_with_location_and_code,
    "PORTAL-DOS-002": unknown_variant_and_missing_section_refused,
    "PORTAL-DOS-003": birth_dossier_leaves_one_record_of_each_kind,
    "PORTAL-DOS-004": pensioner_death_dossier_paid_once_by_vss,
    "PORTAL-DOS-005": refused_step_rejects_the_dossier_with_its_code,
}
