"""`tom serve`: the aiohttp app, its listeners and their lifecycle.

Routes: Twilio webhooks + media stream, the browser call socket, the calls API, the monitor
(health, metrics, stats, SSE) and the dashboard build at `/`. AudioSocket is a TCP listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
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
from tom.security.header_guard import guard_headers
from tom.security.startup import preflight
from tom.telephony.audiosocket import AudioSocketServer
from tom.telephony.browser import BrowserBridge
from tom.telephony.sip.agent import SipAgent
from tom.telephony.sip.stack import SipStartError
from tom.telephony.twilio import TwilioBridge

log = structlog.get_logger(__name__)

DASHBOARD_DIST = Path(__file__).resolve().parent.parent / "dashboard" / "dist"
NO_DASHBOARD = """<!doctype html><meta charset="utf-8"><title>TOM</title>
<h1>TOM is running</h1><p>The dashboard has not been built. Build it with
<code>make dashboard</code> (runs <code>npm ci &amp;&amp; npm run build</code> in
<code>dashboard/</code>) and reload. The API is at <a href="/api/calls">/api/calls</a>,
metrics at <a href="/metrics">/metrics</a>.</p>"""


class ServerStartError(RuntimeError):
    """TOM could not start (a port is taken, Redis is misconfigured); says what and what to do."""


class TomServer:
    """TOM's whole server as an async context manager (used by `tom serve`, tests and bench).

        async with TomServer(settings) as server:
            print(server.url)  # http://127.0.0.1:PORT (port 0 in settings → a free port)

    Everything `start` starts is pushed on one exit stack: a start that fails half-way unwinds
    what it had started (listeners, retention, the assistant's models and threads, the Redis
    mirror) before raising, and `stop` unwinds the same stack after the calls have ended.
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
        self.sip = SipAgent(self.assistant) if self.settings.sip.enabled else None
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.port = 0
        self._lifecycle = asyncio.Lock()  # start and stop never interleave
        self._started: contextlib.AsyncExitStack | None = None  # what stop() unwinds

    async def __aenter__(self) -> TomServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self, progress: Callable[[str, str], None] | None = None) -> None:
        """Load the models and open the listeners; on failure nothing is left running."""
        async with self._lifecycle:
            if self._started is not None:
                raise RuntimeError("this TomServer is already started")
            check_startup(self.settings)  # a public address without credentials never starts
            preflight(self.settings)  # data dir, database, ports: fail before the models load
            try:
                async with contextlib.AsyncExitStack() as stack:
                    stack.callback(self._forget_listeners)
                    await self._start_redis(stack)
                    stack.push_async_callback(self.assistant.close)
                    await self.assistant.start(progress)
                    self.metrics.watch_workers(lambda: self.assistant.workers)
                    stack.push_async_callback(self.retention.stop)
                    self.retention.start()
                    for m in self.assistant.loaded.values():
                        self.readiness.set_model(m.source.stage)
                        self.metrics.set_model_load(m.source.stage, m.load_s)
                    await self._listen_http(stack)
                    await self._listen_audiosocket(stack)
                    await self._listen_sip(stack)
                    self._started = stack.pop_all()
            except BaseException as exc:
                log.warning("start-up failed; what had started is stopped again",
                            error=str(exc) or type(exc).__name__)
                raise
        s = self.settings.server
        log.info("TOM is listening", http=self.url,
                 audiosocket=self.audiosocket and f"{s.host}:{self.audiosocket.port}",
                 twilio_stream=f"{self.url.replace('http', 'ws', 1)}/twilio/stream",
                 models=[f"{m['stage']}: {m['name']}" for m in self.assistant.describe_models()])

    async def _start_redis(self, stack: contextlib.AsyncExitStack) -> None:
        if self.redis is None:
            return
        stack.push_async_callback(self.redis.close)
        try:
            await self.redis.start(self.bus)
        except Exception as exc:
            raise ServerStartError(
                f"cannot start the Redis mirror for redis.url = {self.settings.redis.url!r}: "
                f"{exc}; fix the URL (redis://host:port/db) or leave it empty") from exc

    async def _listen_http(self, stack: contextlib.AsyncExitStack) -> None:
        s = self.settings.server
        runner = web.AppRunner(self.build_app(), handle_signals=False, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        guard_headers(runner, self.assistant.guards.limits.header_timeout_s)
        self.runner = runner
        try:
            await web.TCPSite(runner, s.host, s.port).start()
        except OSError as exc:
            raise ServerStartError(
                f"cannot listen for HTTP on {_address(s.host, s.port)}: {_reason(exc)}; stop the "
                "program using it or choose another port with server.port (TOM_SERVER_PORT)"
            ) from exc
        self.port = runner.addresses[0][1]
        self.url = f"http://{_url_host(s.host)}:{self.port}"
        self.readiness.set_listener("http")

    async def _listen_audiosocket(self, stack: contextlib.AsyncExitStack) -> None:
        if self.audiosocket is None:
            return
        stack.push_async_callback(self.audiosocket.close)
        a = self.settings.audiosocket
        try:
            await self.audiosocket.start()
        except OSError as exc:
            raise ServerStartError(
                f"cannot listen for AudioSocket on {_address(a.host, a.port)}: {_reason(exc)}; "
                "choose another port with audiosocket.port (TOM_AUDIOSOCKET_PORT) or set "
                "audiosocket.enabled = false") from exc
        self.readiness.set_listener("audiosocket")

    async def _listen_sip(self, stack: contextlib.AsyncExitStack) -> None:
        if self.sip is None:
            return
        stack.push_async_callback(self.sip.close)
        if self.settings.sip.registrar:  # ready once the registrar knows where TOM is
            self.readiness.set_listener("sip_registration", False)
            self.sip.on_registered = lambda ok: self.readiness.set_listener("sip_registration", ok)
        try:
            await self.sip.start()
        except SipStartError as exc:
            raise ServerStartError(str(exc)) from exc
        self.readiness.set_listener("sip")
        log.info("SIP user agent listening", address=_address(self.settings.sip.host,
                                                              self.sip.port))

    def _forget_listeners(self) -> None:
        self.runner, self.url, self.port = None, "", 0

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
        store = self.assistant.messages
        if store is None:  # only before the assistant has started
            return json_response({"messages": []})
        return json_response({"messages": await store.list(200)})

    async def stop(self, grace_s: float = 0.0) -> None:
        """Stop accepting calls, let calls finish for `grace_s`, end the rest politely, then
        stop everything `start` started. Safe to call twice, or after a failed start."""
        async with self._lifecycle:
            started, self._started = self._started, None
            if started is None:
                return
            async with started:  # unwinds even when ending the calls fails
                await self._end_calls(grace_s)

    async def _end_calls(self, grace_s: float) -> None:
        if self.audiosocket is not None:
            await self.audiosocket.stop_accepting()
        if self.sip is not None:
            self.sip.stop_accepting()  # new INVITEs: 503 with Retry-After
        self.assistant.accepting = False  # new calls hear "all lines are busy"
        waiters = [asyncio.ensure_future(c.wait_ended()) for c in self.assistant.calls.values()]
        if waiters and grace_s > 0:
            await asyncio.wait(waiters, timeout=grace_s)
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        await self.assistant.end_all("server shutting down")


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _reason(exc: OSError) -> str:
    """ "address already in use" rather than the event loop's long wording."""
    return os.strerror(exc.errno).lower() if exc.errno else str(exc)


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
    audiosocket = server.audiosocket.port if server.audiosocket else "-"
    try:
        print(f"TOM is answering calls: dashboard {server.url}/  ·  Twilio webhook "
              f"{server.url}/twilio/voice  ·  AudioSocket {settings.audiosocket.host}:{audiosocket}"
              + (f"  ·  SIP {_address(settings.sip.host, server.sip.port)} (udp, tcp)"
                 if server.sip is not None else ""),
              flush=True)
        await stop.wait()
        log.info("shutting down", grace_s=settings.server.shutdown_grace_s,
                 active_calls=len(server.assistant.calls))
    finally:
        await server.stop(settings.server.shutdown_grace_s)
