"""TwiML: the XML answers TOM gives Twilio's voice webhooks (stream the call, transfer, hang up).

Every text that goes into the XML is checked: a control character XML cannot carry is a
`ValueError` naming the value, never a document Twilio would reject mid-call.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping

_XML_INVALID = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value: str, what: str) -> str:
    if _XML_INVALID.search(value):
        raise ValueError(f"{what} contains a control character that XML cannot carry")
    return value


def _twiml(root: ET.Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


def connect_stream_twiml(stream_url: str, action_url: str | None = None,
                         parameters: Mapping[str, str] | None = None) -> str:
    """Answer a call by connecting its audio both ways to TOM's websocket."""
    if not stream_url.startswith(("wss://", "ws://")):
        raise ValueError(f"stream URL {stream_url!r} must start with wss:// (set server.public_url)")
    response = ET.Element("Response")
    connect = ET.SubElement(response, "Connect")
    if action_url:
        connect.set("action", _xml_text(action_url, "action URL"))
    stream = ET.SubElement(connect, "Stream", url=_xml_text(stream_url, "stream URL"))
    for name, value in (parameters or {}).items():
        ET.SubElement(stream, "Parameter", name=_xml_text(name, "parameter name"),
                      value=_xml_text(value, f"parameter {name}"))
    return _twiml(response)


def dial_twiml(number: str, caller_id: str | None = None) -> str:
    """Transfer the call to a phone number, or to a SIP address given as `sip:...`."""
    if not number.strip():
        raise ValueError("transfer number is empty; set call.transfer_number")
    response = ET.Element("Response")
    dial = ET.SubElement(response, "Dial")
    if caller_id:
        dial.set("callerId", _xml_text(caller_id, "caller id"))
    noun = ET.SubElement(dial, "Sip" if number.startswith("sip:") else "Number")
    noun.text = _xml_text(number.strip(), "transfer number")
    return _twiml(response)


def hangup_twiml() -> str:
    response = ET.Element("Response")
    ET.SubElement(response, "Hangup")
    return _twiml(response)


def say_twiml(text: str, voice: str | None = None, language: str | None = None,
              hangup: bool = False) -> str:
    """Speak a fixed sentence with Twilio's TTS (e.g. 'all lines busy' when TOM is full)."""
    response = ET.Element("Response")
    say = ET.SubElement(response, "Say")
    if voice:
        say.set("voice", _xml_text(voice, "voice"))
    if language:
        say.set("language", _xml_text(language, "language"))
    say.text = _xml_text(text, "text to say")
    if hangup:
        ET.SubElement(response, "Hangup")
    return _twiml(response)
