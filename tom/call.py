"""One call: its queues, its tasks and its state machine.

caller audio ─► resample 16 kHz ─► VAD/turns ─► STT ─► dialogue (FAQ / LLM) ─► sentences ─► TTS
─► player (paced 20 ms frames) ─► `outbound()`; caller speech while TOM talks cancels the turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import structlog

from tom.audio import FrameSplitter, Resampler, float_to_pcm16, pcm16_to_float, resample
from tom.dispatcher import CallFlow, CallRecord
from tom.engine.llm import LLMError
from tom.engine.playback import ClearOut, EndOut, Outbound, Player, Segment
from tom.engine.sentences import SentenceChunker
from tom.engine.timings import TurnTimer
from tom.engine.vad import SileroStream, TurnDetector, UserTurn
from tom.monitor import events as ev

if TYPE_CHECKING:
    from tom.assistant import Assistant
    from tom.conversation.dialogue import Dialogue, Reply

log = structlog.get_logger(__name__)

STT_RATE = 16000
# Whisper's own rule: a segment is silence when it is probably no speech AND decoded badly.
NO_SPEECH_PROB = 0.6
SILENCE_LOGPROB = -1.0


class CallEnded(RuntimeError):
    """Audio or DTMF arrived for a call that has already ended."""


class Call:
    """A live call. Feed it caller audio; iterate `outbound()` for what to play back."""

    def __init__(self, assistant: Assistant, record: CallRecord, *, in_rate: int,
                 out_rate: int, language: str | None = None) -> None:
        from tom.conversation.dialogue import Dialogue

        self.assistant = assistant
        self.settings = assistant.settings
        self.bus = assistant.bus
        self.record = record
        self.id = record.id
        self.in_rate, self.out_rate = in_rate, out_rate
        self.log = log.bind(call_id=self.id)
        self.flow = CallFlow(self.id, self.bus)
        self.dialogue = Dialogue(assistant.profile, assistant.messages, call_id=self.id,
                                 caller=record.caller,
                                 language=language or self.settings.assistant.language)
        self._inbound: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=500)
        self._out: asyncio.Queue[Outbound | None] = asyncio.Queue()
        self.player = Player(self._out.put_nowait, lead_ms=self.settings.server.playback_lead_ms)
        self._resample_in = Resampler(in_rate, STT_RATE)
        self._frames_out = FrameSplitter(out_rate)
        self.detector = TurnDetector(SileroStream(assistant.vad_session), self.settings.vad,
                                     on_speech_start=self._on_speech_start, on_turn=self._on_turn,
                                     on_pause=self._on_pause
                                     if self.settings.stt.speculative else None,
                                     on_resume=self._drop_speculation)
        self._tasks: list[asyncio.Task] = []
        self._turn_task: asyncio.Task | None = None
        self._turn_no = 0
        self._reprompts = 0
        self._last_activity = time.monotonic()
        self._turn_audio = None  # audio of the turn being transcribed, merged if cut short
        self._pending_audio = None  # caller audio not yet answered, joined to the next turn
        self._pending_until = 0.0
        self._speculation: tuple[_Turn, asyncio.Task] | None = None
        self._ended = asyncio.Event()

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        # Tasks copy the context they are created in: every log line of this call carries its id.
        with structlog.contextvars.bound_contextvars(call_id=self.id):
            self._tasks = [loop.create_task(self._input_loop(), name=f"{self.id}-input"),
                           loop.create_task(self.player.run(), name=f"{self.id}-player"),
                           loop.create_task(self._watchdog(), name=f"{self.id}-watchdog")]
            if self.settings.call.greeting:
                self.flow.greet()
                self._start_turn(self._speak_unprompted(self.dialogue.greeting()))
            else:
                self.flow.listen()

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    async def wait_ended(self) -> None:
        await self._ended.wait()

    async def end(self, outcome: str, reason: str = "") -> None:
        """End the call once: stop every task, keep what was said, publish `call_ended`."""
        if self._ended.is_set():
            return
        self._ended.set()
        self.flow.finish()
        heard = self.player.clear() if self.player.playing else self.player.take_heard()
        if heard:
            self._assistant_heard(heard, interrupted=self.player.playing)
        current = asyncio.current_task()
        self._drop_speculation()
        for task in [*self._tasks, self._turn_task]:
            if task is not None and task is not current and not task.done():
                task.cancel()
        self._out.put_nowait(None)
        self.flow.close()
        duration = round((time.monotonic_ns() - self.record.started_ns) / 1e9, 2)
        self.log.info("call ended", outcome=outcome, reason=reason, duration_s=duration)
        self.bus.emit(ev.CALL_ENDED, self.id, outcome=outcome, duration_s=duration,
                      reason=reason, transport=self.record.transport)

    async def close_politely(self, reason: str, timeout_s: float = 8.0) -> None:
        """Say goodbye, then hang up (server shutdown); ends hard if speaking takes too long."""
        if self._ended.is_set():
            return
        try:
            await asyncio.wait_for(
                self._say_and_end(self.dialogue.profile.farewell, "completed", reason), timeout_s)
        except (TimeoutError, asyncio.CancelledError):
            pass
        finally:
            await self.end("completed", reason)

    async def fail(self, kind: str, message: str) -> None:
        """A bad input or internal error ends this call only, with a clear reason."""
        self.log.warning("call failed", kind=kind, error=message)
        self.bus.emit(ev.ERROR, self.id, kind=kind, message=message)
        await self.end("error", message)

    # --- transport side --------------------------------------------------------------------

    def feed(self, pcm16: bytes) -> None:
        """Caller audio (PCM16 mono at `in_rate`), any chunk size. Never blocks."""
        if self._ended.is_set():
            raise CallEnded(f"call {self.id} has ended")
        try:
            self._inbound.put_nowait(pcm16)
        except asyncio.QueueFull:
            asyncio.get_running_loop().create_task(
                self.fail("overload", "caller audio backed up for 10 s; the call cannot keep up"))

    async def dtmf(self, digit: str) -> None:
        if self._ended.is_set():
            raise CallEnded(f"call {self.id} has ended")
        self.bus.emit(ev.DTMF, self.id, digit=digit)
        self._activity(caller=True)
        self._drop_speculation()
        reply = await self.dialogue.on_dtmf(digit)
        if reply.text or reply.llm_messages or reply.action:
            self._cancel_turn()
            self._turn_no += 1
            turn = self._new_turn(TurnTimer(self._turn_no, time.monotonic_ns()))
            self._start_turn(self._respond(reply, turn))

    async def outbound(self) -> AsyncIterator[Outbound]:
        """Paced frames (`AudioOut`), `MarkOut`, `ClearOut` and finally `EndOut` or nothing."""
        while (item := await self._out.get()) is not None:
            yield item

    # --- caller side -----------------------------------------------------------------------

    async def _input_loop(self) -> None:
        while (chunk := await self._inbound.get()) is not None:
            pcm = self._resample_in.process(chunk)
            if pcm:
                self.detector.feed(pcm16_to_float(pcm))

    def _on_speech_start(self, ts_ns: int) -> None:
        self._activity(caller=True)
        if self.player.playing:
            self._barge_in()
        elif self._turn_task is not None and not self._turn_task.done():
            # Still thinking about the last utterance: it and this one become one turn.
            self._cancel_turn()
            self._keep_pending(self._turn_audio)
        self.flow.caller_starts()

    def _keep_pending(self, audio: np.ndarray | None, for_s: float = 2.5) -> None:
        if audio is not None:
            self._pending_audio = audio
            self._pending_until = time.monotonic() + for_s

    def _barge_in(self) -> None:
        self._cancel_turn()
        heard = self.player.clear()
        self._out.put_nowait(ClearOut())
        reaction_ms = round((time.monotonic_ns() - self.detector.start_ns) / 1e6, 1)
        self._assistant_heard(heard, interrupted=True)
        self.bus.emit(ev.BARGE_IN, self.id, turn=self._turn_no, reaction_ms=reaction_ms,
                      heard=heard)
        self.log.info("barge-in", heard=heard, reaction_ms=reaction_ms)

    def _on_pause(self, utterance: UserTurn) -> None:
        """Answer speculatively at a short pause; the audio is released only if the turn ends.

        Only while the dialogue is idle: inside a message or booking flow a turn may commit
        to the database, which must not happen for words the caller then takes back.
        """
        busy = self._turn_task is not None and not self._turn_task.done()
        if self._pending_audio is not None or busy or self.dialogue.in_flow:
            return
        self._drop_speculation()
        timer = TurnTimer(self._turn_no + 1, utterance.speech_end_ns)
        turn = _Turn(timer, self.dialogue.fork(), speech_end_ns=utterance.speech_end_ns)
        turn.announce.append(lambda: setattr(self, "dialogue", turn.dialogue))
        task = asyncio.get_running_loop().create_task(self._caller_turn(utterance.audio, turn))
        task.add_done_callback(self._turn_done)
        self._speculation = (turn, task)

    def _drop_speculation(self) -> None:
        if self._speculation is not None:
            self._speculation[1].cancel()
            self._speculation = None

    def _on_turn(self, utterance: UserTurn) -> None:
        self._activity(caller=True)
        self.flow.caller_stops()
        spec, self._speculation = self._speculation, None
        if spec is not None and spec[0].speech_end_ns == utterance.speech_end_ns:
            turn, task = spec  # the caller stayed silent since the pause: release the answer
            self._turn_no = turn.timer.turn
            turn.timer.mark("eot_detected", utterance.detected_ns)
            self._turn_audio = utterance.audio
            self._turn_task = task
            turn.gate.set()
            return
        if spec is not None:
            spec[1].cancel()
        self._turn_no += 1
        timer = TurnTimer(self._turn_no, utterance.speech_end_ns)
        timer.mark("eot_detected", utterance.detected_ns)
        if self._pending_audio is not None and time.monotonic() < self._pending_until:
            utterance.audio = np.concatenate([self._pending_audio, utterance.audio])
        self._pending_audio = None
        self._turn_audio = utterance.audio
        self._start_turn(self._caller_turn(utterance.audio, self._new_turn(timer)))

    async def _caller_turn(self, audio: np.ndarray, turn: _Turn) -> None:
        turn.timer.mark("stt_start", time.monotonic_ns())
        transcript = await self.assistant.transcribe(audio)
        turn.timer.mark("stt_done", time.monotonic_ns())
        text = transcript.text.strip()
        noise = (transcript.no_speech_prob > NO_SPEECH_PROB
                 and transcript.avg_logprob < SILENCE_LOGPROB)
        if not text or noise:
            await turn.confirmed()
            self.log.debug("no words in this turn", text=text, nsp=transcript.no_speech_prob)
            # A lone short word ("Hello,") often fails alone; it is heard again joined to
            # the caller's next words if they follow soon.
            self._keep_pending(self._turn_audio)
            self._turn_audio = None
            self.flow.listen()
            return

        def heard_caller() -> None:
            self._turn_audio = None  # from here on the turn is answered, not merged
            self.bus.emit(ev.TRANSCRIPT, self.id, role="caller", text=text,
                          turn=turn.timer.turn, interrupted=False)

        turn.announce.append(heard_caller)
        reply = await turn.dialogue.on_caller(text)
        await self._respond(reply, turn)

    # --- TOM's side ------------------------------------------------------------------------

    def _new_turn(self, timer: TurnTimer | None) -> _Turn:
        """A turn that is not speculative: its audio goes out as soon as it exists."""
        turn = _Turn(timer, self.dialogue)
        turn.gate.set()
        return turn

    def _start_turn(self, coro) -> None:
        self._turn_task = asyncio.get_running_loop().create_task(coro)
        self._turn_task.add_done_callback(self._turn_done)

    def _turn_done(self, task: asyncio.Task) -> None:
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()  # one broken turn ends this call only
        self.log.error("turn failed", error=f"{type(exc).__name__}: {exc}", exc_info=exc)
        asyncio.get_running_loop().create_task(
            self.fail("internal", f"{type(exc).__name__}: {exc}"))

    def _cancel_turn(self) -> None:
        if self._turn_task is not None and not self._turn_task.done():
            self._turn_task.cancel()
        self._turn_task = None

    async def _respond(self, reply: Reply, turn: _Turn) -> None:
        turn.intent = reply.intent
        if reply.stored:
            stored = reply.stored
            turn.announce.append(lambda: self.bus.emit(
                ev.MESSAGE_TAKEN, self.id, id=stored.get("id"), kind=stored.get("kind")))
        turn.announce.append(self.flow.reply)
        if reply.text:
            await self._speak_fixed(reply.text, turn)
        elif reply.llm_messages:
            await self._speak_llm(reply.llm_messages, turn)
        await turn.confirmed()
        await self.player.drained()
        heard = self.player.take_heard()
        if heard:
            self._assistant_heard(heard, interrupted=False)
        if reply.action:
            await self._act(reply.action)
        else:
            self.flow.listen()
            self._activity()

    async def _speak_unprompted(self, text: str) -> None:
        """Greeting and re-prompts: TOM speaks without a caller turn before it."""
        await self._speak_fixed(text, self._new_turn(None))
        await self.player.drained()
        heard = self.player.take_heard()
        if heard:
            self._assistant_heard(heard, interrupted=False)
        self.flow.listen()
        self._activity()

    async def _speak_fixed(self, text: str, turn: _Turn) -> None:
        chunker = SentenceChunker()  # the first clause alone is synthesised (and heard) sooner
        for sentence in chunker.feed(text + " ") + chunker.flush():
            turn.mark("first_sentence")
            await self._say(sentence, turn)

    async def _speak_llm(self, messages: list[dict], turn: _Turn) -> None:
        chunker = SentenceChunker()
        spoken = 0
        turn.mark("llm_start")
        try:
            async with contextlib.aclosing(self.assistant.llm.stream(messages)) as pieces:
                async for piece in pieces:
                    turn.mark("llm_first_token")
                    for sentence in chunker.feed(piece):
                        spoken += await self._say_checked(sentence, turn)
                    if turn.dialogue.reply_done:  # enough said: stop generating now
                        break
        except LLMError as exc:  # the caller hears an offer to help otherwise, not silence
            self.log.error("llm failed", error=str(exc))
            self.bus.emit(ev.ERROR, self.id, kind="llm", message=str(exc))
        for sentence in chunker.flush():
            spoken += await self._say_checked(sentence, turn)
        if not spoken:
            await self._say(turn.dialogue.fallback(), turn)

    async def _say_checked(self, sentence: str, turn: _Turn) -> int:
        safe = turn.dialogue.check_sentence(sentence)
        if not safe:
            return 0
        turn.mark("first_sentence")
        await self._say(safe, turn)
        return 1

    async def _say(self, sentence: str, turn: _Turn) -> None:
        audio, rate = await self.assistant.synthesize(sentence)
        turn.mark("tts_first_audio")
        pcm = float_to_pcm16(resample(audio * 0.8, rate, self.out_rate))
        frames = self._frames_out.push(pcm)
        tail = self._frames_out.flush()
        if tail:
            frames.append(tail + bytes(self._frames_out.frame_bytes - len(tail)))
        await turn.confirmed()
        first = None
        timer = turn.timer
        if timer is not None and "first_frame_out" not in timer.marks:
            def first(ts_ns: int, timer: TurnTimer = timer) -> None:
                timer.mark("first_frame_out", ts_ns)
                self.bus.emit(ev.TURN, self.id, turn=timer.turn, intent=turn.intent,
                              timings_ms=timer.timings_ms(), marks_ms=timer.marks_ms())
        self.player.add(Segment(sentence, frames, f"t{self._turn_no}-{uuid.uuid4().hex[:6]}",
                                on_first_frame=first))

    def _assistant_heard(self, text: str, *, interrupted: bool) -> None:
        self.dialogue.on_assistant(text, interrupted)
        self.bus.emit(ev.TRANSCRIPT, self.id, role="assistant", text=text, turn=self._turn_no,
                      interrupted=interrupted)

    async def _act(self, action: str) -> None:
        if action == "transfer":
            self.flow.transfer()
            self._out.put_nowait(EndOut("transfer", "caller asked for a person"))
            await self.end("transferred", "caller asked for a person")
        else:
            self._out.put_nowait(EndOut("hangup", "conversation finished"))
            await self.end("completed", "conversation finished")

    # --- silence and time limits -----------------------------------------------------------

    def _activity(self, caller: bool = False) -> None:
        """Something happened on the line; only the caller's own activity resets re-prompts."""
        self._last_activity = time.monotonic()
        if caller:
            self._reprompts = 0

    async def _watchdog(self) -> None:
        call = self.settings.call
        while True:
            await asyncio.sleep(0.25)
            age = time.monotonic() - self.record.started_ns / 1e9
            if age > call.max_duration_s:
                await self._say_and_end(self.dialogue.idle_farewell(), "timeout",
                                        "maximum call duration reached")
                return
            busy = self.player.playing or self.detector.speaking or (
                self._turn_task is not None and not self._turn_task.done())
            if busy:
                self._last_activity = time.monotonic()
                continue
            if time.monotonic() - self._last_activity < call.reprompt_after_s:
                continue
            if self._reprompts >= call.max_reprompts:
                await self._say_and_end(self.dialogue.idle_farewell(), "timeout",
                                        "caller silent")
                return
            self._reprompts += 1
            self._last_activity = time.monotonic()
            self._turn_no += 1
            self.flow.reply()
            self._start_turn(self._speak_unprompted(self.dialogue.reprompt(self._reprompts)))

    async def _say_and_end(self, text: str, outcome: str, reason: str) -> None:
        if self._ended.is_set():
            return
        self._cancel_turn()
        self._drop_speculation()
        self.flow.reply()
        await self._say(text, self._new_turn(None))
        await self.player.drained()
        heard = self.player.take_heard()
        if heard:
            self._assistant_heard(heard, interrupted=False)
        self._out.put_nowait(EndOut("hangup", reason))
        await self.end(outcome, reason)


@dataclass
class _Turn:
    """One answer in the making. Its audio waits at `confirmed()` until the caller's turn is
    really over (a speculative turn starts at a pause); then the `announce` steps run once."""

    timer: TurnTimer | None
    dialogue: Dialogue
    intent: str = ""
    speech_end_ns: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    announce: list[Callable[[], None]] = field(default_factory=list)

    def mark(self, name: str) -> None:
        if self.timer is not None:
            self.timer.mark(name, time.monotonic_ns())

    async def confirmed(self) -> None:
        await self.gate.wait()
        while self.announce:
            self.announce.pop(0)()


def new_call_id() -> str:
    return uuid.uuid4().hex[:16]
