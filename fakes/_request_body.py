"""A request body read whole from ASGI ``receive`` and given again to the app behind."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["never", "read_body", "replay_body"]

Message = dict[str, Any]


async def read_body(receive: Any) -> bytes:
    """The whole body of the request ``receive`` belongs to."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def replay_body(body: bytes, receive: Any) -> Any:
    """A ``receive`` that gives ``body`` (already read) first, then defers to ``receive``."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


async def never() -> Message:
    """A ``receive`` with nothing more to give: a client that waits and never disconnects."""
    await asyncio.Event().wait()
    return {"type": "http.disconnect"}  # pragma: no cover - never reached
