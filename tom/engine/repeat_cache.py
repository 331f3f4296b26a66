"""Audio of the sentences TOM says again and again, synthesised once.

Every call starts with the same greeting, and callers ask the same few questions, so the same
sentences are synthesised over and over. The profile's fixed texts (greeting, prompts, FAQ
answers: `keep`) are kept the first time they are synthesised; any other sentence the second
time it is asked for (LLM sentences rarely repeat, so they never fill the cache); least
recently used first out, within a budget of audio seconds. A hit costs no TTS time and no
worker slot. Calls asking for the same sentence at once (eight callers ringing together all
hear the greeting) share one synthesis.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from tom.engine.tts import Synthesis
from tom.engine.workers import Timed

Synthesize = Callable[[str], Awaitable[Timed[Synthesis]]]
MAX_SEEN = 2000  # sentences remembered as "asked for once" (LRU)
# The demo profile's fixed texts are ~200 s of audio in English (~18 MB as float32 at 22 kHz),
# ~300 s in German (Pico, 16 kHz): the budget holds them and the repeats of a busy day.


@dataclass
class _Flight:
    """One synthesis in progress and how many requests still wait for it."""

    task: asyncio.Task[Timed[Synthesis]]
    waiters: int = 0


def cache_key(text: str) -> str:
    return " ".join(text.split())


class RepeatCache:
    """Wraps a synthesize function; same interface, cached audio for repeated sentences."""

    def __init__(self, synthesize: Synthesize, *, max_seconds: float = 420.0,
                 clock: Callable[[], int] = time.monotonic_ns) -> None:
        self._synthesize = synthesize
        self.max_seconds = max_seconds
        self._clock = clock
        self._audio: OrderedDict[str, Synthesis] = OrderedDict()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._fixed: set[str] = set()
        self._flights: dict[str, _Flight] = {}
        self.seconds = 0.0
        self.hits = 0
        self.misses = 0
        self.shared = 0  # requests that waited for another call's synthesis of the same text

    def keep(self, texts: Iterable[str]) -> None:
        """Sentences TOM says word for word (the profile's): kept from their first synthesis."""
        self._fixed.update(cache_key(text) for text in texts)

    @property
    def unrendered(self) -> int:
        """Kept sentences whose audio is not cached (yet)."""
        return len(self._fixed - self._audio.keys())

    async def render_kept(self) -> int:
        """Synthesise every kept sentence not cached yet; how many were rendered."""
        rendered = 0
        for key in sorted(self._fixed - self._audio.keys()):
            if key not in self._audio:
                await self(key)
                rendered += 1
        return rendered

    async def __call__(self, text: str) -> Timed[Synthesis]:
        key = cache_key(text)
        cached = self._audio.get(key)
        if cached is not None:
            self._audio.move_to_end(key)
            self.hits += 1
            now = self._clock()
            return Timed(cached, now, now, now)
        flight = self._flights.get(key)
        if flight is None:
            self.misses += 1
            # A task of its own (with the asker's urgency and call id), so one asker hanging
            # up does not cancel the synthesis another one waits for.
            flight = self._flights[key] = _Flight(asyncio.ensure_future(self._fresh(key, text)))
        else:
            self.shared += 1
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                # Nobody wants it any more: a queued job is dropped, and whoever asks next
                # starts afresh instead of joining a synthesis that is being cancelled.
                flight.task.cancel()
                self._land(key, flight.task)

    async def _fresh(self, key: str, text: str) -> Timed[Synthesis]:
        try:
            timed = await self._synthesize(text)
        finally:
            self._land(key, asyncio.current_task())
        self._remember(key, timed.value)
        return timed

    def _land(self, key: str, task: asyncio.Future[Timed[Synthesis]] | None) -> None:
        """The synthesis `task` of `key` is over: no one may join it any more."""
        flight = self._flights.get(key)
        if flight is not None and flight.task is task:
            del self._flights[key]

    def _remember(self, key: str, audio: Synthesis) -> None:
        if key not in self._seen and key not in self._fixed:
            self._seen[key] = None
            if len(self._seen) > MAX_SEEN:
                self._seen.popitem(last=False)
            return
        seconds = len(audio.samples) / audio.rate if audio.rate else 0.0
        if seconds > self.max_seconds or key in self._audio:
            return
        self._audio[key] = audio
        self.seconds += seconds
        while self.seconds > self.max_seconds and self._audio:
            _, old = self._audio.popitem(last=False)
            self.seconds -= len(old.samples) / old.rate
