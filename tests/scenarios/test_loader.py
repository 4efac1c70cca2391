"""The loader: exact messages for typical mistakes, round-trips, and random mutations of real files."""

from __future__ import annotations

import copy
import math
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenarios import Scenario, ScenarioError, dump, load, loads, metrics, validate
from scenarios.loader import CATALOG_DIR
from scenarios.model import AGENCY_IDS

HEAD = 'extends = "hanoi-baseline"\n[meta]\nname = "t"\n'

# (TOML after HEAD, expected ScenarioError.key, substrings the message must contain)
MISTAKES: list[tuple[str, str, tuple[str, ...]]] = [
    # a typo in a key: the closest valid key
    ("seeed = 3\n", "meta.seeed", ("unknown key 'seeed'", "did you mean 'seed'?")),
    ("[demnd]\nbirths_per_wd = 3\n", "demnd", ("unknown key 'demnd'", "did you mean 'demand'?")),
    ("[demand.lag_birth_days]\nmaxx = 3\n", "demand.lag_birth_days.maxx", ("did you mean 'max'?",)),
    # typos inside tables keyed by name and inside arrays of tables
    ("[agencies.justice]\ndseks = 3\n", "agencies.justice.dseks",
     ("unknown key 'dseks'", "did you mean 'desks'?")),
    ("[steps.ks.desk_time]\nmaen = 3\n", "steps.ks.desk_time.maen", ("did you mean 'mean'?",)),
    ("[services.birth.variants.ks_tt]\nshar = 0.05\n", "services.birth.variants.ks_tt.shar",
     ("did you mean 'share'?",)),
    ('[[faults]]\nkind = "outage"\nend = "1h"\nagnecy = "police"\n', "faults[0].agnecy",
     ("did you mean 'agency'?",)),
    # a bad enum value: the valid values and the closest
    ('[[faults]]\nkind = "outgae"\nend = "1h"\n', "faults[0].kind",
     ("'outgae' is not one of", "latency", "incomplete", "did you mean 'outage'?")),
    ('[steps.ks]\nagency = "justise"\n', "steps.ks.agency",
     ("'justise'", "health, justice, police, vss, social, portal", "did you mean 'justice'?")),
    ('[steps.ks.desk_time]\nkind = "lognorml"\n', "steps.ks.desk_time.kind",
     ("'lognorml'", "did you mean 'lognormal'?")),
    ("[demand]\nlunar_year_factor = { dragn = 1.1 }\n", "demand.lunar_year_factor.dragn",
     ("'dragn'", "did you mean 'dragon'?")),
    # missing required
    ('[[faults]]\nkind = "outage"\n', "faults[0].end", ("is required but missing",)),
    ("[money]\nbase_pay = [{ since = 2019-07-01 }]\n", "money.base_pay[0].vnd", ("is required but missing",)),
    # wrong type
    ('[demand]\nbirths_per_wd = "many"\n', "demand.births_per_wd", ("'many'",)),
    ("[agencies.vss]\ndesks = 2.5\n", "agencies.vss.desks", ("2.5",)),
    ('[region]\ncommunes = [1, 2]\n', "region.communes", ("[1, 2]",)),
    ("[demand]\nbirths_per_wd = -5\n", "demand.births_per_wd", ("-5",)),
    ("[demand]\nbirths_per_wd = inf\n", "demand.births_per_wd", ("inf",)),
    ("[demand]\nbirths_per_wd = nan\n", "demand.births_per_wd", ("nan",)),
    # shares not summing to 1
    ("[services.birth.variants.ks_tt]\nshare = 0.5\n", "services.birth.variants",
     ("variant shares must sum to 1, got 1.45",)),
    # tables merge key by key over the base: pensioner 0.5 + insured/social/merit/none 0.65
    ("[demand]\ndeath_status = { pensioner = 0.5 }\n", "demand.death_status",
     ("shares must sum to 1, got 1.15",)),
    # unknown step references
    ('[steps.tt]\nafter = ["pdi"]\n', "steps.tt.after[0]",
     ("'pdi' is not a step of this scenario", "did you mean 'pid'?")),
    ('[services.birth.variants.ks_tt]\nsteps = ["ks", "pid", "ttt"]\n',
     "services.birth.variants.ks_tt.steps[2]", ("'ttt' is not a step", "did you mean 'tt'?")),
    ('[services.birth.variants.ks_tt]\nsteps = ["ks", "tt"]\n', "services.birth.variants.ks_tt.steps",
     ("step 'tt' needs 'pid', which the variant lacks",)),
    # dependency cycles
    ('[steps.ks]\nafter = ["tt"]\n', "steps.ks.after", ("cycle through 'ks'",)),
    # a fault lacking its parameter
    ('[[faults]]\nkind = "surge"\nend = "1h"\n', "faults[0].factor", ("required for a 'surge' fault",)),
    # a surge is a shift, a concentration or named extra demand, never a mix (README "Surges")
    ('[[faults]]\nkind = "surge"\nend = "1d"\nevents = ["0h", "2h"]\nfactor = 2.0\n', "faults[0].factor",
     ("a shift ('events') moves existing dossiers",)),
    ('[[faults]]\nkind = "surge"\nend = "1d"\nfactor = 2.0\nshare = 0.5\n', "faults[0].share",
     ("only with 'events'",)),
    ('[[faults]]\nkind = "surge"\nend = "1d"\nevents = ["2h", "1h"]\n', "faults[0].events", ("is empty",)),
    ('[[faults]]\nkind = "surge"\nend = "1d"\nextra = "vneid_traffic"\nfactor = 0.5\n', "faults[0].factor",
     ("0.5 adds none",)),
    ('[[faults]]\nkind = "surge"\nend = "1d"\nextra = "vneid_trafic"\nfactor = 2.0\n', "faults[0].extra",
     ("'vneid_trafic'",)),
    ('[[faults]]\nkind = "outage"\nend = "1d"\nevents = ["0h", "2h"]\n', "faults[0].events",
     ("only for a 'surge' fault",)),
    ('[[faults]]\nkind = "error"\nend = "1h"\nrate = 0.1\n', "faults[0].status",
     ("required for a 'error' fault",)),
    ('[[faults]]\nkind = "outage"\nagency = "polise"\nend = "1h"\n', "faults[0].agency",
     ("'polise'", "did you mean 'police'?")),
    ('[[faults]]\nkind = "outage"\nstart = "2h"\nend = "1h"\n', "faults[0].end",
     ("60 min is not after start 120 min",)),
    # a distribution lacking its parameter
    ('[steps.ks]\ndesk_time = { kind = "triangular", low = 1, high = 5 }\n', "steps.ks.desk_time.mode",
     ("required for a 'triangular' distribution",)),
    # bad duration strings
    ('[[faults]]\nkind = "outage"\nend = "2x"\n', "faults[0].end", ("not a duration: '2x'",)),
    ('[[faults]]\nkind = "outage"\nend = "h"\n', "faults[0].end", ("not a duration: 'h'",)),
    ("[[faults]]\nkind = \"outage\"\nend = -5\n", "faults[0].end", ("negative duration: -5",)),
    ('[[load.stages]]\nduration = "1d 2q"\nusers = 3\n', "load.stages[0].duration", ("'1d 2q'",)),
    # a calendar that does not start on a Monday
    ("[calendar]\nstart = 2026-03-10\n", "calendar.start", ("2026-03-10", "Tuesday")),
    ('[calendar]\ncutoff = "25:00"\n', "calendar.cutoff", ("'25:00'",)),
    # thresholds
    ('[[thresholds]]\nmetric = "brith.e2e"\nexpr = "p95 <= 3wd"\n', "thresholds[0].metric",
     ("'brith.e2e'", "did you mean 'birth.e2e'?")),
    # a metric nothing measures is refused, not silently "not measured"
    ('[[thresholds]]\nmetric = "step.bhty"\nexpr = "p95 <= 2wd"\n', "thresholds[0].metric",
     ("'step.bhty'", "did you mean 'step.bhyt'?")),
    ('[[thresholds]]\nmetric = "http.latancy"\nexpr = "p95 < 1s"\n', "thresholds[0].metric",
     ("did you mean 'http.latency'?",)),
    ('[[thresholds]]\nmetric = "dossiers.count"\nexpr = "count >= 1"\n', "thresholds[0].metric",
     ("'dossiers.count' is not a metric of this scenario",)),
    ('[[thresholds]]\nmetric = "birth.e2e"\nexpr = "p96 <= 3wd"\n', "thresholds[0].expr", ("'p96'",)),
    ('[[thresholds]]\nmetric = "birth.e2e"\nexpr = "fast"\n', "thresholds[0].expr", ("'fast'",)),
    # callers must have distinct keys
    ('[callers.desk]\nkey = "lt-admin-key-0001"\n', "callers.admin.key", ("same key as callers.desk",)),
]


