"""The scenario schema: frozen, typed models for everything a run needs.

One ``Scenario`` drives the twin, the fakes, the load tests and the certifier. Times inside a
scenario are minutes from the scenario's start (a Monday 00:00, Asia/Ho_Chi_Minh) unless a field
says otherwise; durations in files may be written as ``"90m"``, ``"2h"``, ``"3d"`` or
``"1d9h30m"`` and are stored as minutes. Figures the law does not confirm carry an
``assumption`` text citing DOMAIN.md.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, get_args

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "AGENCY_IDS",
    "DEATH_STATUSES",
    "FAULT_KINDS",
    "LUNAR_ANIMALS",
    "SURGE_EXTRA",
    "TASKS",
    "TWIN_ONLY",
    "Agency",
    "ArrivalRate",
    "Assumption",
    "CalendarSpec",
    "Caller",
    "Demand",
    "Dist",
    "Fault",
    "Load",
    "Meta",
    "Money",
    "Rate",
    "Region",
    "Retry",
    "Scenario",
    "Service",
    "SimSettings",
    "Stage",
    "Step",
    "Threshold",
    "Variant",
    "live_task_problems",
    "parse_duration",
]

AgencyId = Literal["health", "justice", "police", "vss", "social", "portal"]
AGENCY_IDS: tuple[str, ...] = get_args(AgencyId)
ServiceId = Literal["birth", "death"]
# Status of a deceased person that decides the funeral payer (DOMAIN.md §2, §6).
DeathStatus = Literal["pensioner", "insured", "social", "merit", "none"]
DEATH_STATUSES: tuple[str, ...] = get_args(DeathStatus)
# The Vietnamese zodiac (mèo, the cat, where the Chinese has the rabbit); 2020 was a rat year.
LUNAR_ANIMALS = (
    "rat",
    "ox",
    "tiger",
    "cat",
    "dragon",
    "snake",
    "horse",
    "goat",
    "monkey",
    "rooster",
    "dog",
    "pig",
)
FaultKind = Literal[
    "latency",
    "error",
    "outage",
    "slow_pid",
    "lost_attachment",
    "duplicate_delivery",
    "delivery_delay",
    "code_mismatch",
    "wrong_card_expiry",
    "false_rejection",
    "surge",
    "incomplete",
    "slow_polling",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
#: Named kinds of extra demand a ``surge`` may add (``extra``): traffic that is not a linked
#: dossier. ``vneid_traffic``: unrelated VNeID use (status look-ups at the portal, F5);
#: ``residence_registration``: standalone residence registrations (police's population DB, F6).
SurgeExtra = Literal["vneid_traffic", "residence_registration"]
SURGE_EXTRA: tuple[str, ...] = get_args(SurgeExtra)

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)d)?\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*$")
_UNIT_MINUTES = (1440.0, 60.0, 1.0)


def live_task_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """``(key, message)`` for each step whose task the reference fakes' portal does not run
    (:data:`TASKS`): such a scenario is for the twin only (raise them as a ScenarioError)."""
    return [(f"steps.{sid}.task", f"{step.task!r} is not a task the reference portal runs (one of "
             f"{', '.join(TASKS)}); such a scenario is for the twin only")
            for sid, step in scenario.steps.items() if step.task not in TASKS]


def parse_duration(value: Any) -> float:
    """Minutes from a number (already minutes) or a string like ``"1d9h30m"``.

    Raises ValueError naming the value when it is neither, or negative.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        minutes = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)) and any(m.groups()):
        minutes = sum(float(g) * u for g, u in zip(m.groups(), _UNIT_MINUTES, strict=True) if g)
    else:
        raise ValueError(f"not a duration: {value!r} (write minutes, or e.g. '90m', '2h', '3d', '1d9h')")
    if minutes < 0 or minutes != minutes:
        raise ValueError(f"negative duration: {value!r}")
    return minutes


