"""Sizing: the smallest desks (or servers) per agency that meet a target with stated confidence.

>>> import scenarios
>>> result = size(scenarios.load(), "birth.p95 <= 3wd", replications=5, days=28)  # doctest: +SKIP
>>> result.capacity                                                            # doctest: +SKIP
{'justice': 7, 'police': 4, 'vss': 2}

Targets read ``<service>.<stat> <op> <value>[unit]`` (the service's end-to-end time in working
days, its ``attainment`` or ``rate`` of refusals) or ``step.<id>.<stat> …`` (one step's time in
working days, or its ``attainment``): ``"birth.p95 <= 3wd"``, ``"death.attainment >= 95%"``,
``"step.bhyt.p95 <= 2wd"``.

**Confidence.** Each capacity is run for ``replications`` independent replications (the same
seeds at every capacity: common random numbers). The target must hold for the one-sided
``confidence`` bound of the mean over replications — the upper bound for ``<=``/``<``, the
lower for ``>=``/``>`` — not just for the mean.

**Search.** Each sized agency starts at its offered-load bound ``c = floor(a) + 1`` where ``a`` is
the work per working day of *all* its steps (desks and servers are pooled per agency: step
executions × mean desk time, or × mean system time for servers) over its open minutes per day —
the Erlang-C stability limit, under which a queue grows without limit. All sized agencies gallop
up together (bound + 0, 1, 3, 7 …) until the target holds, then each in turn is bisected down to
the smallest capacity that still meets it with the others held, probing ``bound − 1`` first. The
bound is where the search starts, not a floor: the metrics count dossiers still open at the
horizon (late once past due, with their time so far in the percentiles), so a capacity whose
backlog grows fails on its own merits. Every answer ``c`` comes with ``c − 1`` evaluated and
failing (or ``c = 1``). An answer under its offered load meets the target only over the horizon
simulated (the backlog is still growing at its end); the result says so in ``notes``.

**Where it runs.** Every replication of a capacity is a task on one executor for the whole search
(a local process pool, or a Dask cluster: ``executor=``, see ``sim.replications.open_executor``);
an agency's curve around its answer is one batch of tasks. The search's steps and results do not
depend on where the tasks ran.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scenarios import metrics as metric_names
from scenarios.model import Scenario, Threshold
from sim.confidence import mean_ci
from sim.metrics import lookup
from sim.records import SERVICES
from sim.replications import Executor, open_executor, replicate_capacities

__all__ = ["CurvePoint", "SizingResult", "Target", "offered_load", "parse_target", "size"]

_TARGET = re.compile(
    r"^\s*(?P<metric>step\.[a-z0-9_]+|[a-z]+)(?:\.e2e)?\.(?P<stat>[a-z0-9_]+)\s*(?P<rest>[<>=].*)$"
)
_MAX_STEPS = 12  # galloping doublings before a target is declared out of reach


@dataclass(frozen=True)
class Target:
    """A parsed target: ``metric`` (``birth.e2e``, ``step.bhyt``), ``stat``, ``op``, ``value``, ``unit``."""

    text: str
    metric: str
    stat: str
    op: str
    value: float
    unit: str

    @property
    def upper(self) -> bool:
        """True when the figure must stay below the value (``<=``, ``<``)."""
        return self.op in ("<=", "<")

    @property
    def label(self) -> str:
        """An axis label: ``'birth.e2e p95 (WD)'``."""
        unit = " (WD)" if self.stat not in ("attainment", "rate", "count") else ""
        return f"{self.metric} {self.stat}{unit}"

    def holds(self, figure: float) -> bool:
        """Whether ``figure`` satisfies the target."""
        return {
            "<=": figure <= self.value,
            "<": figure < self.value,
            ">=": figure >= self.value,
            ">": figure > self.value,
            "==": math.isclose(figure, self.value),
        }[self.op]


def parse_target(text: str, scenario: Scenario | None = None) -> Target:
    """Parses ``"birth.p95 <= 3wd"``; with ``scenario``, checks the service or step exists.

    Raises ValueError naming the bad part (and the valid choices).
    """
    m = _TARGET.match(text)
    if not m:
        raise ValueError(
            f"not a target: {text!r} (write e.g. 'birth.p95 <= 3wd', 'death.attainment >= 0.95', "
            "'step.bhyt.p95 <= 2wd')"
        )
    head = m["metric"]
    metric = head if head.startswith("step.") else metric_names.e2e(head)
    if not head.startswith("step.") and head not in SERVICES:
        raise ValueError(
            f"unknown service {head!r} in target {text!r}; use one of {', '.join(SERVICES)} or step.<id>"
        )
    if scenario is not None and head.startswith("step.") and head[5:] not in scenario.steps:
        raise ValueError(f"unknown step {head[5:]!r} in target {text!r}; steps: {', '.join(scenario.steps)}")
    if scenario is not None and head in SERVICES and head not in scenario.services:
        raise ValueError(f"the scenario has no service {head!r} (target {text!r})")
    try:
        stat, op, value, unit = Threshold(metric=metric, expr=f"{m['stat']} {m['rest'].strip()}").parts
    except ValueError as exc:
        raise ValueError(f"target {text!r}: {_first_error(exc)}") from None
    if unit not in ("", "wd"):
        raise ValueError(f"target {text!r}: the twin measures working days, not {unit!r}")
    if stat == "count":
        raise ValueError(f"target {text!r}: a count is not a sizing target")
    return Target(text.strip(), metric, stat, op, value, unit)


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return str(errors()[0].get("msg", exc)).removeprefix("Value error, ")
    return str(exc)


@dataclass(frozen=True)
class CurvePoint:
    """One evaluated capacity: the target's figure over replications and whether it holds.

    ``agency`` is the agency varied at this point (None during the joint galloping phase);
    ``capacity`` its desks or servers; ``vector`` the sized capacity of every sized agency.
    ``low``/``high`` are the one-sided ``confidence`` bounds; ``meets`` judges the binding one.
    """

    agency: str | None
    capacity: int
    vector: dict[str, int]
    value: float
    low: float
    high: float
    meets: bool
    values: tuple[float, ...]


@dataclass(frozen=True)
class SizingResult:
    """The outcome of :func:`size`.

    ``capacity`` maps each sized agency to its smallest desks (or servers, see ``resource``)
    meeting the target; ``full`` is the whole ``{agency: (desks, servers)}`` to run with;
    ``lower_bounds`` the offered-load bounds (where the search starts) and ``offered`` the
    offered loads;
    ``points`` every capacity examined, in order. ``feasible`` is False when the target stayed
    out of reach.
    """

    target: Target
    resource: str
    resources: dict[str, str]
    capacity: dict[str, int]
    full: dict[str, tuple[int, int]]
    lower_bounds: dict[str, int]
    offered: dict[str, float]
    points: list[CurvePoint]
    feasible: bool
    confidence: float
    replications: int
    days: int
    notes: list[str] = field(default_factory=list)

    def curve(self, agency: str) -> list[CurvePoint]:
        """Points varying only ``agency``, the others at their answers, by capacity."""
        others = {a: c for a, c in self.capacity.items() if a != agency}
        pts = [p for p in self.points if all(p.vector.get(a) == c for a, c in others.items())]
        return sorted(pts, key=lambda p: p.vector[agency])

    @property
    def evaluations(self) -> int:
        """How many capacities were run (each with ``replications`` replications)."""
        return len(self.points)


# --- offered load ------------------------------------------------------------------------------


def _relevant_steps(scenario: Scenario, target: Target) -> list[str]:
    kind, name = metric_names.parse(target.metric)
    if kind == "step":
        return [name]
    service = scenario.services[name]  # type: ignore[index]
    return list(dict.fromkeys(s for variant in service.variants.values() for s in variant.steps))


def _step_counts_per_wd(scenario: Scenario) -> dict[str, float]:
    """Expected executions of each step per working day (variant mix, funeral payer by status)."""
    status = scenario.demand.death_status
    total = sum(status.values()) or 1.0
    counts: dict[str, float] = dict.fromkeys(scenario.steps, 0.0)
    for sid, per_variant in scenario.dossiers_per_wd().items():
        variants = next(v for k, v in scenario.services.items() if k == sid).variants
        for vid, volume in per_variant.items():
            for step in variants[vid].steps:
                when = scenario.steps[step].when_status
                share = 1.0 if when is None else sum(status.get(w, 0.0) for w in when) / total
                counts[step] += volume * share
    return counts


def _open_minutes_per_wd(scenario: Scenario, agency: str) -> float:
    own = next(ag for k, ag in scenario.agencies.items() if k == agency)
    spec = own.weekday_hours or scenario.calendar.weekday_hours
    minutes = 0.0
    for interval in spec:
        a, b = interval.split("-")
        minutes += _hhmm(b) - _hhmm(a)
    return minutes


def _hhmm(s: str) -> float:
    h, m = s.split(":")
    return int(h) * 60.0 + int(m)


def offered_load(scenario: Scenario, agency: str, resource: str, steps: Sequence[str] | None = None) -> float:
    """Busy desks (or servers) the agency needs on average: work per working day / open minutes.

    Desks work in office hours, so a working day's work meets its open minutes. Servers run
    24/7: a week's five working days of work meet 7 × 1440 minutes. Only ``steps`` count when
    given. Raises ValueError for an unknown resource.
    """
    if resource not in ("desks", "servers"):
        raise ValueError(f"resource must be 'desks' or 'servers', got {resource!r}")
    counts = _step_counts_per_wd(scenario)
    chosen = (
        scenario.steps_of(agency)
        if steps is None
        else [s for s in steps if scenario.steps[s].agency == agency]
    )
    work = 0.0
    for sid in chosen:
        step = scenario.steps[sid]
        dist = step.desk_time if resource == "desks" else step.system_time
        if dist is not None:
            work += counts[sid] * dist.expected
    if resource == "desks":
        return work / _open_minutes_per_wd(scenario, agency)
    return work / (1440.0 * 7 / 5)  # a working day's share of a week of round-the-clock minutes


# --- the search --------------------------------------------------------------------------------


def size(
    scenario: Scenario,
    target: str | Target,
    *,
    agencies: Sequence[str] | None = None,
    confidence: float = 0.95,
    replications: int | None = None,
    days: int | None = None,
    workers: int = 2,
    warmup_days: float | None = None,
    curve_span: int = 2,
    progress: Callable[[CurvePoint], None] | None = None,
    executor: Executor | None = None,
) -> SizingResult:
    """Finds the smallest capacity per agency meeting ``target`` with ``confidence``.

    Agencies default to those doing a step the target depends on; each is sized on desks when
    one of those steps has desk time, else on servers. Other agencies keep the scenario's
    capacity. Once found, each agency's curve is run ``curve_span`` either side of its answer
    (the others at theirs). ``progress(point)`` is called after each capacity is run. The
    replications run on ``executor`` (default: a local pool of ``workers`` processes for the whole
    search). Raises ValueError for a bad target, an unknown or uninvolved agency, fewer than 2
    replications or a confidence outside [0.5, 1).
    """
    tgt = target if isinstance(target, Target) else parse_target(target, scenario)
    reps = scenario.sim.replications if replications is None else replications
    horizon = scenario.sim.days if days is None else days
    _check_settings(reps, confidence, curve_span)
    resources = _resources(scenario, tgt, agencies)
    chosen = list(resources)
    # Desks and servers are pooled per agency: all its steps load them, not only the target's.
    offered = {a: offered_load(scenario, a, resources[a]) for a in chosen}
    bounds = {a: math.floor(offered[a]) + 1 for a in chosen}
    if executor is None:
        with open_executor(None, workers) as local:
            return _search(scenario, tgt, resources, offered, bounds, confidence, reps, horizon, local,
                           warmup_days, curve_span, progress)  # fmt: skip
    return _search(scenario, tgt, resources, offered, bounds, confidence, reps, horizon, executor,
                   warmup_days, curve_span, progress)  # fmt: skip


def _search(
    scenario: Scenario,
    tgt: Target,
    resources: dict[str, str],
    offered: dict[str, float],
    bounds: dict[str, int],
    confidence: float,
    reps: int,
    horizon: int,
    executor: Executor,
    warmup_days: float | None,
    curve_span: int,
    progress: Callable[[CurvePoint], None] | None,
) -> SizingResult:
    """Gallops, bisects each agency down, then runs the curves around the answer."""
    search = _Search(scenario, tgt, resources, confidence, reps, horizon, executor, warmup_days, progress)
    notes: list[str] = []
    vector = search.gallop(bounds)
    if vector is None:
        notes.append(f"the target was not met even at {search.last}: out of reach of this search")
        return search.result(bounds, offered, bounds, False, notes)
    for a in resources:
        vector = search.descend(a, vector, bounds[a])
    for a in resources:  # the curve around the answer, the other agencies at their answers
        lowest = max(1, vector[a] - curve_span)
        search.evaluate_all([{**vector, a: c} for c in range(lowest, vector[a] + curve_span + 1)], a)
        if vector[a] <= offered[a]:
            notes.append(
                f"{a} at {vector[a]} is under its offered load {offered[a]:.2f}: its backlog grows "
                f"without limit; the target holds only over these {horizon} days"
            )
    return search.result(vector, offered, bounds, True, notes)


def _check_settings(replications: int, confidence: float, curve_span: int) -> None:
    """Raises ValueError naming the first setting :func:`size` cannot use."""
    if replications < 2:
        raise ValueError(f"sizing with confidence needs at least 2 replications, got {replications}")
    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence}")
    if curve_span < 0:
        raise ValueError(f"curve_span must be non-negative, got {curve_span}")


def _resources(scenario: Scenario, target: Target, agencies: Sequence[str] | None) -> dict[str, str]:
    """``{agency: "desks" | "servers"}`` for the agencies to size (default: every agency doing a
    step ``target`` depends on): desks when one of those steps has desk time there.

    Raises ValueError for an agency that does no such step.
    """
    steps = _relevant_steps(scenario, target)
    involved = list(dict.fromkeys(scenario.steps[s].agency for s in steps))
    chosen = involved if agencies is None else list(agencies)
    for a in chosen:
        if a not in involved:
            raise ValueError(f"agency {a!r} does no step of {target.metric}; involved: {', '.join(involved)}")
    return {
        a: "desks"
        if any(scenario.steps[s].desk_time and scenario.steps[s].agency == a for s in steps)
        else "servers"
        for a in chosen
    }


class _Search:
    """Runs and caches capacity evaluations; gallops and bisects."""

    def __init__(
        self,
        scenario: Scenario,
        target: Target,
        resources: dict[str, str],
        confidence: float,
        replications: int,
        days: int,
        executor: Executor,
        warmup_days: float | None,
        progress: Callable[[CurvePoint], None] | None,
    ) -> None:
        self.s, self.target, self.resources = scenario, target, resources
        self.confidence, self.reps, self.days, self.executor = confidence, replications, days, executor
        self.warmup, self.progress = warmup_days, progress
        self.points: list[CurvePoint] = []
        self.cache: dict[tuple[tuple[str, int], ...], CurvePoint] = {}
        self.last: dict[str, int] = {}

    def full(self, vector: dict[str, int]) -> dict[str, tuple[int, int]]:
        caps: dict[str, tuple[int, int]] = {
            str(a): (ag.desks, ag.servers) for a, ag in self.s.agencies.items()
        }
        for a, c in vector.items():
            desks, servers = caps[a]
            caps[a] = (c, servers) if self.resources[a] == "desks" else (desks, c)
        return caps

    def evaluate(self, vector: dict[str, int], agency: str | None) -> CurvePoint:
        return self.evaluate_all([vector], agency)[0]

    def evaluate_all(self, vectors: list[dict[str, int]], agency: str | None) -> list[CurvePoint]:
        """The points of ``vectors``, those not yet run run as one batch of tasks; recorded (and
        reported) in the order given, as if run one by one."""
        todo: dict[tuple[tuple[str, int], ...], dict[str, int]] = {}
        for vector in vectors:
            key = tuple(sorted(vector.items()))
            if key not in self.cache:
                todo.setdefault(key, vector)
        summaries: list[dict[str, Any]] = []
        if todo:
            capacities = [self.full(v) for v in todo.values()]
            summaries = replicate_capacities(self.s, capacities, self.reps, self.days,
                                             warmup_days=self.warmup, executor=self.executor)  # fmt: skip
        for (key, vector), summary in zip(todo.items(), summaries, strict=True):
            self.last = dict(vector)
            point = self._point(lookup(summary, self.target.metric, self.target.stat), vector, agency)
            self.cache[key] = point
            self.points.append(point)
            if self.progress:
                self.progress(point)
        return [self.cache[tuple(sorted(v.items()))] for v in vectors]

    def _point(self, stat: Any, vector: dict[str, int], agency: str | None) -> CurvePoint:
        raw = stat.get("values", []) if isinstance(stat, dict) else [stat]
        values = tuple(math.nan if v is None else float(v) for v in raw)
        capacity = vector[agency] if agency else max(vector.values())
        if not values or any(math.isnan(v) for v in values):
            # A replication without the figure (nothing finished) cannot meet a target.
            return CurvePoint(agency, capacity, dict(vector), math.nan, math.nan, math.nan, False, values)
        mean, hw = mean_ci(values, self.confidence)  # one-sided: the confidence quantile
        half = math.inf if hw is None else hw
        low, high = mean - half, mean + half
        meets = self.target.holds(high if self.target.upper else low)
        return CurvePoint(agency, capacity, dict(vector), mean, low, high, meets, values)

    def gallop(self, bounds: dict[str, int]) -> dict[str, int] | None:
        for k in range(_MAX_STEPS):
            vector = {a: b + 2**k - 1 for a, b in bounds.items()}
            if self.evaluate(vector, None).meets:
                return vector
        return None

    def descend(self, agency: str, vector: dict[str, int], bound: int) -> dict[str, int]:
        """Smallest capacity of ``agency`` still meeting the target, the others held (at least 1).

        ``bound - 1`` is probed first: under the offered load it usually fails, and then the
        bisection stays above it.
        """
        lo, hi = 0, vector[agency]  # 0 desks or servers cannot do the work: presumed failing
        if 1 <= bound - 1 < hi:
            if self.evaluate({**vector, agency: bound - 1}, agency).meets:
                hi = bound - 1
            else:
                lo = bound - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.evaluate({**vector, agency: mid}, agency).meets:
                hi = mid
            else:
                lo = mid
        return {**vector, agency: hi}

    def result(
        self,
        vector: dict[str, int],
        offered: dict[str, float],
        bounds: dict[str, int],
        feasible: bool,
        notes: list[str],
    ) -> SizingResult:
        kinds = set(self.resources.values())
        return SizingResult(
            target=self.target,
            resource=kinds.pop() if len(kinds) == 1 else "capacity",
            resources=dict(self.resources),
            capacity=dict(vector),
            full=self.full(vector),
            lower_bounds=dict(bounds),
            offered=dict(offered),
            points=list(self.points),
            feasible=feasible,
            confidence=self.confidence,
            replications=self.reps,
            days=self.days,
            notes=notes,
        )
