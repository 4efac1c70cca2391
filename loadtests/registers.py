"""Where reconciliation reads each agency's registers.

Reconciliation asks questions of the form "the records of register T at agency A whose field F
is V" (:meth:`Registers.find`) and "every record of T made on these days" (:meth:`Registers.made_on`,
for the check that nothing was issued to anyone the run did not ask for). Three answers:

- :class:`ContractRegisters` asks the agency itself through the contract's register reads
  (``fakes/CONTRACT.md`` §10) at that agency's base URL, with the ``auditor`` key: it works
  against anyone's implementation of the contract;
- :class:`ExportRegisters` looks the answer up in an ``/admin/export`` of the reference fakes
  (the fast path, for fakes the run started itself);
- :class:`MixedRegisters` sends each agency's questions to its own source.

A read that cannot be made (the endpoint is not served, the key is refused, the agency is down)
raises :class:`NotVerifiable` naming the agency and the reason; reconciliation reports the checks
that needed it as *not verifiable*, never as passed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

__all__ = [
    "EXPORTED_AGENCIES",
    "ContractRegisters",
    "ExportRegisters",
    "Memo",
    "MixedRegisters",
    "NotVerifiable",
    "Registers",
    "Rows",
    "fetch_exports",
]

EXPORTED_AGENCIES = ("health", "justice", "police", "vss", "social", "portal")
Rows = list[Mapping[str, Any]]
Exports = Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]]

# (agency, register, field) -> contract read: "/path/{}" reads one record (404 = none),
# "/path?field=" lists the records matching the field.
READS: dict[tuple[str, str, str], str] = {
    ("portal", "dossiers", "id"): "/portal/dossiers/{}",
    ("portal", "dossiers", "document"): "/portal/dossiers?document=",
    ("justice", "births", "birth_certificate_id"): "/justice/births?birth_certificate_id=",
    ("justice", "deaths", "death_notice_id"): "/justice/deaths?death_notice_id=",
    ("police", "pid_requests", "birth_register_no"): "/police/pid-requests?birth_register_no=",
    ("police", "people", "pid"): "/police/people/{}",
    ("police", "residences", "pid"): "/police/residences?pid=",
    ("police", "removals", "pid"): "/police/residence-removals?pid=",
    ("vss", "cards", "pid"): "/vss/child-cards?pid=",
    ("vss", "funeral_allowances", "death_register_no"): "/vss/funeral-allowances?death_register_no=",
    ("vss", "survivor_benefits", "death_register_no"): "/vss/survivor-benefits?death_register_no=",
    ("social", "funeral_supports", "death_register_no"): "/social/funeral-supports?death_register_no=",
    # day listings: "nothing for anyone else"
    ("vss", "cards", "issued_on"): "/vss/child-cards?issued_on=",
    ("vss", "funeral_allowances", "paid_on"): "/vss/funeral-allowances?paid_on=",
    ("vss", "survivor_benefits", "paid_on"): "/vss/survivor-benefits?paid_on=",
    ("social", "funeral_supports", "paid_on"): "/social/funeral-supports?paid_on=",
}
# the problem code a single read answers (404) when there is no such record
_NONE = {"/portal/dossiers/{}": "unknown_dossier", "/police/people/{}": "unknown_person"}
DAY_FIELD = {"cards": "issued_on", "funeral_allowances": "paid_on", "survivor_benefits": "paid_on",
             "funeral_supports": "paid_on"}


class NotVerifiable(Exception):
    """A register read that could not be made: ``agency`` and ``reason``."""

    def __init__(self, agency: str, reason: str) -> None:
        super().__init__(f"{agency}: {reason}")
        self.agency, self.reason = agency, reason


class Registers:
    """The registers as reconciliation reads them (see the module docstring)."""

    #: how many dossiers may be checked at once (reads over HTTP benefit from a few threads)
    concurrency = 1

    def find(self, agency: str, table: str, field: str, value: str) -> Rows:
        """The records of ``agency``'s register ``table`` whose ``field`` is ``value``.

        Raises NotVerifiable when the register cannot be read.
        """
        raise NotImplementedError

    def made_on(self, agency: str, table: str, days: Sequence[date]) -> Rows:
        """Every record of ``table`` issued or paid on one of ``days`` (scenario dates).

        Raises NotVerifiable when the register cannot be listed.
        """
        raise NotImplementedError

    def source(self, agency: str) -> str:
        """How ``agency``'s registers are read, for the report."""
        raise NotImplementedError

    def whole(self, agency: str) -> bool:
        """True when :meth:`made_on` returns the whole register, whatever the days."""
        return False


