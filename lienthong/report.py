"""Run reports shared by every command (``sim``, ``size``, ``run``, ``certify``).

A :class:`Report` is built from data — a title, a first-sentence verdict, key figures, sections of
tables and PNG figures, threshold results and checks — and :meth:`Report.write` turns it into
``report.html`` (self-contained), ``report.md`` (figures beside it), ``junit.xml`` (one testcase
per threshold and check) and ``metrics.json``. Every piece of text is scrubbed of personal
identifiers on the way out.

>>> from scenarios import load
>>> results = evaluate_thresholds(load().thresholds, {"birth.e2e": {"p95": 1.2, "unit": "wd"}})
>>> results[0].status
'pass'
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lienthong._report_format import Estimate, fmt_limit, fmt_value, mask_id, scrub, unit_label
from lienthong._report_html import render_html
from lienthong._report_junit import render_junit
from lienthong._report_md import render_markdown
from scenarios.model import Threshold

__all__ = [
    "Check",
    "Estimate",
    "Figure",
    "KeyFigure",
    "Report",
    "Section",
    "Table",
    "ThresholdResult",
    "evaluate_thresholds",
    "mask_id",
    "read_metrics",
    "scrub",
    "verdict_from_thresholds",
]

Status = Literal["pass", "fail", "not measured"]
Cell = str | int | float | Estimate | None


@dataclass(frozen=True)
class KeyFigure:
    """One headline number: ``KeyFigure("birth p95", Estimate(1.2, 0.1, "wd"), status="pass")``."""

    label: str
    value: Cell
    unit: str = ""
    status: Literal["pass", "fail"] | None = None
    note: str = ""

    @property
    def text(self) -> str:
        """The value as printed."""
        return fmt_value(self.value, self.unit)


@dataclass(frozen=True)
class Table:
    """A table: column headings and rows of cells (text, numbers or :class:`Estimate`)."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    note: str = ""

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.title!r}: row {i} has {len(row)} cells, expected {len(self.columns)}"
                )

    def text_rows(self) -> list[list[str]]:
        """Every cell as printed."""
        return [[fmt_value(c) for c in row] for row in self.rows]


@dataclass(frozen=True)
class Figure:
    """A PNG figure on disk, with a title and an optional caption."""

    title: str
    path: Path
    caption: str = ""

    def __post_init__(self) -> None:
        if Path(self.path).suffix.lower() != ".png":
            raise ValueError(f"figure {self.title!r}: not a PNG file: {self.path}")


@dataclass(frozen=True)
class Section:
    """A titled section: paragraphs, then tables, then figures."""

    title: str
    text: Sequence[str] = ()
    tables: Sequence[Table] = ()
    figures: Sequence[Figure] = ()


@dataclass(frozen=True)
class Check:
    """A pass/fail check that is not a threshold (Little's law, conservation, reconciliation).

    A failing ``blocking`` check fails the run; a non-blocking one is a warning, shown but not
    counted in the exit code. A ``skipped`` check was not run: shown as "not run" (junit
    ``<skipped>``), never as passed, and not counted in the exit code. ``evidence`` (e.g. curl
    reproducers) goes into the junit testcase below the detail.
    """

    name: str
    passed: bool
    detail: str = ""
    group: str = "checks"
    blocking: bool = True
    skipped: bool = False
    evidence: str = ""

    def __post_init__(self) -> None:
        if self.skipped and self.passed:
            raise ValueError(f"check {self.name!r}: a check that was not run has not passed")

    @property
    def status(self) -> Literal["pass", "fail", "warning", "not run"]:
        """``'pass'``, ``'fail'``, ``'warning'`` (a non-blocking failure) or ``'not run'``."""
        if self.skipped:
            return "not run"
        return "pass" if self.passed else ("fail" if self.blocking else "warning")


@dataclass(frozen=True)
class ThresholdResult:
    """The outcome of one k6-style threshold.

    ``observed`` and ``half_width`` are in the threshold's unit; ``status`` is ``'not
    measured'`` when the run has no such metric or statistic (never silently a pass).
    """

    metric: str
    expr: str
    stat: str
    op: str
    limit: float
    unit: str
    observed: float | None
    status: Status
    half_width: float | None = None
    note: str = ""
    abort: bool = False

    @property
    def failed(self) -> bool:
        """True when the threshold is breached (or cannot be compared)."""
        return self.status == "fail"

    @property
    def observed_text(self) -> str:
        """The observed value as printed, with its ± half-width when known."""
        if self.observed is None:
            return "not measured"
        unit = "%" if self.stat in ("attainment", "rate") and not self.unit else self.unit
        return str(Estimate(self.observed, self.half_width, unit))

    @property
    def limit_text(self) -> str:
        """The limit as printed: ``'≤ 3 WD'``."""
        unit = "%" if self.stat in ("attainment", "rate") and not self.unit else self.unit
        sym = {"<=": "≤", ">=": "≥", "<": "<", ">": ">", "==": "="}[self.op]
        return f"{sym} {fmt_limit(self.limit, unit)}"

    def describe(self) -> str:
        """One line: ``'birth.e2e p95 = 4.6 WD (limit ≤ 3 WD): fail'``."""
        extra = f"; {self.note}" if self.note else ""
        seen = f"{self.metric} {self.stat} = {self.observed_text}"
        return f"{seen} (limit {self.limit_text}): {self.status}{extra}"


