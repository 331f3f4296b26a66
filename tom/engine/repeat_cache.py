"""Audio of the sentences TOM says again and again, synthesised once.

Every call starts with the same greeting, and callers ask the same few questions, so the same
sentences are synthesised over and over. A sentence is kept the second time it is asked for
(LLM sentences rarely repeat, so they never fill the cache), least recently used first out,
within a budget of audio seconds. A hit costs no TTS time and no worker slot.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from tom.engine.tts import Synthesis
from tom.engine.workers import Timed

Synthesize = Callable[[str], Awaitable[Timed[Synthesis]]]
MAX_SEEN = 2000  # sentences remembered as "asked for once" (LRU)


class RepeatCache:
    """Wraps a synthesize function; same interface, cached audio for repeated sentences."""

    def __init__(self, synthesize: Synthesize, *, max_seconds: float = 180.0,
                 clock: Callable[[], int] = time.monotonic_ns) -> None:
        self._synthesize = synthesize
        self.max_seconds = max_seconds
        self._clock = clock
        self._audio: OrderedDict[str, Synthesis] = OrderedDict()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.seconds = 0.0
        self.hits = 0
        self.misses = 0

    async def __call__(self, text: str) -> Timed[Synthesis]:
        key = " ".join(text.split())
        cached = self._audio.get(key)
        if cached is not None:
            self._audio.move_to_end(key)
            self.hits += 1
            now = self._clock()
            return Timed(cached, now, now, now)
        self.misses += 1
        timed = await self._synthesize(text)
        self._remember(key, timed.value)
        return timed

    def _remember(self, key: str, audio: Synthesis) -> None:
        if key not in self._seen:
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