@pytest.mark.parametrize(("body", "key", "parts"), MISTAKES, ids=[m[1] for m in MISTAKES])
def test_typical_mistake_names_key_and_value(body: str, key: str, parts: tuple[str, ...]) -> None:
    with pytest.raises(ScenarioError) as info:
        loads(HEAD + body)
    assert info.value.key == key
    for part in parts:
        assert part in str(info.value)


def test_bad_name() -> None:
    with pytest.raises(ScenarioError) as info:
        loads('extends = "hanoi-baseline"\n[meta]\nname = "Bad Name"\n')
    assert info.value.key == "meta.name"
    assert "'Bad Name'" in str(info.value)


def test_error_lists_every_problem_and_names_the_source() -> None:
    with pytest.raises(ScenarioError) as info:
        loads('[meta]\nname = "t"\n', source="mine.toml")
    err = info.value
    assert err.key == "meta.legal_basis"  # every scenario names the rules it runs on
    assert [k for k, _ in err.problems] == ["meta.legal_basis", "region", "agencies", "steps", "services",
                                            "demand", "money"]
    assert str(err).startswith("mine.toml: meta.legal_basis: is required but missing")


def test_extends_unknown_name_suggests_closest() -> None:
    with pytest.raises(ScenarioError) as info:
        loads('extends = "hanoi-baselin"\n[meta]\nname = "t"\n')
    assert info.value.key == "extends"
    assert "'hanoi-baselin'" in str(info.value)
    assert "did you mean 'hanoi-baseline'?" in str(info.value)


