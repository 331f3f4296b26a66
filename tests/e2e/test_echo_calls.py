"""Echoed phone lines e2e: TOM's own voice comes back on the line and TOM does not cut itself
off; a caller who really interrupts still stops it. Real server, models and Twilio protocol."""

from __future__ import annotations

import os

import pytest
from tomtest import e2e_settings, running_server

from tom.bench.caller import place_call
from tom.bench.line import LineEcho

pytestmark = pytest.mark.e2e

# TOM_E2E_ECHO_GUARD=0 runs the same calls with the guard off: they must fail then.
GUARD = os.environ.get("TOM_E2E_ECHO_GUARD", "1") != "0"


@pytest.fixture(scope="module")
async def server(tmp_path_factory):
    settings = e2e_settings(tmp_path_factory.mktemp("tom"), echo={"enabled": GUARD})
    async with running_server(settings) as srv:
        yield srv


@pytest.mark.parametrize("echo", ["echo:-20dB@40ms", "echo:-25dB@350ms"])
async def test_tom_never_cuts_itself_off_on_an_echoing_line(server, turn, echo):
    result = await place_call(server.url, [
        turn("What are your opening hours on Saturday?"),
        turn("Do you take new patients?"),
        turn("Thank you, goodbye.", may_end_call=True)], echo=LineEcho.parse(echo))
    assert result.ok, result.failure
    assert result.clears == 0  # TOM never dropped its own playback
    detail = server.assistant.registry.get(result.call_sid).detail()
    assert detail["barge_ins"] == []
    spoken = [t for t in detail["transcript"] if t["role"] == "assistant"]
    assert spoken and not any(t["interrupted"] for t in spoken)
    assert spoken[0]["text"] == server.assistant.profile.greeting  # the greeting, whole, once
    assert all(t.answered for t in result.turns[:2])
    callers = [t["text"] for t in detail["transcript"] if t["role"] == "caller"]
    assert len(callers) == 3, callers  # one turn per question: no echo heard as a caller turn


async def test_a_real_interruption_still_stops_tom_on_an_echoing_line(server, turn):
    result = await place_call(server.url, [
        turn("Hi, sorry to interrupt, I have a question.", barge_in=True,
             barge_in_after_ms=2500)], echo=LineEcho.parse("echo:-20dB@120ms"))
    assert result.ok, result.failure
    barged = result.turns[0]
    assert barged.barged and barged.clear_ns is not None
    detail = server.assistant.registry.get(result.call_sid).detail()
    assert detail["barge_ins"] and detail["barge_ins"][0]["turn"] == 0  # the greeting stopped
    greeting = detail["transcript"][0]
    assert greeting["role"] == "assistant" and greeting["interrupted"]


async def test_a_backchannel_while_tom_talks_does_not_stop_it(server, turn):
    result = await place_call(server.url, [
        turn("Okay.", barge_in=True, barge_in_after_ms=1500, expect_reply=False),
        turn("What are your opening hours on Saturday?"),
        turn("Thank you, goodbye.", may_end_call=True)])
    assert result.ok, result.failure
    detail = server.assistant.registry.get(result.call_sid).detail()
    assert detail["barge_ins"] == []
    greeting = detail["transcript"][0]
    assert greeting["role"] == "assistant" and not greeting["interrupted"]
    assert greeting["text"] == server.assistant.profile.greeting  # went on to its end
    callers = [t["text"] for t in detail["transcript"] if t["role"] == "caller"]
    assert len(callers) == 2, callers  # "Okay." was no turn of its own
