"""The SIP user agent in `tom serve`: each INVITE becomes a TOM call through `bridge.CallLine`.

Same Call, FSM, events, metrics and limits as Twilio and AudioSocket (`transport="sip"`).
Busy at `server.max_calls` answers 486, 503 with Retry-After, or plays the busy message
(`sip.busy`). A transfer is a blind REFER to the profile's transfer number only; when it
fails TOM falls back to ending the call with the reason logged and published.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from tom.config import SipSettings
from tom.monitor import events as ev
from tom.telephony.bridge import CallHost, CallLine, OutboundSink
from tom.telephony.errors import ProtocolError
from tom.telephony.sip.events import Disconnected, Dtmf, TransferStatus
from tom.telephony.sip.media import Marked
from tom.telephony.sip.sources import host_of, registrar_host, transfer_uri
from tom.telephony.sip.stack import PACKAGED_CALL_CAP, CallHandle, SipStack, pj_reason

log: structlog.stdlib.BoundLogger = structlog.get_logger(__name__)

MEDIA_TIMEOUT_S = 10.0  # PJSIP's clock delivers a frame every 20 ms; none this long: stack gone
TRANSFER_TIMEOUT_S = 30.0  # REFER accepted but no final NOTIFY: give up and hang up
DRAIN_POLL_S = 0.02
BUSY_POLL_S = 0.25  # how often the OPTIONS answer (200/503) follows the box's load


class Profile(Protocol):
    @property
    def transfer_number(self) -> str: ...


class SipHost(CallHost, Protocol):
    @property
    def profile(self) -> Profile | None: ...


class SipAgent:
    """Starts the PJSIP stack with the server and runs one `CallLine` per accepted INVITE."""

    def __init__(self, host: SipHost) -> None:
        self.host = host
        self.settings: SipSettings = host.settings.sip
        self.stack: SipStack | None = None
        self.registered: bool | None = None if self.settings.registrar else True
        self.registration_status = "" if self.settings.registrar else "not registering"
        self.registered_at = 0.0  # monotonic time of the last 2xx to REGISTER
        self._sessions: set[asyncio.Task[None]] = set()
        self._failures = 0  # REGISTER failures in a row: the retry backs off
        self._retry: asyncio.TimerHandle | None = None
        self.on_registered: Callable[[bool], None] = _nothing  # the server's readiness
        self.timings: deque[CallTiming] = deque(maxlen=200)  # recent calls, for measurements
        self._busy_watch: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return self.stack.port if self.stack is not None else 0

    async def start(self) -> None:
        stack = SipStack(self.settings, self.host.settings.server.max_calls, self,
                         asyncio.get_running_loop())
        await stack.start()
        self.stack = stack
        self._busy_watch = asyncio.get_running_loop().create_task(self._watch_busy(stack),
                                                                  name="sip-busy")
        s = self.settings
        max_calls = self.host.settings.server.max_calls
        if max_calls > PACKAGED_CALL_CAP or (s.busy == "message" and max_calls >= PACKAGED_CALL_CAP):
            log.warning("the packaged PJSIP takes at most 4 SIP calls at once per process: "
                        "further INVITEs get 486 from PJSIP (no busy message); for more calls "
                        "run more `tom serve` processes behind Kamailio (docs/scale-out.md)",
                        max_calls=max_calls, busy=s.busy)
        if not s.allowed_sources and s.host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("sip listens beyond this machine with no sip.allowed_sources: any host "
                        "that reaches the port can call TOM; list your trunk's or PBX's networks",
                        host=s.host)

    async def _watch_busy(self, stack: SipStack) -> None:
        """Keep `stack.busy_reason` current: OPTIONS probes get 503 while it names a reason."""
        while True:
            stack.busy_reason = self.host.registry.refusal()
            await asyncio.sleep(BUSY_POLL_S)

    def stop_accepting(self) -> None:
        if self.stack is not None:
            self.stack.accepting = False

    async def close(self) -> None:
        self.stop_accepting()
        if self._retry is not None:
            self._retry.cancel()
        if self._busy_watch is not None:
            self._busy_watch.cancel()
        for task in list(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.wait(self._sessions, timeout=3)
        if self.stack is not None:
            await self.stack.stop()
            self.stack = None

    # --- StackListener (on the loop) ---------------------------------------------------------

    def incoming(self, handle: CallHandle) -> None:
        task = asyncio.get_running_loop().create_task(
            SipSession(self, handle).run(), name=f"sip-{handle.call_id}")
        self._sessions.add(task)
        task.add_done_callback(self._sessions.discard)

    def registration(self, code: int, reason: str, expires_s: int) -> None:
        ok = 200 <= code < 300 and expires_s > 0
        was = self.registered
        self.registered = ok
        self.registration_status = f"{code} {reason}"
        self.on_registered(ok)
        if ok:
            self.registered_at = time.monotonic()
            self._failures = 0
            (log.info if was is not True else log.debug)(
                "sip registered", registrar=self.settings.registrar, expires_s=expires_s)
            return
        if expires_s == 0 and 200 <= code < 300:
            return  # our own un-REGISTER at shutdown
        self._failures += 1
        delay = retry_delay(self.settings.register_retry_s, self._failures)
        log.warning("sip registration failed; retrying", registrar=self.settings.registrar,
                    status=code, reason=reason, retry_s=delay)
        self.host.bus.publish(ev.CallError(call_id="", kind="sip_registration",
                                           message=f"REGISTER to {self.settings.registrar}"
                                                   f" answered {code} {reason}"))
        if self._retry is not None:
            self._retry.cancel()
        self._retry = asyncio.get_running_loop().call_later(delay, self._register_again)

    def _register_again(self) -> None:
        self._retry = None
        if self.stack is not None and self.stack.accepting:
            self.stack.submit(self.stack.register).add_done_callback(_ignore_result)

    def transfer_target(self) -> str:
        profile = self.host.profile
        number = profile.transfer_number if profile is not None else ""
        domain = self.settings.transfer_domain or (
            registrar_host(self.settings.registrar) if self.settings.registrar else "")
        return transfer_uri(number, domain) if number else ""


@dataclass(frozen=True)
class CallTiming:
    """TOM-side latencies of one answered call: INVITE in → 200 OK out, 200 OK → first frame
    of TOM's audio taken by the RTP clock (the greeting)."""

    invite_to_200_ms: float
    first_audio_after_200_ms: float | None


