"""TOM's voice on one call: sentence -> TTS -> 20 ms frames -> paced player -> `outbound()`.

It knows nothing of dialogue: it turns sentences into audio on the line, reports the first frame
of each answer (the `TurnTimed` event), and tells what the caller heard when a reply is played
out or cut off.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from tom.audio import float_to_pcm16, resample, whole_frames
from tom.call.clock import CallClock
from tom.call.speech import Speech
from tom.conversation.spoken import spoken
from tom.engine.playback import ClearOut, EndOut, Outbound, Player, Segment
from tom.engine.timings import TurnTimer
from tom.engine.tts import Synthesis
from tom.engine.workers import Timed, urgent
from tom.monitor import events as ev

VOLUME = 0.8  # piper speaks close to full scale; a little headroom avoids clipping on the line


class Voice:
    """The outbound side of one call: the player, its queue and what was heard."""

    def __init__(self, call_id: str, *, synthesize: Callable[[str], Awaitable[Timed[Synthesis]]],
                 bus: ev.EventBus, out_rate: int, lead_ms: int, clock: CallClock,
                 by_language: Mapping[str, Callable[[str], Awaitable[Timed[Synthesis]]]]
                 | None = None) -> None:
        self.call_id = call_id
        self.synthesize = synthesize
        self.by_language = by_language or {}  # a multilingual TOM: the voice of each language
        self.bus = bus
        self.out_rate = out_rate
        self._out: asyncio.Queue[Outbound | None] = asyncio.Queue()
        self.player = Player(self._out.put_nowait, lead_ms=lead_ms, clock=clock.now_ns,
                             sleep=clock.sleep)

    @property
    def playing(self) -> bool:
        return self.player.playing

    async def prepare(self, sentence: str, speech: Speech, language: str | None = None) -> Segment:
        """Synthesise one sentence into frames (not yet queued: the speech may be speculative).

        The voice and the reading of numbers follow the speech's language (its dialogue's, or
        `language` for a sentence in another one); the transcript keeps the written sentence.
        """
        language = language or speech.dialogue.profile.language
        synthesize = self.by_language.get(language, self.synthesize)
        with urgent(speech.urgency):
            timed = await synthesize(spoken(sentence, language))
        speech.first_audio_ready = True
        speech.mark("tts_start", timed.started_ns)
        speech.mark("tts_first_audio", timed.done_ns)
        samples, rate = timed.value
        pcm = float_to_pcm16(resample(samples * VOLUME, rate, self.out_rate))
        return Segment(sentence, whole_frames(pcm, self.out_rate),
                       f"t{speech.number}-{uuid.uuid4().hex[:6]}",
                       on_first_frame=self._first_frame_reporter(speech))

    def play(self, segment: Segment) -> None:
        if segment.frames:  # a sentence of pure punctuation synthesises to nothing
            self.player.add(segment)

    def _first_frame_reporter(self, speech: Speech) -> Callable[[int], None] | None:
        timer = speech.timer
        if timer is None or "first_frame_out" in timer.marks:
            return None

        def first_frame(ts_ns: int, timer: TurnTimer = timer) -> None:
            if "first_frame_out" in timer.marks:
                return
            timer.mark("first_frame_out", ts_ns)
            self.bus.publish(ev.TurnTimed(call_id=self.call_id, turn=timer.turn,
                                          intent=speech.intent, timings_ms=timer.timings_ms(),
                                          marks_ms=timer.marks_ms()))

        return first_frame

    async def played_out(self) -> str:
        """Wait until everything queued has been sent; what the caller heard since last asked."""
        await self.player.drained()
        return self.player.take_heard()

    def cut_off(self) -> str:
        """Barge-in: drop what is queued, tell the transport to drop its buffer; what was heard."""
        heard = self.player.clear()
        self._out.put_nowait(ClearOut())
        return heard

    def stop(self) -> str:
        """The call ends: what the caller heard (cut short if TOM was still talking)."""
        return self.player.clear() if self.player.playing else self.player.take_heard()

    def confirm(self, mark: str) -> None:
        self.player.confirm(mark)

    def hang_up(self, action: str, reason: str) -> None:
        """After the audio queued so far: hang up ("hangup") or hand over ("transfer")."""
        self._out.put_nowait(EndOut(action, reason))

    def close(self) -> None:
        """No more output: `outbound()` ends after what is queued."""
        self._out.put_nowait(None)

    async def outbound(self) -> AsyncIterator[Outbound]:
        while (item := await self._out.get()) is not None:
            yield item
