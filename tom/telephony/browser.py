"""Calls from the dashboard's "Talk to TOM" button: PCM16 16 kHz over a websocket.

Browser → TOM: binary PCM16 LE mono 16 kHz. TOM → browser: binary PCM16 of TOM's voice (paced),
and JSON text messages `started`, `clear` (barge-in), `transcript`, `end`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import structlog
from aiohttp import WSMsgType, web

from tom.dispatcher import CallsBusy
from tom.engine.playback import AudioOut, ClearOut, EndOut
from tom.monitor import events as ev

log = structlog.get_logger(__name__)

BROWSER_RATE = 16000


class BrowserBridge:
    def __init__(self, assistant) -> None:
        self.assistant = assistant

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/ws/browser", self.handle)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        settings = self.assistant.settings.server
        ws = web.WebSocketResponse(max_msg_size=settings.max_message_bytes, heartbeat=30)
        await ws.prepare(request)
        try:
            call = await self.assistant.open_call(transport="browser", caller="browser",
                                                  in_rate=BROWSER_RATE, out_rate=BROWSER_RATE)
        except CallsBusy:
            await ws.send_json({"type": "end", "outcome": "busy"})
            await ws.close()
            return ws
        await ws.send_json({"type": "started", "call_id": call.id})
        sub = self.assistant.bus.subscribe(200)
        tasks = [asyncio.get_running_loop().create_task(self._send(ws, call)),
                 asyncio.get_running_loop().create_task(self._events(ws, call, sub))]
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    if len(msg.data) % 2:
                        await call.fail("protocol", "browser audio must be whole PCM16 samples")
                        break
                    call.feed(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    data = _json(msg.data)
                    if data.get("type") == "hangup":
                        break
                elif msg.type == WSMsgType.ERROR:
                    await call.fail("protocol", f"websocket error: {ws.exception()}")
                    break
            if ws.close_code == 1009:
                await call.fail("protocol", "browser message too large")
        finally:
            if not call.ended:
                await call.end("hung_up_by_caller", "browser hung up")
            sub.close()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if not ws.closed:
                await ws.send_json({"type": "end", "outcome": call.record.outcome})
                await ws.close()
        return ws

    async def _send(self, ws: web.WebSocketResponse, call) -> None:
        async for item in call.outbound():
            if isinstance(item, AudioOut):
                await ws.send_bytes(item.pcm)
            elif isinstance(item, ClearOut):
                await ws.send_json({"type": "clear"})
            elif isinstance(item, EndOut):
                await asyncio.sleep(0.3)
                await ws.send_json({"type": "end", "outcome": item.action})
                await ws.close()
                return

    async def _events(self, ws: web.WebSocketResponse, call, sub) -> None:
        async for event in sub:
            if event.call_id == call.id and event.type == ev.TRANSCRIPT and not ws.closed:
                await ws.send_str(json.dumps({"type": "transcript", **event.data},
                                             ensure_ascii=False))


def _json(text: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
