"""The end of a turn needs its sound and its words to agree (TurnTaking._judge_turn).

Smart Turn is replaced by a stub with a fixed verdict; the STT is the harness's fake ears, so
each case says exactly what the caller's words at the pause are.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from call_harness import FRAME_S, IN_RATE, Harness

from tom.audio import float_to_pcm16
from tom.monitor import events as ev

LEVEL = 0.25


class FixedVerdict:
    """Smart Turn's place: the same probability of "finished" at every pause."""

    def __init__(self, probability: float) -> None:
        self.probability = probability

    def complete(self, audio: np.ndarray) -> float:
        return self.probability


async def smart_call(words: dict[float, str], probability: float,
                     **sections: dict[str, object]) -> Harness:
    """A started call whose Smart Turn gives `probability` at every pause."""
    h = Harness(words=words, turns={"smart_turn": True}, **sections)
    await h.start()
    h.call.turns.smart = FixedVerdict(probability)  # type: ignore[assignment]
    return h


async def pause(h: Harness, frames: int) -> None:
    """Caller silence a frame at a time, with a moment for Smart Turn's thread to answer."""
    for _ in range(frames):
        await h.silence(FRAME_S)
        await asyncio.sleep(0.003)


async def ended_after_ms(probability: float, words: str, last_word_prob: float = 1.0,
                         last_word_from_end_s: float | None = None,
                         **sections: dict[str, object]) -> int:
    """Silence (ms) after the caller's last voice until TOM starts thinking about the turn;
    `last_word_from_end_s`: where "Whisper" places the last word's start, before the end of
    the audio it transcribes (which ends on the pause's silence)."""
    turns = {"smart_turn": True, **sections.pop("turns", {})}
    h = Harness(words={LEVEL: words}, turns=turns, **sections)
    h.ears.last_word_prob = last_word_prob
    h.ears.last_word_from_end_s = last_word_from_end_s
    await h.start()
    h.call.turns.smart = FixedVerdict(probability)  # type: ignore[assignment]
    try:
        await h.say(LEVEL, 1.0)
        quiet = float_to_pcm16(np.zeros(int(IN_RATE * FRAME_S), dtype=np.float32))
        for n in range(1, 100):
            h.call.feed(quiet)
            await asyncio.sleep(0.003)  # Smart Turn runs in a thread: let it answer
            await h.clock.advance(FRAME_S)
            if h.call.flow.state != "caller_speaking":
                return round(n * FRAME_S * 1000)
        raise AssertionError("the turn never ended")
    finally:
        await h.stop()


async def test_sounds_finished_and_reads_finished_ends_at_once() -> None:
    assert await ended_after_ms(0.95, "Where are you located?") < 500


async def test_sounds_finished_but_stops_on_an_article_waits_for_the_rest() -> None:
    assert await ended_after_ms(0.95, "I'd like to book a") >= 1400


@pytest.mark.parametrize("words", ["Ich möchte einen Termin für meine", "I was wondering whether"])
async def test_words_that_need_a_continuation_wait_in_any_language(words: str) -> None:
    assert await ended_after_ms(0.95, words) >= 1400


async def test_no_words_heard_leaves_it_to_the_sound() -> None:
    assert await ended_after_ms(0.95, "") < 500


async def test_unfinished_sound_but_finished_words_end_after_the_shorter_silence() -> None:
    ms = await ended_after_ms(0.1, "Where are you located?")
    assert 600 <= ms < 1400


async def test_a_sentence_whisper_finished_itself_unsure_of_its_last_word_waits() -> None:
    # "I'd like to book a" cut off: the decoder adds a word it is unsure of, and a full stop
    assert await ended_after_ms(0.95, "I'd like to book a second.", last_word_prob=0.15) >= 1400
    assert await ended_after_ms(0.1, "I'd like to book a second.", last_word_prob=0.15) >= 1400


async def test_a_last_word_whisper_is_sure_of_ends_the_turn_as_before() -> None:
    assert await ended_after_ms(0.95, "I'd like to book a service.", last_word_prob=0.6) < 500


async def test_with_sure_word_prob_zero_every_last_word_is_believed() -> None:
    assert await ended_after_ms(0.95, "I'd like to book a second.", last_word_prob=0.15,
                                turns={"sure_word_prob": 0.0}) < 500


async def test_a_last_word_placed_in_the_silence_was_added_and_waits() -> None:
    # fairly sure of "second" (above sure_word_prob), but it aligns it after the caller's
    # voice ended: Whisper added it
    added = {"last_word_prob": 0.5, "last_word_from_end_s": 0.1}
    assert await ended_after_ms(0.95, "I'd like to book a second.", **added) >= 1400
    assert await ended_after_ms(0.95, "I'd like to book a second.", **added,
                                turns={"added_word_ms": 0}) < 500


