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

from loadtests._records import REQUEST_KINDS, Table, kind_code

_KIND = {k: i for i, k in enumerate(REQUEST_KINDS)}

__all__ = ["RETRYABLE", "Caller", "Reply", "backoff_s", "retry_until"]

# Statuses worth another attempt with the same Idempotency-Key (0: no response at all).
RETRYABLE = frozenset({0, 408, 425, 429, 500, 502, 503, 504})


_UNSET: Any = object()


class Reply:
    """Status, decoded JSON body (``None`` when the body is not JSON) and lower-case headers of
    one call. Built from a response by :meth:`of`, the body and headers are decoded on first
    use only (the load driver's hot path rarely needs them)."""

    __slots__ = ("_body", "_content", "_headers", "_raw_headers", "status")

    def __init__(self, status: int, body: Any, headers: dict[str, str]) -> None:
        self.status, self._body, self._headers = status, body, headers
        self._content: bytes | None = None
        self._raw_headers: Any = None

    @classmethod
    def of(cls, status: int, content: bytes | None, headers: Any) -> Reply:
        """A reply whose body and headers are decoded lazily from ``content`` and ``headers``."""
        reply = cls(status, _UNSET, _UNSET)
        reply._content, reply._raw_headers = content, headers
        return reply

    @property
    def body(self) -> Any:
        if self._body is _UNSET:
            self._body = _decode(self._content)
        return self._body

    @property
    def headers(self) -> dict[str, str]:
        if self._headers is _UNSET:
            raw = self._raw_headers
            self._headers = {k.lower(): v for k, v in raw.items()} if raw else {}
        return self._headers

    @property
    def code(self) -> str | None:
        """The RFC 7807 problem ``code`` of an error reply, if any."""
        return self.body.get("code") if isinstance(self.body, dict) else None


class Caller:
    """Calls as one actor (its API key) through ``session``; records every call in ``log``.

    ``origin`` (``http://host:port``) sends this actor's calls to another server than the
    session's host (hospitals post to health, which may live apart from the portal).
    """

    __slots__ = ("key", "log", "origin", "session", "timeout_s")

    def __init__(self, session: Any, key: str, log: Table, timeout_s: float = 10.0, origin: str = "") -> None:
        self.session, self.key, self.log, self.timeout_s = session, key, log, timeout_s
        self.origin = origin.rstrip("/")

    def as_key(self, key: str) -> Caller:
        """This actor's session, log, timeout and origin with another API key (a citizen's own
        key, fakes/CONTRACT.md §2): a few attribute copies, nothing opened."""
        other = Caller.__new__(Caller)
        other.session, other.key, other.log, other.timeout_s = self.session, key, self.log, self.timeout_s
        other.origin = self.origin
        return other

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
        """One request; ``expect`` lists non-2xx statuses that still count as a success.

        Without ``expect`` the plain request path is used (Locust counts a non-2xx as a
        failure by itself); Locust's ``catch_response`` context only when a non-2xx status must
        count as a success.
        """
        headers = {"X-API-Key": self.key, "Accept": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        start = time.time()
        url = self.origin + path
        if expect:
            with self.session.request(
                method, url, json=body, headers=headers, name=name or path, catch_response=True
            ) as resp:
                status = int(resp.status_code or 0)
                ok = 200 <= status < 300 or status in expect
                if ok:
                    resp.success()
                else:
                    resp.failure(f"{status} {_code_of(resp.content)}")
        else:
            resp = self.session.request(method, url, json=body, headers=headers, name=name or path)
            status = int(resp.status_code or 0)
            ok = 200 <= status < 300
        try:
            content = resp.content
        except Exception:  # the body could not be read (timeout, reset): no answer at all
            content, status, ok = None, 0, False
        end = time.time()
        code = _KIND[kind] if kind in _KIND else kind_code(kind)  # ValueError naming an unknown kind
        self.log.append(code, dossier, start if intended is None else intended, start, end, status, ok)
        return Reply.of(status, content, resp.headers)


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
