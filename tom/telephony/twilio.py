"""Twilio Media Streams: the TwiML webhooks and the bidirectional stream websocket.

Only translates the wire format: the call itself (VAD, STT, LLM, TTS, state) is `tom.call.Call`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from urllib.parse import urlsplit

import structlog
from aiohttp import WSMsgType, web

from tom.audio import ulaw_decode, ulaw_encode
from tom.dispatcher import CallsBusy
from tom.engine.playback import AudioOut, ClearOut, EndOut, MarkOut
from tom.telephony import twilio_wire as tw
from tom.telephony.pacing import paced_frames

log = structlog.get_logger(__name__)

PHONE_RATE = 8000


class TwilioBridge:
    """Connects Twilio calls to TOM: `POST /twilio/voice`, `/twilio/after-stream`, `GET /twilio/stream`."""

    def __init__(self, assistant) -> None:
        self.assistant = assistant
        self.settings = assistant.settings

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/twilio/voice", self.voice)
        app.router.add_post("/twilio/after-stream", self.after_stream)
        app.router.add_get("/twilio/stream", self.stream)

    # --- webhooks ----------------------------------------------------------------------------

    def _public_base(self, request: web.Request) -> str:
        if self.settings.server.public_url:
            return self.settings.server.public_url.rstrip("/")
        proto = request.headers.get("X-Forwarded-Proto", request.scheme)
        host = request.headers.get("X-Forwarded-Host", request.host)
        return f"{proto}://{host}"

    async def _checked_form(self, request: web.Request) -> dict[str, str]:
        posted = await request.post()
        form = {k: str(v) for k, v in posted.items()}
        token = self.settings.twilio.auth_token
        if token and self.settings.twilio.validate_signature:
            url = self._public_base(request) + request.path_qs
            signed = {k: [str(v) for v in posted.getall(k)] for k in posted}
            if not tw.validate_signature(token, url, signed,
                                         request.headers.get("X-Twilio-Signature")):
                log.warning("rejected webhook with a bad Twilio signature", path=request.path)
                raise web.HTTPForbidden(text="invalid X-Twilio-Signature")
        return form

    async def voice(self, request: web.Request) -> web.Response:
        form = await self._checked_form(request)
        base = self._public_base(request)
        parts = urlsplit(base)
        ws_scheme = "ws" if parts.scheme == "http" else "wss"
        stream_url = f"{ws_scheme}://{parts.netloc}{parts.path}/twilio/stream"
        if self.settings.twilio.stream_token:
            stream_url += f"?token={self.settings.twilio.stream_token}"
        params = {"caller": form.get("From", "")}
        twiml = tw.connect_stream_twiml(stream_url, f"{base}/twilio/after-stream", params)
        return web.Response(text=twiml, content_type="application/xml")

    async def after_stream(self, request: web.Request) -> web.Response:
        form = await self._checked_form(request)
        record = self.assistant.registry.get(form.get("CallSid", ""))
        number = self.assistant.profile.transfer_number
        if record is not None and record.outcome == "transferred" and number:
            return web.Response(text=tw.dial_twiml(number), content_type="application/xml")
        return web.Response(text=tw.hangup_twiml(), content_type="application/xml")

    # --- media stream ------------------------------------------------------------------------

    async def stream(self, request: web.Request) -> web.StreamResponse:
        expected = self.settings.twilio.stream_token
        if expected and not hmac.compare_digest(request.query.get("token", ""), expected):
            log.warning("rejected media stream with a wrong token", peer=request.remote)
            raise web.HTTPForbidden(text="invalid stream token")
        ws = web.WebSocketResponse(max_msg_size=self.settings.server.max_message_bytes,
                                   heartbeat=30)
        await ws.prepare(request)
        session = _StreamSession(self, ws, request.remote or "")
        await session.run()
        return ws


class _StreamSession:
    """One Twilio media stream: parse, feed the call, send its audio back."""

    def __init__(self, bridge: TwilioBridge, ws: web.WebSocketResponse, peer: str) -> None:
        self.bridge = bridge
        self.assistant = bridge.assistant
        self.ws = ws
        self.peer = peer
        self.call = None
        self.stream_sid = ""
        self.sender: asyncio.Task | None = None
        self.log = log.bind(peer=peer)

    async def run(self) -> None:
        max_bytes = self.bridge.settings.server.max_message_bytes
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.ERROR:
                    raise tw.ProtocolError(f"websocket error: {self.ws.exception()}")
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                message = tw.parse_message(msg.data, max_bytes)
                if await self._handle(message):
                    break
            if self.ws.close_code == 1009:
                raise tw.ProtocolError(f"message larger than {max_bytes} bytes")
            if self.call is not None and not self.call.ended:
                await self.call.end("hung_up_by_caller", "stream closed by the caller")
        except tw.ProtocolError as exc:
            await self._fail("protocol", str(exc))
        except Exception as exc:  # never let one stream take the server down
            self.log.exception("twilio stream failed")
            await self._fail("internal", f"{type(exc).__name__}: {exc}")
        finally:
            if self.sender is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(self.sender, 2)
            if not self.ws.closed:
                await self.ws.close()

    async def _fail(self, kind: str, message: str) -> None:
        if self.call is not None:
            await self.call.fail(kind, message)
        else:
            self.log.warning("twilio stream refused", kind=kind, error=message)
            self.assistant.bus.emit("error", "", kind=kind, message=message)
        if not self.ws.closed:
            await self.ws.close(code=1008 if kind == "protocol" else 1011,
                                message=message[:120].encode())

    async def _handle(self, message) -> bool:
        """Returns True when the stream is over."""
        if isinstance(message, tw.Connected):
            return False
        if isinstance(message, tw.Start):
            if self.call is not None:
                raise tw.ProtocolError("a second 'start' on the same stream")
            tw.check_media_format(message)
            self.stream_sid = message.stream_sid
            return await self._open(message)
        if self.call is None:
            raise tw.ProtocolError(f"'{type(message).__name__.lower()}' before 'start'")
        if self.call.ended:  # TOM hung up; what is still in flight from Twilio is ignored
            return True
        if isinstance(message, tw.Media):
            if message.track in ("inbound", "inbound_track", ""):
                self.call.feed(ulaw_decode(message.payload))
        elif isinstance(message, tw.Dtmf):
            await self.call.dtmf(message.digit)
        elif isinstance(message, tw.Stop):
            await self.call.end("hung_up_by_caller", "caller hung up")
            return True
        return self.call.ended

    async def _open(self, start: tw.Start) -> bool:
        caller = start.custom_parameters.get("caller", "")
        try:
            self.call = await self.assistant.open_call(
                transport="twilio", caller=caller, call_id=start.call_sid or start.stream_sid,
                in_rate=PHONE_RATE, out_rate=PHONE_RATE)
        except CallsBusy:
            self.log.info("call rejected: all lines busy")
            pcm = await self.assistant.busy_audio(PHONE_RATE)
            async for frame in paced_frames(pcm, PHONE_RATE):
                await self.ws.send_str(tw.media_message(self.stream_sid, ulaw_encode(frame)))
            return True
        self.log = self.log.bind(call_id=self.call.id)
        self.sender = asyncio.get_running_loop().create_task(self._send())
        return False

    async def _send(self) -> None:
        sid = self.stream_sid
        async for item in self.call.outbound():
            if self.ws.closed:
                break
            if isinstance(item, AudioOut):
                await self.ws.send_str(tw.media_message(sid, ulaw_encode(item.pcm)))
            elif isinstance(item, MarkOut):
                await self.ws.send_str(tw.mark_message(sid, item.name))
            elif isinstance(item, ClearOut):
                await self.ws.send_str(tw.clear_message(sid))
            elif isinstance(item, EndOut):
                # Let the last ~lead of audio play out at Twilio before the stream closes.
                await asyncio.sleep(self.bridge.settings.server.playback_lead_ms / 1000 + 0.2)
                await self.ws.close()
                break
