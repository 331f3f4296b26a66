"""The Twilio bridge on its real wire (aiohttp websocket), with a fake call behind it."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from fake_bridge_host import FakeHost, FakeRecord

from tom.audio import frame_bytes, ulaw_decode, ulaw_encode
from tom.bench import twilio_caller as tc
from tom.bench.twilio_caller import parse_outbound
from tom.engine.playback import AudioOut, ClearOut, EndOut, MarkOut
from tom.monitor import events as ev
from tom.telephony.twilio import TwilioBridge
from tom.telephony.twilio_signature import compute_signature

SID, CALL = "MZ" + "1" * 32, "CA" + "2" * 32
SPEECH = bytes(range(0, 256, 2)) + bytes(32)  # 160 μ-law bytes, not silence
FRAME = frame_bytes(8000)


def _client(host: FakeHost) -> TestClient:
    app = web.Application()
    TwilioBridge(host).add_routes(app)
    return TestClient(TestServer(app))


async def _start(ws: aiohttp.ClientWebSocketResponse) -> None:
    await ws.send_str(tc.connected_message())
    await ws.send_str(tc.start_message(SID, CALL, {"caller": "+15550100"}))


async def _until_closed(ws: aiohttp.ClientWebSocketResponse) -> list[dict]:
    """Everything TOM sends until it closes the stream."""
    got = []
    async with asyncio.timeout(5):
        async for msg in ws:
            got.append(parse_outbound(msg.data))
    return got


async def test_a_call_both_ways_and_mark_echoes_report_what_was_heard():
    host = FakeHost()
    async with _client(host) as client:
        ws = await client.ws_connect("/twilio/stream")
        await _start(ws)
        await host.call_ready.wait()
        call = host.calls[0]
        pcm = b"\x10\x20" * 160
        call.say(AudioOut(pcm), MarkOut("seg-1"), ClearOut())
        got = [parse_outbound((await ws.receive()).data) for _ in range(3)]
        assert got == [{"event": "media", "stream_sid": SID, "payload": ulaw_encode(pcm)},
                       {"event": "mark", "stream_sid": SID, "name": "seg-1"},
                       {"event": "clear", "stream_sid": SID}]
        await ws.send_str(tc.inbound_media_message(SID, SPEECH, 1, 0))
        await ws.send_str(json.dumps({"event": "media", "streamSid": SID, "media": {
            "track": "outbound", "chunk": "2", "timestamp": "20", "payload": "AAAA"}}))
        await ws.send_str(tc.dtmf_message(SID, "5"))
        await ws.send_str(tc.mark_echo_message(SID, "seg-1"))
        await ws.send_str(tc.stop_message(SID, CALL))
        assert await _until_closed(ws) == []
        assert ws.close_code == 1000
    assert host.open_args == [{"transport": "twilio", "caller": "+15550100", "call_id": CALL,
                               "in_rate": 8000, "out_rate": 8000}]
    assert call.fed == [ulaw_decode(SPEECH)]  # the outbound track is not the caller
    assert call.digits == ["5"]
    assert call.played_marks == ["seg-1"]
    assert call.ended_with == (ev.Outcome.HUNG_UP_BY_CALLER, "caller hung up")


async def test_tom_hangs_up_after_its_last_words():
    host = FakeHost()
    async with _client(host) as client:
        ws = await client.ws_connect("/twilio/stream")
        await _start(ws)
        await host.call_ready.wait()
        call = host.calls[0]
        call.say(AudioOut(bytes(FRAME)), EndOut("hangup", "conversation finished"))
        await call.end(ev.Outcome.COMPLETED, "conversation finished")
        got = await _until_closed(ws)
    assert [m["event"] for m in got] == ["media"]
    assert ws.close_code == 1000


async def test_busy_caller_hears_the_busy_message_then_the_stream_closes():
    busy_pcm = b"\x00\x10" * (FRAME // 2 * 3)
    host = FakeHost(busy=True, busy_pcm=busy_pcm)
    async with _client(host) as client:
        ws = await client.ws_connect("/twilio/stream")
        await _start(ws)
        got = await _until_closed(ws)
    assert [m["event"] for m in got] == ["media"] * 3
    assert b"".join(m["payload"] for m in got) == ulaw_encode(busy_pcm)
    assert ws.close_code == 1000
    assert host.errors() == []


@pytest.mark.parametrize(("first", "match"), [
    (tc.mark_echo_message(SID, "m"), "'mark' before 'start'"),
    (tc.start_message(SID, CALL, {}, encoding="audio/l16", rate=16000), "accepts only audio/x-mulaw"),
])
async def test_a_stream_refused_before_its_call_is_a_call_less_error(first, match):
    host = FakeHost()
    async with _client(host) as client:
        ws = await client.ws_connect("/twilio/stream")
        await ws.send_str(first)
        assert await _until_closed(ws) == []
        assert ws.close_code == 1008
    [error] = host.errors()
    assert error.call_id == "" and error.kind == "protocol"
    assert match in error.message
    assert host.open_args == []


async def test_a_malformed_message_fails_that_call():
    host = FakeHost()
    async with _client(host) as client:
        ws = await client.ws_connect("/twilio/stream")
        await _start(ws)
        await host.call_ready.wait()
        await ws.send_str("{not json")
        await _until_closed(ws)
        assert ws.close_code == 1008
    kind, message = host.calls[0].failed_with
    assert kind == "protocol" and "not valid JSON" in message


async def test_voice_webhook_connects_the_stream_and_checks_signatures():
    host = FakeHost(twilio={"auth_token": "secret"},
                    server={"public_url": "https://tom.example", "hangup_delay_ms": 0})
    form = {"From": "+15550100", "CallSid": CALL}
    signature = compute_signature("secret", "https://tom.example/twilio/voice", form)
    async with _client(host) as client:
        forged = await client.post("/twilio/voice", data=form,
                                   headers={"X-Twilio-Signature": "forged"})
        resp = await client.post("/twilio/voice", data=form,
                                 headers={"X-Twilio-Signature": signature})
        answer = ET.fromstring(await resp.text())
    assert forged.status == 403
    stream = answer.find("Connect/Stream")
    assert stream is not None and stream.get("url") == "wss://tom.example/twilio/stream"
    assert answer.find("Connect").get("action") == "https://tom.example/twilio/after-stream"


async def test_after_stream_dials_the_transfer_number_only_for_a_transferred_call():
    host = FakeHost(transfer_number="+4930123456")
    host.registry.records = {"CAxfer": FakeRecord("transferred"), "CAdone": FakeRecord("completed")}
    async with _client(host) as client:
        xfer = await (await client.post("/twilio/after-stream", data={"CallSid": "CAxfer"})).text()
        done = await (await client.post("/twilio/after-stream", data={"CallSid": "CAdone"})).text()
    assert ET.fromstring(xfer).find("Dial/Number").text == "+4930123456"
    assert [e.tag for e in ET.fromstring(done)] == ["Hangup"]