Minutes = Annotated[float, BeforeValidator(parse_duration)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
Hhmm = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
#: The tasks the reference fakes' portal runs (the write of one agency a linked dossier needs). The
#: twin runs any task name (an abstract queue in a planner's model); a live run or ``fakes serve``
#: refuses a scenario whose steps name another.
TaskId = Literal[
    "register_birth",
    "register_death",
    "issue_pid",
    "register_residence",
    "remove_residence",
    "issue_child_card",
    "pay_funeral_allowance",
    "pay_funeral_support",
    "settle_survivor_benefit",
]
TASKS: tuple[str, ...] = get_args(TaskId)
#: A step task written ``"twin:<name>"`` is one only the twin simulates (no agency call runs it):
#: the loader takes it, the live fakes refuse the scenario; any other task must be one of TASKS.
TWIN_ONLY = "twin:"
Interval = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")]


class Frozen(BaseModel):
    """Base: frozen, no unknown keys, validated on assignment-free construction."""

    # allow_inf_nan=False: an infinite volume or rate would only fail deep inside a run.
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False)


DistKind = Literal["constant", "exponential", "lognormal", "gamma", "uniform", "triangular", "normal"]
DIST_KINDS: tuple[str, ...] = get_args(DistKind)


class Dist(Frozen):
    """A non-negative random duration or quantity.

    ``constant`` uses ``mean``; ``exponential`` uses ``mean``; ``lognormal``, ``gamma`` and
    ``normal`` use ``mean`` and ``cv`` (coefficient of variation; normal is truncated at 0);
    ``uniform`` uses ``low``/``high``; ``triangular`` uses ``low``/``mode``/``high``. ``max``
    truncates any draw (e.g. the 60-day registration limit).
    """

    kind: DistKind
    mean: float | None = Field(default=None, ge=0.0)
    cv: float | None = Field(default=None, ge=0.0)
    low: float | None = Field(default=None, ge=0.0)
    mode: float | None = Field(default=None, ge=0.0)
    high: float | None = Field(default=None, ge=0.0)
    max: float | None = Field(default=None, ge=0.0)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        """Draws from this distribution with ``rng``; an array when ``size`` is given."""
        draw = _SAMPLERS[self.kind](self, rng, size)
        return np.minimum(draw, self.max) if self.max is not None else draw

    @property
    def expected(self) -> float:
        """The mean of the (untruncated) distribution."""
        if self.kind == "uniform":
            return (_f(self.low) + _f(self.high)) / 2
        if self.kind == "triangular":
            return (_f(self.low) + _f(self.mode) + _f(self.high)) / 3
        return _f(self.mean)


def _f(x: float | None) -> float:
    return 0.0 if x is None else float(x)


def _lognormal(d: Dist, rng: np.random.Generator, size: int | None) -> Any:
    mean, cv = _f(d.mean), _f(d.cv)
    if mean == 0:
        return np.zeros(size) if size is not None else 0.0
    sigma2 = np.log1p(cv * cv)
    return rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), size)


def _gamma(d: Dist, rng: np.random.Generator, size: int | None) -> Any:
    mean, cv = _f(d.mean), _f(d.cv)
    if mean == 0 or cv == 0:
        return np.full(size, mean) if size is not None else mean
    shape = 1.0 / (cv * cv)
    return rng.gamma(shape, mean / shape, size)


def _constant(d: Dist, rng: np.random.Generator, size: int | None) -> Any:
    return np.full(size, _f(d.mean)) if size is not None else _f(d.mean)


def _exponential(d: Dist, rng: np.random.Generator, size: int | None) -> Any:
    return rng.exponential(_f(d.mean), size)


def _normal(d: Dist, rng: np.random.Generator, size: int | None) -> Any:
    return np.maximum(rng.normal(_f(d.mean), _f(d.mean) * _f(d.cv), size), 0.0)


def _uniform(d: Dist, rng: np.random.Generator, size: int | None) -> Any:
    return rng.uniform(_f(d.low), _f(d.high), size)


def _triangular(d: Dist, rng: np.random.Generator, size: int | None) -> Any:
    low, mode, high = _f(d.low), _f(d.mode), _f(d.high)
    if low == high:
        return np.full(size, low) if size is not None else low
    return rng.triangular(low, mode, high, size)


_SAMPLERS = {
    "constant": _constant,
    "exponential": _exponential,
    "lognormal": _lognormal,
    "gamma": _gamma,
    "uniform": _uniform,
    "triangular": _triangular,
    "normal": _normal,
}

# Which parameters each distribution kind needs; checked by the loader with the dotted key.
DIST_PARAMS: dict[str, tuple[str, ...]] = {
    "constant": ("mean",),
    "exponential": ("mean",),
    "lognormal": ("mean", "cv"),
    "gamma": ("mean", "cv"),
    "normal": ("mean", "cv"),
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
}


class Assumption(Frozen):
    """A figure the law or statistics do not confirm, carried by name with its source."""

    value: str
    source: str


