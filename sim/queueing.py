"""Queueing relations the twin is checked against: Erlang C for an M/M/c queue, Little's law.

Little's law is checked in every metrics dict (``sim.metrics``): ``L`` is the time-average
number of dossiers in the system measured by the twin over the window after warm-up;
``lambda_W`` is the arrival rate in that window times the mean time those arrivals spent in
the system (censored at the horizon). ``identity_error`` adds the time spent in the window by
dossiers submitted before it, which makes the finite-window form of the law exact: ``ok`` when
it is ~0 (the twin's own count of dossiers in the system agrees with its records: nothing lost
or finished twice). ``rel_error`` is the plain steady-state relation ``L = λW``;
``steady_state_ok`` when it is within ``LITTLE_TOLERANCE`` (short or strongly seasonal windows
miss it through edge effects).

>>> round(erlang_c_wait(lam=1.0, mu=0.5, c=3), 4)   # minutes in queue at 2 of 3 servers busy
0.8889
"""

from __future__ import annotations

from typing import Any

__all__ = ["LITTLE_TOLERANCE", "erlang_c", "erlang_c_wait", "little"]

LITTLE_TOLERANCE = 0.10
_IDENTITY_TOLERANCE = 1e-6


def erlang_c(lam: float, mu: float, c: int) -> float:
    """The probability that an arrival waits in an M/M/c queue (Erlang C): arrival rate ``lam``,
    service rate ``mu``.

    Raises ValueError unless ``lam, mu > 0``, ``c >= 1`` and ``lam < c * mu`` (stable).
    """
    if lam <= 0 or mu <= 0 or c < 1:
        raise ValueError(f"need lam > 0, mu > 0, c >= 1; got {lam}, {mu}, {c}")
    a = lam / mu
    if a >= c:
        raise ValueError(f"unstable queue: offered load {a:g} >= {c} servers")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)  # Erlang B recursion
    return b / (1 - (a / c) * (1 - b))


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of an M/M/c queue: :func:`erlang_c` / (c·mu − lam). Same errors."""
    return erlang_c(lam, mu, c) / (c * mu - lam)


def little(wip_area: float, span: float, arrivals: int, time_in: float, carry_in: float) -> dict[str, Any]:
    """Little's law over a window of ``span`` minutes (see the module docstring).

    ``wip_area``: the integral of the number in the system over the window; ``arrivals`` and
    ``time_in``: how many dossiers arrived in it and their total time in the system (censored at
    its end); ``carry_in``: the time in the window of dossiers that arrived before it. With no
    window or no arrival every figure is None and ``ok`` is False.
    """
    if span <= 0 or not arrivals:
        none = dict.fromkeys(("L", "lambda_per_min", "W_min", "lambda_W", "rel_error", "identity_error"))
        return {**none, "ok": False}
    L = wip_area / span
    lam = arrivals / span
    W = time_in / arrivals
    identity = (time_in + carry_in) / span
    rel = abs(L - lam * W) / L if L else 0.0
    ident = abs(L - identity) / L if L else 0.0
    return {
        "L": L,
        "lambda_per_min": lam,
        "W_min": W,
        "lambda_W": lam * W,
        "rel_error": rel,
        "identity_error": ident,
        "ok": bool(ident <= _IDENTITY_TOLERANCE),
        "steady_state_ok": bool(rel <= LITTLE_TOLERANCE),
    }
