"""Asterisk AudioSocket: a TCP listener speaking the kind·length·payload framing.

Dialplan: `Answer()` then `AudioSocket(${UUID},host:port)`; audio is PCM16 8 kHz mono.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress

import structlog

from tom.dispatcher import CallsBusy
from tom.engine.playback import AudioOut, EndOut
from tom.telephony import audiosocket_wire as aw
from tom.telephony.pacing import paced_frames

log = structlog.get_logger(__name__)

PHONE_RATE = 8000
IDLE_TIMEOUT_S = 10.0  # Asterisk sends audio every 20 ms; silence this long means a dead peer


class AudioSocketServer:
    """Accepts AudioSocket connections and runs one call per connection."""

    def __init__(self, assistant, limiter=None) -> None:
        self.assistant = assistant
        self.limiter = limiter
        self.settings = assistant.settings.audiosocket
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self._conns: set[asyncio.Task] = set()
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


class _Connection:
    def __init__(self, server: AudioSocketServer, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.assistant = server.assistant
        self.reader, self.writer = reader, writer
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.peer = str(peer[0])
        self.call = None
        self.log = log.bind(peer=self.peer)

    async def run(self) -> None:
        sender = None
        try:
            if not self.server.allowed(self.peer):
                self.log.warning("audiosocket peer not in audiosocket.allowed_sources")
                return
            if self.server.limiter is not None and not self.server.limiter.allow(self.peer):
                self.log.warning("audiosocket connection refused: rate limit")
                return
            first = await asyncio.wait_for(aw.read_message(self.reader), IDLE_TIMEOUT_S)
            call_id = str(aw.expect_uuid(first))
            try:
                self.call = await self.assistant.open_call(
                    transport="audiosocket", caller="", call_id=call_id,
                    in_rate=PHONE_RATE, out_rate=PHONE_RATE)
            except CallsBusy:
                await self._play_busy()
                return
            self.log = self.log.bind(call_id=call_id)
            sender = asyncio.get_running_loop().create_task(self._send())
            await self._receive()
        except aw.ProtocolError as exc:
            await self._fail("protocol", str(exc))
        except TimeoutError:
            await self._fail("protocol", f"no data from the AudioSocket peer for {IDLE_TIMEOUT_S:.0f} s")
        except (ConnectionError, OSError) as exc:
            if self.call is not None:
                await self.call.end("hung_up_by_caller", f"connection lost: {exc}")
        except Exception as exc:
            self.log.exception("audiosocket connection failed")
            await self._fail("internal", f"{type(exc).__name__}: {exc}")
        finally:
            if self.call is not None and not self.call.ended:
                await self.call.end("hung_up_by_caller", "connection closed")
            if sender is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(sender, 2)
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    async def _fail(self, kind: str, message: str) -> None:
        if self.call is not None:
            await self.call.fail(kind, message)
        else:
            self.log.warning("audiosocket connection refused", kind=kind, error=message)
            self.assistant.bus.emit("error", "", kind=kind, message=message)
        with contextlib.suppress(Exception):
            self.writer.write(aw.encode_hangup())

    async def _receive(self) -> None:
        while not self.call.ended:
            message = await asyncio.wait_for(aw.read_message(self.reader), IDLE_TIMEOUT_S)
            if message is None:
                await self.call.end("hung_up_by_caller", "peer closed the connection")
                return
            kind = message.kind
            if kind == aw.Kind.AUDIO:
                self.call.feed(message.payload)
            elif kind == aw.Kind.DTMF:
                await self.call.dtmf(message.digit)
            elif kind == aw.Kind.HANGUP:
                await self.call.end("hung_up_by_caller", "caller hung up")
                return
            elif kind == aw.Kind.ERROR:
                await self.call.fail("peer", f"Asterisk reported error code {message.error_code}")
                return
            elif kind == aw.Kind.UUID:
                raise aw.ProtocolError("a second UUID message on the same connection")

    async def _send(self) -> None:
        async for item in self.call.outbound():
            if isinstance(item, AudioOut):
                self.writer.write(aw.encode_audio(item.pcm))
                await self.writer.drain()
            elif isinstance(item, EndOut):
                await asyncio.sleep(0.2)
                self.writer.write(aw.encode_hangup())
                await self.writer.drain()
                break
            # ClearOut: AudioSocket has no playback buffer to clear; pacing keeps it short.

    async def _play_busy(self) -> None:
        pcm = await self.assistant.busy_audio(PHONE_RATE)
        async for frame in paced_frames(pcm, PHONE_RATE):
            self.writer.write(aw.encode_audio(frame))
            await self.writer.drain()
        self.writer.write(aw.encode_hangup())
        await self.writer.drain()
