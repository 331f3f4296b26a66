"""Bad input ends only the call that sent it, with a clear reason; every other call goes on."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest

from tom.bench import twilio_caller as tc
from tom.bench.caller import place_call
from tom.monitor import events as ev
from tom.telephony import audiosocket_wire as aw

pytestmark = pytest.mark.e2e


class Errors:
    def __init__(self, bus):
        self.events: list[ev.Event] = []
        bus.listen(lambda e: e.type == ev.ERROR and self.events.append(e))

    def messages(self) -> str:
        return " | ".join(e.data["message"] for e in self.events)


async def open_stream(http, server, sid: str):
    ws = await http.ws_connect(f"{server.url}/twilio/stream")
    await ws.send_str(tc.connected_message())
    await ws.send_str(tc.start_message(f"MZ{sid}", f"CA{sid}", {"caller": "+15550199"}))
    await asyncio.sleep(0.3)
    return ws


async def closed(ws) -> int | None:
    async with asyncio.timeout(15):
        async for _msg in ws:
            pass
    return ws.close_code


BAD_MESSAGES = {
    "json": "{not json",
    "event": '{"event": "dance", "streamSid": "x"}',
    "base64": '{"event": "media", "streamSid": "x", "media": {"payload": "%%%not-base64", '
              '"track": "inbound", "chunk": "1", "timestamp": "5"}}',
    "array": "[1, 2, 3]",
}


@pytest.mark.parametrize("kind", BAD_MESSAGES)
async def test_malformed_twilio_message_ends_that_call_only(server, turn, kind):
    errors = Errors(server.bus)
    good = asyncio.create_task(place_call(server.url, [turn("Where are you located?")]))
    async with aiohttp.ClientSession() as http:
        ws = await open_stream(http, server, f"bad{kind}")
        await ws.send_str(BAD_MESSAGES[kind])
        assert await closed(ws) == 1008
    record = server.assistant.registry.get(f"CAbad{kind}")
    assert record.outcome == "error"
    assert errors.events and errors.events[0].call_id == f"CAbad{kind}"
    result = await good
    assert result.ok, result.failure


async def test_media_before_start_and_wrong_codec_are_refused(server):
    errors = Errors(server.bus)
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{server.url}/twilio/stream")
        await ws.send_str(tc.inbound_media_message("MZx", b"\xff" * 160, 1, 0))
        assert await closed(ws) == 1008
        ws = await http.ws_connect(f"{server.url}/twilio/stream")
        await ws.send_str(tc.start_message("MZpcm", "CApcm", {}, encoding="audio/l16",
                                           rate=16000))
        assert await closed(ws) == 1008
    text = errors.messages()
    assert "before 'start'" in text
    assert "audio/x-mulaw" in text and "audio/l16" in text
    assert server.assistant.registry.get("CApcm") is None  # never admitted


async def test_oversized_message_ends_the_call_and_keeps_its_transcript(server, turn):
    result = await place_call(server.url, [turn("Where are you located?")])
    assert result.ok
    async with aiohttp.ClientSession() as http:
        ws = await open_stream(http, server, "big")
        record = server.assistant.registry.get("CAbig")
        said = list(record.transcript)  # the greeting, at least once it was heard
        await ws.send_str("x" * (server.settings.server.max_message_bytes + 10))
        code = await closed(ws)
    assert code in (1008, 1009)
    record = server.assistant.registry.get("CAbig")
    assert record.outcome == "error"
    assert record.transcript[: len(said)] == said


async def test_unknown_call_id_is_404(server):
    async with aiohttp.ClientSession() as http:
        resp = await http.get(f"{server.url}/api/calls/no-such-call")
        body = await resp.json()
    assert resp.status == 404 and "no-such-call" in body["error"]


async def test_audiosocket_garbage_and_vanishing_peer(server):
    port = server.audiosocket.port
    garbage_id, vanish_id = uuid.uuid4(), uuid.uuid4()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(aw.encode_uuid(garbage_id) + bytes([0x42, 0x00, 0x01, 0x00]))
    await writer.drain()
    async with asyncio.timeout(10):
        while await reader.read(4096):
            pass
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(aw.encode_uuid(vanish_id) + aw.encode_audio(bytes(320)) + b"\x10\x01")
    await writer.drain()
    await asyncio.sleep(0.5)
    writer.transport.abort()  # gone mid-message, without a hang-up
    await asyncio.sleep(1.0)
    assert server.assistant.registry.get(str(garbage_id)).outcome == "error"
    assert server.assistant.registry.get(str(vanish_id)).outcome in ("error", "hung_up_by_caller")
    # the listener still answers new calls
    ok_id = uuid.uuid4()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(aw.encode_uuid(ok_id))
    await writer.drain()
    msg = await asyncio.wait_for(aw.read_message(reader), 10)
    assert msg is not None and msg.kind == aw.Kind.AUDIO  # the greeting
    writer.write(aw.encode_hangup())
    writer.close()


async def test_audiosocket_without_uuid_is_refused(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.audiosocket.port)
    writer.write(aw.encode_audio(bytes(320)))
    await writer.drain()
    async with asyncio.timeout(10):
        data = await reader.read()
    assert data[:1] == bytes([aw.Kind.HANGUP])
    writer.close()
