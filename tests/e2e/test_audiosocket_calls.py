"""Asterisk AudioSocket e2e: a TCP client speaking kind·length·payload at real-time pace."""

from __future__ import annotations

import asyncio
import time
import uuid

import numpy as np
import pytest

from tom.telephony import audiosocket_wire as aw

pytestmark = pytest.mark.e2e
FRAME = 320  # 20 ms of PCM16 at 8 kHz


async def audiosocket_call(port: int, pcm: bytes, call_id: uuid.UUID, tail_s: float = 6.0,
                           dtmf: str = "") -> dict:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(aw.encode_uuid(call_id))
    received = bytearray()
    got_hangup = asyncio.Event()

    async def receive():
        while (msg := await aw.read_message(reader)) is not None:
            if msg.kind == aw.Kind.AUDIO:
                received.extend(msg.payload)
            elif msg.kind == aw.Kind.HANGUP:
                got_hangup.set()
                return

    rx = asyncio.create_task(receive())
    if dtmf:
        writer.write(aw.encode_dtmf(dtmf))
    frames = [pcm[i:i + FRAME] for i in range(0, len(pcm), FRAME)]
    frames += [bytes(FRAME)] * int(tail_s * 50)
    start = time.monotonic()
    for i, frame in enumerate(frames):
        if got_hangup.is_set():
            break
        await asyncio.sleep(max(0, start + i * 0.02 - time.monotonic()))
        writer.write(aw.encode_audio(frame.ljust(FRAME, b"\0")))
    if not got_hangup.is_set():
        writer.write(aw.encode_hangup())
    await writer.drain()
    await asyncio.wait_for(rx, 10)
    writer.close()
    return {"audio": bytes(received), "tom_hung_up": got_hangup.is_set()}


def pcm(speech, text: str) -> bytes:
    from tom.audio import float_to_pcm16

    return float_to_pcm16(np.concatenate([np.zeros(8000 * 7), speech(text, 8000)]))  # after the greeting


async def test_question_answered_over_audiosocket(server, speech):
    call_id = uuid.uuid4()
    out = await audiosocket_call(server.audiosocket.port, pcm(speech, "Where are you located?"),
                                 call_id)
    assert len(out["audio"]) > 8000 * 2 * 3  # greeting and an answer: seconds of audio
    record = server.assistant.registry.get(str(call_id))
    caller = [t["text"] for t in record.transcript if t["role"] == "caller"]
    assert caller and "locat" in caller[0].lower()
    assert record.outcome == "hung_up_by_caller"


async def test_goodbye_makes_tom_hang_up(server, speech):
    call_id = uuid.uuid4()
    out = await audiosocket_call(server.audiosocket.port, pcm(speech, "Thanks, goodbye."),
                                 call_id, tail_s=10)
    assert out["tom_hung_up"]
    assert server.assistant.registry.get(str(call_id)).outcome == "completed"
