"""The shipped catalog: every file loads, derived figures match the stated assumptions."""

from __future__ import annotations

import tomllib
from datetime import date, datetime, timedelta

import pytest

from scenarios import catalog, dump, load, loads
from scenarios.demand import calendar_for, daily_event_rates, minute_to_datetime, working_days_per_year
from scenarios.errors import ScenarioError
from scenarios.loader import CATALOG_DIR
from scenarios.model import Service, live_task_problems
from sim.arrivals import arrivals

NAMES = catalog()
# What-ifs the twin alone runs (a step task "twin:…" the fakes do not serve): their own steps and
# variants on top of their base.
TWIN_ONLY = tuple(n for n in NAMES if "twin-only" in load(n).meta.tags)
# Scenarios of the TTLT 05/2015 era (before Decree 63/2024, DOMAIN.md §1): hanoi-2022 and the 2021
# incidents built on it.
TTLT_ERA = ("hanoi-2022", "incident-f1-slow-pid", "incident-f7-outage")
# The only keys a derived file may override in its base's workflows: the era's limits and codes.
ERA_SERVICE_KEYS = {"tthc_code", "deadline_wd", "verification_deadline_wd"}
INCIDENTS = {
    "F1": "incident-f1-slow-pid",
    "F2": "incident-f2-slow-link",
    "F3": "incident-f3-code-mismatch",
    "F4": "incident-f4-cutover",
    "F5": "incident-f5-vneid-surge",
    "F6": "incident-f6-residence-deadline-surge",
    "F7": "incident-f7-outage",
    "F8": "incident-f8-card-expiry",
    "F9": "incident-f9-incomplete",
    "F10": "incident-f10-lost-attachment",
}


def test_catalog_lists_the_issue_scenarios() -> None:
    expected = {"hanoi-baseline", "hanoi-2022", "hanoi-tet", "hanoi-dragon-year", "national-2025",
                *INCIDENTS.values()}
    assert expected <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_file_loads_with_its_own_name_and_round_trips(name: str) -> None:
    s = load(name)
    assert s.meta.name == name
    assert loads(dump(s)) == s


@pytest.mark.parametrize("name", [n for n in NAMES if n != "hanoi-baseline"])
def test_derived_files_are_short_extends(name: str) -> None:
    raw = tomllib.loads((CATALOG_DIR / f"{name}.toml").read_text(encoding="utf-8"))
    assert raw["extends"] in NAMES
    if name in TWIN_ONLY:  # a twin-only what-if adds its own steps and variants
        assert live_task_problems(load(name))
        return
    assert "steps" not in raw  # workflows come from the base
    # ... but for the era's limits and codes, under a legal basis of its own
    for svc in raw.get("services", {}).values():
        assert set(svc) <= ERA_SERVICE_KEYS | {"variants"}, set(svc) - ERA_SERVICE_KEYS
        for variant in svc.get("variants", {}).values():  # a variant's own limits and code only
            assert set(variant) <= ERA_SERVICE_KEYS, set(variant) - ERA_SERVICE_KEYS
        assert load(name).meta.legal_basis != load(raw["extends"]).meta.legal_basis


@pytest.mark.parametrize(("incident", "name"), sorted(INCIDENTS.items()))
def test_incident_scenarios_tag_their_faults(incident: str, name: str) -> None:
    s = load(name)
    assert s.meta.tags == ("incident", incident)
    assert s.faults, f"{name} has no faults"
    assert {f.incident for f in s.faults} == {incident}
    assert f"{incident} (DOMAIN.md §10)" in s.meta.description
    # degradation then recovery inside the live run
    assert max(f.end for f in s.faults) <= s.load.days * 1440
    assert all(f.end > f.start for f in s.faults)


def test_baseline_volumes() -> None:
    s = load("hanoi-baseline")
    per_wd = s.dossiers_per_wd()
    assert sum(per_wd["birth"].values()) == 450.0
    assert sum(per_wd["death"].values()) == pytest.approx(150.0)


@pytest.mark.parametrize(
    "name", [n for n in ("hanoi-tet", "hanoi-dragon-year", *INCIDENTS.values()) if n not in TTLT_ERA])
