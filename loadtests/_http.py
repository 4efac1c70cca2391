"""One actor's calls over a Locust ``FastHttpSession`` (private; never imports Locust itself).

Every call is recorded in a request :class:`~loadtests._records.Table` with its intended start,
actual start and end (wall seconds), and reported to Locust's statistics as a success or failure
by what the journey expected, not by the status class alone (a 422 the journey asked for is a
success). Retries use full-jitter exponential backoff and stop at a deadline.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import random
import time
from collections.abc import Callable, Collection
from typing import Any

import gevent

from loadtests._records import Table, kind_code

__all__ = ["RETRYABLE", "Caller", "Reply", "backoff_s", "retry_until"]

# Statuses worth another attempt with the same Idempotency-Key (0: no response at all).
RETRYABLE = frozenset({0, 408, 425, 429, 500, 502, 503, 504})


class Reply:
    """Status and decoded JSON body (``None`` when the body is not JSON) of one call."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: Any, headers: dict[str, str]) -> None:
        self.status, self.body, self.headers = status, body, headers

    @property
    def code(self) -> str | None:
        """The RFC 7807 problem ``code`` of an error reply, if any."""
        return self.body.get("code") if isinstance(self.body, dict) else None


class Caller:
    """Calls as one actor (its API key) through ``session``; records every call in ``log``."""

    def __init__(self, session: Any, key: str, log: Table, timeout_s: float = 10.0) -> None:
        self.session, self.key, self.log, self.timeout_s = session, key, log, timeout_s

    def call(
        self,
        method: str,
        path: str,
        *,
        kind: str,
        dossier: int = -1,
        intended: float | None = None,
        body: Any = None,
        idempotency_key: str | None = None,
        name: str | None = None,
        expect: Collection[int] = (),
    ) -> Reply:
        """One request; ``expect`` lists non-2xx statuses that still count as a success."""
        headers = {"X-API-Key": self.key, "Accept": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        start = time.time()
        with self.session.request(
            method, path, json=body, headers=headers, name=name or path, catch_response=True
        ) as resp:
            status = int(resp.status_code or 0)
            ok = 200 <= status < 300 or status in expect
            if ok:
                resp.success()
            else:
                resp.failure(f"{status} {_code_of(resp.content)}")
            content = resp.content
            resp_headers = {k.lower(): v for k, v in (resp.headers or {}).items()}
        end = time.time()
        self.log.append(
            kind_code(kind), dossier, start if intended is None else intended, start, end, status, ok
        )
        return Reply(status, _decode(content), resp_headers)


def _decode(content: bytes | None) -> Any:
    if not content:
        return None
    try:
        return jsonlib.loads(content)
    except ValueError:
        return None


def _code_of(content: bytes | None) -> str:
    body = _decode(content)
    return str(body.get("code", "")) if isinstance(body, dict) else ""


def retry_until(
    attempt: Callable[[], Reply],
    deadline: float,
    *,
    retryable: Collection[int] = RETRYABLE,
    base_s: float = 0.05,
    cap_s: float = 2.0,
    rng: random.Random | None = None,
) -> tuple[Reply, int]:
    """Calls ``attempt`` until its status is not retryable or ``deadline`` (wall) passes.

    Returns the last reply and the number of attempts. Backoff: full jitter on ``base_s``
    doubling to ``cap_s``, never sleeping past the deadline.
    """
    rng = rng or random.Random()
    n = 0
    while True:
        reply = attempt()
        n += 1
        left = deadline - time.time()
        if reply.status not in retryable or left <= 0:
            return reply, n
        gevent.sleep(min(left, backoff_s(reply, n, base_s, cap_s, rng)))


def backoff_s(reply: Reply, n: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """The pause before attempt ``n + 1``: full jitter on ``base_s × 2ⁿ⁻¹`` capped at ``cap_s``;
    at least the server's ``Retry-After`` (seconds, capped at ``cap_s``); and after no answer
    at all (status 0: a timeout or a refused connection, the server is likely still busy with
    the first attempt) equal jitter, never less than half the step, so retries do not pile
    more work on an overloaded server."""
    step = min(cap_s, base_s * 2 ** min(n - 1, 16))
    pause = rng.uniform(step / 2, step) if reply.status == 0 else rng.uniform(0, step)
    after = reply.headers.get("retry-after") if reply.headers else None
    if after:
        with contextlib.suppress(ValueError):
            pause = max(pause, min(cap_s, float(after)))
    return pause
