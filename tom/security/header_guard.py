"""Cut off HTTP connections that trickle their request headers (one byte every few seconds).

aiohttp waits for headers as long as the peer keeps sending; a few hundred such connections
hold sockets and memory without ever being a request the rate limit could count. The guard
wraps the server's protocol factory: a connection whose first request's headers have not
arrived within `timeout_s` is aborted.
"""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = structlog.get_logger(__name__)


class HeaderGuard:
    """A protocol factory for `loop.create_server` that gives each connection a header deadline."""

    def __init__(self, server: web.Server, timeout_s: float) -> None:
        self.server = server
        self.timeout_s = timeout_s
        self.cut_off = 0

    def __call__(self) -> RequestHandler:
        handler = self.server()
        asyncio.get_running_loop().call_later(self.timeout_s, self._check, handler)
        return handler

    def __getattr__(self, name: str) -> object:  # the rest of web.Server (shutdown, connections)
        return getattr(self.server, name)

    def _check(self, handler: RequestHandler) -> None:
        transport = handler.transport
        if transport is None or transport.is_closing() or handler._request_count > 0:
            return
        self.cut_off += 1
        peer = transport.get_extra_info("peername")
        log.info("HTTP connection closed: no request headers in time", peer=peer and peer[0],
                 timeout_s=self.timeout_s, kind="header_timeout")
        transport.abort()


def guard_headers(runner: web.AppRunner, timeout_s: float) -> None:
    """Wrap `runner`'s server (after `setup()`, before its sites start)."""
    server = runner.server
    if server is None:
        raise RuntimeError("guard_headers needs a runner that is set up")
    runner._server = HeaderGuard(server, timeout_s)  # type: ignore[assignment]