def test_hanoi_variants_keep_baseline_volumes(name: str) -> None:
    assert load(name).dossiers_per_wd() == load("hanoi-baseline").dossiers_per_wd()


@pytest.mark.parametrize("name", ["hanoi-2022", "incident-f7-outage"])
def test_hanoi_2022_reproduces_117784_births_a_year(name: str) -> None:
    """DOMAIN.md §7: Hanoi had 117,784 births a year (2018, hanoitimes.vn). The twin's arrival
    stream over the scenario's first 365 days gives that within 2%: births per statutory WD ×
    Mon–Fri working days (250 from 28/11/2022), the staffed Saturdays not counted (they made it
    299 WD and 134,550 births, 14% above)."""
    s = load(name)
    assert working_days_per_year(s) == 250
    births = int((arrivals(s, days=365)["service"] == 0).sum())
    assert births == pytest.approx(117_784, rel=0.02)
    assert sum(s.dossiers_per_wd()["birth"].values()) * 250 == pytest.approx(117_784, rel=0.02)
    assert load(name).dossiers_per_wd()["death"] == load("hanoi-baseline").dossiers_per_wd()["death"]


@pytest.mark.parametrize("name", NAMES)
def test_every_scenario_names_its_legal_basis(name: str) -> None:
    s = load(name)
    assert s.meta.legal_basis.strip()
    birth = s.services["birth"]
    if name in TTLT_ERA:  # before Decree 63/2024 (10/06 or 01/07/2024, DOMAIN.md §1)
        assert s.calendar.start + timedelta(days=s.sim.days) < date(2024, 6, 10)
        assert s.meta.legal_basis.startswith("TTLT 05/2015/TTLT-BTP-BCA-BYT")
        assert (birth.deadline_wd, birth.verification_deadline_wd, birth.tthc_code) == (20, 22, "2.000986")
        assert s.services["death"].tthc_code == "1.010915"
        assert next(t.expr for t in s.thresholds if t.metric == "birth.e2e") == "p95 <= 20wd"
        named = {"ttlt_extensions", "ttlt_step_limits", "cutoff_pre_2024", "death_group_2022",
                 "tthc_code_2022"}
        assert named <= set(s.assumptions)
    else:
        assert s.meta.legal_basis.startswith("Decree 63/2024/NĐ-CP")
        code = "3.000722" if name == "hanoi-cancuoc" else "2.002621"  # the 2025-26 code, DOMAIN.md §5
        assert (birth.deadline_wd, birth.verification_deadline_wd, birth.tthc_code) == (3, 5, code)
        # only a what-if for the 2036 Dragon year sits in dates before Decree 63
        assert s.calendar.start >= date(2024, 7, 1) or name == "hanoi-dragon-year"


def test_dragon_year_raises_births_by_13_percent() -> None:
    dragon, base = load("hanoi-dragon-year"), load("hanoi-baseline")
    assert dragon.demand.lunar_year_factor == {"dragon": 1.13}
    # the calendar sits inside 2024's Dragon year (from 10/02/2024) and births registered in the
    # run (lag <= 60 days) were born in it
    start = dragon.calendar.start
    assert start - timedelta(days=60) >= date(2024, 2, 10)
    days = 28
    rates = daily_event_rates(dragon, "birth", days)
    plain = daily_event_rates(base.model_copy(update={"calendar": dragon.calendar}), "birth", days)
    assert rates.sum() / plain.sum() == pytest.approx(1.13)
    assert daily_event_rates(dragon, "death", days).sum() == pytest.approx(
        daily_event_rates(base.model_copy(update={"calendar": dragon.calendar}), "death", days).sum())


def test_national_volumes_match_stated_yearly_figures() -> None:
    s = load("national-2025")
    wd = working_days_per_year(s)
    assert wd == 249
    per_wd = s.dossiers_per_wd()
    assert sum(per_wd["birth"].values()) * wd == pytest.approx(1_400_000, rel=1e-3)
    assert sum(per_wd["death"].values()) * wd == pytest.approx(650_000, rel=1e-3)
    region = s.region
    assert (region.scope, region.provinces, region.units, region.communes) == ("national", 34, "counts", 3321)
    assert s.region.population == 100_300_000
    # capacities scale with the volume (~12.5 × Hanoi)
    base = load("hanoi-baseline")
    assert s.agencies["vss"].desks / base.agencies["vss"].desks == pytest.approx(12.5)
    assert s.agencies["justice"].desks == s.region.communes


