"""Recorded HTTP exchanges with the vendor: evidence, curl reproducers, masking (private).

Evidence is masked (personal identifiers ``001******123``, API keys ``lt-p************01``), except
the curl reproducer, which must run as written: the identifiers in it are in clear (they are
synthetic, and the certificate is the vendor's own) and the API key is read from the environment,
``$LIENTHONG_KEY`` (the reproducer names whose key it wants). A key that is no caller's (the
suite's deliberately wrong key) is shown as sent.

A write answered **202 with a work resource** (``Location: /<agency>/work/{id}``, an agency in time,
CONTRACT.md §13) is followed: the client polls the work resource with the same key until its
``status`` is ``done`` and the exchange then stands for the write's outcome, ``status`` 201 and
``response`` the work's ``result`` (the record a 201 would have returned); its evidence shows the
202 as answered and the work as read. Work not done within ``work_timeout`` seconds, or a work
resource that cannot be read, leaves the 202 and says why in ``error``.
"""

from __future__ import annotations

import json
import re
import shlex
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from fakes.ids import mask

__all__ = ["Client", "Exchange", "mask_key", "scrub", "scrub_doc"]

# Personal identifiers (DOMAIN.md §5): 12-digit PIDs, 10-digit BHXH numbers, 15-char BHYT codes.
PERSONAL = re.compile(r"(?<![\w*])(?:\d{12}|\d{10}|[A-Z]{2}\d{13})(?![\w*])")
_SHOWN_HEADERS = ("content-type", "location", "idempotent-replayed", "www-authenticate",
                  "retry-after", "x-fault")
_MAX_BODY = 2000
_WORK = re.compile(r"/[a-z]+/work/[^/?#]+")


def scrub(text: str) -> str:
    """``text`` with every personal identifier masked (``001******123``)."""
    return PERSONAL.sub(lambda m: mask(m.group(0)), text)


