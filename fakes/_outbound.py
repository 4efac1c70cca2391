"""Outbound calls between agencies: an in-process ASGI hop or aiohttp over a socket.

When an agency's base URL is unset it lives in this server, and a call is handed straight to
the server's own ASGI app (middleware included: auth, faults, metrics) without a socket; any
agency with a base URL is called over HTTP with one shared aiohttp session.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

__all__ = ["Outbound", "Reply", "TransportError"]

ASGIApp = Any


class TransportError(Exception):
    """The call did not get an HTTP answer: refused, reset or timed out."""


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: status, headers (lower-case names) and the JSON body (or None)."""

    status: int
    headers: Mapping[str, str]
    body: Any


class Outbound:
    """Calls agencies at ``base_urls`` (None = this process's ``app``)."""

    def __init__(self, base_urls: Mapping[str, str | None], timeout_s: float) -> None:
        self.base_urls = dict(base_urls)
        self.timeout_s = timeout_s
        self.app: ASGIApp = None
        self._session: aiohttp.ClientSession | None = None

    async def call(self, agency: str, method: str, path: str, key: str,
                   body: Any = None, idem_key: str | None = None) -> Reply:
        """Send ``method path`` to ``agency`` with caller ``key``; raises TransportError."""
        headers = {"x-api-key": key, "content-type": "application/json"}
        if idem_key is not None:
            headers["idempotency-key"] = idem_key
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        base = self.base_urls.get(agency)
        try:
            if base is None:
                async with asyncio.timeout(self.timeout_s):  # cheaper than wait_for's task
                    return await self._asgi(method, path, headers, data)
            return await self._http(base, method, path, headers, data)
        except (TimeoutError, OSError, aiohttp.ClientError) as exc:
            raise TransportError(f"{method} {agency}{path}: {type(exc).__name__} {exc}") from exc

    async def _http(self, base: str, method: str, path: str, headers: dict[str, str],
                    data: bytes) -> Reply:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                connector=aiohttp.TCPConnector(limit=256))
        async with self._session.request(method, base.rstrip("/") + path, data=data or None,
                                         headers=headers) as resp:
            raw = await resp.read()
            hdrs = {k.lower(): v for k, v in resp.headers.items()}
            return Reply(resp.status, hdrs, _json(raw))

    async def _asgi(self, method: str, path: str, headers: dict[str, str], data: bytes) -> Reply:
        path_only, _, query = path.partition("?")
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path_only,
            "raw_path": path_only.encode(), "query_string": query.encode(), "root_path": "",
            "headers": [(k.encode(), v.encode()) for k, v in
                        (*headers.items(), ("content-length", str(len(data))))],
            "client": ("127.0.0.1", 0), "server": ("127.0.0.1", 0),
            "extensions": {"lienthong.inproc": True}, "state": {},
        }
        sent = False
        started: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # a real client waits; never disconnect early
            sent = True
            return {"type": "http.request", "body": data, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, receive, send)
        except ConnectionError:
            raise
        except Exception:
            if not started:
                return Reply(500, {}, None)
        hdrs = {k.decode().lower(): v.decode() for k, v in started.get("headers", [])}
        return Reply(int(started.get("status", 500)), hdrs, _json(b"".join(chunks)))

    async def post_url(self, url: str, body: Any) -> bool:
        """POST ``body`` as JSON to ``url`` (a callback); True on a 2xx answer."""
        try:
            reply = await self._http(url, "POST", "", {"content-type": "application/json"},
                                     json.dumps(body, ensure_ascii=False).encode())
        except (TimeoutError, OSError, aiohttp.ClientError):
            return False
        return 200 <= reply.status < 300

    async def close(self) -> None:
        """Close the aiohttp session, if one was opened."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
