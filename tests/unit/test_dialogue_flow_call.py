"""A side question answered by the LLM inside a flow: the call says the flow's question after it."""

from __future__ import annotations

from call_harness import Harness

from tom.monitor import events as ev

BOOK, ASIDE = 0.25, 0.5


async def test_the_flow_s_question_follows_the_llm_answer_once() -> None:
    h = await Harness(words={BOOK: "I'd like to book a service.",
                             ASIDE: "Who is the owner of the workshop?"},
                      grounding={"rephrase": True}).start()  # the LLM rewords the fact
    h.brain.pieces = ["Jana Brandt ", "runs the workshop."]
    try:
        await h.say(BOOK, 1.0)
        await h.silence(0.6)
        await h.clock.advance(3)
        await h.say(ASIDE, 1.0)
        await h.silence(0.6)
        await h.clock.advance(5)
        said = h.said()
        assert said[-1] == "Jana Brandt runs the workshop. Now, which day would suit you?"
        assert not h.of(ev.CallEnded)
    finally:
        await h.stop()
