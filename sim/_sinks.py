"""Record sinks: where the twin streams its record chunks so memory stays flat."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

__all__ = ["CsvSink", "NpySink", "Sink", "read_npy"]


class Sink(Protocol):
    """Receives record chunks: ``write("steps" | "dossiers", array)`` then ``close()``."""

    def write(self, kind: str, rows: np.ndarray) -> None: ...

    def close(self) -> None: ...


class NpySink:
    """Writes each chunk to ``folder/<kind>-<n>.npy``; ``read_npy(folder, kind)`` joins them."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.counts: dict[str, int] = {}

    def write(self, kind: str, rows: np.ndarray) -> None:
        n = self.counts.get(kind, 0)
        np.save(self.folder / f"{kind}-{n:05d}.npy", rows, allow_pickle=False)
        self.counts[kind] = n + 1

    def close(self) -> None:
        pass


def read_npy(folder: str | Path, kind: str) -> np.ndarray:
    """All chunks of ``kind`` written by an ``NpySink`` in ``folder``, in order.

    Raises FileNotFoundError when there are none.
    """
    files = sorted(Path(folder).glob(f"{kind}-*.npy"))
    if not files:
        raise FileNotFoundError(f"no {kind!r} chunks in {folder}")
    return np.concatenate([np.load(f, allow_pickle=False) for f in files])


class CsvSink:
    """Appends chunks to ``folder/<kind>.csv`` with a header row (subarray fields flattened)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, object] = {}

    def write(self, kind: str, rows: np.ndarray) -> None:
        names = rows.dtype.names or ()
        path = self.folder / f"{kind}.csv"
        new = kind not in self.files
        self.files[kind] = path
        with path.open("w" if new else "a", encoding="utf-8") as f:
            if new:
                f.write(",".join(names) + "\n")
            cols = [rows[n].astype(np.int64) if rows[n].dtype == np.bool_ else rows[n] for n in names]
            fmt = ["%d" if c.dtype.kind in "iub" else "%.6f" for c in cols]
            table = np.empty((rows.size, len(names)), dtype=object)
            for j, c in enumerate(cols):
                table[:, j] = c
            np.savetxt(f, table, fmt=fmt, delimiter=",")

    def close(self) -> None:
        pass
