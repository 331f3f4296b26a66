"""One call: the transport's API, its lifecycle, its tasks and its time limit.

caller audio ─► `feed` (stamped on arrival) ─► resample 16 kHz ─► turn-taking (tom/call/turns.py)
─► a `Speech` runs the reply pipeline (tom/call/reply.py) ─► voice (tom/call/voice.py) ─► paced
frames ─► `outbound()`. Caller speech while TOM talks cuts TOM off.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import structlog

from tom.audio import Resampler, pcm16_to_float
from tom.call.clock import Cancellable
from tom.call.engines import CallEngines
from tom.call.reply import Responder
from tom.call.tasks import CallTasks
from tom.call.turns import TurnTaking
from tom.call.voice import Voice
from tom.conversation.dialogue import Dialogue
from tom.engine.echo import EchoGuard
from tom.engine.playback import Outbound
from tom.engine.vad import SAMPLE_RATE as STT_RATE
from tom.flow import CallFlow
from tom.monitor import events as ev
from tom.registry import CallRecord

log = structlog.get_logger(__name__)

INBOUND_CHUNKS = 500  # caller audio a call may fall behind by (10 s of 20 ms frames)


class CallEnded(RuntimeError):
    """Audio or DTMF arrived for a call that has already ended."""


class Call:
    """A live call. Feed it caller audio; iterate `outbound()` for what to play back."""

    def __init__(self, engines: CallEngines, record: CallRecord, *, in_rate: int, out_rate: int,
                 language: str | None = None, strict_flow: bool | None = None) -> None:
        self.settings = engines.settings
        self.bus = engines.bus
        self.clock = engines.clock
        self.record = record
        self.id = record.id
        self.in_rate, self.out_rate = in_rate, out_rate
        self.log = log.bind(call_id=self.id)
        self.flow = CallFlow(self.id, self.bus, strict=strict_flow)
        self.outcome: ev.Outcome | None = None
        self._tasks = CallTasks(self.id, self._task_failed)
        self._inbound: asyncio.Queue[tuple[bytes, int]] = asyncio.Queue(maxsize=INBOUND_CHUNKS)
        self._resample_in = Resampler(in_rate, STT_RATE)
        self.voice = Voice(self.id, synthesize=engines.synthesize, bus=self.bus,
                           out_rate=out_rate, lead_ms=self.settings.server.playback_lead_ms,
                           clock=self.clock)
        dialogue = Dialogue(engines.profile, engines.messages, call_id=self.id,
                            caller=record.caller,
                            language=language or self.settings.assistant.language)
        dialogue.rephrase = self.settings.grounding.rephrase
        self.responder = Responder(self.id, engines, dialogue, self.voice, self.flow, self.end)
        self.turns = TurnTaking(self.id, engines, self.responder, self.voice, self.flow,
                                self._tasks)
        # What TOM plays is the reference that tells its echo from a caller barging in.
        self.echo = EchoGuard(self.settings.echo, in_rate=STT_RATE, out_rate=out_rate,
                              call_id=self.id)
        self.voice.player.tap = self.echo.played
        self._ended = asyncio.Event()
        self._failing = False
        self._time_limit: Cancellable | None = None

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks.spawn(self._input_loop(), "input")
        self._tasks.spawn(self.voice.player.run(), "player")
        age_s = (self.clock.now_ns() - self.record.started_ns) / 1e9
        self._time_limit = self.clock.call_later(
            max(0.0, self.settings.call.max_duration_s - age_s), self._time_up)
        if self.settings.call.greeting:
            self.flow.greet()
            self.turns.greet()
        else:
            self.flow.listen()
            self.turns.listen()

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    @property
    def idle(self) -> bool:
        """Nothing is happening on the line: the caller is silent and TOM has nothing to say."""
        return not self.turns.busy

    async def wait_ended(self) -> None:
        await self._ended.wait()

    async def end(self, outcome: ev.Outcome | str, reason: str = "") -> None:
        """End the call once: stop every task, keep what was said, publish `CallEnded`."""
        if self._ended.is_set():
            return
        self.outcome = ev.Outcome(outcome)
        self._ended.set()
        if self._time_limit is not None:
            self._time_limit.cancel()
        self.turns.close()
        self.flow.finish()
        playing = self.voice.playing
        heard = self.voice.stop()
        if heard:
            self.responder.heard(heard, interrupted=playing)
        try:
            await self._tasks.cancel_all()
        finally:  # even if whoever ends the call is cancelled meanwhile, the call is over
            self.voice.close()
            self.flow.close()
            duration = round((self.clock.now_ns() - self.record.started_ns) / 1e9, 2)
            self.log.info("call ended", outcome=str(self.outcome), reason=reason,
                          duration_s=duration)
            self.bus.publish(ev.CallEnded(call_id=self.id, outcome=self.outcome,
                                          duration_s=duration, reason=reason,
                                          transport=self.record.transport))

    async def close_politely(self, reason: str, timeout_s: float = 8.0) -> None:
        """Say goodbye, then hang up (server shutdown); ends hard if speaking takes too long."""
        if self._ended.is_set():
            return
        goodbye = self.turns.goodbye(self.responder.dialogue.profile.farewell,
                                     ev.Outcome.COMPLETED, reason)
        try:
            async with asyncio.timeout(timeout_s):
                await goodbye.wait()
        except TimeoutError:
            self.log.warning("goodbye took too long; hanging up", timeout_s=timeout_s)
        finally:
            await self.end(ev.Outcome.COMPLETED, reason)

    async def fail(self, kind: str, message: str) -> None:
        """A bad input or internal error ends this call only, with a clear reason (once)."""
        if self._ended.is_set() or self._failing:
            return
        self._failing = True
        await self._failed(kind, message)

    async def _failed(self, kind: str, message: str) -> None:
        self.log.warning("call failed", kind=kind, error=message)
        self.bus.publish(ev.CallError(call_id=self.id, kind=kind, message=message))
        await self.end(ev.Outcome.ERROR, message)

    def _fail_soon(self, kind: str, message: str) -> None:
        """`fail` from code that cannot wait for it; at most one failure ever runs."""
        if self._ended.is_set() or self._failing:
            return
        self._failing = True
        self._tasks.spawn(self._failed(kind, message), "fail")

    def _task_failed(self, exc: BaseException) -> None:
        # One broken task ends this call only.
        self.log.error("call task failed", error=f"{type(exc).__name__}: {exc}", exc_info=exc)
        self._fail_soon("internal", f"{type(exc).__name__}: {exc}")

    def _time_up(self) -> None:
        self._time_limit = None
        if not self._ended.is_set():
            self.turns.goodbye(self.responder.dialogue.idle_farewell(), ev.Outcome.TIMEOUT,
                               "maximum call duration reached")

    # --- transport side --------------------------------------------------------------------

    def feed(self, pcm16: bytes, arrival_ns: int | None = None) -> None:
        """Caller audio (PCM16 mono at `in_rate`), any chunk size. Never blocks.

        `arrival_ns` is when the audio reached TOM (monotonic ns; default: now), so the end of
        the caller's speech is timed from its arrival, not from when the call got to it.
        """
        if self._ended.is_set():
            raise CallEnded(f"call {self.id} has ended")
        try:
            self._inbound.put_nowait((pcm16, self.clock.now_ns() if arrival_ns is None
                                      else arrival_ns))
        except asyncio.QueueFull:
            self._fail_soon("overload", "caller audio backed up for 10 s; the call cannot keep up")

    async def dtmf(self, digit: str) -> None:
        if self._ended.is_set():
            raise CallEnded(f"call {self.id} has ended")
        self.bus.publish(ev.Dtmf(call_id=self.id, digit=digit))
        await self.turns.keypad(digit)

    def played(self, mark: str) -> None:
        """The transport played TOM's audio up to outbound mark `mark` (Twilio's mark echo)."""
        self.voice.confirm(mark)

    async def outbound(self) -> AsyncIterator[Outbound]:
        """Paced frames (`AudioOut`), `MarkOut`, `ClearOut` and finally `EndOut` or nothing."""
        async for item in self.voice.outbound():
            yield item

    async def _input_loop(self) -> None:
        while True:
            chunk, arrival_ns = await self._inbound.get()
            pcm = self._resample_in.process(chunk)
            if pcm:
                samples = pcm16_to_float(pcm)
                self.turns.feed(samples, arrival_ns, self.echo.clean(samples, arrival_ns))


def new_call_id() -> str:
    return uuid.uuid4().hex[:16]
