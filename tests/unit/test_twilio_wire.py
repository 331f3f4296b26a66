"""Twilio Media Streams messages: parse what Twilio sends, serialise what TOM sends."""

from __future__ import annotations

import base64
import json

import pytest

from tom.bench import twilio_caller as tc
from tom.telephony import twilio_wire as tw
from tom.telephony.twilio_wire import (
    Connected,
    Dtmf,
    Mark,
    Media,
    ProtocolError,
    Start,
    Stop,
    check_media_format,
    parse_message,
)

SID = "MZ" + "1" * 32
CALL = "CA" + "2" * 32

# --- inbound ----------------------------------------------------------------------------------


def test_connected():
    assert parse_message(tc.connected_message()) == Connected("Call", "1.0.0")
    assert parse_message('{"event": "connected"}') == Connected()


def test_start_as_twilio_sends_it():
    msg = parse_message(tc.start_message(SID, CALL, {"token": "abc", "caller": "+4912345"}))
    assert isinstance(msg, Start)
    assert msg.stream_sid == SID and msg.call_sid == CALL and msg.account_sid.startswith("AC")
    assert msg.custom_parameters == {"token": "abc", "caller": "+4912345"}
    assert (msg.media_format.encoding, msg.media_format.sample_rate,
            msg.media_format.channels) == ("audio/x-mulaw", 8000, 1)
    assert msg.tracks == ("inbound",) and msg.sequence == 1
    check_media_format(msg)  # accepted


def test_start_with_documented_literal():
    text = json.dumps({
        "event": "start", "sequenceNumber": "1", "streamSid": SID,
        "start": {"accountSid": "AC1", "streamSid": SID, "callSid": CALL,
                  "tracks": ["inbound", "outbound"], "customParameters": {},
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}},
    })
    msg = parse_message(text.encode("utf-8"))
    assert isinstance(msg, Start) and msg.tracks == ("inbound", "outbound")


@pytest.mark.parametrize(("encoding", "rate", "channels"), [
    ("audio/x-l16", 8000, 1), ("audio/x-mulaw", 16000, 1), ("audio/x-mulaw", 8000, 2)])
def test_wrong_media_format_is_refused(encoding, rate, channels):
    msg = parse_message(tc.start_message(SID, CALL, {}, encoding, rate, channels=channels))
    with pytest.raises(ProtocolError, match="accepts only audio/x-mulaw at 8000 Hz mono"):
        check_media_format(msg)


def test_media_decodes_payload_and_string_numbers():
    ulaw = bytes(range(160))
    msg = parse_message(tc.inbound_media_message(SID, ulaw, chunk=7, timestamp_ms=140, sequence=9))
    assert msg == Media(SID, ulaw, "inbound", 7, 140, 9)
    assert "payload" not in repr(msg)


def test_media_accepts_json_numbers_too():
    text = json.dumps({"event": "media", "streamSid": SID,
                       "media": {"track": "inbound", "chunk": 1, "timestamp": 20, "payload": ""}})
    assert parse_message(text) == Media(SID, b"", "inbound", 1, 20)


def test_dtmf_mark_stop():
    assert parse_message(tc.dtmf_message(SID, "#")) == Dtmf(SID, "#")
    assert parse_message(tc.mark_echo_message(SID, "turn-3")) == Mark(SID, "turn-3")
    assert parse_message(tc.stop_message(SID, CALL)) == Stop(SID, CALL, "AC" + "0" * 32)
    assert parse_message(json.dumps({"event": "stop", "streamSid": SID})) == Stop(SID)


