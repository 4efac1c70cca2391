"""Loading scenarios: TOML → extends/defaults → validation → frozen :class:`Scenario`.

Every error is a :class:`ScenarioError` naming the dotted key, the bad value and, for a typo,
the closest valid key or value.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

import tomli_w
from pydantic import BaseModel, ValidationError

from scenarios import metrics
from scenarios.errors import ScenarioError, closest
from scenarios.model import DIST_PARAMS, FAULT_PARAMS, LUNAR_ANIMALS, TASKS, TWIN_ONLY, Dist, Fault, Scenario

__all__ = ["CATALOG_DIR", "DELETE", "catalog", "dump", "load", "loads", "resolve"]

CATALOG_DIR = Path(__file__).parent
#: In a scenario that ``extends`` another, ``key = "__delete__"`` removes the inherited key.
DELETE = "__delete__"
_MAX_EXTENDS = 8


def catalog() -> list[str]:
    """Names of the scenarios shipped with lienthong, sorted."""
    return sorted(p.stem for p in CATALOG_DIR.glob("*.toml"))


def resolve(name_or_path: str | Path) -> Path:
    """The file for a catalog name (``hanoi-baseline``) or a path; ScenarioError if neither."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and _exists(path):
        return path
    candidate = CATALOG_DIR / f"{name_or_path}.toml"
    if _exists(candidate):
        return candidate
    if _exists(path):
        return path
    hint = closest(str(name_or_path), catalog())
    tip = f"; did you mean {hint!r}?" if hint else f"; catalog: {', '.join(catalog())}"
    raise ScenarioError([("", f"no scenario file or catalog name {str(name_or_path)!r}{tip}")])


def _exists(path: Path) -> bool:
    """``path.exists()``, False for names the OS rejects (too long, NUL bytes)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def load(name_or_path: str | Path = "hanoi-baseline") -> Scenario:
    """Loads a scenario by catalog name or file path. Raises ScenarioError."""
    path = resolve(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([("", f"cannot read {path}: {exc}")], source=str(path)) from exc
    return loads(text, source=str(path), base_dir=path.parent)


def loads(text: str, *, source: str = "<string>", base_dir: Path | None = None) -> Scenario:
    """Loads a scenario from TOML text. Raises ScenarioError."""
    raw = _parse(text, source)
    merged = _resolve_extends(raw, source, base_dir or CATALOG_DIR, depth=0)
    if left := list(_deletions(merged)):
        raise ScenarioError([(key, f"{DELETE!r} removes a key inherited through 'extends'; there is none "
                              "to remove here") for key in left], source=source)
    return validate(merged, source=source)


def validate(data: Mapping[str, Any], *, source: str = "<data>") -> Scenario:
    """Validates plain data into a frozen Scenario. Raises ScenarioError."""
    try:
        scenario = Scenario.model_validate(dict(data))
    except ValidationError as exc:
        raise ScenarioError(_problems(exc), source=source) from None
    problems = _cross_checks(scenario)
    if problems:
        raise ScenarioError(problems, source=source)
    return scenario


def dump(scenario: Scenario) -> str:
    """The fully resolved scenario as TOML text (no ``extends``); ``loads(dump(s)) == s``."""
    data = scenario.model_dump(mode="python", exclude_none=True)
    return tomli_w.dumps(_toml_safe(data))


def _toml_safe(value: Any) -> Any:
    """Tuples → lists and dict keys → str, as TOML needs."""
    if isinstance(value, Mapping):
        return {str(k): _toml_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_toml_safe(v) for v in value]
    return value


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([("", f"not valid TOML: {exc}")], source=source) from None


def _resolve_extends(raw: dict[str, Any], source: str, base_dir: Path, depth: int) -> dict[str, Any]:
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ScenarioError([("extends", f"must be a scenario name, got {parent!r}")], source=source)
    if depth >= _MAX_EXTENDS:
        raise ScenarioError(
            [("extends", f"chain deeper than {_MAX_EXTENDS} (a cycle?) at {parent!r}")], source=source
        )
    local = base_dir / f"{parent}.toml"
    path = local if _exists(local) else _resolve_parent(parent, source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([("extends", f"cannot read {parent!r} ({path}): {exc}")], source=source) from None
    base = _parse(text, str(path))
    base = _resolve_extends(base, str(path), path.parent, depth + 1)
    return deep_merge(base, raw)


def _deletions(data: Any, at: str = "") -> Iterator[str]:
    """Dotted keys still holding :data:`DELETE` (nothing was inherited there to remove)."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            here = f"{at}.{key}" if at else str(key)
            if value == DELETE:
                yield here
            else:
                yield from _deletions(value, here)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _deletions(value, f"{at}[{i}]")