@dataclass(frozen=True)
class Report:
    """Everything a run reports. ``verdict`` is the first sentence a reader sees: the answer.

    ``metrics`` is written to ``metrics.json`` as given (JSON-serialisable: numbers, strings,
    lists, dicts; numpy scalars are converted); ``meta`` is shown as small print (run id,
    scenario, seed, digest).
    """

    title: str
    verdict: str
    key_figures: Sequence[KeyFigure] = ()
    sections: Sequence[Section] = ()
    thresholds: Sequence[ThresholdResult] = ()
    checks: Sequence[Check] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)
    notes: Sequence[str] = ()
    meta: Mapping[str, str] = field(default_factory=dict)
    #: the run's own exit code when it grades more finely than pass/fail (a certificate's
    #: CONDITIONAL PASS is 3); None: :attr:`exit_code` follows :attr:`passed`
    graded_exit_code: int | None = None

    def __post_init__(self) -> None:
        if not self.verdict.strip():
            raise ValueError("a report needs a verdict sentence")

    @property
    def passed(self) -> bool:
        """True when no threshold is breached and every blocking check passes."""
        return not any(t.failed for t in self.thresholds) and not any(
            c.status == "fail" for c in self.checks
        )

    @property
    def exit_code(self) -> int:
        """``graded_exit_code`` when given, else 0 when :attr:`passed` and 1 when not (like k6)."""
        if self.graded_exit_code is not None:
            return self.graded_exit_code
        return 0 if self.passed else 1

    def figures(self) -> list[Figure]:
        """Every figure in section order."""
        return [f for s in self.sections for f in s.figures]

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Writes report.html, report.md, junit.xml and metrics.json into ``folder``.

        PNG figures outside ``folder`` are copied into it so the Markdown can reference them.
        Returns the paths by kind (``'html'``, ``'md'``, ``'junit'``, ``'metrics'``).
        """
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "html": out / "report.html",
            "md": out / "report.md",
            "junit": out / "junit.xml",
            "metrics": out / "metrics.json",
        }
        paths["html"].write_text(render_html(self), encoding="utf-8")
        paths["md"].write_text(render_markdown(self, out), encoding="utf-8")
        paths["junit"].write_text(render_junit(self), encoding="utf-8")
        paths["metrics"].write_text(self.metrics_json(), encoding="utf-8")
        return paths

    def metrics_json(self) -> str:
        """The content of ``metrics.json``: metrics, thresholds, checks and the verdict."""
        doc = {
            "title": scrub(self.title),
            "verdict": scrub(self.verdict),
            "passed": self.passed,
            "exit_code": self.exit_code,
            "meta": {k: scrub(str(v)) for k, v in self.meta.items()},
            "metrics": _jsonable(self.metrics),
            "thresholds": [_threshold_doc(t) for t in self.thresholds],
            "checks": [
                {
                    "name": scrub(c.name),
                    "group": c.group,
                    "passed": c.passed,
                    "blocking": c.blocking,
                    **({"skipped": True} if c.skipped else {}),
                    "detail": scrub(c.detail),
                }
                for c in self.checks
            ],
        }
        return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def read_metrics(path: str | Path) -> dict[str, Any]:
    """Reads a ``metrics.json`` written by :meth:`Report.write` (a folder or the file)."""
    p = Path(path)
    if p.is_dir():
        p = p / "metrics.json"
    doc: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
    return doc


def _threshold_doc(t: ThresholdResult) -> dict[str, Any]:
    return {
        "metric": t.metric,
        "expr": t.expr,
        "stat": t.stat,
        "op": t.op,
        "limit": t.limit,
        "unit": t.unit,
        "observed": _finite(t.observed),
        "half_width": _finite(t.half_width),
        "status": t.status,
        "note": scrub(t.note),
    }


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def _jsonable(value: Any) -> Any:
    """Plain JSON data from metrics (numpy scalars/arrays, tuples, Estimates; NaN -> null)."""
    if isinstance(value, Estimate):
        return {"value": _finite(value.value), "half_width": _finite(value.half_width), "unit": value.unit}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _finite(value)
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, Iterable):
        return [_jsonable(v) for v in value]
    raise TypeError(f"metrics value of type {type(value).__name__} is not JSON data: {value!r}")


# --- thresholds ---------------------------------------------------------------------------------

# Seconds per unit of clock time; working days convert only to working days.
_CLOCK = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0}
_TIME_STATS = ("p50", "p90", "p95", "p99", "max", "mean")


def evaluate_thresholds(
    thresholds: Iterable[Threshold], metrics: Mapping[str, Mapping[str, Any]]
) -> list[ThresholdResult]:
    """Checks each threshold against ``metrics`` (metric name -> statistics).

    A statistic is a number, an :class:`Estimate`, or a mapping with ``value`` (or ``mean``)
    and optionally ``half_width`` or ``ci95: [low, high]`` (as in ``SimSummary.metrics``); the
    point value is compared and the half-width shown. A metric may declare its
    ``unit`` (``'wd'``, ``'ms'``, ``'s'``, ``'min'``, ``'h'``); clock units convert into the
    threshold's unit, working days only compare with working days (else the threshold fails,
    noting the mismatch). A missing metric or statistic, or a NaN value, is ``'not measured'``.
    """
    return [_evaluate(t, metrics) for t in thresholds]


def _evaluate(t: Threshold, metrics: Mapping[str, Mapping[str, Any]]) -> ThresholdResult:
    stat, op, limit, unit = t.parts

    def result(
        status: Status, observed: float | None = None, hw: float | None = None, note: str = ""
    ) -> ThresholdResult:
        return ThresholdResult(t.metric, t.expr, stat, op, limit, unit, observed, status, hw, note, t.abort)

    entry = metrics.get(t.metric)
    if entry is None:
        return result("not measured", note=f"this run has no metric {t.metric!r}")
    raw = entry.get(stat)
    if raw is None:
        return result("not measured", note=f"{t.metric} has no statistic {stat!r}")
    value, hw = _point(raw)
    if value is None or math.isnan(value):
        return result("not measured", note=f"{t.metric} {stat}: no observations")
    factor, problem = _conversion(stat, str(entry.get("unit", "")), unit)
    if problem:
        return result("fail", value, hw, note=problem)
    value, hw = value * factor, (None if hw is None else hw * factor)
    return result("pass" if _compare(value, op, limit) else "fail", value, hw)


def _point(raw: Any) -> tuple[float | None, float | None]:
    if isinstance(raw, Estimate):
        return float(raw.value), raw.half_width
    if isinstance(raw, Mapping):
        value = raw.get("value", raw.get("mean"))
        if value is None:
            return None, None
        hw = raw.get("half_width")
        ci = raw.get("ci95")
        if hw is None and ci is not None and None not in ci:
            hw = max(float(ci[1]) - float(value), float(value) - float(ci[0]))
        return float(value), (None if hw is None else float(hw))
    if isinstance(raw, bool):
        raise TypeError(f"a statistic must be a number, got {raw!r}")
    return float(raw), None


def _conversion(stat: str, have: str, want: str) -> tuple[float, str]:
    """Factor from the metric's unit to the threshold's, or a problem text."""
    if stat not in _TIME_STATS:
        return 1.0, (f"{stat} takes no unit, the threshold gives {unit_label(want)!r}" if want else "")
    if not have or not want or have == want:
        return 1.0, ""
    if have in _CLOCK and want in _CLOCK:
        return _CLOCK[have] / _CLOCK[want], ""
    return 1.0, f"unit mismatch: measured in {unit_label(have)}, threshold in {unit_label(want)}"


def _compare(value: float, op: str, limit: float) -> bool:
    if op == "<=":
        return value <= limit
    if op == ">=":
        return value >= limit
    if op == "<":
        return value < limit
    if op == ">":
        return value > limit
    if op == "==":
        return math.isclose(value, limit, rel_tol=1e-9, abs_tol=1e-12)
    raise ValueError(f"unknown comparison {op!r}")


def verdict_from_thresholds(results: Sequence[ThresholdResult], *, subject: str = "the run") -> str:
    """A first sentence answering whether ``subject`` meets its thresholds.

    ``'No: 1 of 4 thresholds fails — birth.e2e p95 4.6 WD vs a limit of ≤ 3 WD.'``
    """
    failed = [r for r in results if r.failed]
    measured = [r for r in results if r.status != "not measured"]
    if not measured:
        return f"Not judged: none of the {len(results)} thresholds of {subject} was measured."
    if failed:
        worst = "; ".join(
            f"{r.metric} {r.stat} {r.observed_text} vs a limit of {r.limit_text}" for r in failed[:3]
        )
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        verb = "fails" if len(failed) == 1 else "fail"
        return f"No: {len(failed)} of {len(measured)} measured thresholds {verb} — {worst}{more}."
    shown = ", ".join(f"{r.metric} {r.stat} {r.observed_text} (limit {r.limit_text})" for r in measured[:3])
    return f"Yes: {subject} meets all {len(measured)} measured thresholds — {shown}."