class ExportRegisters(Registers):
    """Registers from ``/admin/export`` documents (``{agency: {table: rows}}``)."""

    def __init__(self, exports: Exports, where: str = "admin export") -> None:
        self.exports, self.where = exports, where
        self._index: dict[tuple[str, str, str], dict[str, Rows]] = {}

    def _rows(self, agency: str, table: str) -> Rows:
        if agency not in self.exports:
            raise NotVerifiable(agency, f"no export of {agency}'s registers")
        return list(self.exports[agency].get(table, []))

    def find(self, agency: str, table: str, field: str, value: str) -> Rows:
        key = (agency, table, field)
        if key not in self._index:
            rows = self._rows(agency, table)
            keyed = ((_document_of(r), r) for r in rows) if field == "document" else (
                (r.get(field), r) for r in rows)
            index: dict[str, Rows] = defaultdict(list)
            for k, r in keyed:
                if k is not None and k != "":
                    index[str(k)].append(r)
            self._index[key] = index
        return list(self._index[key].get(value, []))

    def made_on(self, agency: str, table: str, days: Sequence[date]) -> Rows:
        return self._rows(agency, table)  # the whole register: stricter than the days asked

    def source(self, agency: str) -> str:
        return self.where if agency in self.exports else "not exported"

    def whole(self, agency: str) -> bool:
        return agency in self.exports


class ContractRegisters(Registers):
    """Registers read through the contract's register reads at each agency's own URL.

    ``urls`` maps an agency to its base URL (origin); ``key`` is the ``auditor`` API key.
    Transient failures (5xx, 429, connection errors) are retried ``attempts`` times with a short
    backoff; a read the agency does not serve (404/405 on a list, 401/403) is remembered, so
    the rest of the checks that need it fail fast as not verifiable.
    """

    concurrency = 8

    def __init__(self, urls: Mapping[str, str], key: str | None, *, timeout_s: float = 30.0,
                 attempts: int = 4) -> None:
        import httpx

        self.urls = {a: u.rstrip("/") for a, u in urls.items()}
        self.key, self.attempts = key, attempts
        self._http = httpx.Client(timeout=timeout_s, headers={"X-API-Key": key or ""},
                                  limits=httpx.Limits(max_connections=self.concurrency * 2))
        self._refused: dict[str, NotVerifiable] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ContractRegisters:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def find(self, agency: str, table: str, field: str, value: str) -> Rows:
        route = READS.get((agency, table, field))
        if route is None:
            raise NotVerifiable(agency, f"the contract has no read of {table} by {field}")
        if not self.key:
            raise NotVerifiable(agency, "no auditor key in the scenario's callers")
        url = self.urls.get(agency)
        if not url:
            raise NotVerifiable(agency, "no base URL")
        return self._get(agency, url, route, value)

    def made_on(self, agency: str, table: str, days: Sequence[date]) -> Rows:
        rows: Rows = []
        for day in days:
            rows += self.find(agency, table, DAY_FIELD.get(table, "issued_on"), day.isoformat())
        return rows

    def source(self, agency: str) -> str:
        return f"contract reads at {self.urls.get(agency, '?')}"

    def _get(self, agency: str, url: str, route: str, value: str) -> Rows:
        import httpx

        path, _, param = route.partition("?")
        single = not param
        shape = path.replace("{}", "{…}") if single else f"{route}…"
        with self._lock:
            if shape in self._refused:
                raise self._refused[shape]
        status, problem = 0, ""
        for attempt in range(self.attempts):
            try:
                reply = (self._http.get(url + path.format(_quote(value))) if single else
                         self._http.get(url + path, params={param.rstrip("="): value}))
            except httpx.HTTPError as exc:
                status, problem = 0, type(exc).__name__
            else:
                status, problem = reply.status_code, _code(reply)
                if status == 200:
                    return _rows_of(reply.json(), single, agency, shape)
                if single and status == 404 and problem == _NONE.get(path):
                    return []
                if status in (401, 403, 404, 405, 422):
                    break
            time.sleep(min(2.0, 0.1 * 2**attempt))
        reason = f"GET {shape} answered {status or 'no reply'}" + (f" ({problem})" if problem else "")
        error = NotVerifiable(agency, reason)
        if status in (401, 403, 404, 405):
            with self._lock:
                self._refused[shape] = error
        raise error


