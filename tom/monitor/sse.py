"""Server-Sent Events: the dashboard's live feed of bus events (GET /api/events).

Framing lives here only. The stream subscribes before it takes the snapshot, so no event falls
between the two; a slow browser drops its own events (bounded queue) and never slows a call.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web

from tom.monitor.events import EventBus

log = structlog.get_logger(__name__)

KEEPALIVE_S = 15.0
SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # tell nginx-like proxies not to buffer the stream
}


def encode_event(data: Any, event: str | None = None) -> bytes:
    """One SSE message: optional `event:` line, `data:` as UTF-8 JSON, blank line."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    lines = [f"event: {_one_line(event)}"] if event else []
    lines += [f"data: {line}" for line in text.splitlines() or [""]]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def encode_comment(text: str = "") -> bytes:
    """A comment line; clients ignore it, proxies see traffic and keep the connection."""
    return f": {_one_line(text)}\n\n".encode()


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


async def stream_events(request: web.Request, bus: EventBus,
                        calls_snapshot: Callable[[], list[dict[str, Any]]], *,
                        keepalive_s: float = KEEPALIVE_S, queue_size: int = 256,
                        stop: asyncio.Event | None = None,
                        poll_s: float = 1.0) -> web.StreamResponse:
    """Send `snapshot` then every event until the client leaves or `stop` is set.

    `poll_s` bounds how long a vanished client keeps its subscription when nothing happens.
    """
    sub = bus.subscribe(queue_size)
    loop = asyncio.get_running_loop()
    response = web.StreamResponse(headers=SSE_HEADERS)
    try:
        await response.prepare(request)
        await response.write(encode_event({"calls": calls_snapshot()}, "snapshot"))
        last_write = loop.time()
        while not (stop is not None and stop.is_set()) and _connected(request):
            wait = min(poll_s, last_write + keepalive_s - loop.time())
            try:
                event = await asyncio.wait_for(sub.queue.get(), max(wait, 0.01))
            except TimeoutError:
                if loop.time() - last_write >= keepalive_s:
                    await response.write(encode_comment("keepalive"))
                    last_write = loop.time()
                continue
            wire = event.to_dict()
            await response.write(encode_event(wire, wire["type"]))
            last_write = loop.time()
    except ConnectionResetError:
        pass  # the client went away; nothing to tell it
    finally:
        sub.close()
        if sub.dropped:
            log.info("sse client fell behind; events were dropped", dropped=sub.dropped)
    return response


def _connected(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()
