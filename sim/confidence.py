"""Confidence intervals across replications: Student's t from the regularised incomplete beta.

>>> round(student_t(9), 4)            # the two-sided 95% quantile with 9 degrees of freedom
2.2622
>>> mean_ci([1.0, 2.0, 3.0])[0]
2.0
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

__all__ = ["mean_ci", "student_t", "t_quantile"]


def student_t(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (for a two-sided 95% CI)."""
    return t_quantile(0.975, df)


@functools.lru_cache(maxsize=256)
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (to about 1e-6).

    Inverts ``P(T <= t) = 1 - I_x(df/2, 1/2) / 2`` with ``x = df / (df + t²)`` by bisection.
    Raises ValueError unless ``0.5 <= p < 1`` and ``df >= 1``.
    """
    if not 0.5 <= p < 1:
        raise ValueError(f"quantile level must be in [0.5, 1), got {p}")
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    tail = 2 * (1 - p)  # P(|T| > t) = I_x(df/2, 1/2)
    lo, hi = 0.0, 1.0
    while _beta_inc(df / 2, 0.5, df / (df + hi * hi)) > tail:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if _beta_inc(df / 2, 0.5, df / (df + mid * mid)) > tail:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-10 * hi:
            break
    return (lo + hi) / 2


def _beta_inc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta ``I_x(a, b)`` (continued fraction, modified Lentz)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast only below the mean
        return 1.0 - _beta_inc(b, a, 1.0 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 500):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * f / a


def mean_ci(values: Sequence[float], level: float = 0.975) -> tuple[float, float | None]:
    """Mean of ``values`` and the Student-t half-width at quantile ``level`` (0.975: the
    two-sided 95% CI; 0.95: a one-sided 95% bound); None with fewer than 2 values.

    Raises ValueError for an empty sequence.
    """
    if not values:
        raise ValueError("no values")
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    sd = math.sqrt(sum((x - mean) ** 2 for x in values) / (n - 1))
    return mean, t_quantile(level, n - 1) * sd / math.sqrt(n)