async def test_a_last_word_placed_inside_the_voice_ends_the_turn() -> None:
    assert await ended_after_ms(0.95, "I'd like to book a service.", last_word_prob=0.5,
                                last_word_from_end_s=0.9) < 500


async def test_a_short_last_word_at_the_very_end_whisper_is_sure_of_ends_the_turn() -> None:
    assert await ended_after_ms(0.95, "Lovely weather, isn't it?", last_word_prob=0.99,
                                last_word_from_end_s=0.2) < 500


async def test_the_words_rule_off_leaves_it_to_the_sound() -> None:
    assert await ended_after_ms(0.95, "I'd like to book a",
                                turns={"finished_words_silence_ms": 0}) < 500


async def test_the_words_read_at_the_pause_are_the_ones_answered() -> None:
    h = await smart_call({LEVEL: "Where are you located?"}, 0.95)
    try:
        await h.say(LEVEL, 1.0)
        await pause(h, 50)
        await h.clock.advance(3)
        assert len(h.ears.heard) == 1  # one STT run: the answer reused the end-of-turn check's
        assert h.said(ev.Role.CALLER) == ["Where are you located?"] and h.said()
    finally:
        await h.stop()


SECOND = 0.5  # the level of the caller's second turn, inside the booking flow


async def in_the_booking_flow(second: str) -> Harness:
    """A call whose first turn ("I'd like to book a service.") started the booking flow; the
    next turn at level `SECOND` says `second`."""
    h = await smart_call({LEVEL: "I'd like to book a service.", SECOND: second}, 0.95,
                         stt={"speculative": True})
    await h.say(LEVEL, 1.0)
    await pause(h, 50)
    await h.clock.advance(3)
    assert h.call.turns.responder.dialogue.in_flow
    return h


async def test_inside_a_flow_the_words_are_heard_at_the_pause_not_at_the_look() -> None:
    """No speculative answer inside a flow (a turn may commit to the database), but Smart
    Turn's verdict needs the words: with `stt.speculative` STT starts at the pause
    (`vad.pause_ms`), and the answer uses that transcript."""
    h = await in_the_booking_flow("Next Tuesday, please.")
    try:
        before = len(h.ears.heard)
        await h.say(SECOND, 1.0)
        await pause(h, 9)  # 180 ms: past the pause, before Smart Turn is asked (192 ms)
        assert len(h.ears.heard) == before + 1
        await pause(h, 40)
        await h.clock.advance(3)
        assert len(h.ears.heard) == before + 1  # the answer reused them
        assert h.said(ev.Role.CALLER)[-1] == "Next Tuesday, please."
    finally:
        await h.stop()


async def test_words_taken_for_noise_at_the_pause_are_looked_for_in_the_whole_turn() -> None:
    """The words at the pause end on little silence; when Whisper takes them for noise there
    (a name), the answer transcribes the whole turn before it gives up on it."""
    h = await in_the_booking_flow("Peter Miller.")
    try:
        before = len(h.ears.heard)
        h.ears.misses = 1
        await h.say(SECOND, 1.0)
        await pause(h, 50)
        await h.clock.advance(3)
        assert len(h.ears.heard) == before + 2  # at the pause, then the whole turn
        assert h.said(ev.Role.CALLER)[-1] == "Peter Miller."
    finally:
        await h.stop()


async def test_sounds_finished_and_unpunctuated_words_end_after_the_shorter_silence() -> None:
    """Whisper leaves a number or a lone word unpunctuated now and then: not plainly going on."""
    ms = await ended_after_ms(0.95, "My number is 0151 234 56789")
    assert 600 <= ms < 1400


async def test_a_farewell_ends_the_turn_whatever_its_sound() -> None:
    """Smart Turn said 0.03 on "Great Thanks Bye" in the bench: it waited 1.4 s, then 640 ms."""
    assert await ended_after_ms(0.03, "Great Thanks Bye") < 500
    assert await ended_after_ms(0.03, "Great Thanks") >= 1400


async def test_against_an_unfinished_sound_the_words_need_a_sure_last_word() -> None:
    """Smart Turn hears the caller unfinished, the words read finished: a sure last word ends
    the turn after the shorter silence; one Whisper is barely sure of ("Can I rent a bike
    wall?", 0.34 for a cut-off "while") leaves it to the long fallback."""
    assert 600 <= await ended_after_ms(0.07, "Can I rent a bike?", last_word_prob=0.9) < 1400
    assert await ended_after_ms(0.07, "Can I rent a bike wall?", last_word_prob=0.34) >= 1400
    # the sound says finished: that last word is believed
    assert await ended_after_ms(0.95, "Can I rent a bike wall?", last_word_prob=0.34) < 500
