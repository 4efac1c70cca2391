"""What a check decides: pass (:func:`passed`), fail (:class:`Failed`, :func:`ensure`,
:func:`expect_equal`) or not run (:class:`Blocked`), each with the exchanges that show it, and
the cases a rule check covered (:class:`Cases`) (private).

Evidence a person can act on: a failure names the field and shows what was expected and what came
back. Non-personal values are shown in clear; personal ones (PIDs, BHXH numbers, card codes) are
compared in full but shown masked (``TE1*********008``) with a stable fingerprint of each side and
the position of the first difference, so two different codes never read alike.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from certify._exchanges import Exchange, scrub
from fakes.ids import mask

__all__ = ["Blocked", "Cases", "Failed", "Outcome", "covering", "ensure", "expect_equal", "fingerprint",
           "first_difference", "identifier_kind", "mismatch", "passed", "shown"]

Status = Literal["pass", "fail", "not run", "error"]

#: Fields that hold a personal identifier (compared by fingerprint, shown masked).
PERSONAL_FIELDS = frozenset({"pid", "mother_pid", "deceased_pid", "applicant_pid", "card_code", "bhxh",
                             "mother_bhxh"})
_KINDS = ((re.compile(r"\d{12}"), "PID"), (re.compile(r"\d{10}"), "BHXH number"),
          (re.compile(r"[A-Z]{2}\d{13}"), "card code"))


class Failed(Exception):
    """A requirement is not met; ``exchanges`` are the evidence, ``data`` what the certificate
    shows beside them (the cases covered)."""

    def __init__(self, detail: str, *exchanges: Exchange, data: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail, self.exchanges = detail, list(exchanges)
        self.data: dict[str, Any] = dict(data or {})


class Blocked(Exception):
    """A requirement could not be exercised (a prerequisite failed): it is *not run*."""

    def __init__(self, detail: str, *exchanges: Exchange, data: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail, self.exchanges = detail, list(exchanges)
        self.data: dict[str, Any] = dict(data or {})


@dataclass
class Outcome:
    """The decision on one requirement, with its evidence."""

    status: Status
    detail: str
    exchanges: list[Exchange] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def ensure(condition: bool, detail: str, *exchanges: Exchange) -> None:
    """Raise :class:`Failed` with ``detail`` unless ``condition``."""
    if not condition:
        raise Failed(detail, *exchanges)


def passed(detail: str, *exchanges: Exchange, **data: Any) -> Outcome:
    """A passing outcome."""
    return Outcome("pass", detail, list(exchanges), dict(data))


# -- evidence ------------------------------------------------------------------------------
def fingerprint(value: object) -> str:
    """A stable 8-hex fingerprint of ``value`` (SHA-256 of its text): equal values, equal prints."""
    return hashlib.sha256(str(value).encode()).hexdigest()[:8]


def identifier_kind(value: str) -> str | None:
    """``"PID"``, ``"BHXH number"`` or ``"card code"`` when ``value`` has that shape, else None."""
    return next((kind for rx, kind in _KINDS if rx.fullmatch(value)), None)


def _is_personal(name: str, *values: object) -> bool:
    leaf = name.rsplit(".", 1)[-1].split("[", 1)[0]
    return leaf in PERSONAL_FIELDS or any(isinstance(v, str) and identifier_kind(v) for v in values)


def shown(value: object, personal: bool) -> str:
    """``value`` as a failure prints it: masked with its fingerprint when personal."""
    if value is None:
        return "nothing (null or absent)"
    if personal and isinstance(value, str):
        return f"{mask(value)} [fp {fingerprint(value)}]"
    return repr(value)


def _first_char_difference(a: str, b: str) -> int:
    """1-based position of the first character where ``a`` and ``b`` differ."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i + 1
    return min(len(a), len(b)) + 1


def mismatch(name: str, expected: object, got: object, *, personal: bool | None = None) -> str:
    """One sentence naming ``name`` and what differs between ``expected`` and ``got``."""
    personal = _is_personal(name, expected, got) if personal is None else personal
    text = f"{name}: expected {shown(expected, personal)}, got {shown(got, personal)}"
    if personal and isinstance(expected, str) and isinstance(got, str):
        pos = _first_char_difference(expected, got)
        where = f"first difference at character {pos} of {len(expected)}"
        if len(expected) != len(got):
            where += f"; {len(got)} characters instead of {len(expected)}"
        text += f" ({where})"
    return text