class Meta(Frozen):
    """Name, description, legal basis and seed of a scenario.

    ``legal_basis`` names the instrument whose time limits and procedure codes the scenario
    encodes (Decree 63/2024 from mid-2024; TTLT 05/2015 before it — DOMAIN.md §1); required, so
    every scenario says which era's rules it runs (a derived file inherits its base's).
    """

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    description: str = ""
    legal_basis: str = Field(min_length=1)
    seed: int = Field(default=20250701, ge=0, lt=2**63)
    tags: tuple[str, ...] = ()


class Region(Frozen):
    """Where the dossiers come from.

    ``units = "vietnam-provinces"`` takes the post-2025 wards/communes of ``province`` from the
    ``vietnam-provinces`` package (Hanoi: 126); ``units = "counts"`` uses ``districts`` and
    ``communes`` as plain counts (the 2022 structure: 30 districts, 579 communes).
    ``scope = "national"`` spreads the population over ``provinces`` provinces.
    """

    name: str
    scope: Literal["province", "national"] = "province"
    province: str = "Hà Nội"
    id_code: str = Field(default="001", pattern=r"^\d{3}$")
    bhyt_code: str = Field(default="01", pattern=r"^\d{2}$")
    units: Literal["vietnam-provinces", "counts"] = "vietnam-provinces"
    districts: int = Field(default=0, ge=0)
    communes: int = Field(default=126, ge=1)
    provinces: int = Field(default=1, ge=1, le=63)
    population: int = Field(default=8_587_141, ge=1)


_ALL_DAY = ("00:00-24:00",)


