"""The AudioSocket bridge on a real TCP listener, with a fake call behind it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

from fake_bridge_host import FakeHost

from tom.audio import frame_bytes
from tom.engine.playback import AudioOut, ClearOut, EndOut, MarkOut
from tom.monitor import events as ev
from tom.telephony import audiosocket_wire as aw
from tom.telephony.audiosocket import AudioSocketServer

FRAME = frame_bytes(8000)


@contextlib.asynccontextmanager
async def _connected(host: FakeHost) -> AsyncIterator[tuple[asyncio.StreamReader,
                                                           asyncio.StreamWriter]]:
    server = AudioSocketServer(host)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        await server.close()


async def _until_hangup(reader: asyncio.StreamReader) -> list[aw.AudioSocketMessage]:
    got = []
    async with asyncio.timeout(5):
        while (msg := await aw.read_message(reader)) is not None:
            got.append(msg)
            if msg.kind == aw.Kind.HANGUP:
                break
    return got


async def test_a_call_both_ways_then_tom_hangs_up():
    host, call_id = FakeHost(), uuid.uuid4()
    caller_pcm = b"\x01\x02" * 160
    async with _connected(host) as (reader, writer):
        writer.write(aw.encode_uuid(call_id) + aw.encode_audio(caller_pcm) + aw.encode_dtmf("7"))
        await host.call_ready.wait()
        call = host.calls[0]
        tom_pcm = b"\x03\x04" * 160
        call.say(AudioOut(tom_pcm), MarkOut("seg-1"), ClearOut(), EndOut("hangup"))
        got = await _until_hangup(reader)
        await call.end(ev.Outcome.COMPLETED, "conversation finished")
    assert [(m.kind, m.payload) for m in got] == [(aw.Kind.AUDIO, tom_pcm), (aw.Kind.HANGUP, b"")]
    assert host.open_args[0]["call_id"] == str(call_id)
    assert call.fed == [caller_pcm] and call.digits == ["7"]


async def test_caller_hang_up_ends_the_call():
    host = FakeHost()
    async with _connected(host) as (reader, writer):
        writer.write(aw.encode_uuid(uuid.uuid4()) + aw.encode_hangup())
        await host.call_ready.wait()
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # TOM closes its end
    assert host.calls[0].ended_with == (ev.Outcome.HUNG_UP_BY_CALLER, "caller hung up")


async def test_busy_caller_hears_the_busy_message_then_a_hang_up():
    busy_pcm = b"\x00\x10" * (FRAME // 2 * 2)
    host = FakeHost(busy=True, busy_pcm=busy_pcm)
    async with _connected(host) as (reader, writer):
        writer.write(aw.encode_uuid(uuid.uuid4()))
        got = await _until_hangup(reader)
    assert [m.kind for m in got] == [aw.Kind.AUDIO, aw.Kind.AUDIO, aw.Kind.HANGUP]
    assert b"".join(m.payload for m in got) == busy_pcm
    assert host.errors() == []


async def test_no_uuid_first_is_refused_with_a_hang_up_and_a_call_less_error():
    host = FakeHost()
    async with _connected(host) as (reader, writer):
        writer.write(aw.encode_audio(bytes(FRAME)))
        got = await _until_hangup(reader)
    assert [m.kind for m in got] == [aw.Kind.HANGUP]
    [error] = host.errors()
    assert error.call_id == "" and "must start with a UUID" in error.message
    assert host.open_args == []


async def test_a_second_uuid_fails_that_call():
    host = FakeHost()
    async with _connected(host) as (reader, writer):
        writer.write(aw.encode_uuid(uuid.uuid4()))
        await host.call_ready.wait()
        writer.write(aw.encode_uuid(uuid.uuid4()))
        assert [m.kind for m in await _until_hangup(reader)] == [aw.Kind.HANGUP]
    assert host.calls[0].failed_with == ("protocol",
                                         "a second UUID message on the same connection")