class MixedRegisters(Registers):
    """Each agency's questions go to its own source (``sources[agency]``)."""

    def __init__(self, sources: Mapping[str, Registers]) -> None:
        self.sources = dict(sources)
        self.concurrency = max((s.concurrency for s in self.sources.values()), default=1)

    def _of(self, agency: str) -> Registers:
        if agency not in self.sources:
            raise NotVerifiable(agency, "no source for this agency's registers")
        return self.sources[agency]

    def find(self, agency: str, table: str, field: str, value: str) -> Rows:
        return self._of(agency).find(agency, table, field, value)

    def made_on(self, agency: str, table: str, days: Sequence[date]) -> Rows:
        return self._of(agency).made_on(agency, table, days)

    def source(self, agency: str) -> str:
        return self.sources[agency].source(agency) if agency in self.sources else "none"

    def whole(self, agency: str) -> bool:
        return agency in self.sources and self.sources[agency].whole(agency)


class Memo(Registers):
    """``inner``'s answers kept: :meth:`warm` reads the portal's dossiers first, so that records
    read later (exports, other agencies) are at least as recent as the dossiers they belong to."""

    def __init__(self, inner: Registers) -> None:
        self.inner, self.concurrency = inner, inner.concurrency
        self._kept: dict[tuple[str, str, str, str], Rows] = {}

    def warm(self, codes: Sequence[str]) -> None:
        """Reads the portal dossiers ``codes`` now (a few at a time); unreadable ones are read
        again, and reported, when reconciliation asks."""
        from concurrent.futures import ThreadPoolExecutor

        def one(code: str) -> None:
            with contextlib.suppress(NotVerifiable):
                self.find("portal", "dossiers", "id", code)

        with ThreadPoolExecutor(max(1, self.concurrency)) as pool:
            list(pool.map(one, [c for c in codes if c]))

    def find(self, agency: str, table: str, field: str, value: str) -> Rows:
        key = (agency, table, field, value)
        if key not in self._kept:
            self._kept[key] = self.inner.find(agency, table, field, value)
        return self._kept[key]

    def made_on(self, agency: str, table: str, days: Sequence[date]) -> Rows:
        return self.inner.made_on(agency, table, days)

    def source(self, agency: str) -> str:
        return self.inner.source(agency)

    def whole(self, agency: str) -> bool:
        return self.inner.whole(agency)


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _code(reply: Any) -> str:
    try:
        body = reply.json()
    except ValueError:
        return ""
    return str(body.get("code") or "") if isinstance(body, dict) else ""


def _rows_of(body: Any, single: bool, agency: str, shape: str) -> Rows:
    if single and isinstance(body, dict):
        return [body]
    if not single and isinstance(body, dict) and isinstance(body.get("items"), list):
        return [r for r in body["items"] if isinstance(r, Mapping)]
    raise NotVerifiable(agency, f"GET {shape} answered 200 without the contract's shape")


def _document_of(d: Mapping[str, Any]) -> str:
    """The hospital document a stored dossier was made from (export rows keep the input)."""
    for section, key in (("birth", "birth_certificate_id"), ("death", "death_notice_id")):
        part = d.get(section) or (d.get("input") or {}).get(section)
        if isinstance(part, Mapping) and part.get(key):
            return str(part[key])
    return ""


def fetch_exports(base_url: str, admin_key: str, agencies: Iterable[str] = EXPORTED_AGENCIES,
                  timeout_s: float = 60.0) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """``{agency: {table: rows}}`` from ``GET /admin/export/{agency}`` of the reference fakes at
    ``base_url``. Raises ``httpx.HTTPError`` when an export cannot be read.
    """
    import httpx

    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    # the portal first: with agencies in time the scenario clock runs on while the exports are
    # read, so a dossier the portal shows completed then has every record in the later exports.
    # Then the agencies latest in the linked chains first (payments and cards before the PIDs and
    # register numbers they were made for), so that a card or payment made for a dossier still in
    # work at the portal's read has its PID or death record in the exports read after it.
    order = ("portal", "vss", "social", "police", "justice", "health")
    with httpx.Client(timeout=timeout_s, headers={"X-API-Key": admin_key}) as client:
        for agency in sorted(agencies, key=lambda a: order.index(a) if a in order else len(order)):
            reply = client.get(f"{base_url.rstrip('/')}/admin/export/{agency}")
            reply.raise_for_status()
            out[agency] = reply.json()["registers"]
    return out
