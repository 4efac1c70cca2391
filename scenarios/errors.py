"""The one exception the scenario package raises for a bad scenario."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["ScenarioError", "closest"]


class ScenarioError(ValueError):
    """A scenario file or value is invalid.

    ``key`` is the dotted key of the first problem (``faults[2].kind``), ``problems`` lists
    every ``(key, message)`` found, so a person can fix a file in one pass.
    """

    def __init__(self, problems: list[tuple[str, str]], source: str | None = None) -> None:
        if not problems:
            raise ValueError("ScenarioError needs at least one problem")
        self.problems = problems
        self.key = problems[0][0]
        self.source = source
        where = f"{source}: " if source else ""
        lines = [f"{key}: {msg}" if key else msg for key, msg in problems]
        super().__init__(where + "\n".join(lines))


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The valid choice nearest to a misspelt ``word``, or None when nothing is close."""
    found = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return found[0] if found else None
