"""The call on fake engines and fake time: greeting, turns, barge-in, timers, failure, ending.

Every call runs with the strict flow: a trigger the call flow does not allow would fail the call
(and these tests, which check that no error was published).
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from call_harness import MS, calls, settle

from tom.audio import float_to_pcm16
from tom.call import CallEnded
from tom.engine.playback import EndOut, MarkOut
from tom.monitor import events as ev

HOURS = 0.25
HELLO = 0.5
MUMBLE = 0.75
GREETING = "One two three four. Five six seven eight. Nine ten eleven twelve."
OPENING = ("Our opening hours are Monday to Friday from 9 am to 6 pm, Saturday from 10 am "
           "to 2 pm, Sunday closed.")
WORDS = {HOURS: "What are your opening hours?", HELLO: "Hello there.", MUMBLE: ""}


@pytest.fixture
async def call_with():
    async with calls(words=WORDS) as make:
        yield make


async def test_greeting_is_spoken_then_tom_listens(call_with):
    h = await call_with(greeting=GREETING)
    await h.clock.advance(2)
    assert h.mouth.said == ["One two three four.", "Five six seven eight.",
                            "Nine ten eleven twelve."]
    assert h.audio_frames == 60 and len(h.outbound(MarkOut)) == 3
    assert h.said() == [GREETING]
    assert h.states() == [("connecting", "greeting"), ("greeting", "listening")]


async def test_a_caller_turn_is_answered_and_each_stage_timed(call_with):
    h = await call_with()
    await h.say(HOURS, 1.0)
    await h.silence(0.6)
    await h.clock.advance(3)
    assert h.said(ev.Role.CALLER) == ["What are your opening hours?"]
    assert h.said() == [OPENING]
    (timed,) = h.of(ev.TurnTimed)
    t = timed.timings_ms
    assert timed.turn == 1 and timed.intent == "question"
    assert (t["stt_queue"], t["stt"]) == (40.0, 60.0)  # what the STT worker reported
    assert (t["tts_queue"], t["tts_first_audio"]) == (5.0, 30.0)
    assert "llm_first_token" not in t  # a FAQ answer: no LLM
    assert 250 <= t["vad_wait"] <= 400  # end_silence_ms after the last voiced chunk arrived
    assert t["e2e"] >= t["vad_wait"]
    assert h.states()[-4:] == [("listening", "caller_speaking"), ("caller_speaking", "thinking"),
                               ("thinking", "speaking"), ("speaking", "listening")]


async def test_an_llm_answer_reports_queue_wait_and_first_token(call_with):
    h = await call_with(words={HOURS: "Who runs the workshop?"}, grounding={"rephrase": True})
    h.brain.pieces = ["Jana Brandt ", "runs the workshop. ", "She has two mechanics."]
    await h.say(HOURS, 1.0)
    await h.silence(0.6)
    await h.clock.advance(3)
    assert h.said() == ["Jana Brandt runs the workshop. She has two mechanics."]
    (timed,) = h.of(ev.TurnTimed)
    assert timed.timings_ms["llm_queue"] == 70.0
    assert "llm_first_token" in timed.timings_ms
    assert h.brain.prompts[0][-1] == {"role": "user", "content": "Who runs the workshop?"}


async def test_an_llm_claim_the_profile_does_not_make_is_never_said(call_with):
    h = await call_with(words={HOURS: "Who runs the workshop?"}, grounding={"rephrase": True})
    h.brain.pieces = ["We can repair electric ", "cougars. ", "Call us."]
    await h.say(HOURS, 1.0)
    await h.silence(0.6)
    await h.clock.advance(3)
    assert h.said() == ["The workshop is run by Jana Brandt and two mechanics."]


async def test_without_rephrase_an_off_script_question_never_reaches_the_llm(call_with):
    h = await call_with(words={HOURS: "Do you repair electric scooters?"})
    await h.say(HOURS, 1.0)
    await h.silence(0.6)
    await h.clock.advance(3)
    assert h.brain.prompts == []
    assert h.said() == [h.engines.profile.say("prompts", "unsure")]


async def test_barge_in_clears_playback_and_records_what_was_heard(call_with):
    h = await call_with(greeting=GREETING)
    await h.clock.advance(0.5)  # into the second sentence of the greeting
    await h.say(HELLO, 0.8)  # longer than turns.hold_ms: an interruption, not a backchannel
    assert h.cleared
    (barge,) = h.of(ev.BargeIn)
    heard = barge.heard.split()
    assert heard[:4] == ["One", "two", "three", "four."] and len(heard) < 12
    first = h.of(ev.Transcript)[0]
    assert (first.role, first.text, first.interrupted) == (ev.Role.ASSISTANT, barge.heard, True)
    assert ("greeting", "caller_speaking") in h.states()
    await h.silence(0.6)
    await h.clock.advance(2)
    assert h.said(ev.Role.CALLER) == ["Hello there."]
    assert h.said()[-1] == "Hello! How can I help you?"


async def test_marks_echoed_by_the_transport_decide_what_was_heard(call_with):
    h = await call_with(greeting=GREETING)
    echoed: list[str] = []

    def echo_first_only(mark: str) -> None:  # the far end is slow: only one mark comes back
        if not echoed:
            echoed.append(mark)
            h.call.played(mark)

    h.on_mark = echo_first_only
    await h.clock.advance(0.66)  # the third sentence starts to go out at about 0.68 s
    await h.say(HELLO, 0.7)  # the caller cuts in while it is being sent
    (barge,) = h.of(ev.BargeIn)
    # The second sentence's mark never came back: the third one cannot have been heard.
    assert barge.heard == "One two three four. Five six seven eight."


async def test_without_mark_echoes_the_sentence_being_sent_counts_in_part(call_with):
    h = await call_with(greeting=GREETING)
    await h.clock.advance(0.8)  # the third sentence is playing when TOM pauses for the caller
    await h.say(HELLO, 0.7)
    (barge,) = h.of(ev.BargeIn)
    assert barge.heard.startswith("One two three four. Five six seven eight. Nine")


async def test_a_speculative_answer_is_released_when_the_turn_ends(call_with):
    h = await call_with(stt={"speculative": True})
    await h.say(HOURS, 1.0)
    await h.silence(0.6)
    await h.clock.advance(3)
    assert len(h.ears.heard) == 1  # transcribed once, at the pause
    assert h.said(ev.Role.CALLER) == ["What are your opening hours?"] and h.said() == [OPENING]
    (timed,) = h.of(ev.TurnTimed)
    assert timed.marks_ms["stt_start"] < timed.marks_ms["eot_detected"]  # it started early


async def test_no_speculation_while_the_engines_have_a_backlog(call_with):
    h = await call_with(stt={"speculative": True}, backlog=True)
    await h.say(HOURS, 1.0)
    await h.silence(0.6)
    await h.clock.advance(3)
    assert h.said() == [OPENING]  # answered all the same, at the end of the turn
    (timed,) = h.of(ev.TurnTimed)
    assert timed.marks_ms["stt_start"] >= timed.marks_ms["eot_detected"]  # not at the pause


async def test_a_speculative_answer_is_dropped_when_the_caller_goes_on(call_with):
    h = await call_with(stt={"speculative": True}, words={HOURS: "What are your",
                                                          HELLO: "opening hours?"})
    await h.say(HOURS, 0.6)
    await h.silence(0.18)  # a pause: an answer is prepared on what was said so far
    await h.say(HELLO, 0.6)  # ... but the caller goes on
    await h.silence(0.6)
    await h.clock.advance(3)
    assert h.ears.heard == [(HOURS,), (HOURS, HELLO)]
    assert h.said(ev.Role.CALLER) == ["What are your opening hours?"]  # nothing of the first
    assert h.said() == [OPENING]
    assert [e.turn for e in h.of(ev.TurnTimed)] == [1]


async def test_a_turn_without_words_is_joined_to_the_next(call_with):
    h = await call_with()
    await h.say(MUMBLE, 0.3)
    await h.silence(0.6)
    assert h.said(ev.Role.CALLER) == [] and h.call.flow.state == "listening"
    await h.say(HOURS, 0.8)
    await h.silence(0.6)
    await h.clock.advance(2)
    assert h.ears.heard == [(MUMBLE,), (MUMBLE, HOURS)]
    assert h.said(ev.Role.CALLER) == ["What are your opening hours?"]


async def test_speaking_again_while_tom_thinks_makes_one_turn(call_with):
    h = await call_with()
    h.ears.hold = asyncio.Event()  # TOM is still transcribing the first words
    await h.say(HOURS, 0.6)
    await h.silence(0.5)
    assert h.call.flow.state == "thinking"
    await h.say(HELLO, 0.6)  # the caller adds something: the first answer is dropped
    assert h.call.flow.state == "caller_speaking"
    h.ears.hold.set()
    await h.silence(0.6)
    await h.clock.advance(2)
    assert h.ears.heard[-1] == (HOURS, HELLO)
    assert h.said(ev.Role.CALLER) == ["What are your opening hours? Hello there."]


async def test_a_silent_caller_is_reprompted_then_hung_up_on(call_with):
    h = await call_with(call={"reprompt_after_s": 5, "max_reprompts": 2})
    await h.clock.advance(5.5)
    assert h.said() == ["Are you still there?"]
    await h.clock.advance(6)
    assert h.said()[-1] == "Hello? I can't hear you. How can I help?"
    await h.clock.advance(8)
    assert h.said()[-1].startswith("I can't hear anything")
    assert h.ending == [EndOut("hangup", "caller silent")]
    (ended,) = h.of(ev.CallEnded)
    assert (ended.outcome, ended.reason) == (ev.Outcome.TIMEOUT, "caller silent")


async def test_the_caller_speaking_resets_the_reprompts(call_with):
    h = await call_with(call={"reprompt_after_s": 5, "max_reprompts": 1})
    await h.clock.advance(5.5)
    assert h.said() == ["Are you still there?"]
    await h.say(HELLO, 0.4)
    await h.silence(0.6)
    await h.clock.advance(2)
    assert h.said()[-1] == "Hello! How can I help you?"
    await h.clock.advance(5)
    assert h.said()[-1] == "Are you still there?" and not h.call.ended  # counting from 0 again


async def test_the_time_limit_ends_the_call_with_a_goodbye(call_with):
    h = await call_with(call={"max_duration_s": 10, "reprompt_after_s": 600})
    await h.clock.advance(10.5)
    await h.clock.advance(10)
    assert h.said()[-1].startswith("I can't hear anything")
    (ended,) = h.of(ev.CallEnded)
    assert (ended.outcome, ended.reason) == (ev.Outcome.TIMEOUT, "maximum call duration reached")


async def test_an_overload_fails_the_call_once(call_with):
    h = await call_with()
    for _ in range(700):  # the caller's audio arrives faster than the call takes it
        try:
            h.call.feed(bytes(640))
        except CallEnded:
            break
    await settle()
    errors = h.of(ev.CallError)
    assert [(e.kind, e.call_id) for e in errors] == [("overload", "c1")]
    h.events.remove(errors[0])  # expected: the fixture checks for unexpected errors
    (ended,) = h.of(ev.CallEnded)
    assert ended.outcome == ev.Outcome.ERROR
    with pytest.raises(CallEnded):
        h.call.feed(bytes(640))


async def test_concurrent_failures_end_the_call_once(call_with):
    h = await call_with()
    await asyncio.gather(h.call.fail("protocol", "bad frame"), h.call.fail("peer", "gone"))
    assert [e.kind for e in h.of(ev.CallError)] == ["protocol"]
    assert len(h.of(ev.CallEnded)) == 1
    h.events[:] = [e for e in h.events if not isinstance(e, ev.CallError)]


async def test_keypad_zero_puts_the_caller_through(call_with):
    h = await call_with()
    await h.call.dtmf("0")
    await h.clock.advance(5)
    assert h.said()[-1] == "One moment please, I'll put you through to a colleague."
    assert h.ending == [EndOut("transfer", "caller asked for a person")]
    assert h.of(ev.CallEnded)[0].outcome == ev.Outcome.TRANSFERRED
    assert ("speaking", "transferring") in h.states()


async def test_saying_goodbye_hangs_up_after_the_farewell(call_with):
    h = await call_with(words={HELLO: "Goodbye."})
    await h.say(HELLO, 0.5)
    await h.silence(0.6)
    await h.clock.advance(5)
    assert h.said()[-1] == "Thank you for calling Brandt Bike Works. Goodbye!"
    assert h.ending == [EndOut("hangup", "conversation finished")]
    assert h.of(ev.CallEnded)[0].outcome == ev.Outcome.COMPLETED


async def test_close_politely_says_goodbye_and_never_swallows_its_own_cancel(call_with):
    h = await call_with()
    closing = asyncio.create_task(h.call.close_politely("server shutting down"))
    await h.clock.advance(0.3)
    closing.cancel()  # the server gives up waiting
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert h.call.ended  # it still hung up
    assert h.of(ev.CallEnded)[0].reason == "server shutting down"

    polite = await call_with()
    closing = asyncio.create_task(polite.call.close_politely("server shutting down"))
    await polite.clock.advance(5)
    await closing
    assert polite.said() == ["Thank you for calling Brandt Bike Works. Goodbye!"]
    assert polite.ending == [EndOut("hangup", "server shutting down")]


async def test_ending_stops_everything_once(call_with):
    h = await call_with(greeting=GREETING)
    await h.clock.advance(0.3)
    await h.call.end("hung_up_by_caller", "caller hung up")
    await h.call.end("hung_up_by_caller", "again")
    assert len(h.of(ev.CallEnded)) == 1 and h.call.flow.state == "ended"
    assert h.of(ev.Transcript)[-1].interrupted  # TOM was cut off mid-greeting
    with pytest.raises(CallEnded):
        await h.call.dtmf("1")


async def test_end_of_speech_is_timed_from_when_the_audio_arrived(call_with):
    h = await call_with()
    # The caller's audio arrived over 1.4 s but the call sees it all at once (a backlog).
    frame_ns = 20 * MS
    arrived = h.clock.now - 70 * frame_ns
    speech = float_to_pcm16(np.full(320, HOURS, dtype=np.float32))
    for i in range(70):
        h.call.feed(speech if i < 40 else bytes(640), arrival_ns=arrived + i * frame_ns)
    await h.clock.advance(3)
    (timed,) = h.of(ev.TurnTimed)
    assert 250 <= timed.timings_ms["vad_wait"] <= 400  # by arrival; processing took no time
    # The caller stopped 30 frames (600 ms) before TOM even looked: that wait counts.
    assert timed.timings_ms["e2e"] >= 600


async def test_an_end_cut_short_still_ends_the_call(call_with):
    h = await call_with(greeting=GREETING)
    await h.clock.advance(0.3)
    ending = asyncio.create_task(h.call.end("hung_up_by_caller", "caller hung up"))
    await asyncio.sleep(0)  # it is waiting for the call's tasks to stop
    ending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await ending
    assert h.call.ended and len(h.of(ev.CallEnded)) == 1
    await settle()
