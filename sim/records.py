"""Record types of the twin: the flat tables it emits and the result objects it returns.

API changes (newest first; the public names below are stable otherwise):

- **``sim.stats`` is split by what it holds** (the names exported by ``sim`` are unchanged):
  ``sim.metrics`` (``metrics``, ``lookup``), ``sim.replications`` (``run_replications``,
  ``summarize``), ``sim.confidence`` (``t_quantile``, ``student_t``, ``mean_ci``),
  ``sim.queueing`` (``erlang_c_wait``, ``little``, ``LITTLE_TOLERANCE``) and ``sim.warmup``
  (``mser5``, ``default_warmup``); the streaming aggregates are private (``sim._accumulator``).
- **Open items are censored, not dropped.** Records of steps and dossiers still open at the
  horizon carry their times *so far* (``wait``, ``sojourn``, ``elapsed_wd``/``e2e_wd``,
  ``office_wd`` measured up to the horizon; ``end``/``completed`` stay ``nan``). In the metrics
  they enter every duration mean and percentile as lower bounds (right-censored observations),
  and those already past their ``due`` count as late in ``attainment`` (and
  ``weekly_attainment``): attainment = within / (done + open past due). New counts
  ``open_late`` (services and steps). Before, a growing backlog was invisible: with too few
  desks the stuck dossiers never finished, so the finished ones looked on time.
  ``sim.stats.t_quantile(p, df)`` and ``mean_ci(values, level)`` are the one Student-t
  (``sim.sizing.t_quantile`` is gone); ``run_replications(..., keep_first=True)`` returns
  replication 0's ``SimResult`` in ``SimSummary.first``.
- ``e2e_wd`` (dossiers) and ``elapsed_wd`` (steps) now count working days in the convention of
  the statutory limits (0 = the received day), so ``p95 <= 3wd`` and attainment agree; the plain
  office time moved to the new ``office_wd`` fields.
- ``little`` gained ``identity_error`` and ``steady_state_ok``; ``ok`` is the exact
  finite-window identity (see ``sim.stats``). ``SimResult`` gained ``system_minutes``.
  ``run()`` gained ``stream=`` (replay a given arrival stream).

Tables (numpy structured arrays, one row per item; times are minutes since the scenario's start,
a Monday 00:00 local time; ``nan`` marks "did not happen before the horizon"):

- ``ARRIVAL_DTYPE`` — one row per dossier submitted (``sim.arrivals.arrivals``), sorted by
  ``submitted``; ``dossier`` is 0..n-1 in that order. ``service`` indexes ``SERVICES``,
  ``variant`` the service's variants in scenario order, ``channel`` ``CHANNELS``, ``status``
  ``scenarios.model.DEATH_STATUSES`` for deaths (``NO_STATUS`` for births). ``citizen`` is the
  index of the event's person within its service (the mother for a birth, the deceased for a
  death); the people generator allocates the same indices.
- ``STEP_DTYPE`` — one row per dossier step that became ready (skipped steps, e.g. the funeral
  payer that does not apply, have no row). ``step`` indexes ``SimResult.step_names`` (the
  scenario's steps in file order), ``agency`` indexes ``scenarios.model.AGENCY_IDS``.
  ``ready`` → ``start`` (desk or, without a desk phase, system work begins) → ``desk_end`` →
  ``sys_start`` → ``end``. ``wait`` is the clock time spent queueing (desk + system queue),
  ``sojourn`` = ``end - ready``; ``elapsed_wd`` is the working days used in the convention of
  ``limit_wd`` (0 = done on the day it was received with the 15:00 rule; 2.5 = halfway through the
  2nd WD after it), so ``elapsed_wd <= limit_wd`` matches ``within_limit``; ``office_wd`` is the
  plain office time from ``ready`` to ``end`` in WD. ``due`` is the statutory limit (15:00 rule)
  and ``within_limit`` is ``end <= due``. ``done`` is False for a step still queued or in work at the
  horizon: its ``end`` is ``nan`` and ``wait``, ``sojourn``, ``elapsed_wd``, ``office_wd`` are
  measured up to the horizon (lower bounds; ``within_limit`` False).
- ``DOSSIER_DTYPE`` — one row per dossier: every arrival ends in exactly one ``state``
  (``DONE``, ``REFUSED`` or ``OPEN`` at the horizon). ``received`` is when the complete dossier
  is in (after supplementation for an incomplete one; ``nan`` if refused first), ``clock_start``
  when the statutory clock starts (the 15:00 rule), ``due`` the group deadline
  (``deadline_wd``, longer with verification), ``e2e_wd`` the working days used in the
  convention of ``deadline_wd`` (so ``e2e_wd <= deadline_wd`` matches ``within_deadline``, bar
  work finished after closing time on the due day), ``office_wd`` the plain office time from
  ``clock_start`` to ``completed`` in WD, ``sojourn`` = ``completed - submitted`` in minutes.
  For an ``OPEN`` dossier these durations run up to the horizon instead (lower bounds; its
  working days only once received — one still waiting for supplementation has ``nan``); for a
  ``REFUSED`` one ``sojourn`` runs to the refusal and the working days are ``nan``.
- ``TIMELINE_DTYPE`` — one row per hour of the horizon (a snapshot at ``t``): dossiers in the
  system and per agency (``AGENCY_IDS`` order) desk/system queue and busy counts, plus their
  cumulative time integrals since minute 0, so any window's time average is a difference.
  ``desk_busy_area`` integrates busy desks over *office* time only (a task paused by a closure
  does not count), so utilisation = Δarea / (desks × Δoffice minutes).

Metrics (``sim.metrics.metrics(result)`` for one replication, ``SimSummary.metrics`` across
replications; a plain JSON-ready dict). Every figure is a *stat*: in one replication a float (or
None when undefined, e.g. a percentile of nothing); in a summary ``{"mean": m, "ci95": [lo, hi]
or None (fewer than 2 replications), "values": [per replication]}``. Durations: ``*_min`` in
clock minutes, ``*_wd`` in working days::

    {"scenario", "seed", "days", "warmup_days", "replications", "capacity": {agency: [desks, servers]},
     "services": {"birth": {"deadline_wd", "verification_deadline_wd",
                            "arrivals", "done", "refused", "open",      # counts after warm-up
                            "open_late",                                # open and past due at the horizon
                            "attainment",                               # within / (done + open_late)
                            "refusal_rate",
                            "e2e_wd": {"mean", "p50", "p90", "p95", "p99", "max"},
                            "sojourn_min": {"mean", "p50", "p90", "p95", "p99", "max"},
                            "weekly_attainment": [per week of the horizon]}},
     "steps": {"ks": {"agency", "limit_wd", "count", "open",             # open = backlog at horizon
                      "open_late",                                       # open and past due (after warm-up)
                      "attainment",                                      # within / (done + open_late)
                      "wait_min": {...percentiles}, "sojourn_min": {...}, "elapsed_wd": {...}}},
     "agencies": {"justice": {"desks", "servers", "desk_utilisation", "system_utilisation",
                              "desk_queue_mean", "system_queue_mean",   # time-weighted lengths
                              "utilisation_by_hour": [168 values, Monday 00h first; None when closed]}},
     "backlog": {"open_at_horizon", "hourly_wip": [per hour]},
     "little": {"L", "lambda_per_min", "W_min", "lambda_W", "rel_error", "identity_error",
                "ok", "steady_state_ok"},                       # see sim.queueing
     "warmup": {"declared_days", "mser5_days"},
     "events", "wall_s"}

Censoring rule: every duration statistic (``e2e_wd``, ``sojourn_min``, ``wait_min``,
``elapsed_wd``) counts the items open at the horizon with their time so far, so a percentile is a
lower bound of the true one when items are open (exact when none is); ``weekly_attainment`` is
per week of submission with the same denominator as ``attainment``.

In a summary the lists (``weekly_attainment``, ``utilisation_by_hour``, ``hourly_wip``) are the
element-wise mean over replications, and ``little.ok`` is True only if every replication passed.
``sim.metrics.lookup(metrics, "birth.e2e", "p95")`` reads a threshold's figure (``"attainment"``,
``"count"``, ``"mean"``, ``pNN``, ``"max"``) in working days for ``e2e``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scenarios.model import AGENCY_IDS

__all__ = [
    "ARRIVAL_DTYPE",
    "CHANNELS",
    "DONE",
    "DOSSIER_DTYPE",
    "FROM_ARRIVALS",
    "NO_STATUS",
    "OPEN",
    "REFUSED",
    "SERVICES",
    "STATES",
    "STEP_DTYPE",
    "TIMELINE_DTYPE",
    "SimResult",
    "SimSummary",
]

SERVICES = ("birth", "death")
CHANNELS = ("online", "desk")
STATES = ("done", "refused", "open")
DONE, REFUSED, OPEN = 0, 1, 2
NO_STATUS = 255
_NA = len(AGENCY_IDS)

ARRIVAL_DTYPE = np.dtype(
    [
        ("dossier", "i8"),
        ("service", "u1"),
        ("variant", "u1"),
        ("submitted", "f8"),
        ("channel", "u1"),
        ("citizen", "i8"),
        ("status", "u1"),
        ("verification", "?"),
        ("incomplete", "?"),
    ]
)

STEP_DTYPE = np.dtype(
    [
        ("dossier", "i8"),
        ("service", "u1"),
        ("variant", "u1"),
        ("step", "u1"),
        ("agency", "u1"),
        ("ready", "f8"),
        ("start", "f8"),
        ("desk_end", "f8"),
        ("sys_start", "f8"),
        ("end", "f8"),
        ("desk_time", "f8"),
        ("system_time", "f8"),
        ("retries", "u2"),
        ("wait", "f8"),
        ("sojourn", "f8"),
        ("elapsed_wd", "f8"),
        ("office_wd", "f8"),
        ("due", "f8"),
        ("within_limit", "?"),
        ("done", "?"),
    ]
)

# A dossier row starts with its arrival's fields (less ``citizen``).
FROM_ARRIVALS = (
    "dossier",
    "service",
    "variant",
    "channel",
    "status",
    "verification",
    "incomplete",
    "submitted",
)

DOSSIER_DTYPE = np.dtype(
    [
        *((name, ARRIVAL_DTYPE[name]) for name in FROM_ARRIVALS),
        ("received", "f8"),
        ("clock_start", "f8"),
        ("due", "f8"),
        ("completed", "f8"),
        ("state", "u1"),
        ("deadline_wd", "f8"),
        ("e2e_wd", "f8"),
        ("office_wd", "f8"),
        ("sojourn", "f8"),
        ("within_deadline", "?"),
    ]
)

TIMELINE_DTYPE = np.dtype(
    [
        ("t", "f8"),
        ("wip", "i8"),
        ("wip_area", "f8"),
        ("desk_queue", "i8", (_NA,)),
        ("desk_queue_area", "f8", (_NA,)),
        ("desk_busy", "i8", (_NA,)),
        ("desk_busy_area", "f8", (_NA,)),
        ("sys_queue", "i8", (_NA,)),
        ("sys_queue_area", "f8", (_NA,)),
        ("sys_busy", "i8", (_NA,)),
        ("sys_busy_area", "f8", (_NA,)),
    ]
)


@dataclass
class SimResult:
    """One replication of the twin.

    ``steps`` and ``dossiers`` hold every record when the run kept them (``keep=True``), else
    they are empty and the records went only to the sink; ``accumulator`` always holds the
    streaming aggregates (fixed histograms, per-day sums) that ``sim.metrics.metrics`` reads, so
    replications can run in worker processes and send back kilobytes, not records.
    """

    scenario: str
    seed: int
    replication: int
    days: int
    horizon: float
    step_names: tuple[str, ...]
    variant_names: dict[str, tuple[str, ...]]
    capacity: dict[str, tuple[int, int]]
    steps: np.ndarray
    dossiers: np.ndarray
    timeline: np.ndarray
    accumulator: Any
    arrivals: int
    events: int
    wall_s: float
    office_minutes: np.ndarray = field(default_factory=lambda: np.zeros((0, _NA)))
    """Open desk (office) minutes per hour of the horizon and agency, shape ``(hours, agencies)``."""
    system_minutes: np.ndarray = field(default_factory=lambda: np.zeros((0, _NA)))
    """Minutes the systems are up (not in an outage) per hour and agency, same shape."""


@dataclass
class SimSummary:
    """Independent replications of one scenario and capacity: the metrics with 95% CIs.

    ``metrics`` is the plain JSON-ready dict documented above (what ``metrics.json``
    holds); ``replications`` the per-replication metric dicts in replication order.
    """

    scenario: str
    seed: int
    days: int
    warmup_days: float
    capacity: dict[str, tuple[int, int]]
    metrics: dict[str, Any]
    replications: list[dict[str, Any]]
    wall_s: float
    first: SimResult | None = None
    """Replication 0 itself when ``run_replications(..., first=...)`` asked for it (for plots)."""
