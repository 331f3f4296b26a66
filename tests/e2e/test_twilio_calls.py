"""Twilio Media Streams e2e: the real server and models, a caller speaking the real protocol."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from tomtest import e2e_settings, running_server

from tom.audio import rms_dbfs, ulaw_decode
from tom.bench import twilio_caller as tc
from tom.bench.caller import place_call
from tom.bench.wer import wer
from tom.monitor import events as ev

pytestmark = pytest.mark.e2e


async def test_greeting_question_marks_and_transcript(server, turn):
    result = await place_call(server.url, [turn("What are your opening hours on Saturday?"),
                                           turn("Thank you, goodbye.", may_end_call=True)])
    assert result.ok, result.failure
    assert result.greeting_ms is not None
    assert result.turns[0].answered
    assert result.marks_echoed >= 1  # a mark after each spoken sentence, echoed by the line
    detail = server.assistant.registry.get(result.call_sid).detail()
    caller = [t["text"] for t in detail["transcript"] if t["role"] == "caller"]
    assert wer("What are your opening hours on Saturday?", caller[0]) <= 0.15, caller
    assert any(t["role"] == "assistant" for t in detail["transcript"])
    assert detail["turns"] and "e2e" in detail["turns"][0]["timings_ms"]
    assert detail["outcome"] == "completed"  # goodbye -> farewell -> TOM hangs up
    assert result.closed_by == "tom"


async def test_barge_in_sends_clear_and_stops_playback(server, turn):
    result = await place_call(server.url, [
        turn("Hi, sorry to interrupt, I have a question.", barge_in=True,
             barge_in_after_ms=1200)])
    assert result.ok, result.failure
    barged = result.turns[0]
    assert barged.barged and barged.clear_ns is not None
    detail = server.assistant.registry.get(result.call_sid).detail()
    assert detail["barge_ins"]
    greeting_line = detail["transcript"][0]
    assert greeting_line["role"] == "assistant" and greeting_line["interrupted"]
    full = server.assistant.profile.greeting.split()
    assert len(greeting_line["text"].split()) < len(full)
    # after clear, TOM's audio stops: no frame of the greeting arrives long after the clear
    late = [r for r in result.received if r.kind == "media"
            and barged.clear_ns < r.t_ns < barged.clear_ns + 150_000_000 + 0]
    assert len(late) <= 3


async def test_human_request_transfers_with_dial_twiml(server, turn):
    result = await place_call(server.url, [turn("Can I talk to a real person please?",
                                                may_end_call=True)])
    assert result.closed_by == "tom", result.failure
    record = server.assistant.registry.get(result.call_sid)
    assert record.outcome == "transferred"
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{server.url}/twilio/after-stream",
                               data={"CallSid": result.call_sid})
        twiml = await resp.text()
    number = server.assistant.profile.transfer_number
    assert resp.status == 200 and "<Dial" in twiml and number in twiml


async def test_voice_webhook_returns_connect_stream(server):
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{server.url}/twilio/voice", data={"From": "+15550100"},
                               headers={"X-Forwarded-Proto": "https",
                                        "X-Forwarded-Host": "tom.example.org"})
        twiml = await resp.text()
    assert "<Connect" in twiml and 'url="wss://tom.example.org/twilio/stream"' in twiml
    assert 'action="https://tom.example.org/twilio/after-stream"' in twiml
    assert 'name="caller"' in twiml and "+15550100" in twiml


async def test_dtmf_zero_transfers(server):
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{server.url}/twilio/stream") as ws:
        await ws.send_str(tc.connected_message())
        await ws.send_str(tc.start_message("MZdtmf", "CAdtmf", {"caller": "+1555"}))
        await ws.send_str(tc.dtmf_message("MZdtmf", "0"))
        async with asyncio.timeout(30):
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
    assert server.assistant.registry.get("CAdtmf").outcome == "transferred"
    events = server.assistant.registry.get("CAdtmf").detail()
    assert events["outcome"] == "transferred"


async def test_three_calls_at_once_all_complete(server, turn):
    script = [turn("Where are you located?"), turn("Okay, thanks, bye.", may_end_call=True)]
    results = await asyncio.gather(*(place_call(server.url, script) for _ in range(3)))
    for r in results:
        assert r.ok, r.failure
        assert r.turns[0].answered


async def test_one_call_over_max_hears_busy(tmp_path, turn):
    settings = e2e_settings(tmp_path, server={"max_calls": 1})
    async with running_server(settings) as srv:
        errors: list[ev.CallError] = []
        srv.bus.listen(lambda e: isinstance(e, ev.CallError) and errors.append(e))
        first = asyncio.create_task(place_call(srv.url, [turn("Where are you located?")]))
        await asyncio.sleep(1.5)  # the first call holds the only line
        received = []
        async with aiohttp.ClientSession() as http, http.ws_connect(
                f"{srv.url}/twilio/stream") as ws:
            await ws.send_str(tc.connected_message())
            await ws.send_str(tc.start_message("MZbusy", "CAbusy", {"caller": "+15550111"}))
            async with asyncio.timeout(30):
                async for msg in ws:  # ends when TOM closes: the caller never hangs up
                    received.append(tc.parse_outbound(msg.data))
        assert ws.close_code == 1000  # a normal close by TOM, not an error
        assert received and {m["event"] for m in received} == {"media"}
        heard = ulaw_decode(b"".join(m["payload"] for m in received))
        message = await srv.assistant.busy_audio(8000)  # the same sentence, synthesised again
        assert abs(len(heard) - len(message)) < 0.25 * len(message), "the whole busy message"
        assert rms_dbfs(heard) > -40.0  # audible speech, not silence
        assert srv.assistant.registry.get("CAbusy").outcome == "busy"
        assert not errors, errors  # a busy line is not an error
        assert (await first).ok
        rendered = srv.metrics.render()[0].decode()
        assert "tom_calls_rejected_total 1.0" in rendered


async def test_silent_caller_is_reprompted_then_hung_up(tmp_path):
    settings = e2e_settings(tmp_path, call={"reprompt_after_s": 1.5, "max_reprompts": 1})
    async with running_server(settings) as srv:
        async with aiohttp.ClientSession() as http, http.ws_connect(
                f"{srv.url}/twilio/stream") as ws:
            await ws.send_str(tc.start_message("MZidle", "CAidle", {}))
            silence = tc.inbound_media_message("MZidle", b"\xff" * 160, 1, 0)

            async def keep_line_open():
                while not ws.closed:
                    await ws.send_str(silence)
                    await asyncio.sleep(0.02)

            feeder = asyncio.create_task(keep_line_open())
            async with asyncio.timeout(60):
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
            feeder.cancel()
        record = srv.assistant.registry.get("CAidle")
        assert record.outcome == "timeout"
        spoken = [t["text"] for t in record.transcript if t["role"] == "assistant"]
        assert len(spoken) >= 3  # greeting, one re-prompt, goodbye
