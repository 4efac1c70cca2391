"""Tests for sim/queueing.py: Erlang C and Little's law."""

from __future__ import annotations

import pytest

from sim.queueing import erlang_c_wait, little


def test_erlang_c_known_values() -> None:
    assert erlang_c_wait(0.5, 1.0, 1) == pytest.approx(0.5 / (1.0 - 0.5))  # M/M/1: ρ/(μ−λ)
    # M/M/2, λ=1, μ=1: P(wait) = 1/3, Wq = P/(cμ−λ) = 1/3
    assert erlang_c_wait(1.0, 1.0, 2) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="unstable queue: offered load 2 >= 2 servers"):
        erlang_c_wait(2.0, 1.0, 2)


def test_little_on_an_exact_window() -> None:
    # 10 arrivals in 100 minutes, 20 minutes each, 40 more minutes of work carried in: L = 2.4
    out = little(wip_area=240.0, span=100.0, arrivals=10, time_in=200.0, carry_in=40.0)
    assert (out["L"], out["lambda_per_min"], out["W_min"], out["lambda_W"]) == (2.4, 0.1, 20.0, 2.0)
    assert out["identity_error"] == 0.0 and out["ok"] is True
    assert out["rel_error"] == pytest.approx(1 / 6) and out["steady_state_ok"] is False


def test_little_names_a_lost_dossier() -> None:
    # the twin counted work in the system that no record accounts for
    assert little(wip_area=250.0, span=100.0, arrivals=10, time_in=200.0, carry_in=40.0)["ok"] is False


@pytest.mark.parametrize(("span", "arrivals"), [(0.0, 5), (100.0, 0)])
def test_little_without_a_window_or_arrivals_is_not_judged(span: float, arrivals: int) -> None:
    out = little(wip_area=0.0, span=span, arrivals=arrivals, time_in=0.0, carry_in=0.0)
    assert out == {"L": None, "lambda_per_min": None, "W_min": None, "lambda_W": None,
                   "rel_error": None, "identity_error": None, "ok": False}  # fmt: skip
