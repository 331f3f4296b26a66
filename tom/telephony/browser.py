"""Calls from the dashboard's "Talk to TOM" button: PCM16 16 kHz over a websocket.

Browser → TOM: binary PCM16 LE mono 16 kHz, or `{"type": "hangup"}`. TOM → browser: binary
PCM16 of TOM's voice (paced), and JSON text messages `started`, `clear` (barge-in),
`transcript`, `end`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import structlog
from aiohttp import WSMsgType, web

from tom.monitor import events as ev
from tom.telephony.bridge import CallHost, CallLine, OutboundSink
from tom.telephony.errors import ProtocolError

log: structlog.stdlib.BoundLogger = structlog.get_logger(__name__)

BROWSER_RATE = 16000
WS_TOO_BIG = 1009


class BrowserBridge:
    def __init__(self, assistant: CallHost) -> None:
        self.assistant = assistant

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/ws/browser", self.handle)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        settings = self.assistant.settings.server
        origin = request.headers.get("Origin")
        if origin is not None and not self._origin_allowed(origin, request):
            log.warning("browser call refused: page from another origin", origin=origin,
                        peer=request.remote, kind="bad_origin")
            self.assistant.bus.publish(ev.CallError(
                call_id="", kind="bad_origin",
                message=f"a page from {origin!r} tried to open a browser call"))
            raise web.HTTPForbidden(text="this page may not open a call to TOM")
        ws = web.WebSocketResponse(max_msg_size=settings.max_message_bytes, heartbeat=30)
        await ws.prepare(request)
        await _BrowserCall(self.assistant, ws, request.remote or "").run()
        return ws

    def _origin_allowed(self, origin: str, request: web.Request) -> bool:
        """The dashboard's own origin (the host this request was sent to, or the public URL),
        or one listed in the allow-list; never `null`. Non-browser clients send no Origin."""
        own = {f"{request.scheme}://{request.host}".lower()}
        public = self.assistant.settings.server.public_url
        if public:
            parts = urlsplit(public)
            own.add(f"{parts.scheme}://{parts.netloc}".lower())
        allowed = own | {o.rstrip("/").lower() for o in self.assistant.guards.limits.browser_origins}
        return origin.rstrip("/").lower() in allowed


class BrowserSink(OutboundSink):
    """TOM's side of a browser call: binary audio, JSON for everything else."""

    def __init__(self, ws: web.WebSocketResponse, host: CallHost) -> None:
        self.ws = ws
        self.host = host
        self.call_id = ""

    @property
    def closed(self) -> bool:
        return self.ws.closed

    async def opened(self, call_id: str) -> None:
        self.call_id = call_id
        await self.ws.send_json({"type": "started", "call_id": call_id})

    async def send_audio(self, pcm: bytes) -> None:
        await self.ws.send_bytes(pcm)

    async def send_mark(self, name: str) -> None:
        pass  # the browser plays what arrives; it does not report back what was heard

    async def send_clear(self) -> None:
        await self.ws.send_json({"type": "clear"})

    async def hang_up(self, action: str) -> None:
        await self._end(action)

    async def abort(self, kind: str, message: str) -> None:
        await self._end(ev.Outcome.ERROR)

    async def close(self) -> None:
        if not self.ws.closed:
            record = self.host.registry.get(self.call_id)
            await self._end(record.outcome if record is not None else None)

    async def _end(self, outcome: str | None) -> None:
        await self.ws.send_json({"type": "end", "outcome": outcome})
        await self.ws.close()


class _BrowserCall:
    """One dashboard call: feed the microphone to the call, forward its transcripts."""

    def __init__(self, host: CallHost, ws: web.WebSocketResponse, peer: str = "") -> None:
        self.host = host
        self.ws = ws
        self.line = CallLine(host, BrowserSink(ws, host), transport="browser", peer=peer,
                             logger=log)

    async def run(self) -> None:
        await self.line.run(self._receive, closed_reason="browser hung up")

    async def _receive(self) -> None:
        call = await self.line.open(caller="browser", rate=BROWSER_RATE, busy_message=False)
        if call is None:
            return
        sub = self.host.bus.subscribe(200)
        forward = asyncio.get_running_loop().create_task(self._transcripts(call.id, sub))
        try:
            async for msg in self.ws:
                if call.ended:  # TOM hung up; the end message is on its way
                    return
                if msg.type == WSMsgType.BINARY:
                    if len(msg.data) % 2:
                        raise ProtocolError("browser audio must be whole PCM16 samples")
                    self.line.feed(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    if _json(msg.data).get("type") == "hangup":
                        return
                elif msg.type == WSMsgType.ERROR:
                    raise ProtocolError(f"websocket error: {self.ws.exception()}")
            if self.ws.close_code == WS_TOO_BIG:
                raise ProtocolError("browser message too large")
        finally:
            sub.close()
            forward.cancel()
            await asyncio.wait({forward})

    async def _transcripts(self, call_id: str, sub: ev.Subscription) -> None:
        async for event in sub:
            if isinstance(event, ev.Transcript) and event.call_id == call_id and not self.ws.closed:
                await self.ws.send_str(json.dumps({"type": "transcript", **event.data},
                                                  ensure_ascii=False))


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