def expect_equal(name: str, expected: object, got: object, *exchanges: Exchange,
                 personal: bool | None = None, why: str = "") -> None:
    """Raise :class:`Failed` naming field ``name`` unless ``got == expected``.

    ``personal`` (default: guessed from the field name and the values' shape) masks both sides
    and adds their fingerprints and the position of the first difference; ``why`` is appended.
    """
    if got != expected:
        raise Failed(mismatch(name, expected, got, personal=personal) + (f" — {why}" if why else ""),
                     *exchanges)


def first_difference(expected: Any, got: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first field (dotted path) where two JSON documents differ, with both values."""
    if isinstance(expected, dict) and isinstance(got, dict):
        for k in sorted(set(expected) | set(got), key=str):
            sub = first_difference(expected.get(k), got.get(k), f"{path}.{k}" if path else str(k))
            if sub is not None:
                return sub
        return None
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        for i, (a, b) in enumerate(zip(expected, got, strict=True)):
            sub = first_difference(a, b, f"{path}[{i}]")
            if sub is not None:
                return sub
        return None
    return None if expected == got else (path or "body", expected, got)


# -- cases -------------------------------------------------------------------------------
@dataclass
class Cases:
    """The cases a rule check covered: which branch or boundary each one is, the expected value
    and how it ended (``pass``, ``fail``, ``not run`` when a prerequisite could not be built;
    ``not reached`` after an earlier case failed).

    Items are plain JSON (strings and numbers) without personal identifiers: they go into the
    certificate as ``data["cases"]`` (see :func:`covering`).
    """

    items: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Failed] = field(default_factory=list)

    def plan(self, case: str, expected: str, **facts: Any) -> dict[str, Any]:
        """Name a case before it runs (it reads ``not reached`` until :meth:`run` ends it)."""
        item = {"case": case, **{k: _plain(v) for k, v in facts.items()}, "expected": expected,
                "result": "not reached"}
        self.items.append(item)
        return item

    @contextmanager
    def run(self, item: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Run the case ``item``. A :class:`Failed` inside marks it ``fail`` and is kept (the next
        cases still run; :meth:`passed` reports it); a :class:`Blocked` marks it ``not run`` and
        any other error ``fail``, and both propagate."""
        try:
            yield item
        except Failed as exc:
            item["result"], item["detail"] = "fail", scrub(exc.detail)
            self.failures.append(exc)
            return
        except Blocked:
            item["result"] = "not run"
            raise
        except BaseException:
            item["result"] = "fail"
            raise
        item["result"] = "pass"

    def case(self, case: str, expected: str, **facts: Any) -> AbstractContextManager[dict[str, Any]]:
        """:meth:`plan` and :meth:`run` in one: ``with cases.case("…", "…"): …``."""
        return self.run(self.plan(case, expected, **facts))

    def passed(self, detail: str, *exchanges: Exchange) -> Outcome:
        """Pass with ``detail`` when every case passed; else raise :class:`Failed` naming the failed
        cases (their own exchanges as evidence)."""
        if self.failures:
            bad = [i for i in self.items if i["result"] == "fail"]
            first = "; ".join(f"[{i['case']}] {i.get('detail', '')}" for i in bad[:3])
            raise Failed(f"{len(bad)} of {len(self.items)} cases failed: {first}",
                         *[e for f in self.failures[:3] for e in f.exchanges[:1]])
        return passed(f"{detail} ({len(self.items)} cases)", *exchanges)

    def data(self) -> dict[str, Any]:
        return {"cases": [dict(i) for i in self.items]}


def covering(check: Callable[[Any, Cases], Outcome]) -> Callable[[Any], Outcome]:
    """A check that records its :class:`Cases`: they go into the outcome's ``data["cases"]``,
    whether it passes, fails or is blocked."""

    @functools.wraps(check)
    def run(ctx: Any) -> Outcome:
        cases = Cases()
        try:
            out = check(ctx, cases)
        except (Failed, Blocked) as exc:
            exc.data.update(cases.data())
            raise
        out.data.update(cases.data())
        return out

    return run


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