def test_hanoi_2022_pilot_structure() -> None:
    s = load("hanoi-2022")
    assert (s.region.units, s.region.districts, s.region.communes) == ("counts", 30, 579)
    assert s.agencies["vss"].level == "district"
    assert s.agencies["social"].level == "district"
    assert "Lao động – Thương binh và Xã hội" in s.agencies["social"].name_vi
    assert s.calendar.saturday_hours == ("07:30-11:30",)
    start = s.calendar.start
    assert s.money.amount_on(s.money.base_pay, start) == 1_490_000
    assert s.money.amount_on(s.money.standard_level, start) == 360_000
    saturday = start + timedelta(days=5)
    assert calendar_for(s).is_open_day(saturday)  # Saturday desks receive and serve ...
    assert not calendar_for(s).is_working_day(saturday)  # ... but Saturday is no working day
    assert "pilot_volumes" in s.assumptions


def test_hanoi_2022_g1c_has_ttlt_05_2015s_15_wd_limit() -> None:
    """DOMAIN.md §1: TTLT 05/2015 allows 20 WD for all three procedures and 15 WD for KS + BHYT
    only (G1-C, code 2.001023, §5), +2 WD when the commune completes the file. A G1-C dossier
    received Monday 28/11/2022 09:00 is due 5 WD before a G1-A one; Decree 63 scenarios keep one
    3-WD limit for every variant."""
    s = load("hanoi-2022")
    birth = s.services["birth"]
    assert [birth.limit_wd(v, False) for v in birth.variants] == [20, 20, 15]
    assert [birth.limit_wd(v, True) for v in birth.variants] == [22, 22, 17]
    assert birth.variants["ks_bhyt"].tthc_code == "2.001023"
    received = datetime(2022, 11, 28, 9, 0)
    cal = calendar_for(s)
    due_a = cal.deadline(received, int(birth.limit_wd("ks_tt_bhyt", False)))
    due_c = cal.deadline(received, int(birth.limit_wd("ks_bhyt", False)))
    assert due_c < due_a and cal.working_days_between(due_c, due_a) == pytest.approx(5.0)
    limits = birth.limits_wd([0, 1, 2, 2], [False, True, False, True])
    assert limits.tolist() == [20, 22, 15, 17]
    base = load("hanoi-baseline").services["birth"]
    assert {base.limit_wd(v, False) for v in base.variants} == {3}


def test_a_variant_limit_shorter_with_verification_is_refused() -> None:
    text = ('extends = "hanoi-2022"\n[services.birth.variants.ks_bhyt]\n'
            'deadline_wd = 15\nverification_deadline_wd = 12\n')
    with pytest.raises(ScenarioError, match=r"services\.birth\.variants\.ks_bhyt\.verification_deadline_wd"):
        loads(text, base_dir=CATALOG_DIR)


def test_f4_first_day_has_the_526_commune_structure() -> None:
    """DOMAIN.md §7: 526 commune-level units under 30 districts from 01/01/2025 [V]; 126 and no
    district level from 01/07/2025. F4's run starts Mon 30/06/2025, the last day of the former."""
    s = load("incident-f4-cutover")
    assert s.calendar.start == date(2025, 6, 30)
    assert (s.region.units, s.region.districts, s.region.communes) == ("counts", 30, 526)
    assert "f4_structure" in s.assumptions
    assert s.agencies == load("hanoi-baseline").agencies


