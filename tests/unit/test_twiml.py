"""TwiML answers: stream the call to TOM, transfer it, hang up, say a sentence."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tom.telephony import twiml

# --- TwiML ------------------------------------------------------------------------------------


def test_connect_stream_twiml_escapes_everything():
    xml = twiml.connect_stream_twiml("wss://tom.example/twilio/stream?a=1&b=2",
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
    root = ET.fromstring(twiml.connect_stream_twiml("wss://h/s"))
    connect = root.find("Connect")
    assert connect is not None and connect.get("action") is None
    assert connect.find("Stream/Parameter") is None


@pytest.mark.parametrize("url", ["https://h/s", "h/s", ""])
def test_connect_stream_needs_a_websocket_url(url):
    with pytest.raises(ValueError, match="wss://"):
        twiml.connect_stream_twiml(url)


def test_control_characters_are_refused():
    with pytest.raises(ValueError, match="control character"):
        twiml.connect_stream_twiml("wss://h/s", parameters={"k": "a\x00b"})
    with pytest.raises(ValueError, match="control character"):
        twiml.say_twiml("bell\x07")


def test_dial_twiml():
    root = ET.fromstring(twiml.dial_twiml("+4930123456", caller_id="+4930999"))
    assert root.find("Dial").get("callerId") == "+4930999"
    assert root.find("Dial/Number").text == "+4930123456"
    sip = ET.fromstring(twiml.dial_twiml("sip:desk@pbx.example"))
    assert sip.find("Dial/Sip").text == "sip:desk@pbx.example"
    with pytest.raises(ValueError, match="transfer_number"):
        twiml.dial_twiml("  ")


def test_hangup_and_say_twiml():
    assert [e.tag for e in ET.fromstring(twiml.hangup_twiml())] == ["Hangup"]
    root = ET.fromstring(twiml.say_twiml("All lines are busy <sorry> & bye", language="en-US",
                                      hangup=True))
    assert [e.tag for e in root] == ["Say", "Hangup"]
    assert root.find("Say").text == "All lines are busy <sorry> & bye"
    assert root.find("Say").get("language") == "en-US"
