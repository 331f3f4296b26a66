"""Asterisk AudioSocket: a TCP listener speaking the kind·length·payload framing.

Dialplan: `Answer()` then `AudioSocket(${UUID},host:port)`; audio is PCM16 8 kHz mono.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress

import structlog

from tom.monitor import events as ev
from tom.security.ratelimit import RateLimiter
from tom.telephony import audiosocket_wire as aw
from tom.telephony.bridge import CallHost, CallLine, OutboundSink, refuse
from tom.telephony.errors import ProtocolError, StartTimeout

log: structlog.stdlib.BoundLogger = structlog.get_logger(__name__)

IDLE_TIMEOUT_S = 10.0  # Asterisk sends audio every 20 ms; silence this long means a dead peer


class AudioSocketServer:
    """Accepts AudioSocket connections and runs one call per connection."""

    def __init__(self, assistant: CallHost, limiter: RateLimiter | None = None) -> None:
        self.assistant = assistant
        self.limiter = limiter
        self.settings = assistant.settings.audiosocket
        self.server: asyncio.Server | None = None
        self.port = 0
        self._conns: set[asyncio.Task[None]] = set()
        self._allowed = [ipaddress.ip_network(a, strict=False)
                         for a in self.settings.allowed_sources]

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, self.settings.host,
                                                 self.settings.port)
        self.port = self.server.sockets[0].getsockname()[1]
        log.info("audiosocket listening", host=self.settings.host, port=self.port)

    async def stop_accepting(self) -> None:
        if self.server is not None:
            self.server.close()

    async def close(self) -> None:
        await self.stop_accepting()
        for task in list(self._conns):
            task.cancel()
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # asyncio runs each connection's callback as a task
        self._conns.add(task)
        try:
            await _Connection(self, reader, writer).run()
        finally:
            self._conns.discard(task)

    def allowed(self, peer: str) -> bool:
        if not self._allowed:
            return True
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in net for net in self._allowed)


class AudioSocketSink(OutboundSink):
    """TOM's side of an AudioSocket connection: PCM16 audio frames and a final hang-up."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    @property
    def closed(self) -> bool:
        return self.writer.is_closing()

    async def opened(self, call_id: str) -> None:
        pass  # Asterisk announced the call itself (its UUID)

    async def send_audio(self, pcm: bytes) -> None:
        self.writer.write(aw.encode_audio(pcm))
        await self.writer.drain()

    async def send_mark(self, name: str) -> None:
        pass  # AudioSocket has no marks; what was heard is estimated from the pacing

    async def send_clear(self) -> None:
        pass  # AudioSocket has no playback buffer to clear; pacing keeps what is queued short

    async def hang_up(self, action: str) -> None:
        self.writer.write(aw.encode_hangup())
        await self.writer.drain()

    async def abort(self, kind: str, message: str) -> None:
        with contextlib.suppress(Exception):  # the peer may be gone already
            self.writer.write(aw.encode_hangup())

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


class _Connection:
    """One AudioSocket connection: check the peer, read its UUID, then feed the call."""

    def __init__(self, server: AudioSocketServer, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.peer = str(peer[0])
        self.line = CallLine(server.assistant, AudioSocketSink(writer), transport="audiosocket",
                             peer=self.peer, logger=log.bind(peer=self.peer))

    async def run(self) -> None:
        await self.line.run(self._receive, closed_reason="connection closed")

    async def _receive(self) -> None:
        if not self.server.allowed(self.peer):
            self.line.log.warning("audiosocket peer not in audiosocket.allowed_sources")
            return
        if self.server.limiter is not None and not self.server.limiter.allow(self.peer):
            self.line.log.warning("audiosocket connection refused: rate limit")
            return
        host = self.server.assistant
        slot = host.guards.pending.enter(self.peer)
        if slot is None:
            refuse(host.bus, self.line.log, "too_many_pending",
                   f"too many AudioSocket connections from {self.peer} have not sent their UUID")
            return
        try:
            first = await self._read(host.guards.limits.start_timeout_s, StartTimeout)
        finally:
            slot.release()
        call = await self.line.open(caller="", call_id=str(aw.expect_uuid(first)))
        while call is not None and not call.ended:
            message = await self._read()
            if message is None:
                await call.end(ev.Outcome.HUNG_UP_BY_CALLER, "peer closed the connection")
                return
            match message.kind:
                case aw.Kind.AUDIO:
                    self.line.feed(message.payload)
                case aw.Kind.DTMF:
                    await call.dtmf(message.digit)
                case aw.Kind.HANGUP:
                    await call.end(ev.Outcome.HUNG_UP_BY_CALLER, "caller hung up")
                    return
                case aw.Kind.ERROR:
                    await call.fail("peer", f"Asterisk reported error code {message.error_code}")
                    return
                case aw.Kind.UUID:
                    raise aw.ProtocolError("a second UUID message on the same connection")

    async def _read(self, timeout_s: float = IDLE_TIMEOUT_S,
                    error: type[ProtocolError] = aw.ProtocolError) -> aw.AudioSocketMessage | None:
        """The next message; a peer silent for `timeout_s` is a protocol failure (`error`)."""
        try:
            return await asyncio.wait_for(aw.read_message(self.reader), timeout_s)
        except TimeoutError:
            raise error(f"no data from the AudioSocket peer for {timeout_s:g} s") from None
