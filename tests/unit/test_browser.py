"""The dashboard's "Talk to TOM" websocket, with a fake call behind it."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from fake_bridge_host import FakeHost, FakeRecord

from tom.engine.playback import AudioOut, ClearOut, EndOut, MarkOut
from tom.monitor import events as ev
from tom.telephony.browser import BrowserBridge


def _client(host: FakeHost) -> TestClient:
    app = web.Application()
    BrowserBridge(host).add_routes(app)
    return TestClient(TestServer(app))


async def _rest(ws: aiohttp.ClientWebSocketResponse) -> list[object]:
    """Every message until TOM closes: JSON as dicts, audio as bytes."""
    got: list[object] = []
    async with asyncio.timeout(5):
        async for msg in ws:
            got.append(msg.json() if msg.type == aiohttp.WSMsgType.TEXT else msg.data)
    return got


async def test_a_call_both_ways_with_transcripts_then_tom_hangs_up():
    host = FakeHost()
    async with _client(host) as client:
        ws = await client.ws_connect("/ws/browser")
        started = await ws.receive_json()
        call = host.calls[0]
        assert started == {"type": "started", "call_id": call.id}
        await ws.send_bytes(b"\x01\x00" * 320)
        host.bus.publish(ev.Transcript(call_id=call.id, role=ev.Role.ASSISTANT, text="Hello!",
                                       turn=0))
        host.bus.publish(ev.Transcript(call_id="another-call", role=ev.Role.CALLER, text="no",
                                       turn=1))
        assert await ws.receive_json() == {"type": "transcript", "role": "assistant",
                                           "text": "Hello!", "turn": 0, "interrupted": False,
                                           "joins": None}
        call.say(AudioOut(b"\x02\x00" * 320), MarkOut("seg-1"), ClearOut(), EndOut("hangup"))
        rest = await _rest(ws)
        await call.end(ev.Outcome.COMPLETED, "conversation finished")
    assert rest == [b"\x02\x00" * 320, {"type": "clear"}, {"type": "end", "outcome": "hangup"}]
    assert host.open_args[0]["in_rate"] == host.open_args[0]["out_rate"] == 16000
    assert call.fed == [b"\x01\x00" * 320]


async def test_browser_hang_up_ends_the_call_with_its_outcome():
    host = FakeHost()
    async with _client(host) as client:
        ws = await client.ws_connect("/ws/browser")
        call_id = (await ws.receive_json())["call_id"]
        host.registry.records[call_id] = FakeRecord("hung_up_by_caller")
        await ws.send_json({"type": "hangup"})
        rest = await _rest(ws)
    assert rest == [{"type": "end", "outcome": "hung_up_by_caller"}]
    assert host.calls[0].ended_with == (ev.Outcome.HUNG_UP_BY_CALLER, "browser hung up")


async def test_half_a_sample_fails_the_call():
    host = FakeHost()
    async with _client(host) as client:
        ws = await client.ws_connect("/ws/browser")
        await ws.receive_json()
        await ws.send_bytes(b"\x01\x00\x02")
        rest = await _rest(ws)
    assert rest == [{"type": "end", "outcome": "error"}]
    assert host.calls[0].failed_with == ("protocol", "browser audio must be whole PCM16 samples")


async def test_busy_says_so_and_closes():
    host = FakeHost(busy=True, busy_pcm=bytes(640))
    async with _client(host) as client:
        ws = await client.ws_connect("/ws/browser")
        rest = await _rest(ws)
    assert rest == [{"type": "end", "outcome": "busy"}]  # no busy audio over the browser
