"""Asterisk AudioSocket framing: encoding, the incremental parser and the asyncio reader."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tom.telephony import audiosocket_wire as asw
from tom.telephony.audiosocket_wire import (
    AudioSocketMessage,
    AudioSocketParser,
    Kind,
    ProtocolError,
    read_message,
)

CALL_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def test_encode_layout():
    assert asw.encode_hangup() == b"\x00\x00\x00"
    assert asw.encode_uuid(CALL_ID) == b"\x01\x00\x10" + CALL_ID.bytes
    assert asw.encode_dtmf("5") == b"\x03\x00\x015"
    pcm = bytes(range(256)) + bytes(64)
    assert asw.encode_audio(pcm) == b"\x10\x01\x40" + pcm  # 320 bytes = 0x0140
    assert asw.encode_error(2) == b"\xff\x00\x01\x02"
    assert asw.encode_error() == b"\xff\x00\x00"


def test_encode_refuses_what_the_frame_cannot_hold():
    with pytest.raises(ValueError, match="exceeds 65535"):
        asw.encode(Kind.AUDIO, b"\x00" * 65536)
    with pytest.raises(ValueError, match="one byte"):
        asw.encode(256, b"")
    assert len(asw.encode(Kind.AUDIO, b"\x00" * 65534)) == 65537


def test_message_helpers():
    assert AudioSocketMessage(Kind.UUID, CALL_ID.bytes).uuid == CALL_ID
    assert AudioSocketMessage(Kind.DTMF, b"#").digit == "#"
    assert AudioSocketMessage(Kind.ERROR, b"\x04").error_code == 4
    assert AudioSocketMessage(Kind.ERROR).error_code is None
    assert AudioSocketMessage(Kind.AUDIO, b"\x01\x02").encode() == b"\x10\x00\x02\x01\x02"
    assert asw.uuid_from_payload(CALL_ID.bytes) == CALL_ID
    with pytest.raises(ProtocolError, match="16 bytes"):
        asw.uuid_from_payload(b"\x00" * 15)


def _session() -> bytes:
    return (asw.encode_uuid(CALL_ID) + asw.encode_audio(b"\x01\x00" * 160) + asw.encode_dtmf("9")
            + asw.encode_audio(b"") + asw.encode_error(1) + asw.encode_hangup())


EXPECTED = [
    AudioSocketMessage(Kind.UUID, CALL_ID.bytes),
    AudioSocketMessage(Kind.AUDIO, b"\x01\x00" * 160),
    AudioSocketMessage(Kind.DTMF, b"9"),
    AudioSocketMessage(Kind.AUDIO, b""),
    AudioSocketMessage(Kind.ERROR, b"\x01"),
    AudioSocketMessage(Kind.HANGUP, b""),
]


def test_parser_whole_stream_at_once():
    parser = AudioSocketParser()
    assert parser.feed(_session()) == EXPECTED
    assert parser.buffered == 0


def test_parser_byte_by_byte():
    parser = AudioSocketParser()
    out: list[AudioSocketMessage] = []
    data = _session()
    for i in range(len(data)):
        out += parser.feed(data[i:i + 1])
        if i == 1:
            assert parser.buffered == 2
    assert out == EXPECTED and parser.buffered == 0


def test_parser_reports_incomplete_message():
    parser = AudioSocketParser()
    data = asw.encode_uuid(CALL_ID) + asw.encode_audio(b"\x00" * 320)
    assert len(parser.feed(data[:-10])) == 1
    assert parser.buffered == 3 + 310


@pytest.mark.parametrize(("data", "match"), [
    (b"\x02\x00\x00", "unknown AudioSocket message kind 0x02"),
    (b"\x11\x00\x00", "unknown AudioSocket message kind 0x11"),
    (b"\x01\x00\x0f" + b"\x00" * 15, "UUID payload must be 16 bytes, got 15"),
    (b"\x01\x00\x11", "UUID payload must be 16 bytes, got 17"),
])
def test_parser_rejects_bad_headers(data, match):
    with pytest.raises(ProtocolError, match=match):
        AudioSocketParser().feed(data)


@pytest.mark.parametrize(("data", "match"), [
    (b"\x03\x00\x02ab", "DTMF payload must be 1 byte, got 2"),
    (b"\x03\x00\x01x", "DTMF digit b'x'"),
    (b"\x10\x00\x03abc", "whole 16-bit samples"),
    (b"\x10\x1f\x41", "payload of 8001 bytes exceeds the limit of 8000"),
    (b"\x10\xff\xff", "exceeds the limit"),
])
def test_parser_rejects_bad_messages_after_the_uuid(data, match):
    parser = AudioSocketParser()
    parser.feed(asw.encode_uuid(CALL_ID))
    with pytest.raises(ProtocolError, match=match):
        parser.feed(data)


def test_oversize_is_refused_on_the_header_alone():
    parser = AudioSocketParser(max_payload=320)
    parser.feed(asw.encode_uuid(CALL_ID))
    with pytest.raises(ProtocolError, match="322 bytes exceeds the limit of 320"):
        parser.feed(b"\x10\x01\x42")  # no payload sent yet


def test_uuid_must_come_first():
    with pytest.raises(ProtocolError, match="must start with a UUID message, got AUDIO"):
        AudioSocketParser().feed(asw.encode_audio(b"\x00\x00"))
    relaxed = AudioSocketParser(require_uuid_first=False)
    assert relaxed.feed(asw.encode_audio(b"\x00\x00")) == [
        AudioSocketMessage(Kind.AUDIO, b"\x00\x00")]


# --- asyncio reader ---------------------------------------------------------------------------


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_read_message_reads_a_session_then_none():
    reader = _reader(_session())
    got = []
    while (message := await read_message(reader)) is not None:
        got.append(message)
    assert got == EXPECTED
    assert await read_message(reader) is None


async def test_read_message_truncated_header_and_payload():
    with pytest.raises(ProtocolError, match="2 byte\\(s\\) of a message header"):
        await read_message(_reader(b"\x10\x00"))
    with pytest.raises(ProtocolError, match="after 100 of 320 payload bytes"):
        await read_message(_reader(b"\x10\x01\x40" + b"\x00" * 100))


async def test_read_message_validates_like_the_parser():
    with pytest.raises(ProtocolError, match="unknown AudioSocket message kind 0x7f"):
        await read_message(_reader(b"\x7f\x00\x00"))
    with pytest.raises(ProtocolError, match="exceeds the limit of 100"):
        await read_message(_reader(b"\x10\x00\xc8" + b"\x00" * 200), max_payload=100)


async def test_expect_uuid():
    assert asw.expect_uuid(await read_message(_reader(asw.encode_uuid(CALL_ID)))) == CALL_ID
    with pytest.raises(ProtocolError, match="closed before sending its UUID"):
        asw.expect_uuid(None)
    with pytest.raises(ProtocolError, match="got HANGUP"):
        asw.expect_uuid(AudioSocketMessage(Kind.HANGUP))
