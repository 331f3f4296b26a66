"""`Speech`, the reply handle: speculative until authorised, interruptible, awaitable."""

from __future__ import annotations

import asyncio

import pytest

from tom.call import Speech
from tom.conversation.dialogue import Dialogue
from tom.conversation.profile import load_profile
from tom.engine.timings import TurnTimer


@pytest.fixture(scope="module")
def dialogue() -> Dialogue:
    return Dialogue(load_profile(None, "en"), None, call_id="s1")


async def test_a_speculative_speech_waits_for_authorisation(dialogue):
    speech = Speech(1, dialogue, authorized=False)
    steps: list[str] = []

    async def body() -> None:
        steps.append("prepared")
        await speech.wait_authorized()
        steps.append("played")

    speech.attach(asyncio.create_task(body()))
    await asyncio.sleep(0.01)
    assert steps == ["prepared"] and speech.speculative and speech.running
    speech.authorize()
    await speech.wait()
    assert steps == ["prepared", "played"] and speech.done and not speech.running


async def test_interrupt_stops_it_and_wait_does_not_raise(dialogue):
    speech = Speech(1, dialogue, authorized=False)
    speech.attach(asyncio.create_task(speech.wait_authorized()))
    speech.interrupt()
    await speech.wait()  # returns however the speech ended
    assert speech.done


async def test_wait_does_not_raise_the_speech_error(dialogue):
    speech = Speech(1, dialogue)

    async def broken() -> None:
        raise ValueError("tts failed")

    task = asyncio.create_task(broken())
    speech.attach(task)
    await speech.wait()
    assert isinstance(task.exception(), ValueError)


def test_marks_need_a_timer_and_keep_the_first_time(dialogue):
    Speech(0, dialogue).mark("stt_start", 5)  # a greeting has no timer: ignored
    timed = Speech(1, dialogue, timer=TurnTimer(1, 100))
    timed.mark("stt_start", 150)
    timed.mark("stt_start", 170)
    timed.mark("stt_done", None)
    assert timed.timer is not None and timed.timer.marks == {"stt_start": 150}


def test_a_caller_waiting_for_the_first_sentence_makes_it_urgent(dialogue):
    from tom.engine.workers import Urgency

    answer = Speech(1, dialogue)
    assert answer.urgency is Urgency.NOW  # end-of-turn STT, the LLM, the first sentence
    answer.first_audio_ready = True
    assert answer.urgency is Urgency.SOON  # later sentences play while the first is heard
    speculative = Speech(2, dialogue, authorized=False)
    assert speculative.urgency is Urgency.SOON
    speculative.authorize()
    assert speculative.urgency is Urgency.NOW
