"""What every transport does the same way around one call, so each bridge only speaks its wire.

A bridge (Twilio, AudioSocket, browser) gives a `CallLine` an `OutboundSink` for its socket
and a receive loop that feeds caller audio and DTMF to `line.call`. The line opens the call or
refuses it (the paced "all lines are busy" message), pumps TOM's audio, marks, clears and
hang-up to the sink, and ends or fails the call in one place: a bad peer ends its call alone,
with a reason a person can read.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import structlog

from tom.audio import PHONE_RATE
from tom.config import Settings
from tom.engine.playback import AudioOut, ClearOut, EndOut, MarkOut, Outbound
from tom.monitor import events as ev
from tom.registry import CallsBusy
from tom.telephony.errors import PEER_GONE, Overload, ProtocolError
from tom.telephony.limits import Guards, InboundMeter
from tom.telephony.pacing import paced_frames

Logger = structlog.stdlib.BoundLogger
log: Logger = structlog.get_logger(__name__)

PUMP_DRAIN_S = 2.0  # on close, how long the pump may still deliver what the call queued


class BridgedCall(Protocol):
    """What a bridge uses of a call (`tom.call.Call`)."""

    @property
    def id(self) -> str: ...

    @property
    def ended(self) -> bool: ...

    def feed(self, pcm16: bytes, arrival_ns: int | None = None) -> None: ...

    async def dtmf(self, digit: str) -> None: ...

    def played(self, mark: str) -> None: ...

    def outbound(self) -> AsyncIterator[Outbound]: ...

    async def end(self, outcome: ev.Outcome, reason: str = "") -> None: ...

    async def fail(self, kind: str, message: str) -> None: ...


class CallRecordView(Protocol):
    @property
    def outcome(self) -> str | None: ...


class CallRecords(Protocol):
    def get(self, call_id: str) -> CallRecordView | None: ...

    def refusal(self) -> str | None: ...


class CallHost(Protocol):
    """What a bridge uses of the assistant that runs the calls."""

    @property
    def settings(self) -> Settings: ...

    @property
    def bus(self) -> ev.EventBus: ...

    @property
    def registry(self) -> CallRecords: ...

    async def open_call(self, *, transport: str, caller: str = "", call_id: str | None = None,
                        in_rate: int = PHONE_RATE, out_rate: int = PHONE_RATE) -> BridgedCall: ...

    async def busy_audio(self, out_rate: int) -> bytes: ...

    @property
    def guards(self) -> Guards: ...


class OutboundSink(abc.ABC):
    """One transport's way of delivering TOM's side of a call to the caller."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool:
        """The connection is gone or closing: nothing more can be delivered."""

    @abc.abstractmethod
    async def opened(self, call_id: str) -> None:
        """The call exists; called before any of its audio is sent."""

    @abc.abstractmethod
    async def send_audio(self, pcm: bytes) -> None:
        """One 20 ms frame of PCM16 at the call's rate, already paced."""

    @abc.abstractmethod
    async def send_mark(self, name: str) -> None:
        """Everything sent so far belongs to segment `name`; a wire that echoes marks tells
        the call (`call.played`) when the caller has heard it."""

    @abc.abstractmethod
    async def send_clear(self) -> None:
        """Barge-in: drop the audio buffered at the far end."""

    @abc.abstractmethod
    async def hang_up(self, action: str) -> None:
        """TOM ends the call: `action` is "hangup", "transfer" or "busy"."""

    @abc.abstractmethod
    async def abort(self, kind: str, message: str) -> None:
        """The call failed or was refused: close the line showing an error, if the wire can."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the connection; safe to call when it is already closed."""