def _nothing(ok: bool) -> None:
    pass


def retry_delay(base_s: float, failures: int) -> float:
    """Backoff after `failures` failed REGISTERs in a row: base, 2×, 4× … at most 16× base."""
    return float(base_s * 2 ** min(max(failures - 1, 0), 4))


def _ignore_result(fut: asyncio.Future[None]) -> None:
    exc = None if fut.cancelled() else fut.exception()
    if exc is not None:
        log.warning("sip re-REGISTER could not be sent", error=pj_reason(exc))


class SipSink(OutboundSink):
    """TOM's side of one SIP call: frames into the RTP clock, BYE, REFER, or a refusal."""

    def __init__(self, agent: SipAgent, handle: CallHandle, logger: structlog.stdlib.BoundLogger
                 ) -> None:
        self.agent = agent
        self.handle = handle
        self.log = logger
        self.transferring: asyncio.Task[None] | None = None

    @property
    def closed(self) -> bool:
        return self.handle.gone

    async def opened(self, call_id: str) -> None:
        await self._answer()

    async def _answer(self) -> None:
        if not self.handle.answered:
            await self.handle.answer()

    async def send_audio(self, pcm: bytes) -> None:
        if self.handle.gone:
            raise ConnectionError("the caller has hung up")
        await self._answer()  # the busy message is played on an answered call
        self.handle.media.put(pcm)

    async def send_mark(self, name: str) -> None:
        self.handle.media.mark(name)

    async def send_clear(self) -> None:
        self.handle.media.clear()

    async def hang_up(self, action: str) -> None:
        if action == "busy" and not self.handle.answered:
            s = self.agent.settings
            if s.busy == "503":
                await self.handle.reject(503, {"Retry-After": str(s.retry_after_s)})
            else:
                await self.handle.reject(486)
            return
        await self._drain()
        if action == "transfer":
            self.transferring = asyncio.get_running_loop().create_task(self._transfer())
            return
        await self.handle.hang_up()

    async def _drain(self) -> None:
        """Wait until the audio already queued has gone out (at most a few seconds)."""
        for _ in range(int(3 / DRAIN_POLL_S)):
            if self.handle.gone or not self.handle.media.queued_frames:
                return
            await asyncio.sleep(DRAIN_POLL_S)

    async def _transfer(self) -> None:
        """Blind REFER to the configured number; on failure fall back to hanging up."""
        try:
            target = self.agent.transfer_target()
        except ValueError as exc:
            return await self._transfer_failed(str(exc))
        if not target:
            return await self._transfer_failed("no transfer number is configured")
        self.log.info("sip transfer (REFER)", target=target)
        try:
            await self.handle.transfer(target)
        except Exception as exc:
            return await self._transfer_failed(f"REFER could not be sent: {pj_reason(exc)}")
        try:
            status = await asyncio.wait_for(self._final_notify(), TRANSFER_TIMEOUT_S)
        except TimeoutError:
            return await self._transfer_failed(f"no answer to the REFER in "
                                               f"{TRANSFER_TIMEOUT_S:g} s")
        if status is None:
            self.log.info("caller left after the REFER (transfer taken over by the caller)")
            return
        if 200 <= status.code < 300:
            self.log.info("sip transfer succeeded", status=status.code)
            await self.handle.hang_up()
        else:
            await self._transfer_failed(f"{status.code} {status.reason}")

    async def _final_notify(self) -> TransferStatus | None:
        while True:
            item = await self.handle.transfers.get()
            if isinstance(item, TransferStatus) and (item.final or item.code >= 300):
                return item
            if isinstance(item, Disconnected):
                return None

    async def _transfer_failed(self, why: str) -> None:
        self.log.warning("sip transfer failed; hanging up", reason=why)
        self.agent.host.bus.publish(ev.CallError(call_id="", kind="transfer_failed",
                                                 message=f"SIP transfer failed: {why}"))
        await self.handle.hang_up()

    async def abort(self, kind: str, message: str) -> None:
        if self.handle.answered:
            await self.handle.hang_up()
        else:
            await self.handle.reject(500 if kind == "internal" else 503)

    async def close(self) -> None:
        if self.transferring is not None:
            return  # the transfer task hangs up when it knows the outcome
        if not self.handle.gone:
            await self.handle.hang_up()


