"""What a check decides: pass (:func:`passed`), fail (:class:`Failed`, :func:`ensure`) or not run
(:class:`Blocked`), each with the exchanges that show it (private)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from certify._exchanges import Exchange

__all__ = ["Blocked", "Failed", "Outcome", "ensure", "passed"]

Status = Literal["pass", "fail", "not run"]


class Failed(Exception):
    """A requirement is not met; ``exchanges`` are the evidence."""

    def __init__(self, detail: str, *exchanges: Exchange) -> None:
        super().__init__(detail)
        self.detail, self.exchanges = detail, list(exchanges)


class Blocked(Exception):
    """A requirement could not be exercised (a prerequisite failed): it is *not run*."""

    def __init__(self, detail: str, *exchanges: Exchange) -> None:
        super().__init__(detail)
        self.detail, self.exchanges = detail, list(exchanges)


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
