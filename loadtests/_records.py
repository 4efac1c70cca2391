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
    "traffic.vneid_traffic",  # non-dossier traffic (loadtests._traffic), in its own table
    "traffic.residence_registration",
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
    """An append-only table of fixed-dtype rows: appended as tuples (cheap on the load driver's
    hot path) and packed into numpy chunks of ``chunk`` rows, so no more than one chunk of
    Python objects is ever held."""

    def __init__(self, dtype: np.dtype, capacity: int = 1024, chunk: int = 65536) -> None:
        if capacity < 1 or chunk < 1:
            raise ValueError(f"capacity and chunk must be positive, got {capacity}, {chunk}")
        self._dtype, self._chunk = dtype, chunk
        self._chunks: list[npt.NDArray[np.void]] = []
        self._pending: list[tuple[object, ...]] = []
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, *values: object) -> None:
        """Adds one row given as positional field values."""
        self._pending.append(values)
        self._n += 1
        if len(self._pending) >= self._chunk:
            self._pack()

    def _pack(self) -> None:
        if self._pending:
            self._chunks.append(np.array(self._pending, dtype=self._dtype))
            self._pending = []

    def rows(self) -> npt.NDArray[np.void]:
        """A copy of the rows appended so far."""
        self._pack()
        if not self._chunks:
            return np.zeros(0, self._dtype)
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0].copy()
