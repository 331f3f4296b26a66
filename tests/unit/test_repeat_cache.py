"""The repeat cache: a sentence synthesised twice is kept; the budget of audio seconds holds."""

from __future__ import annotations

import numpy as np

from tom.engine.repeat_cache import RepeatCache
from tom.engine.tts import Synthesis
from tom.engine.workers import Timed


class CountingVoice:
    """One second of audio per word; counts how often it really synthesised."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, text: str) -> Timed[Synthesis]:
        self.calls.append(text)
        samples = np.full(100 * len(text.split()), len(self.calls), dtype=np.float32)
        return Timed(Synthesis(samples, 100), 1, 2, 3)


async def test_the_second_request_is_kept_and_the_third_costs_nothing():
    voice = CountingVoice()
    cache = RepeatCache(voice, clock=lambda: 42)
    first = await cache("Hello, you've reached Brandt Bike Works.")
    second = await cache("Hello,  you've reached Brandt Bike Works.")  # same words, other spaces
    third = await cache("Hello, you've reached Brandt Bike Works.")
    assert len(voice.calls) == 2
    assert third.value is second.value and third.value is not first.value
    assert (third.queue_ns, third.compute_ns) == (0, 0)
    assert (cache.hits, cache.misses) == (1, 2)


async def test_sentences_said_once_are_never_stored():
    voice = CountingVoice()
    cache = RepeatCache(voice)
    for i in range(50):
        await cache(f"An LLM sentence number {i}.")
    assert cache.seconds == 0 and len(voice.calls) == 50


async def test_the_audio_budget_drops_the_least_recently_used():
    voice = CountingVoice()
    cache = RepeatCache(voice, max_seconds=5.0)
    for text in ("one two three", "four five six", "one two three", "four five six"):
        await cache(text)  # both kept would be 6 s: the older goes
    assert cache.seconds == 3.0
    await cache("four five six")
    assert cache.hits == 1
    await cache("one two three")
    assert cache.hits == 1  # it was dropped: synthesised again
