"""The reference fakes: synthetic citizens and identifiers, one ASGI app per agency, the portal.

Names are imported lazily, so ``import fakes.ids`` stays light (no FastAPI, no Faker).

>>> from fakes import start_subprocess
>>> with start_subprocess("hanoi-baseline", "runs/fakes") as fakes:   # doctest: +SKIP
...     print(fakes.base_url, fakes.key("hospital"))
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AGENCIES": "fakes.app",
    "FakesApp": "fakes.app",
    "create_app": "fakes.app",
    "LifeEvents": "fakes.events",
    "simulate": "fakes.events",
    "Population": "fakes.people",
    "generate": "fakes.people",
    "mask_record": "fakes.people",
    "write_csv": "fakes.people",
    "write_jsonl": "fakes.people",
    "Handle": "fakes.serve",
    "serve": "fakes.serve",
    "start_subprocess": "fakes.serve",
    "start_thread": "fakes.serve",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'fakes' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