def _media(**media) -> str:
    base = {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": "AAAA"}
    base.update(media)
    return json.dumps({"event": "media", "streamSid": SID,
                       "media": {k: v for k, v in base.items() if v is not None}})


@pytest.mark.parametrize(("text", "match"), [
    ("not json", "not valid JSON"),
    (b"\xff\xfe", "not UTF-8"),
    ("[1, 2]", "must be a JSON object, got array"),
    ('"media"', "must be a JSON object, got string"),
    ("{}", "no 'event' string"),
    ('{"event": 3}', "no 'event' string"),
    ('{"event": "hello"}', "unknown Twilio event 'hello'"),
    ('{"event": "media", "streamSid": "x"}', "media is missing"),
    ('{"event": "media", "streamSid": "x", "media": []}', "media must be an object, got array"),
    (_media(payload="!!!"), "not valid base64"),
    (_media(payload="AAA"), "not valid base64"),
    (_media(payload=None), "media.payload is missing"),
    (_media(payload=5), "media.payload must be a string, got number"),
    (_media(chunk="-1"), "media.chunk must be a non-negative integer"),
    (_media(chunk=True), "media.chunk must be a non-negative integer"),
    (_media(timestamp="1e3"), "media.timestamp must be a non-negative integer"),
    (_media(timestamp="١٢"), "media.timestamp must be a non-negative integer"),  # Arabic digits
    (_media(timestamp="9" * 40), "media.timestamp must be a non-negative integer"),
    (_media(chunk=None), "media.chunk is missing"),
    (_media(chunk=10**30), "media.chunk must be a non-negative integer"),
    ('{"event": "dtmf", "streamSid": "x", "dtmf": {"digit": "x"}}', "DTMF digit 'x'"),
    ('{"event": "dtmf", "streamSid": "x", "dtmf": {"digit": "12"}}', "DTMF digit '12'"),
    ('{"event": "mark", "streamSid": "x", "mark": {}}', "mark.name is missing"),
    ('{"event": "stop"}', "streamSid is missing"),
    ('{"event": "start", "streamSid": "x", "start": {"callSid": "c", "accountSid": "a"}}',
     "start.mediaFormat is missing"),
    ('{"event": "start", "streamSid": "x", "start": {"callSid": "c", "accountSid": "a",'
     ' "mediaFormat": {"encoding": "e", "sampleRate": 8000, "channels": 1},'
     ' "customParameters": {"k": 1}}}', "custom parameter 'k' must be a string"),
    ('{"event": "start", "streamSid": "x", "start": {"callSid": "c", "accountSid": "a",'
     ' "mediaFormat": {"encoding": "e", "sampleRate": 8000, "channels": 1}, "tracks": [1]}}',
     "tracks must be an array of strings"),
])
def test_malformed_messages_raise_protocol_error(text, match):
    with pytest.raises(ProtocolError, match=match):
        parse_message(text)


def test_oversize_is_refused_before_parsing():
    text = tc.inbound_media_message(SID, b"\x00" * 60_000, 1, 0)
    with pytest.raises(ProtocolError, match="exceeds the limit of 65536"):
        parse_message(text)
    assert isinstance(parse_message(text, max_bytes=len(text)), Media)


def test_deep_nesting_is_a_protocol_error_not_a_crash():
    text = '{"event": "media", "x": ' + "[" * 50_000 + "]" * 50_000 + "}"
    with pytest.raises(ProtocolError, match="nested too deeply"):
        parse_message(text, max_bytes=len(text))


def test_oversize_counts_utf8_bytes():
    text = json.dumps({"event": "dtmf", "streamSid": "é" * 100, "dtmf": {"digit": "1"}},
                      ensure_ascii=False)
    assert len(text) < 250 < len(text.encode("utf-8"))
    with pytest.raises(ProtocolError, match="limit of 250"):
        parse_message(text, max_bytes=250)
    assert isinstance(parse_message(text, max_bytes=400), Dtmf)
    with pytest.raises(ProtocolError, match="limit"):
        parse_message(text.encode("utf-8"), max_bytes=250)


def test_protocol_error_is_a_value_error():
    assert issubclass(ProtocolError, ValueError)


# --- outbound ---------------------------------------------------------------------------------


def test_media_message_round_trip():
    ulaw = bytes([0xFF] * 160)
    text = tw.media_message(SID, ulaw)
    raw = json.loads(text)
    assert raw == {"event": "media", "streamSid": SID,
                   "media": {"payload": base64.b64encode(ulaw).decode()}}


def test_mark_and_clear_messages():
    assert json.loads(tw.mark_message(SID, "m1")) == {
        "event": "mark", "streamSid": SID, "mark": {"name": "m1"}}
    assert json.loads(tw.clear_message(SID)) == {"event": "clear", "streamSid": SID}