def _resolve_parent(parent: str, source: str) -> Path:
    try:
        return resolve(parent)
    except ScenarioError as exc:
        raise ScenarioError([("extends", exc.problems[0][1])], source=source) from None


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; every other value (lists included) replaces the base's; the value
    :data:`DELETE` (``"__delete__"``) removes the base's key (a variant, a service, a step's
    inherited ``system_time``), which then takes its default if it has one."""
    out = dict(base)
    for key, value in override.items():
        if value == DELETE and key in out:
            del out[key]
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = _clean_loc(err["loc"])
        problems.append((_dotted(loc), _message(err, loc)))
    return problems


def _clean_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # pydantic adds "[key]" markers for dict keys and the tag of a union branch; drop them.
    return tuple(p for p in loc if not (isinstance(p, str) and p.startswith(_LOC_NOISE)))


_LOC_NOISE = ("[key]", "function-", "literal[", "tagged-union[")


def _message(err: Any, loc: tuple[int | str, ...]) -> str:
    kind, value = err["type"], err.get("input")
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "literal_error":
        allowed = err.get("ctx", {}).get("expected", "")
        choices = [c.strip().strip("'") for c in allowed.replace(" or ", ", ").split(",") if c.strip()]
        hint = closest(str(value), choices)
        tip = f"; did you mean {hint!r}?" if hint else ""
        return f"{value!r} is not one of {', '.join(choices)}{tip}"
    if kind == "missing":
        return "is required but missing"
    if kind == "value_error":  # our own validators already name the value
        return str(err["msg"]).removeprefix("Value error, ")
    return f"{err['msg']} (got {_short(value)})"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _unknown_key(loc: tuple[int | str, ...]) -> str:
    model = _model_at(loc[:-1])
    if model is None:
        return f"unknown key {loc[-1]!r}"
    fields = list(model.model_fields)
    hint = closest(str(loc[-1]), fields)
    tip = f"; did you mean {hint!r}?" if hint else f"; valid keys: {', '.join(fields)}"
    return f"unknown key {loc[-1]!r}{tip}"


def _model_at(loc: tuple[int | str, ...]) -> Any:
    """The model a location leads to, stepping over dict keys and list indexes; None if lost."""
    annotation: Any = Scenario
    in_container = False
    for part in loc:
        if in_container:  # this part is a dict key (agencies.<id>) or an index (faults[2])
            in_container = False
            continue
        model = _inner(annotation)
        if model is None or isinstance(part, int) or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        in_container = _is_container(annotation)
    return None if in_container else _inner(annotation)


def _is_container(annotation: Any) -> bool:
    """Whether ``annotation`` is ``dict[...]``/``tuple[...]``/``list[...]``, optionally ``| None``."""
    args = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    return any(get_origin(a) in (dict, tuple, list) for a in args)


def _inner(annotation: Any) -> Any:
    """The BaseModel inside ``X``, ``X | None``, ``tuple[X, ...]`` or ``dict[K, X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in reversed(getattr(annotation, "__args__", ()) or ()):
        found = _inner(arg)
        if found is not None:
            return found
    return None


# --- cross-reference checks (after the types are right) -------------------------------------


def _cross_checks(s: Scenario) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    problems += _check_steps(s)
    problems += _check_services(s)
    problems += _check_faults(s)
    problems += _check_demand(s)
    problems += _check_calendar(s)
    problems += _check_dists(s)
    problems += _check_callers(s)
    problems += _check_thresholds(s)
    return problems


def _check_steps(s: Scenario) -> list[tuple[str, str]]:
    problems = []
    for sid, step in s.steps.items():
        if step.agency not in s.agencies:
            problems.append(
                (
                    f"steps.{sid}.agency",
                    f"{step.agency!r} is not an agency of this scenario ({', '.join(s.agencies)})",
                )
            )
        for i, dep in enumerate(step.after):
            if dep not in s.steps:
                problems.append((f"steps.{sid}.after[{i}]", _unknown_ref("step", dep, s.steps)))
        if step.task not in TASKS and not step.task.startswith(TWIN_ONLY):
            hint = closest(step.task, TASKS)
            problems.append((f"steps.{sid}.task", (
                f"{step.task!r} is not a task" + (f"; did you mean {hint!r}?" if hint else "")
                + f" (tasks: {', '.join(TASKS)}; a task only the twin runs is written "
                f"'{TWIN_ONLY}<name>')")))
    problems += _check_cycles(s)
    return problems


def _check_cycles(s: Scenario) -> list[tuple[str, str]]:
    state: dict[str, int] = {}

    def visit(sid: str) -> str | None:
        if state.get(sid) == 1:
            return sid
        if state.get(sid) == 2 or sid not in s.steps:
            return None
        state[sid] = 1
        for dep in s.steps[sid].after:
            if (found := visit(dep)) is not None:
                return found
        state[sid] = 2
        return None

    for sid in s.steps:
        if (found := visit(sid)) is not None:
            return [(f"steps.{found}.after", f"steps depend on each other in a cycle through {found!r}")]
    return []


def _check_services(s: Scenario) -> list[tuple[str, str]]:
    problems = []
    for svc_id, svc in s.services.items():
        total = sum(v.share for v in svc.variants.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            problems.append((f"services.{svc_id}.variants", f"variant shares must sum to 1, got {total:g}"))
        if svc.verification_deadline_wd < svc.deadline_wd:
            problems.append(
                (
                    f"services.{svc_id}.verification_deadline_wd",
                    f"{svc.verification_deadline_wd:g} is shorter than deadline_wd {svc.deadline_wd:g}",
                )
            )
        for vid, variant in svc.variants.items():
            if svc.limit_wd(vid, True) < svc.limit_wd(vid, False):
                problems.append((f"services.{svc_id}.variants.{vid}.verification_deadline_wd",
                                 f"{svc.limit_wd(vid, True):g} is shorter than its deadline_wd "
                                 f"{svc.limit_wd(vid, False):g}"))
            for i, step in enumerate(variant.steps):
                if step not in s.steps:
                    problems.append(
                        (f"services.{svc_id}.variants.{vid}.steps[{i}]", _unknown_ref("step", step, s.steps))
                    )
                    continue
                for dep in s.steps[step].after:
                    if dep not in variant.steps:
                        problems.append(
                            (
                                f"services.{svc_id}.variants.{vid}.steps",
                                f"step {step!r} needs {dep!r}, which the variant lacks",
                            )
                        )
    return problems


def _check_faults(s: Scenario) -> list[tuple[str, str]]:
    problems = []
    for i, fault in enumerate(s.faults):
        key = f"faults[{i}]"
        if fault.end <= fault.start:
            problems.append((f"{key}.end", f"{fault.end:g} min is not after start {fault.start:g} min"))
        if fault.agency != "*" and fault.agency not in s.agencies:
            problems.append((f"{key}.agency", f"{fault.agency!r} is not an agency of this scenario"))
        for param in FAULT_PARAMS[fault.kind]:
            if getattr(fault, param) is None:
                problems.append((f"{key}.{param}", f"is required for a {fault.kind!r} fault"))
        problems += _check_surge(fault, key)
    return problems


def _check_surge(fault: Fault, key: str) -> list[tuple[str, str]]:
    """A surge is a shift (``events``), a concentration (``factor``) or named extra demand
    (``extra`` and ``factor``); ``share`` only with ``events``. Other kinds take none of these."""
    if fault.kind != "surge":
        return [(f"{key}.{p}", f"is only for a 'surge' fault, not {fault.kind!r}")
                for p in ("events", "share", "extra") if getattr(fault, p) is not None]
    if fault.events is not None:
        lo, hi = fault.events
        if hi <= lo:
            return [(f"{key}.events", f"the window {lo:g}–{hi:g} min is empty")]
        if fault.factor is not None or fault.extra is not None:
            bad = "factor" if fault.factor is not None else "extra"
            return [(f"{key}.{bad}", "a shift ('events') moves existing dossiers; it takes no "
                     "'factor' or 'extra' (write a second surge for extra demand)")]
        return []
    if fault.share is not None:
        return [(f"{key}.share", "is the share of the shifted events: only with 'events'")]
    if fault.factor is None:
        return [(f"{key}.factor", "is required for a 'surge' fault (or 'events' for a shift)")]
    if fault.extra is not None and fault.factor <= 1:
        return [(f"{key}.factor", f"extra demand adds (factor − 1) × the window's dossiers: "
                 f"{fault.factor:g} adds none")]
    return []


# The working-day calendar covers these years (holidays.VN, Tết); arrivals look back 60 days.
CALENDAR_YEARS = (2022, 2035)


def _check_calendar(s: Scenario) -> list[tuple[str, str]]:
    first, last = CALENDAR_YEARS
    start = s.calendar.start
    if not first <= start.year <= last:
        return [("calendar.start", f"{start.isoformat()} is outside the supported years {first}–{last}")]
    return []


def _check_demand(s: Scenario) -> list[tuple[str, str]]:
    problems = []
    shares = s.demand.death_status
    if shares and not math.isclose(sum(shares.values()), 1.0, abs_tol=1e-6):
        problems.append(("demand.death_status", f"shares must sum to 1, got {sum(shares.values()):g}"))
    for animal in s.demand.lunar_year_factor:
        if animal not in LUNAR_ANIMALS:
            problems.append((f"demand.lunar_year_factor.{animal}", _not_one_of(animal, LUNAR_ANIMALS)))
    return problems


def _not_one_of(value: str, choices: tuple[str, ...]) -> str:
    hint = closest(value, choices)
    tip = f"; did you mean {hint!r}?" if hint else ""
    return f"{value!r} is not one of {', '.join(choices)}{tip}"


def _check_dists(s: Scenario) -> list[tuple[str, str]]:
    problems = []
    for key, dist in _all_dists(s):
        for param in DIST_PARAMS[dist.kind]:
            if getattr(dist, param) is None:
                problems.append((f"{key}.{param}", f"is required for a {dist.kind!r} distribution"))
        if dist.kind in ("uniform", "triangular") and None not in (dist.low, dist.high):
            low, high = float(dist.low or 0), float(dist.high or 0)
            mode = float(dist.mode) if dist.mode is not None else low
            if not low <= mode <= high:
                problems.append(
                    (f"{key}.high", f"needs low <= mode <= high, got {low:g}, {mode:g}, {high:g}")
                )
    return problems


def _all_dists(s: Scenario) -> list[tuple[str, Dist]]:
    found: list[tuple[str, Dist]] = []
    for sid, step in s.steps.items():
        found += [(f"steps.{sid}.{n}", d) for n in ("desk_time", "system_time") if (d := getattr(step, n))]
    for svc_id, svc in s.services.items():
        found.append((f"services.{svc_id}.supplement_delay_wd", svc.supplement_delay_wd))
    found += [
        (f"demand.{n}", getattr(s.demand, n)) for n in ("lag_birth_days", "lag_death_days", "age_at_death")
    ]
    for i, fault in enumerate(s.faults):
        found += [(f"faults[{i}].{n}", d) for n in ("latency", "delay") if (d := getattr(fault, n))]
    return found


def _check_callers(s: Scenario) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for name, caller in s.callers.items():
        if caller.key in seen:
            problems.append((f"callers.{name}.key", f"same key as callers.{seen[caller.key]}"))
        seen[caller.key] = name
    return problems


def _check_thresholds(s: Scenario) -> list[tuple[str, str]]:
    known = metrics.names(s.services, s.steps)
    problems = []
    for i, th in enumerate(s.thresholds):
        if th.metric not in known:
            hint = closest(th.metric, known)
            tip = f"; did you mean {hint!r}?" if hint else ""
            problems.append(
                (
                    f"thresholds[{i}].metric",
                    f"{th.metric!r} is not a metric of this scenario{tip} "
                    f"(metrics: <group>.e2e, step.<step>, {', '.join(metrics.LIVE_ONLY)})",
                )
            )
    return problems


def _unknown_ref(what: str, name: str, valid: Mapping[str, Any]) -> str:
    hint = closest(name, valid)
    tip = f"; did you mean {hint!r}?" if hint else ""
    return f"{name!r} is not a {what} of this scenario{tip}"
