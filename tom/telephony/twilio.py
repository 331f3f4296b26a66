"""Twilio: the TwiML webhooks and the bidirectional Media Streams websocket.

Only translates the wire format: the call itself (VAD, STT, LLM, TTS, state) is `tom.call`,
what every transport shares is `bridge.CallLine`. Twilio echoes each `mark` TOM sends once the
audio before it has played; that echo is what tells the call what the caller really heard.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Protocol
from urllib.parse import urlsplit

import structlog
from aiohttp import WSMessage, WSMsgType, web

from tom.audio import ulaw_decode, ulaw_encode
from tom.config import Settings
from tom.monitor import events as ev
from tom.telephony import twilio_wire as tw
from tom.telephony import twiml
from tom.telephony.bridge import CallHost, CallLine, OutboundSink
from tom.telephony.errors import StartTimeout
from tom.telephony.limits import PendingSlot
from tom.telephony.twilio_signature import validate_signature

log: structlog.stdlib.BoundLogger = structlog.get_logger(__name__)

INBOUND_TRACKS = ("inbound", "inbound_track", "")
WS_TOO_BIG = 1009  # aiohttp closes with this when a message exceeds max_msg_size


class Profile(Protocol):
    @property
    def transfer_number(self) -> str: ...


class TwilioHost(CallHost, Protocol):
    @property
    def profile(self) -> Profile | None: ...


class TwilioBridge:
    """Connects Twilio calls to TOM: `POST /twilio/voice`, `/twilio/after-stream`, `GET /twilio/stream`."""

    def __init__(self, assistant: TwilioHost) -> None:
        self.assistant = assistant
        self.settings: Settings = assistant.settings

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
            if not validate_signature(token, url, signed,
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
        answer = twiml.connect_stream_twiml(stream_url, f"{base}/twilio/after-stream", params)
        return web.Response(text=answer, content_type="application/xml")

    async def after_stream(self, request: web.Request) -> web.Response:
        form = await self._checked_form(request)
        record = self.assistant.registry.get(form.get("CallSid", ""))
        profile = self.assistant.profile
        number = profile.transfer_number if profile is not None else ""
        if record is not None and record.outcome == "transferred" and number:
            return web.Response(text=twiml.dial_twiml(number), content_type="application/xml")
        return web.Response(text=twiml.hangup_twiml(), content_type="application/xml")

    # --- media stream ------------------------------------------------------------------------

    async def stream(self, request: web.Request) -> web.StreamResponse:
        expected = self.settings.twilio.stream_token
        if expected and not hmac.compare_digest(request.query.get("token", ""), expected):
            log.warning("rejected media stream with a wrong token", peer=request.remote)
            raise web.HTTPForbidden(text="invalid stream token")
        peer = request.remote or ""
        slot = self.assistant.guards.pending.enter(peer)
        if slot is None:
            log.warning("media stream refused: too many connections waiting for 'start'",
                        peer=peer, kind="too_many_pending")
            self.assistant.bus.publish(ev.CallError(
                call_id="", kind="too_many_pending",
                message=f"too many media streams from {peer} have not sent 'start'"))
            raise web.HTTPServiceUnavailable(text="too many connections waiting to start")
        try:
            ws = web.WebSocketResponse(max_msg_size=self.settings.server.max_message_bytes,
                                       heartbeat=30)
            await ws.prepare(request)
            await _MediaStream(self.assistant, ws, peer, slot).run()
        finally:
            slot.release()
        return ws


class TwilioSink(OutboundSink):
    """TOM's side of a media stream: μ-law media, marks and clears as Twilio JSON."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.stream_sid = ""  # known once Twilio's `start` arrives

    @property
    def closed(self) -> bool:
        return self.ws.closed

    async def opened(self, call_id: str) -> None:
        pass  # Twilio announced the call itself (`start`)

    async def send_audio(self, pcm: bytes) -> None:
        await self.ws.send_str(tw.media_message(self.stream_sid, ulaw_encode(pcm)))

    async def send_mark(self, name: str) -> None:
        await self.ws.send_str(tw.mark_message(self.stream_sid, name))

    async def send_clear(self) -> None:
        await self.ws.send_str(tw.clear_message(self.stream_sid))

    async def hang_up(self, action: str) -> None:
        # Closing the stream ends `<Connect>`; Twilio then asks /twilio/after-stream what next.
        await self.ws.close()

    async def abort(self, kind: str, message: str) -> None:
        code = 1011 if kind == "internal" else 1008  # anything else: the peer broke a rule
        await self.ws.close(code=code, message=message[:120].encode())

    async def close(self) -> None:
        if not self.ws.closed:
            await self.ws.close()


class _MediaStream:
    """One Twilio media stream: parse each message, hand it to the call."""

    def __init__(self, host: TwilioHost, ws: web.WebSocketResponse, peer: str,
                 slot: PendingSlot | None = None) -> None:
        self.ws = ws
        self.host = host
        self.max_bytes = host.settings.server.max_message_bytes
        self.sink = TwilioSink(ws)
        self.slot = slot
        self.line = CallLine(host, self.sink, transport="twilio", peer=peer,
                             logger=log.bind(peer=peer))

    async def run(self) -> None:
        await self.line.run(self._receive, closed_reason="stream closed by the caller")

    async def _receive(self) -> None:
        """Until `start`, every message must come before the start deadline; then any pace."""
        timeout_s = self.host.guards.limits.start_timeout_s
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.line.call is None:
            try:
                async with asyncio.timeout_at(deadline):
                    msg = await self.ws.receive()
            except TimeoutError:
                raise StartTimeout(f"no 'start' within {timeout_s:g} s of connecting") from None
            if await self._message(msg):
                return
        while not await self._message(await self.ws.receive()):
            pass

    async def _message(self, msg: WSMessage) -> bool:
        """Handle one websocket message; True when the stream is over."""
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            if self.ws.close_code == WS_TOO_BIG:
                raise tw.ProtocolError(f"message larger than {self.max_bytes} bytes")
            return True
        if msg.type == WSMsgType.ERROR:
            raise tw.ProtocolError(f"websocket error: {self.ws.exception()}")
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            return False
        return await self._handle(tw.parse_message(msg.data, self.max_bytes))

    async def _handle(self, message: tw.InboundMessage) -> bool:
        """Returns True when the stream is over."""
        if isinstance(message, tw.Connected):
            return False
        call = self.line.call
        if isinstance(message, tw.Start):
            if call is not None:
                raise tw.ProtocolError("a second 'start' on the same stream")
            tw.check_media_format(message)
            self.sink.stream_sid = message.stream_sid
            if self.slot is not None:
                self.slot.release()  # it said which call it is: no longer pending
            opened = await self.line.open(caller=message.custom_parameters.get("caller", ""),
                                          call_id=message.call_sid or message.stream_sid)
            return opened is None
        if call is None:
            raise tw.ProtocolError(f"'{type(message).__name__.lower()}' before 'start'")
        if call.ended:  # TOM hung up; what is still in flight from Twilio is ignored
            return True
        match message:
            case tw.Media(payload=payload, track=track) if track in INBOUND_TRACKS:
                self.line.feed(ulaw_decode(payload))
            case tw.Dtmf(digit=digit):
                await call.dtmf(digit)
            case tw.Mark(name=name):
                call.played(name)
            case tw.Stop():
                await call.end(ev.Outcome.HUNG_UP_BY_CALLER, "caller hung up")
                return True
        return call.ended

