"""`tom serve`: the aiohttp app, its listeners and their lifecycle.

Routes: Twilio webhooks + media stream, the browser call socket, the calls API, the monitor
(health, metrics, stats, SSE) and the dashboard build at `/`. AudioSocket is a TCP listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import structlog
from aiohttp import web

from tom.assistant import Assistant
from tom.config import Settings
from tom.monitor import events as ev
from tom.monitor.health import Readiness
from tom.monitor.metrics import Metrics
from tom.monitor.redis_mirror import RedisMirror
from tom.monitor.routes import json_response, setup_monitor_routes
from tom.monitor.stats import StageStats
from tom.security import (
    RateLimiter,
    RetentionTask,
    auth_middleware,
    check_startup,
    rate_limit_middleware,
)
from tom.telephony.audiosocket import AudioSocketServer
from tom.telephony.browser import BrowserBridge
from tom.telephony.twilio import TwilioBridge

log = structlog.get_logger(__name__)

DASHBOARD_DIST = Path(__file__).resolve().parent.parent / "dashboard" / "dist"
NO_DASHBOARD = """<!doctype html><meta charset="utf-8"><title>TOM</title>
<h1>TOM is running</h1><p>The dashboard has not been built. Build it with
<code>make dashboard</code> (runs <code>npm ci &amp;&amp; npm run build</code> in
<code>dashboard/</code>) and reload. The API is at <a href="/api/calls">/api/calls</a>,
metrics at <a href="/metrics">/metrics</a>.</p>"""


class TomServer:
    """TOM's whole server as an async context manager (used by `tom serve`, tests and bench).

        async with TomServer(settings) as server:
            print(server.url)  # http://127.0.0.1:PORT (port 0 in settings → a free port)
    """

    def __init__(self, settings: Settings | None = None, *, bus: ev.EventBus | None = None) -> None:
        self.settings = settings or Settings.load()
        self.bus = bus or ev.EventBus()
        self.metrics = Metrics()
        self.stats = StageStats()
        self.bus.listen(self.metrics.on_event)
        self.bus.listen(self.stats.on_event)
        self.assistant = Assistant(self.settings, bus=self.bus)
        self.redis = (RedisMirror.from_settings(self.settings.redis, self.metrics,
                                                redact=self.settings.log.redact)
                      if self.settings.redis.url else None)
        self.readiness = Readiness(self.redis)
        self.limiter = RateLimiter(self.settings.server.rate_limit_per_min)
        self.retention = RetentionTask(self.assistant, self.settings.data.retention_days)
        self.audiosocket = AudioSocketServer(self.assistant, limiter=self.limiter) \
            if self.settings.audiosocket.enabled else None
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.port = 0

    async def __aenter__(self) -> TomServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self, progress=None) -> None:
        check_startup(self.settings)  # a public address without credentials never starts
        if self.redis is not None:
            await self.redis.start(self.bus)
        await self.assistant.start(progress)
        self.retention.start()
        for m in self.assistant.loaded.values():
            self.readiness.set_model(m.source.stage)
            self.metrics.set_model_load(m.source.stage, m.load_s)
        app = self.build_app()
        self.runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self.runner.setup()
        s = self.settings.server
        site = web.TCPSite(self.runner, s.host, s.port)
        await site.start()
        self.port = self.runner.addresses[0][1]
        self.url = f"http://{_url_host(s.host)}:{self.port}"
        self.readiness.set_listener("http")
        if self.audiosocket is not None:
            await self.audiosocket.start()
            self.readiness.set_listener("audiosocket")
        log.info("TOM is listening", http=self.url,
                 audiosocket=self.audiosocket and f"{s.host}:{self.audiosocket.port}",
                 twilio_stream=f"{self.url.replace('http', 'ws', 1)}/twilio/stream",
                 models=[f"{m['stage']}: {m['name']}" for m in self.assistant.describe_models()])

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=self.settings.server.max_message_bytes,
                              middlewares=[rate_limit_middleware(self.limiter),
                                           auth_middleware(self.settings)])
        TwilioBridge(self.assistant).add_routes(app)
        BrowserBridge(self.assistant).add_routes(app)
        setup_monitor_routes(app, bus=self.bus, metrics=self.metrics, stats=self.stats,
                             readiness=self.readiness,
                             calls_snapshot=self.assistant.registry.snapshot)
        app.router.add_get("/api/calls", self.api_calls)
        app.router.add_get("/api/calls/{id}", self.api_call)
        app.router.add_get("/api/messages", self.api_messages)
        dist = Path(self.settings.server.dashboard_dir or DASHBOARD_DIST)
        if (dist / "index.html").is_file():
            async def index(_request: web.Request) -> web.FileResponse:
                return web.FileResponse(dist / "index.html")

            app.router.add_get("/", index)
            app.router.add_static("/", dist, show_index=False)
        else:
            async def no_dashboard(_request: web.Request) -> web.Response:
                return web.Response(text=NO_DASHBOARD, content_type="text/html")

            app.router.add_get("/", no_dashboard)
        return app

    async def api_calls(self, _request: web.Request) -> web.Response:
        return json_response(self.assistant.registry.listing())

    async def api_call(self, request: web.Request) -> web.Response:
        record = self.assistant.registry.get(request.match_info["id"])
        if record is None:
            return json_response({"error": f"no call with id {request.match_info['id']!r}"}, 404)
        return json_response(record.detail())

    async def api_messages(self, _request: web.Request) -> web.Response:
        return json_response({"messages": await self.assistant.messages.list(200)})

    async def stop(self, grace_s: float = 0.0) -> None:
        """Stop accepting calls, let calls finish for `grace_s`, then end the rest politely."""
        await self.retention.stop()
        if self.audiosocket is not None:
            await self.audiosocket.stop_accepting()
        self.assistant.accepting = False  # new calls hear "all lines are busy"
        running = [asyncio.ensure_future(c.wait_ended()) for c in self.assistant.calls.values()]
        if running and grace_s > 0:
            await asyncio.wait(running, timeout=grace_s)
        for waiter in running:
            waiter.cancel()
        await self.assistant.end_all("server shutting down")
        if self.runner is not None:
            await self.runner.cleanup()
        if self.audiosocket is not None:
            await self.audiosocket.close()
        await self.assistant.close()
        if self.redis is not None:
            await self.redis.close()


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, then shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    server = TomServer(settings)

    def progress(stage: str, name: str) -> None:
        log.info("loading model", stage=stage, model=name)

    await server.start(progress)
    print(f"TOM is answering calls: dashboard {server.url}/  ·  Twilio webhook "
          f"{server.url}/twilio/voice  ·  AudioSocket "
          f"{settings.audiosocket.host}:{server.audiosocket.port if server.audiosocket else '-'}",
          flush=True)
    await stop.wait()
    log.info("shutting down", grace_s=settings.server.shutdown_grace_s,
             active_calls=len(server.assistant.calls))
    await server.stop(settings.server.shutdown_grace_s)
