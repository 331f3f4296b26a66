"""Twilio Media Streams messages, TwiML and webhook signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import xml.etree.ElementTree as ET

import pytest

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
    assert parse_message(tw.connected_message()) == Connected("Call", "1.0.0")
    assert parse_message('{"event": "connected"}') == Connected()


def test_start_as_twilio_sends_it():
    msg = parse_message(tw.start_message(SID, CALL, {"token": "abc", "caller": "+4912345"}))
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
    msg = parse_message(tw.start_message(SID, CALL, {}, encoding, rate, channels=channels))
    with pytest.raises(ProtocolError, match="accepts only audio/x-mulaw at 8000 Hz mono"):
        check_media_format(msg)


def test_media_decodes_payload_and_string_numbers():
    ulaw = bytes(range(160))
    msg = parse_message(tw.inbound_media_message(SID, ulaw, chunk=7, timestamp_ms=140, sequence=9))
    assert msg == Media(SID, ulaw, "inbound", 7, 140, 9)
    assert "payload" not in repr(msg)


def test_media_accepts_json_numbers_too():
    text = json.dumps({"event": "media", "streamSid": SID,
                       "media": {"track": "inbound", "chunk": 1, "timestamp": 20, "payload": ""}})
    assert parse_message(text) == Media(SID, b"", "inbound", 1, 20)


def test_dtmf_mark_stop():
    assert parse_message(tw.dtmf_message(SID, "#")) == Dtmf(SID, "#")
    assert parse_message(tw.mark_echo_message(SID, "turn-3")) == Mark(SID, "turn-3")
    assert parse_message(tw.stop_message(SID, CALL)) == Stop(SID, CALL, "AC" + "0" * 32)
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
    text = tw.inbound_media_message(SID, b"\x00" * 60_000, 1, 0)
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
    assert tw.parse_outbound(text) == {"event": "media", "stream_sid": SID, "payload": ulaw}


def test_mark_and_clear_messages():
    assert json.loads(tw.mark_message(SID, "m1")) == {
        "event": "mark", "streamSid": SID, "mark": {"name": "m1"}}
    assert json.loads(tw.clear_message(SID)) == {"event": "clear", "streamSid": SID}
    assert tw.parse_outbound(tw.mark_message(SID, "m1"))["name"] == "m1"
    assert tw.parse_outbound(tw.clear_message(SID)) == {"event": "clear", "stream_sid": SID}


@pytest.mark.parametrize("text", [
    '{"event": "start", "streamSid": "x"}',
    '{"event": "media", "streamSid": "x", "media": {"payload": "%%"}}',
    '{"event": "clear"}',
    "nope",
])
def test_parse_outbound_rejects_what_twilio_would_not_take(text):
    with pytest.raises(ProtocolError):
        tw.parse_outbound(text)


# --- TwiML ------------------------------------------------------------------------------------


def test_connect_stream_twiml_escapes_everything():
    xml = tw.connect_stream_twiml("wss://tom.example/twilio/stream?a=1&b=2",
                                  "https://tom.example/twilio/done",
                                  {"token": 'x"<y>&z', "caller": "+49 30 1234"})
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml)
    connect = root.find("Connect")
    assert root.tag == "Response" and connect is not None
    assert connect.get("action") == "https://tom.example/twilio/done"
    stream = connect.find("Stream")
    assert stream is not None and stream.get("url") == "wss://tom.example/twilio/stream?a=1&b=2"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params == {"token": 'x"<y>&z', "caller": "+49 30 1234"}


def test_connect_stream_without_action_or_parameters():
    root = ET.fromstring(tw.connect_stream_twiml("wss://h/s"))
    connect = root.find("Connect")
    assert connect is not None and connect.get("action") is None
    assert connect.find("Stream/Parameter") is None


@pytest.mark.parametrize("url", ["https://h/s", "h/s", ""])
def test_connect_stream_needs_a_websocket_url(url):
    with pytest.raises(ValueError, match="wss://"):
        tw.connect_stream_twiml(url)


def test_control_characters_are_refused():
    with pytest.raises(ValueError, match="control character"):
        tw.connect_stream_twiml("wss://h/s", parameters={"k": "a\x00b"})
    with pytest.raises(ValueError, match="control character"):
        tw.say_twiml("bell\x07")


def test_dial_twiml():
    root = ET.fromstring(tw.dial_twiml("+4930123456", caller_id="+4930999"))
    assert root.find("Dial").get("callerId") == "+4930999"
    assert root.find("Dial/Number").text == "+4930123456"
    sip = ET.fromstring(tw.dial_twiml("sip:desk@pbx.example"))
    assert sip.find("Dial/Sip").text == "sip:desk@pbx.example"
    with pytest.raises(ValueError, match="transfer_number"):
        tw.dial_twiml("  ")


def test_hangup_and_say_twiml():
    assert [e.tag for e in ET.fromstring(tw.hangup_twiml())] == ["Hangup"]
    root = ET.fromstring(tw.say_twiml("All lines are busy <sorry> & bye", language="en-US",
                                      hangup=True))
    assert [e.tag for e in root] == ["Say", "Hangup"]
    assert root.find("Say").text == "All lines are busy <sorry> & bye"
    assert root.find("Say").get("language") == "en-US"


# --- signatures -------------------------------------------------------------------------------

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
          "From": "+12349013030", "To": "+18005551212"}


def _independent_signature(token: str, data: str) -> str:
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def test_signature_matches_an_independent_computation():
    data = URL + "".join(k + PARAMS[k] for k in sorted(PARAMS))
    expected = _independent_signature(TOKEN, data)
    assert tw.compute_signature(TOKEN, URL, PARAMS) == expected
    # The worked example from Twilio's security documentation.
    assert expected == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_signature_ignores_parameter_order_but_not_content():
    shuffled = dict(reversed(list(PARAMS.items())))
    signature = tw.compute_signature(TOKEN, URL, PARAMS)
    assert tw.validate_signature(TOKEN, URL, shuffled, signature)
    tampered = {**PARAMS, "Digits": "1235"}
    assert not tw.validate_signature(TOKEN, URL, tampered, signature)
    assert not tw.validate_signature(TOKEN, URL, {**PARAMS, "Extra": "1"}, signature)
    assert not tw.validate_signature(TOKEN, URL.replace("foo=1", "foo=2"), PARAMS, signature)
    assert not tw.validate_signature("54321", URL, PARAMS, signature)


def test_signature_edge_cases():
    signature = tw.compute_signature(TOKEN, URL, PARAMS)
    assert not tw.validate_signature("", URL, PARAMS, signature)
    assert not tw.validate_signature(TOKEN, URL, PARAMS, "")
    assert not tw.validate_signature(TOKEN, URL, PARAMS, None)
    assert tw.compute_signature(TOKEN, URL, None) == _independent_signature(TOKEN, URL)
    assert tw.compute_signature(TOKEN, URL, {}) == _independent_signature(TOKEN, URL)


def test_signature_with_repeated_keys_sorts_values():
    params = {"To": "+1", "Media": ["b", "a"]}
    expected = _independent_signature(TOKEN, URL + "Mediaa" + "Mediab" + "To+1")
    assert tw.compute_signature(TOKEN, URL, params) == expected


@pytest.mark.parametrize(("signed", "seen"), [
    ("https://tom.example:443/twilio/voice", "https://tom.example/twilio/voice"),
    ("https://tom.example/twilio/voice", "https://tom.example:443/twilio/voice"),
])
def test_signature_accepts_default_port_spelled_either_way(signed, seen):
    signature = tw.compute_signature(TOKEN, signed, PARAMS)
    assert tw.validate_signature(TOKEN, seen, PARAMS, signature)


def test_signature_does_not_mix_hosts_or_paths():
    signature = tw.compute_signature(TOKEN, "https://tom.example/twilio/voice", PARAMS)
    assert not tw.validate_signature(TOKEN, "https://evil.example/twilio/voice", PARAMS, signature)
    assert not tw.validate_signature(TOKEN, "https://tom.example:8443/twilio/voice", PARAMS,
                                     signature + "x")