class SipSession:
    """One INVITE: open a TOM call (or refuse it), then feed it frames and DTMF until it ends."""

    def __init__(self, agent: SipAgent, handle: CallHandle) -> None:
        self.agent = agent
        self.handle = handle
        peer = host_of(handle.source)
        self.log = log.bind(sip_call=handle.call_id, peer=handle.source)
        self.sink = SipSink(agent, handle, self.log)
        self.line = CallLine(agent.host, self.sink, transport="sip", peer=peer, logger=self.log)

    async def run(self) -> None:
        await self.line.run(self._receive, closed_reason="caller hung up")
        self.sink.log = self.line.log
        h = self.handle
        if h.answered_ns:
            first = h.media.first_audio_ns
            timing = CallTiming(round((h.answered_ns - h.invite_ns) / 1e6, 1),
                                round((first - h.answered_ns) / 1e6, 1) if first else None)
            self.agent.timings.append(timing)
            self.line.log.info("sip call timing", invite_to_200_ms=timing.invite_to_200_ms,
                               first_audio_after_200_ms=timing.first_audio_after_200_ms)

    async def _receive(self) -> None:
        call = await self.line.open(caller=self.handle.caller,
                                    busy_message=self.agent.settings.busy == "message")
        self.sink.log = self.line.log
        while call is not None and not call.ended:
            try:
                item = await asyncio.wait_for(self.handle.events.get(), MEDIA_TIMEOUT_S)
            except TimeoutError:
                raise ProtocolError(f"no audio from the SIP stack for {MEDIA_TIMEOUT_S:g} s"
                                    ) from None
            if call.ended:  # TOM ended it (hang-up, transfer) while this item was queued
                return
            match item:
                case bytes():
                    self.line.feed(item)
                case Marked(name=name):
                    call.played(name)
                case Dtmf(digit=digit):
                    await call.dtmf(digit)
                case Disconnected(code=code, reason=reason):
                    await call.end(ev.Outcome.HUNG_UP_BY_CALLER,
                                   f"caller hung up ({code} {reason})".strip())
                    return
