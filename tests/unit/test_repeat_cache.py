"""The repeat cache: a sentence synthesised twice is kept; the budget of audio seconds holds."""

from __future__ import annotations

import asyncio
import contextlib

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


async def test_fixed_texts_are_kept_from_their_first_synthesis():
    voice = CountingVoice()
    cache = RepeatCache(voice)
    cache.keep(["How can I help you?"])
    await cache("How can I help you?")
    await cache("How  can I help you?")
    await cache("An LLM sentence.")
    await cache("An LLM sentence.")
    assert voice.calls == ["How can I help you?", "An LLM sentence.", "An LLM sentence."]
    assert cache.hits == 1


class SlowVoice(CountingVoice):
    """Synthesis that takes until `release` is set, as a busy TTS worker does."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.cancelled = 0

    async def __call__(self, text: str) -> Timed[Synthesis]:
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return await super().__call__(text)


async def test_calls_asking_for_the_same_sentence_at_once_share_one_synthesis():
    voice = SlowVoice()
    cache = RepeatCache(voice)
    asks = [asyncio.create_task(cache("Hello, you've reached Brandt Bike Works.")) for _ in range(8)]
    other = asyncio.create_task(cache("Something else."))
    await asyncio.sleep(0)
    voice.release.set()
    results = await asyncio.gather(*asks)
    await other
    assert sorted(voice.calls) == ["Hello, you've reached Brandt Bike Works.", "Something else."]
    assert all(r.value is results[0].value for r in results)
    assert (cache.misses, cache.shared) == (2, 7)


async def test_one_caller_hanging_up_does_not_cancel_what_another_waits_for():
    voice = SlowVoice()
    cache = RepeatCache(voice)
    first = asyncio.create_task(cache("Goodbye!"))
    second = asyncio.create_task(cache("Goodbye!"))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    voice.release.set()
    assert len((await second).value.samples) == 100
    assert voice.cancelled == 0 and first.cancelled()


async def test_a_sentence_nobody_waits_for_any_more_is_not_synthesised():
    voice = SlowVoice()
    cache = RepeatCache(voice)
    only = asyncio.create_task(cache("A speculative answer."))
    await asyncio.sleep(0)
    only.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await only
    await asyncio.sleep(0)
    assert voice.cancelled == 1 and voice.calls == []
    voice.release.set()
    await cache("A speculative answer.")  # asked again later: a fresh synthesis
    assert voice.calls == ["A speculative answer."]


async def test_asking_again_right_after_everyone_left_starts_afresh():
    """A speculative answer dropped, then the same sentence asked for by the real answer at
    once: the new asker must get audio, not the cancellation of the abandoned synthesis."""
    voice = SlowVoice()
    cache = RepeatCache(voice)
    speculative = asyncio.create_task(cache("Our opening hours are"))
    await asyncio.sleep(0)
    speculative.cancel()
    await asyncio.sleep(0)  # the speculative asker has left; its synthesis is being cancelled
    assert speculative.cancelled()
    asyncio.get_running_loop().call_later(0.01, voice.release.set)
    real = await cache("Our opening hours are")
    assert len(real.value.samples) == 400
    assert voice.cancelled == 1 and voice.calls == ["Our opening hours are"]