def scrub_doc(doc: Any) -> Any:
    """A JSON document with every personal identifier in its strings masked."""
    if isinstance(doc, str):
        return scrub(doc)
    if isinstance(doc, dict):
        return {k: scrub_doc(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [scrub_doc(v) for v in doc]
    return doc


def mask_key(key: str) -> str:
    """An API key as printed: ``lt-v************01``."""
    return key if len(key) < 6 else key[:4] + "*" * (len(key) - 6) + key[-2:]


@dataclass
class Exchange:
    """One request to the vendor and what came back (status 0: no HTTP answer)."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response: Any = None
    error: str = ""
    seconds: float = 0.0
    caller: str | None = None  # whose key X-API-Key carries (None: no key, or no caller's key)
    work: dict[str, Any] | None = None  # a 202's work resource as followed (status: the write's outcome)

    @property
    def code(self) -> str | None:
        """The problem ``code`` of the answer, if any."""
        return self.response.get("code") if isinstance(self.response, dict) else None

    @property
    def content_type(self) -> str:
        return self.response_headers.get("content-type", "").split(";")[0].strip()

    def curl(self) -> str:
        """A bash command reproducing the request as written: identifiers in clear, the API key
        from ``$LIENTHONG_KEY`` (a comment says whose key it must be)."""
        parts = [shlex.quote(p) for p in ("curl", "-sS", "-i", "-X", self.method, self.url)]
        for name, value in self.headers.items():
            if name.lower() == "x-api-key" and self.caller is not None:
                need = f"set LIENTHONG_KEY to the API key of caller {self.caller}"
                parts += ["-H", f'"{name}: ${{LIENTHONG_KEY:?{need}}}"']
            else:
                parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.body is not None:
            parts += ["--data-raw", shlex.quote(json.dumps(self.body, ensure_ascii=False))]
        who = f"  # as caller {self.caller}: export LIENTHONG_KEY=<its key>" if self.caller else ""
        return " ".join(parts) + who

    def evidence(self) -> dict[str, Any]:
        """The exchange as certificate evidence (masked, bodies truncated)."""
        headers = {k: (mask_key(v) if k.lower() == "x-api-key" else scrub(v))
                   for k, v in self.headers.items()}
        return {"request": {"method": self.method, "url": scrub(self.url), "headers": headers,
                            **({"caller": self.caller} if self.caller else {}),
                            "body": _truncate(scrub_doc(self.body))},
                "response": {"status": self.status if self.work is None else self.work["answered"],
                             "headers": {k: scrub(v) for k, v in self.response_headers.items()},
                             "body": _truncate(scrub_doc(self.response if self.work is None
                                                         else self.work["accepted"])),
                             **({"work": _truncate(scrub_doc({k: v for k, v in self.work.items()
                                                              if k not in ("answered", "accepted")}))}
                                if self.work is not None else {}),
                             **({"error": scrub(self.error)} if self.error else {})},
                "curl": self.curl()}


def _truncate(doc: Any) -> Any:
    text = json.dumps(doc, ensure_ascii=False)
    return doc if len(text) <= _MAX_BODY else text[:_MAX_BODY] + "…"


class Client:
    """Calls one base URL with the scenario's keys; every exchange goes to ``log``."""

    def __init__(self, base_url: str, keys: dict[str, str], *, timeout: float = 10.0,
                 record: bool = True, work_timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.keys = keys
        self.timeout = timeout
        self.work_timeout = work_timeout
        self.record = record
        self.log: list[Exchange] = []
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=64))

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, *, caller: str | None = None, key: str | None = None,
             body: Any = None, idem: str | None = None, timeout: float | None = None,
             raw: bytes | None = None, content_type: str = "application/json") -> Exchange:
        """Send one request as ``caller`` (or with ``key``; neither: no X-API-Key header)."""
        headers: dict[str, str] = {}
        api_key = key if key is not None else (self.keys[caller] if caller else None)
        if api_key is not None:
            headers["X-API-Key"] = api_key
        who = caller if caller else next((n for n, k in sorted(self.keys.items()) if k == api_key), None)
        if idem is not None:
            headers["Idempotency-Key"] = idem
        data: bytes | None = raw
        if body is not None and raw is None:
            data = json.dumps(body, ensure_ascii=False).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        ex = Exchange(method, self.base_url + path, headers, body,
                      caller=who if api_key is not None else None)
        start = time.perf_counter()
        try:
            r = self._http.request(method, ex.url, headers=headers, content=data,
                                   timeout=timeout or self.timeout)
            ex.status = r.status_code
            ex.response_headers = {k.lower(): v for k, v in r.headers.items()
                                   if k.lower() in _SHOWN_HEADERS}
            try:
                ex.response = r.json()
            except ValueError:
                ex.response = r.text[:_MAX_BODY]
        except httpx.HTTPError as exc:
            ex.error = f"{type(exc).__name__}: {exc}"
        if method == "POST" and ex.status == 202:
            self._follow_work(ex, key=api_key)
        ex.seconds = time.perf_counter() - start
        if self.record:
            with self._lock:
                self.log.append(ex)
        return ex

    def _follow_work(self, ex: Exchange, key: str | None) -> None:
        """Poll a 202's work resource until done (CONTRACT.md §13): ``ex`` becomes the write's
        outcome (201 and the record), or keeps its 202 and says in ``error`` why not."""
        location = ex.response_headers.get("location", "")
        path = location[len(self.base_url):] if location.startswith(self.base_url) else location
        if not _WORK.fullmatch(path) or not isinstance(ex.response, dict):
            return  # another 202 (a portal dossier): the check reads it itself
        deadline, pause, polls = time.monotonic() + self.work_timeout, 0.02, 0
        doc: Any = ex.response
        while True:
            polls += 1
            r = self.call("GET", path, key=key) if key is not None else self.call("GET", path)
            doc = r.response
            if r.status != 200 or not isinstance(doc, dict):
                ex.error = f"work resource {path}: GET answered {r.status} {r.code or r.error}"
                return
            if doc.get("status") == "done" or time.monotonic() > deadline:
                break
            time.sleep(pause)
            pause = min(pause * 1.5, 0.5)
        if doc.get("status") != "done" or not isinstance(doc.get("result"), dict):
            ex.error = f"work resource {path} not done after {self.work_timeout:g} s " \
                f"(status {doc.get('status')!r})"
            return
        ex.work = {"answered": ex.status, "accepted": ex.response, "location": path, "polls": polls,
                   "status": "done", "completed_at": doc.get("completed_at")}
        ex.status, ex.response = 201, doc["result"]

    def get(self, path: str, caller: str | None = None, **kw: Any) -> Exchange:
        return self.call("GET", path, caller=caller, **kw)

    def post(self, path: str, body: Any, caller: str | None = None, **kw: Any) -> Exchange:
        return self.call("POST", path, caller=caller, body=body, **kw)
