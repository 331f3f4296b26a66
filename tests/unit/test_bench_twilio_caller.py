"""The caller's side of Twilio Media Streams: TOM's messages checked as Twilio would."""

from __future__ import annotations

import pytest

from tom.bench import twilio_caller as tc
from tom.telephony import twilio_wire as tw

SID = "MZ" + "1" * 32


def test_parse_outbound_flattens_each_message():
    ulaw = bytes([0xFF] * 160)
    assert tc.parse_outbound(tw.media_message(SID, ulaw)) == {
        "event": "media", "stream_sid": SID, "payload": ulaw}
    assert tc.parse_outbound(tw.mark_message(SID, "m1")) == {
        "event": "mark", "stream_sid": SID, "name": "m1"}
    assert tc.parse_outbound(tw.clear_message(SID)) == {"event": "clear", "stream_sid": SID}


@pytest.mark.parametrize(("text", "match"), [
    ('{"event": "start", "streamSid": "x"}', "only media, mark or clear"),
    ('{"event": "media", "streamSid": "x", "media": {"payload": "%%"}}', "not valid base64"),
    ('{"event": "media", "streamSid": "x"}', "media.payload"),
    ('{"event": "mark", "streamSid": "x", "mark": {"name": 3}}', "mark.name"),
    ('{"event": "clear"}', "no streamSid"),
    ("nope", "not valid JSON"),
])
def test_parse_outbound_rejects_what_twilio_would_not_take(text, match):
    with pytest.raises(tw.ProtocolError, match=match):
        tc.parse_outbound(text)


def test_caller_messages_parse_as_twilio_messages():
    assert tw.parse_message(tc.mark_echo_message(SID, "seg-1", sequence=4)) == tw.Mark(
        SID, "seg-1", 4)
    start = tw.parse_message(tc.start_message(SID, "CA1", {"caller": "+1"}))
    assert isinstance(start, tw.Start) and start.account_sid == tc.TEST_ACCOUNT_SID