async def pump_outbound(call: BridgedCall, sink: OutboundSink, hangup_delay_s: float, *,
                        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """Deliver the call's outbound items to `sink` until the call ends or the sink closes.

    After `EndOut` it waits `hangup_delay_s` (audio already sent is still playing at the far
    end), then hangs up. A peer that vanished ends the pump quietly; the receive side notices.
    """
    try:
        async for item in call.outbound():
            if sink.closed:
                return
            match item:
                case AudioOut(pcm=pcm):
                    await sink.send_audio(pcm)
                case MarkOut(name=name):
                    await sink.send_mark(name)
                case ClearOut():
                    await sink.send_clear()
                case EndOut(action=action):
                    await sleep(hangup_delay_s)
                    await sink.hang_up(action)
                    return
    except ConnectionError:
        return


def refuse(bus: ev.EventBus, logger: Logger, kind: str, message: str) -> None:
    """A connection went wrong before it had a call: log it and publish a call-less error."""
    logger.warning("connection refused", kind=kind, error=message)
    bus.publish(ev.CallError(call_id="", kind=kind, message=message))


class CallLine:
    """One connection's call, from open (or busy refusal) to the last frame and the close."""

    def __init__(self, host: CallHost, sink: OutboundSink, *, transport: str, peer: str = "",
                 logger: Logger | None = None) -> None:
        self.host = host
        self.sink = sink
        self.transport = transport
        self.peer = peer
        self.log = (logger or log).bind(transport=transport)
        self.call: BridgedCall | None = None
        self._pump: asyncio.Task[None] | None = None
        self._meter: InboundMeter | None = None
        self._rate = PHONE_RATE

    @property
    def hangup_delay_s(self) -> float:
        return self.host.settings.server.hangup_delay_ms / 1000

    async def open(self, *, caller: str, rate: int = PHONE_RATE, call_id: str | None = None,
                   busy_message: bool = True) -> BridgedCall | None:
        """Start the call and its outbound pump; None when every line is busy, in which case
        the caller has heard the busy message (if `busy_message`) and the line is hung up."""
        try:
            call = await self.host.open_call(transport=self.transport, caller=caller,
                                             call_id=call_id, in_rate=rate, out_rate=rate)
        except CallsBusy:
            await self._refuse_busy(rate, busy_message)
            return None
        self.call = call
        self._rate = rate
        self._meter = InboundMeter(self.host.guards.limits.burst_s)
        self.log = self.log.bind(call_id=call.id)
        await self.sink.opened(call.id)
        self._pump = asyncio.get_running_loop().create_task(
            pump_outbound(call, self.sink, self.hangup_delay_s), name=f"{call.id}-outbound")
        return call

    async def _refuse_busy(self, rate: int, busy_message: bool) -> None:
        """Every line is busy: the (pre-rendered) busy message, unless this source keeps
        calling; a caller who hangs up meanwhile is expected, not an error of TOM's."""
        if busy_message and not self.host.guards.refusals.allow(self.peer):
            self.log.info("call rejected: all lines busy; this source is over its refusal "
                          "budget, closed without the busy message")
            return
        self.log.info("call rejected: all lines busy")
        try:
            if busy_message:
                await self.play_busy(rate)
            await self.sink.hang_up("busy")
        except ConnectionError as exc:
            self.log.info("caller hung up during the busy message", error=str(exc))
            self.host.bus.publish(ev.CallError(call_id="", kind=PEER_GONE,
                                               message=f"caller hung up while refused: {exc}"))

    def feed(self, pcm16: bytes) -> None:
        """Caller audio for the call, checked: a frame over `max_frame_ms` is a protocol error,
        audio beyond `burst_s` ahead of real time an overload (both end this call alone)."""
        call, meter = self.call, self._meter
        if call is None or meter is None:
            raise ProtocolError("audio before the call started")
        limits = self.host.guards.limits
        seconds = len(pcm16) / 2 / self._rate
        if seconds * 1000 > limits.max_frame_ms:
            raise ProtocolError(f"an audio frame of {seconds * 1000:.0f} ms; at most "
                                f"{limits.max_frame_ms} ms per message")
        if not meter.take(seconds):
            raise Overload(f"caller audio arrives faster than real time (more than "
                           f"{limits.burst_s:g} s ahead); the call was ended")
        call.feed(pcm16)

    async def play_busy(self, rate: int) -> None:
        """The "all lines are busy" message, paced like any call audio."""
        pcm = await self.host.busy_audio(rate)
        lead_ms = self.host.settings.server.playback_lead_ms
        async for frame in paced_frames(pcm, rate, lead_ms):
            if self.sink.closed:
                return
            await self.sink.send_audio(frame)

    async def run(self, receive: Callable[[], Awaitable[None]], *, closed_reason: str) -> None:
        """Run the bridge's receive loop; whatever goes wrong ends this call only.

        When the loop returns (or is cancelled) a call still running was hung up by the caller
        (`closed_reason`); a `ProtocolError` fails it; a vanished peer ends it.
        """
        try:
            await receive()
        except ProtocolError as exc:
            await self.fail(exc.kind, str(exc))
        except ConnectionError as exc:
            self.log.info("connection lost", error=str(exc))
            await self.end_by_caller(f"connection lost: {exc}")
        except Exception as exc:  # never let one connection take the server down
            self.log.exception("bridge failed")
            await self.fail("internal", f"{type(exc).__name__}: {exc}")
        finally:
            await self.end_by_caller(closed_reason)
            await self.close()

    async def end_by_caller(self, reason: str) -> None:
        if self.call is not None and not self.call.ended:
            await self.call.end(ev.Outcome.HUNG_UP_BY_CALLER, reason)

    async def fail(self, kind: str, message: str) -> None:
        """End the call (or refuse the connection) with a reason, and close the line."""
        if self.call is not None:
            await self.call.fail(kind, message)
        else:
            refuse(self.host.bus, self.log, kind, message)
        if not self.sink.closed:
            await self.sink.abort(kind, message)

    async def close(self) -> None:
        """Let the pump deliver what the call queued (briefly), then release the connection."""
        pump = self._pump
        if pump is not None:
            done, _ = await asyncio.wait({pump}, timeout=PUMP_DRAIN_S)
            if not done:
                pump.cancel()
                await asyncio.wait({pump})
            elif not pump.cancelled() and pump.exception() is not None:
                self.log.warning("outbound audio stopped", error=repr(pump.exception()))
        try:
            await self.sink.close()
        except ConnectionError as exc:  # the peer left first: nothing left to tell it
            self.log.info("connection already gone", error=str(exc))