@pytest.mark.parametrize("value", ['3', '["hanoi-baseline"]', "{ name = 'x' }"])
def test_extends_must_be_a_name(value: str) -> None:
    with pytest.raises(ScenarioError) as info:
        loads(f'extends = {value}\n[meta]\nname = "t"\n')
    assert info.value.key == "extends"
    assert "must be a scenario name" in str(info.value)


@pytest.mark.parametrize("parent", ["", ".", "..", "/", "a" * 300, "a\x00b"])
def test_extends_to_a_directory_or_impossible_name_is_a_scenario_error(parent: str) -> None:
    with pytest.raises(ScenarioError) as info:
        loads(tomli_w.dumps({"extends": parent, "meta": {"name": "t"}}))
    assert info.value.key == "extends"
    assert repr(parent)[:40].strip("'") in str(info.value)


def test_extends_cycle_across_two_files(tmp_path: Path) -> None:
    (tmp_path / "ping.toml").write_text('extends = "pong"\n[meta]\nname = "ping"\n', encoding="utf-8")
    (tmp_path / "pong.toml").write_text('extends = "ping"\n[meta]\nname = "pong"\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load(tmp_path / "ping.toml")
    assert info.value.key == "extends"
    assert "cycle" in str(info.value)
    assert "'pong'" in str(info.value) or "'ping'" in str(info.value)


def test_extends_a_sibling_file_before_the_catalog(tmp_path: Path) -> None:
    (tmp_path / "hanoi-baseline.toml").write_text(
        'extends = "hanoi-dragon-year"\n[meta]\nname = "local"\n', encoding="utf-8")
    (tmp_path / "child.toml").write_text('extends = "hanoi-baseline"\n[meta]\nname = "child"\n',
                                         encoding="utf-8")
    s = load(tmp_path / "child.toml")
    assert s.meta.name == "child"
    assert s.demand.lunar_year_factor == {"dragon": 1.13}  # came through the local sibling


def test_extends_can_delete_a_variant_a_step_time_and_a_service() -> None:
    """``"__delete__"`` removes what the parent set: a variant (the others re-share), an inherited
    ``system_time`` (the step has none) and a whole service (the twin then has no death group)."""
    s = loads('extends = "hanoi-baseline"\n'
              'thresholds = [{ metric = "birth.e2e", expr = "p95 <= 3wd" }]  # lists replace\n'
              '[meta]\nname = "trimmed"\n'
              '[services.birth.variants]\nks_tt = "__delete__"\n'
              '[services.birth.variants.ks_tt_bhyt]\nshare = 0.85\n'
              '[steps.ks]\nsystem_time = "__delete__"\n'
              '[services]\ndeath = "__delete__"\n')
    assert list(s.services["birth"].variants) == ["ks_tt_bhyt", "ks_bhyt"]
    assert s.steps["ks"].system_time is None and load("hanoi-baseline").steps["ks"].system_time is not None
    assert "death" not in s.services


def test_delete_with_nothing_inherited_names_the_key() -> None:
    with pytest.raises(ScenarioError) as info:
        loads('extends = "hanoi-baseline"\n[meta]\nname = "x"\n[steps.ks]\nno_such = "__delete__"\n')
    assert info.value.key == "steps.ks.no_such" and "there is none to remove here" in str(info.value)


def test_unreadable_parent_is_a_scenario_error(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_bytes(b'[meta]\nname = "\xff\xfe"\n')
    (tmp_path / "child.toml").write_text('extends = "bad"\n[meta]\nname = "child"\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load(tmp_path / "child.toml")
    assert info.value.key == "extends"
    assert "bad.toml" in str(info.value)


def test_invalid_toml_in_parent_names_the_parent(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("[meta\n", encoding="utf-8")
    (tmp_path / "child.toml").write_text('extends = "broken"\n[meta]\nname = "c"\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load(tmp_path / "child.toml")
    assert "not valid TOML" in str(info.value)
    assert str(info.value).startswith(str(tmp_path / "broken.toml"))


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[meta]\nname = "\xe0"\n')
    with pytest.raises(ScenarioError) as info:
        load(path)
    assert info.value.key == ""
    assert f"cannot read {path}" in str(info.value)
    assert info.value.source == str(path)


def test_invalid_toml_names_line_and_column() -> None:
    with pytest.raises(ScenarioError) as info:
        loads('extends = "hanoi-baseline\n', source="x.toml")
    assert info.value.key == ""
    assert str(info.value).startswith("x.toml: not valid TOML")
    assert "line 1, column 26" in str(info.value)


def test_unknown_catalog_name() -> None:
    with pytest.raises(ScenarioError) as info:
        load("hanoi-tett")
    assert "'hanoi-tett'" in str(info.value)
    assert "did you mean 'hanoi-tet'?" in str(info.value)


def test_load_directory_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load(tmp_path)
    assert str(tmp_path) in str(info.value)


# --- round trip: valid scenarios derived from the baseline ---------------------------------

BASE = load("hanoi-baseline")
BASE_DATA = BASE.model_dump(mode="python")

finite = st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False)
weights = st.floats(min_value=0.0, max_value=10.0, allow_nan=False)
durations = st.one_of(
    st.floats(min_value=0, max_value=60 * 1440, allow_nan=False),
    st.tuples(st.integers(0, 40), st.integers(0, 23), st.integers(0, 59)).map(
        lambda t: f"{t[0]}d{t[1]}h{t[2]}m"),
)
dists = st.one_of(
    st.builds(lambda m: {"kind": "exponential", "mean": m}, finite),
    st.builds(lambda m, cv: {"kind": "lognormal", "mean": m, "cv": cv}, finite, st.floats(0, 3)),
    st.builds(lambda lo, w: {"kind": "uniform", "low": lo, "high": lo + w}, finite, finite),
    st.builds(lambda lo, a, b: {"kind": "triangular", "low": lo, "mode": lo + a, "high": lo + a + b},
              finite, finite, finite),
)
FAULT_BUILDERS: dict[str, Any] = {
    "latency": lambda: {"latency": dists},
    "error": lambda: {"rate": st.floats(0, 1), "status": st.integers(400, 599)},
    "outage": dict,
    "slow_pid": lambda: {"delay": dists},
    "lost_attachment": lambda: {"rate": st.floats(0, 1)},
    "duplicate_delivery": lambda: {"rate": st.floats(0, 1)},
    "delivery_delay": lambda: {"delay": dists},
    "code_mismatch": lambda: {"rate": st.floats(0, 1)},
    "wrong_card_expiry": lambda: {"rate": st.floats(0, 1)},
    "false_rejection": lambda: {"rate": st.floats(0, 1), "status": st.integers(400, 599)},
    "surge": lambda: {"factor": finite},
    "incomplete": lambda: {"rate": st.floats(0, 1)},
}


@st.composite
def faults(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(FAULT_BUILDERS)))
    params = {k: draw(v) for k, v in FAULT_BUILDERS[kind]().items()}
    start = draw(st.floats(0, 30 * 1440, allow_nan=False))
    length = draw(st.floats(1, 10 * 1440, allow_nan=False))
    agency = draw(st.sampled_from([*AGENCY_IDS, "*"]))
    return {"kind": kind, "agency": agency, "start": start, "end": start + length,
            "incident": draw(st.sampled_from(["", "F1", "F7"])), **params}


thresholds = st.builds(
    lambda metric, stat, op, value, unit: {"metric": metric, "expr": f"{stat} {op} {value}{unit}"},
    st.sampled_from(["birth.e2e", "death.e2e", "step.ks", "step.bhyt", *metrics.LIVE_ONLY]),
    st.sampled_from(["p50", "p95", "p99", "max", "mean", "rate", "attainment", "count"]),
    st.sampled_from(["<=", ">=", "<", ">", "=="]),
    st.integers(0, 10_000),
    st.sampled_from(["", "wd", "ms", "s", "%"]),
)


def _shares(draw: st.DrawFn, names: list[str]) -> dict[str, float]:
    raw = [draw(st.floats(0.01, 1.0)) for _ in names]
    total = sum(raw)
    out = {n: r / total for n, r in zip(names, raw, strict=True)}
    out[names[-1]] = 1.0 - sum(out[n] for n in names[:-1])  # exact to float rounding
    return out


@st.composite
def derived(draw: st.DrawFn) -> Scenario:
    data = copy.deepcopy(BASE_DATA)
    data["meta"]["seed"] = draw(st.integers(0, 2**63 - 1))
    data["meta"]["name"] = draw(st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True))
    d = data["demand"]
    d["births_per_wd"], d["deaths_per_wd"] = draw(finite), draw(finite)
    d["multiplier"] = draw(st.floats(0.01, 100))
    d["weekday_profile"] = draw(st.lists(weights, min_size=7, max_size=7).filter(any))
    d["birth_month_profile"] = draw(st.lists(weights, min_size=12, max_size=12).filter(any))
    d["online_hour_profile"] = draw(st.lists(weights, min_size=24, max_size=24).filter(any))
    d["lunar_year_factor"] = {"dragon": draw(st.floats(0.5, 2.0))}
    d["lag_birth_days"] = draw(dists)
    for svc in data["services"].values():
        shares = _shares(draw, list(svc["variants"]))
        for vid, share in shares.items():
            svc["variants"][vid]["share"] = share
        svc["online_share"] = draw(st.floats(0, 1))
    d["death_status"] = _shares(draw, list(d["death_status"]))
    for agency in data["agencies"].values():
        agency["desks"] = draw(st.integers(0, 5000))
        agency["servers"] = draw(st.integers(0, 512))
    data["steps"]["ks"]["desk_time"] = draw(dists)
    data["faults"] = draw(st.lists(faults(), max_size=4))
    data["thresholds"] = [*data["thresholds"], *draw(st.lists(thresholds, max_size=3))]
    data["load"]["stages"] = draw(st.lists(
        st.builds(lambda dur, u, r: {"duration": dur, "users": u, "spawn_rate": r},
                  durations, st.integers(0, 1000), st.floats(0.1, 100)), max_size=3))
    return validate(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(derived())
def test_dump_then_load_round_trips(s: Scenario) -> None:
    assert loads(dump(s)) == s


def test_dump_has_no_extends_and_is_plain_toml() -> None:
    text = dump(load("incident-f7-outage"))
    data = tomllib.loads(text)
    assert "extends" not in data
    assert data["meta"]["name"] == "incident-f7-outage"
    assert data["calendar"]["start"] == date(2022, 9, 12)


# --- mutation: random damage to real files gives ScenarioError naming a key ----------------

MUTATED_FILES = ["hanoi-baseline", "hanoi-2022", "national-2025", "incident-f4-cutover",
                 "incident-f9-incomplete"]
RAW = {name: tomllib.loads((CATALOG_DIR / f"{name}.toml").read_text(encoding="utf-8"))
       for name in MUTATED_FILES}
TOP_LEVEL = set(Scenario.model_fields) | {"extends"}
# Which top-level tables an error may point at when a given table is damaged: cross-references
# (a step's agency, a variant's steps) report at the referring key.
# a damaged table may break another that names what it held: thresholds name services' groups
# (<group>.e2e) and steps (step.<id>)
RELATED = {"agencies": {"steps", "faults", "callers"}, "steps": {"services", "thresholds"},
           "services": {"thresholds"}}

scalars = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["NaN", "inf", "-inf", "", "1d", "07:30-11:30", "dragon", "*", "hanoi-baseline"]),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([-1, 0, 10**18, 2**63 - 1, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3)),
    max_leaves=6,
)


new_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_ -]{0,9}", fullmatch=True)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


