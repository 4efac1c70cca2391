"""Flat record tables of a live run (private): one row per HTTP request, one per dossier.

Times are wall seconds (``time.time()``). Every request row keeps the *intended* start (when the
open model meant the work to begin), the actual start and the end, so latency can be read both
from the intended start (coordinated-omission-safe) and as service time.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["JOURNEY_DTYPE", "REQUEST_DTYPE", "REQUEST_KINDS", "Table", "kind_code"]

# What a request was for; the index is stored in ``REQUEST_DTYPE.kind``.
REQUEST_KINDS = (
    "health.birth_certificate",
    "health.death_notice",
    "portal.submit",
    "portal.status",
    "other",
)

REQUEST_DTYPE = np.dtype(
    [
        ("kind", "u1"),
        ("dossier", "i8"),
        ("intended", "f8"),
        ("start", "f8"),
        ("end", "f8"),
        ("status", "i2"),
        ("ok", "?"),
    ]
)

# One row per arrival of the stream the driver handled. ``submitted`` is the stream's scenario
# minute; ``intended`` its wall time; ``accepted`` when the portal took the dossier (202),
# ``finished`` when a poll first saw it terminal; ``outcome`` indexes OUTCOMES in journeys.py.
JOURNEY_DTYPE = np.dtype(
    [
        ("dossier", "i8"),
        ("service", "u1"),
        ("variant", "u1"),
        ("channel", "u1"),
        ("status", "u1"),
        ("verification", "?"),
        ("incomplete", "?"),
        ("submitted", "f8"),
        ("intended", "f8"),
        ("started", "f8"),
        ("accepted", "f8"),
        ("finished", "f8"),
        ("completed_minute", "f8"),
        ("outcome", "u1"),
        ("attempts", "u2"),
        ("polls", "u4"),
    ]
)


def kind_code(kind: str) -> int:
    """The index of ``kind`` in REQUEST_KINDS; ValueError naming an unknown kind."""
    try:
        return REQUEST_KINDS.index(kind)
    except ValueError:
        raise ValueError(f"unknown request kind {kind!r}; one of {', '.join(REQUEST_KINDS)}") from None


class Table:
    """An append-only numpy table that grows by doubling (no per-row Python objects kept)."""

    def __init__(self, dtype: np.dtype, capacity: int = 1024) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self._rows = np.zeros(capacity, dtype)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, *values: object) -> None:
        """Adds one row given as positional field values."""
        if self._n == self._rows.size:
            self._rows = np.concatenate([self._rows, np.zeros(self._rows.size, self._rows.dtype)])
        self._rows[self._n] = values
        self._n += 1

    def rows(self) -> npt.NDArray[np.void]:
        """A copy of the rows appended so far."""
        return self._rows[: self._n].copy()
