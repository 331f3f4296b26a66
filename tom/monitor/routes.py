"""The monitoring HTTP routes: /healthz, /readyz, /metrics, /api/stats, /api/events (SSE)."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from aiohttp import web

from tom.monitor.events import EventBus
from tom.monitor.metrics import Metrics
from tom.monitor.sse import KEEPALIVE_S, stream_events
from tom.monitor.stats import StageStats

log = structlog.get_logger(__name__)

READINESS_TIMEOUT_S = 3.0
SSE_STOP = web.AppKey("tom_monitor_sse_stop", asyncio.Event)
_dumps = functools.partial(json.dumps, ensure_ascii=False, default=str)


def json_response(data: Any, status: int = 200) -> web.Response:
    """UTF-8 JSON with umlauts as they are."""
    return web.json_response(data, status=status, dumps=_dumps)


def setup_monitor_routes(app: web.Application, *, bus: EventBus, metrics: Metrics,
                         stats: StageStats,
                         readiness: Callable[[], Awaitable[Mapping[str, Any]]],
                         calls_snapshot: Callable[[], list[dict[str, Any]]],
                         keepalive_s: float = KEEPALIVE_S) -> None:
    """Add the monitor routes to `app`; open SSE streams end when the app shuts down.

    The caller registers the listeners itself (`bus.listen(metrics.on_event)`,
    `bus.listen(stats.on_event)`), once per bus.
    """
    stop = asyncio.Event()
    app[SSE_STOP] = stop

    async def on_shutdown(_app: web.Application) -> None:
        stop.set()

    async def healthz(_request: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        try:
            body = dict(await asyncio.wait_for(readiness(), READINESS_TIMEOUT_S))
        except Exception as exc:  # a broken check means "not ready", not a 500
            log.warning("readiness check failed", error=repr(exc))
            body = {"ready": False, "error": f"readiness check failed: {exc!r}"}
        body["ready"] = bool(body.get("ready"))
        return json_response(body, status=200 if body["ready"] else 503)

    async def metrics_handler(_request: web.Request) -> web.Response:
        payload, content_type = metrics.render()
        response = web.Response(body=payload)
        response.headers["Content-Type"] = content_type
        return response

    async def api_stats(_request: web.Request) -> web.Response:
        return json_response(stats.snapshot())

    async def api_events(request: web.Request) -> web.StreamResponse:
        return await stream_events(request, bus, calls_snapshot, keepalive_s=keepalive_s,
                                   stop=stop)

    app.on_shutdown.append(on_shutdown)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/api/stats", api_stats)
    app.router.add_get("/api/events", api_events)