class CalendarSpec(Frozen):
    """Working calendar shared by the agencies unless an agency overrides its hours.

    Statutory working days are Monday to Friday minus public holidays and ``closures``, plus the
    official make-up days and ``extra_working_days``, whatever desks are staffed: they count
    every time limit. ``weekday_hours`` are the working days' office hours; ``saturday_hours``
    open desks on Saturdays for receiving and serving only — a Saturday never counts toward a
    time limit, and a dossier received on it counts from the next working day; ``sunday_hours``
    and ``holiday_hours`` (public holidays; ``closures`` stay closed) likewise. Desks open around
    the clock: all four ``["00:00-24:00"]``, which ``around_the_clock = true`` sets (replacing
    any hours, inherited ones included).
    """

    @model_validator(mode="before")
    @classmethod
    def _around_the_clock(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("around_the_clock") is True:
            kinds = ("weekday_hours", "saturday_hours", "sunday_hours", "holiday_hours")
            data = {**data, **dict.fromkeys(kinds, _ALL_DAY)}
        return data

    start: date = date(2026, 3, 9)
    timezone: str = "Asia/Ho_Chi_Minh"
    around_the_clock: bool = False
    weekday_hours: tuple[Interval, ...] = ("07:30-11:30", "13:00-17:00")
    saturday_hours: tuple[Interval, ...] = ()
    sunday_hours: tuple[Interval, ...] = ()
    holiday_hours: tuple[Interval, ...] = ()
    cutoff: Hhmm = "15:00"
    closures: tuple[tuple[date, date], ...] = ()
    extra_working_days: tuple[date, ...] = ()

    @field_validator("start")
    @classmethod
    def _monday(cls, value: date) -> date:
        if value.weekday() != 0:
            raise ValueError(f"must be a Monday, got {value.isoformat()} ({value:%A})")
        return value


class Agency(Frozen):
    """An agency: names, capacity and (optionally) its own hours and base URL."""

    name_vi: str
    name_en: str
    level: str = ""
    desks: int = Field(default=1, ge=0)
    servers: int = Field(default=1, ge=0)
    weekday_hours: tuple[Interval, ...] | None = None
    saturday_hours: tuple[Interval, ...] | None = None
    sunday_hours: tuple[Interval, ...] | None = None
    holiday_hours: tuple[Interval, ...] | None = None
    base_url: str | None = Field(default=None, pattern=r"^https?://")
    assumption: str | None = None


class Retry(Frozen):
    """How long the portal keeps retrying a step's transient failures (timeouts, connection
    errors, 408/425/429/5xx) before the dossier ends ``failed`` with the reason.

    ``within``: the step's budget in scenario time from its first transient failure (default
    three days: the birth group's whole deadline); ``attempts``: at most this many retries
    (0: no count limit, the time budget alone); ``backoff``: ``[base, cap]`` in scenario minutes
    of the full-jitter exponential backoff between attempts (the n-th waits a uniform draw in
    ``[0, min(cap, base·2ⁿ)]``). The budget is scenario data, so a run at any compression retries
    the same way in scenario time.
    """

    within: Minutes = Field(default=4320.0, gt=0)
    attempts: int = Field(default=0, ge=0)
    backoff: tuple[Positive, Positive] = (1.0, 60.0)

    @model_validator(mode="after")
    def _base_under_cap(self) -> Retry:
        if self.backoff[0] > self.backoff[1]:
            raise ValueError(f"backoff base {self.backoff[0]} is above its cap {self.backoff[1]}")
        return self


class Step(Frozen):
    """One procedure of a linked service, done by one agency.

    ``limit_wd`` is the statutory limit in working days from the step's receipt (0 = the same
    working day, 15:00 rule); ``desk_time`` is a person's handling time in minutes and
    ``system_time`` the system's processing time in minutes. ``after`` lists the steps that must
    finish first; ``when_status`` restricts a death-group step to deceased with those statuses;
    ``retry`` overrides the portal's retry budget (``load.portal_retry``) for this step.
    """

    agency: AgencyId
    task: str
    name_vi: str = ""
    after: tuple[str, ...] = ()
    limit_wd: float | None = Field(default=None, ge=0)
    desk_time: Dist | None = None
    system_time: Dist | None = None
    when_status: tuple[DeathStatus, ...] | None = None
    retry: Retry | None = None
    assumption: str | None = None


class Variant(Frozen):
    """A variant of a linked service: its steps and its share of the service's dossiers.

    ``deadline_wd`` / ``verification_deadline_wd`` (optional) give the variant a time limit of
    its own (TTLT 05/2015: 15 WD for KS + BHYT within the 20-WD group, DOMAIN.md §1); unset, the
    service's apply. A variant with only ``deadline_wd`` gets the service's extension for
    verification on top of it. ``tthc_code`` (optional) is the variant's own procedure code
    where it has one (DOMAIN.md §5); unset, the service's.
    """

    steps: tuple[str, ...] = Field(min_length=1)
    share: Share
    code: str = ""
    name_vi: str = ""
    tthc_code: str = ""
    deadline_wd: float | None = Field(default=None, ge=0)
    verification_deadline_wd: float | None = Field(default=None, ge=0)


class Service(Frozen):
    """A linked service (birth or death group): variants, deadlines and channel mix."""

    name_vi: str
    name_en: str
    tthc_code: str = ""
    deadline_wd: float = Field(ge=0)
    verification_deadline_wd: float = Field(ge=0)
    verification_share: Share = 0.0
    incomplete_share: Share = 0.0
    supplement_wd: float = Field(default=7, ge=0)
    supplement_share: Share = 0.8
    supplement_delay_wd: Dist = Dist(kind="uniform", low=0.5, high=6.0)
    online_share: Share = 0.5
    variants: dict[str, Variant] = Field(min_length=1)
    assumption: str | None = None

    def limit_wd(self, variant: str, verification: bool) -> float:
        """The time limit in WD of a dossier of ``variant``: the variant's own when it has one,
        else the service's (``verification_deadline_wd`` with verification)."""
        v = self.variants[variant]
        base = self.deadline_wd if v.deadline_wd is None else v.deadline_wd
        if not verification:
            return base
        if v.verification_deadline_wd is not None:
            return v.verification_deadline_wd
        return base + (self.verification_deadline_wd - self.deadline_wd)

    def limits_wd(self, variant: Any, verification: Any) -> npt.NDArray[np.float64]:
        """:meth:`limit_wd` of each dossier: ``variant`` indices into ``variants`` (in order) and
        ``verification`` flags, arrays of one shape."""
        names = list(self.variants)
        plain = np.array([self.limit_wd(n, False) for n in names], dtype=np.float64)
        checked = np.array([self.limit_wd(n, True) for n in names], dtype=np.float64)
        idx = np.asarray(variant, dtype=np.int64)
        return np.where(np.asarray(verification, dtype=bool), checked[idx], plain[idx])


class ArrivalRate(Frozen):
    """The explicit arrival-rate mode (``demand.rate``): dossiers submitted as a homogeneous
    Poisson process at these rates per hour (× ``demand.multiplier``), around the clock."""

    births_per_hour: float = Field(default=0.0, ge=0)
    deaths_per_hour: float = Field(default=0.0, ge=0)


class Demand(Frozen):
    """How many dossiers arrive and when.

    ``births_per_wd``/``deaths_per_wd`` are dossiers per working day in steady state; profiles
    are relative weights (normalised by the arrival generator). ``lag_*`` are registration lags
    in days. ``death_status`` gives the shares of deceased by status (funeral payer).

    ``rate`` switches to the explicit arrival-rate mode: submissions are a Poisson process at
    ``rate.births_per_hour``/``deaths_per_hour`` every hour of every day, each dossier at its own
    time whatever its channel — no registration lag, no weekday, hour or month profile, no lunar
    factor, and ``births_per_wd``/``deaths_per_wd`` unused (the queueing textbook's λ, e.g. for an
    M/M/c check). Surges and incomplete shares still apply.
    """

    births_per_wd: float = Field(ge=0)
    deaths_per_wd: float = Field(ge=0)
    multiplier: Positive = 1.0
    weekday_profile: tuple[float, ...] = Field(default=(1.0,) * 7, min_length=7, max_length=7)
    online_hour_profile: tuple[float, ...] = Field(default=(1.0,) * 24, min_length=24, max_length=24)
    desk_hour_profile: tuple[float, ...] = Field(default=(1.0,) * 24, min_length=24, max_length=24)
    birth_month_profile: tuple[float, ...] = Field(default=(1.0,) * 12, min_length=12, max_length=12)
    death_month_profile: tuple[float, ...] = Field(default=(1.0,) * 12, min_length=12, max_length=12)
    lunar_year_factor: dict[str, Positive] = Field(default_factory=dict)
    lag_birth_days: Dist = Dist(kind="gamma", mean=14.0, cv=0.8, max=60.0)
    lag_death_days: Dist = Dist(kind="gamma", mean=3.0, cv=0.9, max=15.0)
    death_status: dict[DeathStatus, Share] = Field(default_factory=dict)
    age_at_death: Dist = Dist(kind="normal", mean=74.0, cv=0.2, max=105.0)
    rate: ArrivalRate | None = None

    @field_validator(
        "weekday_profile",
        "online_hour_profile",
        "desk_hour_profile",
        "birth_month_profile",
        "death_month_profile",
    )
    @classmethod
    def _non_negative(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        bad = [v for v in value if v < 0 or v != v]
        if bad:
            raise ValueError(f"weights must be non-negative, got {bad[0]!r}")
        if not any(value):
            raise ValueError("at least one weight must be positive")
        return value


class Fault(Frozen):
    """A fault on the timeline, applied to one agency (or ``"*"``) from ``start`` to ``end``.

    Kinds and the parameters they use: ``latency`` (``latency`` in ms), ``error`` (``rate``,
    ``status``), ``outage``, ``slow_pid`` (``delay`` in minutes of issuance), ``lost_attachment``
    (``rate``), ``duplicate_delivery`` (``rate``), ``delivery_delay`` (``delay`` in minutes),
    ``code_mismatch`` (``rate``), ``wrong_card_expiry`` (``rate``), ``false_rejection``
    (``rate``, ``status``), ``surge`` (see below), ``incomplete`` (``rate`` of
    incomplete dossiers), ``slow_polling`` (on the portal: ``delay`` in minutes between its
    polls of an agency's work in progress; the twin assumes a perfect portal).

    A ``surge`` never invents life events (``sim.arrivals``; README "Surges"). It is one of:

    - a **shift**: ``events = [from, to]`` — the dossiers of the life events of that window that
      would have been submitted before ``end`` are, with probability ``share`` (default 1),
      submitted in ``[start, end)`` instead, spread over its office hours (desk) or its online
      hour profile (online): a backlog arriving late (Tết);
    - a **concentration**: ``factor`` alone — above 1, the dossiers due in the ``(factor − 1) ×
      (end − start)`` after the window come inside it (a rush); below 1, a share ``1 − factor``
      of the window's dossiers is put off to the ``(1 − factor) × (end − start)`` after it;
    - **extra demand of a named kind**: ``extra`` (one of :data:`SURGE_EXTRA`) and ``factor`` —
      non-dossier traffic of ``(factor − 1) ×`` the window's dossiers, on the endpoints and
      resources of its kind, never linked dossiers.
    """

    kind: FaultKind
    agency: Literal["health", "justice", "police", "vss", "social", "portal", "*"] = "*"
    start: Minutes = 0.0
    end: Minutes
    rate: Share | None = None
    status: int | None = Field(default=None, ge=400, le=599)
    latency: Dist | None = None
    delay: Dist | None = None
    factor: Positive | None = None
    events: tuple[Minutes, Minutes] | None = None
    share: Share | None = None
    extra: SurgeExtra | None = None
    incident: str = ""
    note: str = ""


# Which parameters each fault kind needs; checked by the loader with the dotted key.
FAULT_PARAMS: dict[str, tuple[str, ...]] = {
    "latency": ("latency",),
    "error": ("rate", "status"),
    "outage": (),
    "slow_pid": ("delay",),
    "lost_attachment": ("rate",),
    "duplicate_delivery": ("rate",),
    "delivery_delay": ("delay",),
    "code_mismatch": ("rate",),
    "wrong_card_expiry": ("rate",),
    "false_rejection": ("rate", "status"),
    "surge": (),  # factor, events or extra: checked by the loader (scenarios.loader)
    "incomplete": ("rate",),
    "slow_polling": ("delay",),
}

_THRESHOLD = re.compile(
    r"^\s*(?P<stat>[a-z][a-z0-9_]*)\s*(?P<op><=|>=|<|>|==)\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>wd|ms|s|%)?\s*$"
)
THRESHOLD_STATS = ("p50", "p90", "p95", "p99", "max", "mean", "rate", "attainment", "count")


class Threshold(Frozen):
    """A k6-style threshold on a metric: ``"p95 <= 3wd"`` on ``birth.e2e``."""

    metric: str = Field(pattern=r"^[a-z_]+(\.[a-z0-9_]+)+$")
    expr: str
    abort: bool = False

    @field_validator("expr")
    @classmethod
    def _expr(cls, value: str) -> str:
        m = _THRESHOLD.match(value)
        if not m:
            raise ValueError(f"not a threshold: {value!r} (write e.g. 'p95 <= 3wd', 'rate < 0.01')")
        if m["stat"] not in THRESHOLD_STATS:
            raise ValueError(f"unknown statistic {m['stat']!r}; use one of {', '.join(THRESHOLD_STATS)}")
        return value

    @property
    def parts(self) -> tuple[str, str, float, str]:
        """``(stat, op, value, unit)`` with ``%`` turned into a fraction."""
        m = _THRESHOLD.match(self.expr)
        assert m is not None  # validated at construction
        value, unit = float(m["value"]), m["unit"] or ""
        if unit == "%":
            value, unit = value / 100, ""
        return m["stat"], m["op"], value, unit


class Stage(Frozen):
    """One stage of a closed-model load shape (Locust LoadTestShape)."""

    duration: Minutes
    users: int = Field(ge=0)
    spawn_rate: Positive = 10.0


class Load(Frozen):
    """Settings of live runs: time compression, bounds, the closed-model stages, and how the
    reference fakes spend time.

    ``agencies``: ``"in_time"`` (the default) puts each step's desk and system time on the
    agency's desks and calendar (``scenarios.desks``, the twin's model) on the compressed clock:
    a write is accepted at once (202 and a work resource) and done when a desk has served it.
    ``"instant"`` answers every write at once (201), as systems with no people behind them.
    ``portal_poll_minutes``: how often the reference portal polls an agency's work in progress
    when the agency does not announce when it will be done (scenario minutes).
    ``portal_retry``: how the reference portal retries a step's transient failures and when it
    gives the dossier up as ``failed`` (:class:`Retry`; a step's own ``retry`` wins).
    """

    speed: Positive = 720.0
    agencies: Literal["in_time", "instant"] = "in_time"
    portal_poll_minutes: Positive = 5.0
    portal_retry: Retry = Retry()
    days: int = Field(default=1, ge=1)
    max_dossiers: int = Field(default=1_000_000, ge=1)
    max_seconds: Positive = 600.0
    poll_interval_s: Positive = 0.5
    request_timeout_s: Positive = 10.0
    stages: tuple[Stage, ...] = ()


class SimSettings(Frozen):
    """Settings of the SimPy twin."""

    days: int = Field(default=28, ge=1)
    replications: int = Field(default=5, ge=1)
    warmup_days: float = Field(default=7, ge=0)


class Caller(Frozen):
    """An API caller: its key (synthetic, for the fakes) and what it may do.

    For role ``citizen`` the key is not sent as is: it is the issuer secret of one key per
    citizen, ``cit-<pid>-<HMAC-SHA256(key, pid), 32 hex>`` (``fakes.citizen_keys.citizen_key``,
    fakes/CONTRACT.md §2), each with this caller's scopes and bound to that citizen's PID.
    ``shared`` (citizens only, off by default): the configured key also works as it is, as one
    key shared by every citizen — it submits for any applicant and reads the dossiers submitted
    with it — for load tests that ask for it rather than deriving a key per citizen.
    """

    key: str = Field(min_length=8)
    role: Literal["hospital", "desk", "citizen", "portal", "agency", "admin", "auditor"]
    agency: AgencyId | None = None
    scopes: tuple[str, ...] = ()
    shared: bool = False

    @field_validator("key")
    @classmethod
    def _not_a_citizen_key(cls, key: str) -> str:
        if key.startswith("cit-"):
            raise ValueError("keys starting with 'cit-' are citizen keys, derived per citizen from a "
                             "citizen caller's key (fakes/CONTRACT.md §2); choose another key")
        return key

    @model_validator(mode="after")
    def _shared_is_for_citizens(self) -> Caller:
        if self.shared and self.role != "citizen":
            raise ValueError(f"shared is for a citizen caller's key; this caller's role is {self.role!r}")
        return self


class Rate(Frozen):
    """An amount in VND in force from a date."""

    since: date
    vnd: int = Field(gt=0)


class Money(Frozen):
    """Base pay and standard social-assistance level over time (DOMAIN.md §6).

    ``emergency_funeral_multiple``: emergency funeral support (a death from disaster, fire,
    epidemic, traffic or serious work accident) in standard levels (ND 20/2021 Art. 14: ≥ 50).
    ``merit_standard``: the standard level of allowances for people with revolutionary merit
    (mức chuẩn trợ cấp ưu đãi); their relatives get ``merit_lump_sum_months`` months of it as a
    lump sum besides the funeral allowance (ND 131/2021 Art. 121: 3). Empty: no lump sum priced.
    """

    base_pay: tuple[Rate, ...] = Field(min_length=1)
    standard_level: tuple[Rate, ...] = Field(min_length=1)
    funeral_base_pay_multiple: Positive = 10
    social_funeral_multiple: Positive = 20
    emergency_funeral_multiple: Positive = 50
    merit_standard: tuple[Rate, ...] = ()
    merit_lump_sum_months: Positive = 3

    def amount_on(self, table: tuple[Rate, ...], day: date) -> int:
        """The rate in force on ``day``; raises ValueError if ``day`` precedes the table."""
        in_force = [r for r in table if r.since <= day]
        if not in_force:
            raise ValueError(f"no rate in force on {day.isoformat()} (table starts {table[0].since})")
        return max(in_force, key=lambda r: r.since).vnd


class Scenario(Frozen):
    """A whole scenario. Build it with :func:`scenarios.load`, which checks cross-references."""

    meta: Meta
    region: Region
    calendar: CalendarSpec = CalendarSpec()
    agencies: dict[AgencyId, Agency]
    steps: dict[str, Step]
    services: dict[ServiceId, Service]
    demand: Demand
    faults: tuple[Fault, ...] = ()
    thresholds: tuple[Threshold, ...] = ()
    load: Load = Load()
    sim: SimSettings = SimSettings()
    callers: dict[str, Caller] = Field(default_factory=dict)
    money: Money
    assumptions: dict[str, Assumption] = Field(default_factory=dict)

    def steps_of(self, agency: str) -> list[str]:
        """The step ids ``agency`` performs."""
        return [sid for sid, step in self.steps.items() if step.agency == agency]

    def faults_at(self, minute: float, agency: str | None = None) -> list[Fault]:
        """Faults active at ``minute`` (for ``agency`` and ``"*"`` when given)."""
        return [
            f
            for f in self.faults
            if f.start <= minute < f.end and (agency is None or f.agency in (agency, "*"))
        ]

    def dossiers_per_wd(self) -> dict[str, dict[str, float]]:
        """Expected dossiers per working day by service and variant (after the multiplier)."""
        volume = {"birth": self.demand.births_per_wd, "death": self.demand.deaths_per_wd}
        return {
            sid: {vid: volume[sid] * self.demand.multiplier * v.share for vid, v in svc.variants.items()}
            for sid, svc in self.services.items()
        }
