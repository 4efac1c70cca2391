"""Retry pauses of the journey callers (loadtests._http.backoff_s)."""

from __future__ import annotations

import random

from loadtests._http import Reply, backoff_s


def test_a_timeout_waits_at_least_half_the_step_and_retry_after_is_honoured() -> None:
    rng = random.Random(1)
    for n in range(1, 8):
        step = min(2.0, 0.05 * 2 ** (n - 1))
        assert step / 2 <= backoff_s(Reply(0, None, {}), n, 0.05, 2.0, rng) <= step
        assert 0 <= backoff_s(Reply(503, None, {}), n, 0.05, 2.0, rng) <= step
        assert backoff_s(Reply(503, None, {"retry-after": "1"}), n, 0.05, 2.0, rng) >= 1.0
    assert backoff_s(Reply(503, None, {"retry-after": "60"}), 1, 0.05, 2.0, rng) == 2.0  # capped
    assert backoff_s(Reply(503, None, {"retry-after": "soon"}), 1, 0.05, 2.0, rng) <= 0.05