def _typo(draw: st.DrawFn, word: str) -> str:
    i = draw(st.integers(0, len(word)))
    op = draw(st.sampled_from(["insert", "delete", "swap", "replace"]))
    letter = draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz_"))
    if op == "insert" or not word:
        return word[:i] + letter + word[i:]
    i = min(i, len(word) - 1)
    if op == "delete":
        return word[:i] + word[i + 1:] or letter
    if op == "swap" and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + letter + word[i + 1:]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    """A damaged copy of a catalog file's TOML and the top-level tables the damage touched."""
    data = copy.deepcopy(RAW[draw(st.sampled_from(MUTATED_FILES))])
    touched: set[str] = set()
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        parent, last = _get(data, path[:-1]), path[-1]
        op = draw(st.sampled_from(["delete", "rename", "replace", "insert", "duplicate", "shuffle"]))
        if op == "delete":
            del parent[last]
        elif op == "rename" and isinstance(last, str):
            parent[new := _typo(draw, last)] = parent.pop(last)
            touched.add(new if len(path) == 1 else "")
        elif op == "insert" and isinstance(parent, dict):
            parent[new := draw(new_keys)] = draw(values)
            touched.add(new if len(path) == 1 else "")
        elif op in ("duplicate", "shuffle") and isinstance(parent[last], list) and parent[last]:
            items = parent[last]
            extra = copy.deepcopy(draw(st.sampled_from(items)))
            parent[last] = [*items, extra] if op == "duplicate" else draw(st.permutations(items))
        else:
            parent[last] = draw(values)
        touched.add(str(path[0]))
    return data, touched


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_give_scenario_or_scenario_error_naming_a_key(
    case: tuple[dict[str, Any], set[str]],
) -> None:
    data, touched = case
    text = tomli_w.dumps(data)
    try:
        s = loads(text)
    except ScenarioError as err:
        assert err.key, f"no key in {err}"
        head = err.key.split(".")[0].split("[")[0]
        allowed = set(touched)
        for t in touched:
            allowed |= RELATED.get(t, set())
        if "extends" in touched:
            allowed |= TOP_LEVEL  # another base (or none): anything may be missing
        assert head in allowed, f"{err.key!r} outside the damaged tables {sorted(touched)}: {err}"
    else:
        assert isinstance(s, Scenario)
        assert loads(dump(s)) == s


def test_nan_and_inf_strings_are_not_numbers() -> None:
    for word in ("NaN", "inf", "-inf"):
        with pytest.raises(ScenarioError) as info:
            loads(HEAD + f'[demand]\ndeaths_per_wd = "{word}"\n')
        assert info.value.key == "demand.deaths_per_wd"
        assert word in str(info.value)
    assert math.isfinite(load("hanoi-baseline").demand.deaths_per_wd)
