"""Formatting shared by the report writers: numbers with units, estimates with ±, and the
personal-data scrubber every piece of report text passes through."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from fakes.ids import mask

__all__ = ["Estimate", "fmt_limit", "fmt_number", "fmt_value", "mask_id", "scrub", "unit_label"]

_UNIT_LABELS = {"wd": "WD", "ms": "ms", "s": "s", "min": "min", "h": "h", "%": "%", "": ""}

# Identifiers that are personal data (DOMAIN.md §5): 12-digit personal ID numbers, 10-digit
# BHXH numbers and 15-character BHYT card codes (two letters, thirteen digits). Matched only as
# whole tokens, so hex digests, run ids and counts are left alone.
_PERSONAL = re.compile(r"(?<![\w*])(?:\d{12}|\d{10}|[A-Z]{2}\d{13})(?![\w*])")


def mask_id(identifier: str) -> str:
    """Masks an identifier for display: ``'001203004123'`` -> ``'001******123'``."""
    return mask(str(identifier))


def scrub(text: str) -> str:
    """``text`` with every personal identifier in it masked (a safety net for free text)."""
    return _PERSONAL.sub(lambda m: mask(m.group(0)), text)


def unit_label(unit: str) -> str:
    """How a unit is printed: ``'wd'`` -> ``'WD'``; unknown units are printed as given."""
    return _UNIT_LABELS.get(unit, unit)


def fmt_number(x: float | int, unit: str = "") -> str:
    """A number at a readable precision for ``unit`` (fractions as percent when unit is ``%``)."""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if unit == "%":
        return f"{x * 100:.1f}"
    ax = abs(x)
    if ax >= 1000 or (ax >= 100 and float(x).is_integer()):
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 0.01 or ax == 0:
        return f"{x:.2f}"
    return f"{x:.2g}"


def fmt_limit(x: float, unit: str = "") -> str:
    """A limit as written in a threshold: no padding zeros (``3`` WD, ``95%``, ``0.01``)."""
    number = f"{x * 100:g}" if unit == "%" else f"{x:g}"
    return _with_unit(number, unit)


def _with_unit(number: str, unit: str) -> str:
    label = unit_label(unit)
    if not label:
        return number
    return f"{number}%" if unit == "%" else f"{number} {label}"


@dataclass(frozen=True)
class Estimate:
    """A value with an optional confidence half-width, e.g. a mean over replications.

    ``unit`` is ``'wd'``, ``'ms'``, ``'s'``, ``'min'``, ``'%'`` (a fraction shown as a
    percentage) or ``''``. Printed as ``'1.20 ± 0.05 WD'``.
    """

    value: float
    half_width: float | None = None
    unit: str = ""

    def __post_init__(self) -> None:
        if self.half_width is not None and self.half_width < 0:
            raise ValueError(f"negative half-width {self.half_width!r}")

    @property
    def low(self) -> float:
        """The lower confidence bound (the value itself when no half-width is given)."""
        return self.value - (self.half_width or 0.0)

    @property
    def high(self) -> float:
        """The upper confidence bound (the value itself when no half-width is given)."""
        return self.value + (self.half_width or 0.0)

    def __str__(self) -> str:
        if self.half_width is None or math.isnan(self.half_width):
            return _with_unit(fmt_number(self.value, self.unit), self.unit)
        value, hw = fmt_number(self.value, self.unit), fmt_number(self.half_width, self.unit)
        if self.unit == "%":
            return f"{value}% ± {hw}%"
        return _with_unit(f"{value} ± {hw}", self.unit)


def fmt_value(value: Any, unit: str = "") -> str:
    """Any table cell or key figure as scrubbed text: numbers with ``unit``, estimates with ±."""
    if value is None:
        return "–"
    if isinstance(value, Estimate):
        return str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _with_unit(fmt_number(value, unit), unit)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return fmt_value(value.item(), unit)
    return scrub(str(value))
