"""A caller who pauses mid-sentence and goes on after TOM started answering: one turn, no
word lost; and caller audio kept for the next turn never holds up a speculative answer."""

from __future__ import annotations

import pytest
from call_harness import Harness, calls

from tom.monitor import events as ev

OPEN, SATURDAY, MUMBLE, HOURS, PRICE = 0.25, 0.5, 0.75, 0.4, 0.6  # levels that survive PCM16
WORDS = {OPEN: "Are you open on", SATURDAY: "Saturday.", MUMBLE: "",
         HOURS: "What are your opening hours?", PRICE: "Sorry, I only need the price."}


@pytest.fixture
async def call_with():
    async with calls(words=WORDS) as make:
        yield make


def caller_lines(h: Harness) -> list[tuple[int, str, int | None]]:
    return [(e.turn, e.text, e.joins) for e in h.of(ev.Transcript)  # type: ignore[attr-defined]
            if e.role == ev.Role.CALLER]


async def pause_then(h: Harness, pause_s: float, going_on_s: float) -> None:
    """"Are you open on" — a pause TOM takes for the end and starts answering in — "Saturday."."""
    await h.say(OPEN, 0.8)
    await h.silence(pause_s)
    assert h.call.turns.voice.playing  # TOM is answering "Are you open on"
    await h.say(SATURDAY, going_on_s)
    await h.silence(0.6)
    await h.clock.advance(4)


@pytest.mark.parametrize("going_on_s", [0.3, 0.8])  # shorter and longer than turns.hold_ms
async def test_going_on_after_a_pause_is_one_turn(call_with, going_on_s):
    h = await call_with()
    await pause_then(h, 0.7, going_on_s)
    assert h.ears.heard[-1] == (OPEN, SATURDAY)  # transcribed as one utterance
    assert caller_lines(h) == [(1, "Are you open on", None), (2, "Are you open on Saturday.", 1)]
    first, second = (e for e in h.of(ev.Transcript) if e.role == ev.Role.ASSISTANT)
    assert first.interrupted and not second.interrupted  # TOM stopped, then answered it all


async def test_a_correction_after_the_pause_is_the_turn(call_with):
    """Cutting in with "Sorry, I only need …" takes the first question back: joined across the
    pause and transcribed once, but the turn is the correction, and the first line stands."""
    h = await call_with()
    await h.say(HOURS, 0.8)
    await h.silence(0.7)
    await h.say(PRICE, 0.8)
    await h.silence(0.6)
    await h.clock.advance(4)
    assert h.ears.heard[-1] == (HOURS, PRICE)
    assert caller_lines(h) == [(1, "What are your opening hours?", None),
                               (2, "Sorry, I only need the price.", None)]


async def test_without_the_rule_words_that_ask_nothing_were_let_be(call_with):
    """What `turns.continuation_ms` mends: "Saturday." while TOM talks asks nothing of it."""
    h = await call_with(turns={"continuation_ms": 0})
    await pause_then(h, 0.7, 0.3)
    assert caller_lines(h) == [(1, "Are you open on", None)]  # "Saturday" was lost
    assert not h.of(ev.BargeIn)


async def test_the_same_words_long_after_the_turn_do_not_stop_tom(call_with):
    h = await call_with()
    await pause_then(h, 2.0, 0.3)  # began 2 s after the caller's last voice: not going on
    assert caller_lines(h) == [(1, "Are you open on", None)]
    assert not h.of(ev.BargeIn)


async def test_audio_kept_long_ago_does_not_hold_up_a_speculative_answer(call_with):
    h = await call_with(stt={"speculative": True})
    await h.say(MUMBLE, 0.3)  # no words: kept for a turn that follows soon
    await h.silence(3.5)  # ... none does
    await h.say(HOURS, 1.0)
    await h.silence(0.6)
    await h.clock.advance(3)
    assert h.ears.heard[-1] == (HOURS,)
    (timed,) = h.of(ev.TurnTimed)
    assert timed.marks_ms["stt_start"] < timed.marks_ms["eot_detected"]  # made at the pause


async def test_a_speculative_answer_is_made_on_the_joined_audio(call_with):
    h = await call_with(stt={"speculative": True})
    await h.say(MUMBLE, 0.3)
    await h.silence(0.6)
    await h.say(HOURS, 1.0)  # within PENDING_S: joined to the mumble
    await h.silence(0.6)
    await h.clock.advance(3)
    assert h.ears.heard == [(MUMBLE,), (MUMBLE, HOURS)]  # once, at the pause, joined
    assert caller_lines(h) == [(2, "What are your opening hours?", None)]
    (timed,) = h.of(ev.TurnTimed)
    assert timed.marks_ms["stt_start"] < timed.marks_ms["eot_detected"]
