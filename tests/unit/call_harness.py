"""A call on fake engines and fake time, driven the way a transport drives it.

The engines are stand-ins that make the call's decisions visible: caller "speech" is a constant
level per utterance (the fake VAD hears any level, the fake STT maps each level to words, in the
order heard), TOM's voice is 100 ms of audio per word, and the LLM answers from a script. Time
moves only in `FakeClock.advance`, which fires timers (the call's and the player's pacing) in
order, so seconds of call run instantly and exactly. The dialogue and profile are the real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import heapq
import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tom.audio import float_to_pcm16
from tom.call import Call, CallEngines
from tom.config import Settings
from tom.conversation.profile import Profile, load_profile
from tom.engine.llm import StreamTiming
from tom.engine.playback import AudioOut, ClearOut, EndOut, MarkOut, Outbound
from tom.engine.stt import LastWord, Transcript
from tom.engine.tts import Synthesis
from tom.engine.workers import Timed
from tom.monitor import events as ev
from tom.registry import CallRecord

IN_RATE = 16000
OUT_RATE = 8000
FRAME_S = 0.02
WORD_S = 0.1  # TOM's fake voice: 100 ms (5 frames) per word
MS = 1_000_000

_PROFILE = load_profile(None, "en")


async def settle(rounds: int = 60) -> None:
    """Let every task that can run, run (no real time passes)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class FakeTimer:
    def __init__(self, due: int, callback: Callable[[], None]) -> None:
        self.due, self.callback, self.cancelled = due, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """Monotonic ns that move only when the test advances them; timers fire in order."""

    def __init__(self) -> None:
        self.now = 1_000_000_000_000
        self._timers: list[tuple[int, int, FakeTimer]] = []
        self._seq = itertools.count()

    def now_ns(self) -> int:
        return self.now

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(self.now + max(0, int(delay_s * 1e9)), callback)
        heapq.heappush(self._timers, (timer.due, next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        woken = asyncio.get_running_loop().create_future()
        self.call_later(seconds, lambda: woken.done() or woken.set_result(None))
        await woken

    async def advance(self, seconds: float) -> None:
        target = self.now + int(seconds * 1e9)
        await settle()
        while self._timers and self._timers[0][0] <= target:
            due, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self.now = max(self.now, due)
            timer.callback()
            await settle()
        self.now = target
        await settle()


class LevelVad:
    """Speech is any chunk louder than a whisper."""

    def __call__(self, chunk: np.ndarray) -> float:
        return 0.9 if float(np.abs(chunk).mean()) > 0.05 else 0.01

    def reset(self) -> None:
        pass


@dataclass
class FakeEars:
    """STT: each level in the audio (in order) is a known utterance; timed as configured."""

    clock: FakeClock
    words: dict[float, str]
    queue_ms: int = 40
    compute_ms: int = 60
    heard: list[tuple[float, ...]] = field(default_factory=list)
    hold: asyncio.Event | None = None  # while set to an unset event, transcription waits
    last_word_prob: float = 1.0  # how sure "Whisper" is of the last word it heard
    last_word_from_end_s: float | None = None  # where it starts: this long before the audio ends
    misses: int = 0  # the next this many runs take the words for noise

    async def transcribe(self, samples: np.ndarray) -> Timed[Transcript]:
        submitted = self.clock.now
        if self.hold is not None:
            await self.hold.wait()
        loud = np.abs(samples[np.abs(samples) > 0.05])
        levels = tuple(dict.fromkeys(np.round(loud.astype(np.float64), 2).tolist()))
        self.heard.append(levels)
        text = " ".join(t for t in (self.words.get(level, "") for level in levels) if t)
        no_speech_prob, avg_logprob = 0.01, -0.2
        if self.misses > 0:
            self.misses, no_speech_prob, avg_logprob = self.misses - 1, 0.7, -1.5
        started = submitted + self.queue_ms * MS
        audio_s = len(samples) / IN_RATE
        start_s = None if self.last_word_from_end_s is None else audio_s - self.last_word_from_end_s
        return Timed(Transcript(text, "en", no_speech_prob, avg_logprob, audio_s,
                                last_word=LastWord(self.last_word_prob, start_s)),
                     submitted, started, started + self.compute_ms * MS)


@dataclass
class FakeMouth:
    """TTS: 100 ms of a quiet tone per word, at the line's own rate."""

    clock: FakeClock
    queue_ms: int = 5
    compute_ms: int = 30
    said: list[str] = field(default_factory=list)

    async def synthesize(self, text: str) -> Timed[Synthesis]:
        self.said.append(text)
        samples = np.full(int(len(text.split()) * WORD_S * OUT_RATE), 0.1, dtype=np.float32)
        submitted = self.clock.now
        started = submitted + self.queue_ms * MS
        return Timed(Synthesis(samples, OUT_RATE), submitted, started,
                     started + self.compute_ms * MS)


@dataclass
class FakeBrain:
    """LLM: answers every prompt with the same pieces; its worker starts `queue_ms` late."""

    clock: FakeClock
    pieces: list[str] = field(default_factory=lambda: ["Bikes are ", "great fun. ", "Ride one."])
    queue_ms: int = 70
    prompts: list[list[dict[str, str]]] = field(default_factory=list)

    async def stream(self, messages: list[dict[str, str]], *, max_tokens: int | None = None,
                     temperature: float | None = None,
                     timing: StreamTiming | None = None) -> AsyncGenerator[str, None]:
        self.prompts.append(messages)
        if timing is not None:
            timing.started_ns = self.clock.now + self.queue_ms * MS
        for piece in self.pieces:
            await asyncio.sleep(0)
            yield piece

    async def close(self) -> None:
        pass


def profile(**prompts: str) -> Profile:
    """The demo profile; transfers allowed at any hour; prompts may be replaced."""
    p = copy.deepcopy(_PROFILE)
    p.transfer_only_during_hours = False
    p.texts["prompts"].update(prompts)
    return p


class Harness:
    """One call on fake engines, with its outbound audio and every event it published."""

    def __init__(self, *, words: dict[float, str] | None = None, greeting: str | None = None,
                 backlog: bool = False, **sections: dict[str, object]) -> None:
        raw: dict[str, dict[str, object]] = {"call": {"greeting": greeting is not None},
                                             "stt": {"speculative": False}}
        for name, values in sections.items():
            raw.setdefault(name, {}).update(values)
        self.settings = Settings.from_dict(raw)
        self.clock = FakeClock()
        self.bus = ev.EventBus()
        self.events: list[ev.Event] = []
        self.bus.listen(self.events.append)
        self.ears = FakeEars(self.clock, words or {})
        self.mouth = FakeMouth(self.clock)
        self.brain = FakeBrain(self.clock)
        self.engines = CallEngines(
            settings=self.settings, bus=self.bus,
            profile=profile(**({"greeting": greeting} if greeting else {})), messages=None,
            transcribe=self.ears.transcribe, synthesize=self.mouth.synthesize, chat=self.brain,
            new_vad=LevelVad, clock=self.clock, backlog=lambda: backlog)
        record = CallRecord("c1", "test", "+4930123", started_ns=self.clock.now)
        self.call = Call(self.engines, record, in_rate=IN_RATE, out_rate=OUT_RATE,
                         strict_flow=True)
        self.out: list[tuple[int, Outbound]] = []
        self.on_mark: Callable[[str], None] | None = None  # a transport that echoes marks
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> Harness:
        self._reader = asyncio.create_task(self._read())
        await self.call.start()
        await settle()
        return self

    async def _read(self) -> None:
        async for item in self.call.outbound():
            self.out.append((self.clock.now, item))
            if isinstance(item, MarkOut) and self.on_mark is not None:
                self.on_mark(item.name)

    async def stop(self) -> None:
        if not self.call.ended:
            await self.call.end("hung_up_by_caller", "test over")
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)

    # --- the caller -------------------------------------------------------------------------

    async def say(self, level: float, seconds: float) -> None:
        await self._frames(level, seconds)

    async def silence(self, seconds: float) -> None:
        await self._frames(0.0, seconds)

    async def _frames(self, level: float, seconds: float) -> None:
        frame = float_to_pcm16(np.full(int(IN_RATE * FRAME_S), level, dtype=np.float32))
        for _ in range(round(seconds / FRAME_S)):
            if self.call.ended:
                return
            self.call.feed(frame)
            await self.clock.advance(FRAME_S)

    # --- what happened ----------------------------------------------------------------------

    def of(self, kind: type[ev.Event]) -> list[ev.Event]:
        return [e for e in self.events if isinstance(e, kind)]

    def said(self, role: ev.Role = ev.Role.ASSISTANT) -> list[str]:
        return [e.text for e in self.of(ev.Transcript) if e.role == role]  # type: ignore[attr-defined]

    def states(self) -> list[tuple[str, str]]:
        return [(e.source, e.dest) for e in self.of(ev.StateChanged)]  # type: ignore[attr-defined]

    def outbound(self, kind: type) -> list:
        return [item for _, item in self.out if isinstance(item, kind)]

    @property
    def audio_frames(self) -> int:
        return len(self.outbound(AudioOut))

    @property
    def cleared(self) -> bool:
        return bool(self.outbound(ClearOut))

    @property
    def ending(self) -> list[EndOut]:
        return self.outbound(EndOut)


@contextlib.asynccontextmanager
async def calls(**defaults: Any) -> AsyncIterator[Callable[..., Awaitable[Harness]]]:
    """Start harness calls (`defaults` overridden per call); at the end each is ended and
    checked: no call error was published, and every task the call started is gone."""
    made: list[Harness] = []

    async def make(**kw: Any) -> Harness:
        h = Harness(**{**defaults, **kw})
        made.append(h)
        return await h.start()

    yield make
    for h in made:
        await h.stop()
        assert not h.of(ev.CallError), h.of(ev.CallError)
        assert len(h.call._tasks) == 0