def test_cancuoc_variant_and_the_new_codes() -> None:
    """DOMAIN.md §2 (G1-D: G1-A plus a căn cước card for a child under 6 [U]) and §5 (3.000722,
    the birth group with căn cước; 2.002913, the new e-linked death group [V]). The twin alone
    runs it: the căn cước step's task is twin-only. Its arrival stream has ~10 % G1-D dossiers."""
    s = load("hanoi-cancuoc")
    birth = s.services["birth"]
    g1d = birth.variants["ks_tt_bhyt_cc"]
    assert g1d.code == "G1-D" and g1d.steps == ("ks", "pid", "tt", "bhyt", "cc")
    assert (birth.tthc_code, s.services["death"].tthc_code) == ("3.000722", "2.002913")
    assert s.steps["cc"].agency == "police" and s.steps["cc"].after == ("pid",)
    assert [k for k, _ in live_task_problems(s)] == ["steps.cc.task"]
    assert s.calendar.start >= date(2026, 9, 1)  # NĐ 301/2026's new forms (DOMAIN.md §1) [U]
    stream = arrivals(s, days=14)
    births = stream[stream["service"] == 0]
    share = float((births["variant"] == list(birth.variants).index("ks_tt_bhyt_cc")).mean())
    assert births.size > 3000 and share == pytest.approx(0.10, abs=0.02)


def test_tet_closure_and_surge() -> None:
    s = load("hanoi-tet")
    cal = calendar_for(s)
    start = s.calendar.start
    assert start == date(2027, 2, 1)
    weekdays = [d for d in (start + timedelta(days=i) for i in range(14)) if d.weekday() < 5]
    closed = [d for d in weekdays if not cal.is_working_day(d)]
    assert closed == [date(2027, 2, d) for d in (3, 4, 5, 8, 9, 10)]
    (surge,) = s.faults
    # a shift, no extra dossiers: the closure's events (03–10/02) are registered in the week back
    assert surge.kind == "surge" and surge.factor is None and surge.extra is None and surge.events
    assert [minute_to_datetime(s, m).date() for m in surge.events] == [date(2027, 2, 3), date(2027, 2, 11)]
    assert minute_to_datetime(s, surge.start).date() == date(2027, 2, 11)  # first day back
    back = [minute_to_datetime(s, surge.start).date() + timedelta(days=i) for i in range(7)]
    assert sum(cal.is_working_day(d) for d in back) == 5  # the first working week
    assert 40 <= s.sim.days <= 45
    # the live run covers the closure and the backlog's clearance (into the last week of February)
    assert s.load.days * 1440 * 60 / s.load.speed <= 11 * 60
    assert start + timedelta(days=s.load.days) >= date(2027, 2, 26)


def _sans_era(svc: Service) -> Service:
    """``svc`` without the era's limits and codes, its variants' included."""
    era = dict.fromkeys(ERA_SERVICE_KEYS)
    variants = {k: v.model_copy(update=era) for k, v in svc.variants.items()}
    return svc.model_copy(update={**era, "variants": variants})


def test_extends_keeps_untouched_base_values() -> None:
    base = load("hanoi-baseline")
    for name in NAMES:
        s = load(name)
        if name in TWIN_ONLY:
            assert set(base.steps) < set(s.steps)
            assert all(s.steps[k] == v for k, v in base.steps.items())
            continue
        assert s.steps == base.steps
        assert {k: _sans_era(v) for k, v in s.services.items()} == {
            k: _sans_era(v) for k, v in base.services.items()}
        assert s.services == base.services or name in TTLT_ERA
        assert s.callers == base.callers
        assert s.money == base.money
        assert s.demand.death_status == base.demand.death_status
        assert set(base.assumptions) <= set(s.assumptions)
    tet = load("hanoi-tet")
    assert tet.region == base.region
    assert tet.agencies == base.agencies
    assert tet.thresholds == base.thresholds
    assert tet.calendar.weekday_hours == base.calendar.weekday_hours
    national = load("national-2025")
    assert national.agencies["justice"].name_vi == base.agencies["justice"].name_vi
    assert national.region.id_code == base.region.id_code


def test_extending_a_catalog_file_chains() -> None:
    f7 = load("incident-f7-outage")
    pilot = load("hanoi-2022")
    assert f7.region == pilot.region
    assert f7.agencies == pilot.agencies
    assert f7.calendar.saturday_hours == ("07:30-11:30",)
    assert f7.calendar.start == date(2022, 9, 12)


@pytest.mark.parametrize("name", NAMES)
def test_every_assumption_cites_a_source(name: str) -> None:
    for key, assumption in load(name).assumptions.items():
        assert assumption.value and assumption.source, key
