"""The caller's side of Twilio Media Streams: messages as Twilio sends them, and a check of
what TOM sends back. Tests, the bench and the fake TOM speak the protocol with these; TOM's own
parser and serialisers are `tom.telephony.twilio_wire`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from tom.telephony import twilio_wire as wire
from tom.telephony.twilio_wire import ACCEPTED_ENCODING, ACCEPTED_RATE, ProtocolError

TEST_ACCOUNT_SID = "AC" + "0" * 32
OUTBOUND_MAX_BYTES = wire.DEFAULT_MAX_BYTES * 16  # TOM's own frames; generous, but bounded


def _dumps(obj: dict[str, Any], sequence: int | None = None) -> str:
    if sequence is not None:
        obj["sequenceNumber"] = str(sequence)
    return json.dumps(obj, separators=(",", ":"))


def connected_message() -> str:
    return _dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def start_message(stream_sid: str, call_sid: str, custom_parameters: Mapping[str, str] | None = None,
                  encoding: str = ACCEPTED_ENCODING, rate: int = ACCEPTED_RATE, *,
                  channels: int = 1, account_sid: str = TEST_ACCOUNT_SID,
                  sequence: int | None = 1) -> str:
    start = {"streamSid": stream_sid, "accountSid": account_sid, "callSid": call_sid,
             "tracks": ["inbound"], "customParameters": dict(custom_parameters or {}),
             "mediaFormat": {"encoding": encoding, "sampleRate": rate, "channels": channels}}
    return _dumps({"event": "start", "streamSid": stream_sid, "start": start}, sequence)


def inbound_media_message(stream_sid: str, ulaw: bytes, chunk: int, timestamp_ms: int, *,
                          sequence: int | None = None) -> str:
    media = {"track": "inbound", "chunk": str(chunk), "timestamp": str(timestamp_ms),
             "payload": base64.b64encode(ulaw).decode("ascii")}
    return _dumps({"event": "media", "streamSid": stream_sid, "media": media}, sequence)


def dtmf_message(stream_sid: str, digit: str, *, sequence: int | None = None) -> str:
    return _dumps({"event": "dtmf", "streamSid": stream_sid,
                   "dtmf": {"track": "inbound_track", "digit": digit}}, sequence)


def stop_message(stream_sid: str, call_sid: str = "", *, account_sid: str = TEST_ACCOUNT_SID,
                 sequence: int | None = None) -> str:
    return _dumps({"event": "stop", "streamSid": stream_sid,
                   "stop": {"accountSid": account_sid, "callSid": call_sid}}, sequence)


def mark_echo_message(stream_sid: str, name: str, *, sequence: int | None = None) -> str:
    """What Twilio sends when the audio before TOM's mark `name` has played (or was cleared)."""
    return _dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}, sequence)


def parse_outbound(text: str | bytes) -> dict[str, Any]:
    """Check a message TOM sent to Twilio and flatten it; `ProtocolError` if Twilio would not
    take it.

    Returns `{"event", "stream_sid"}` plus `payload` (μ-law bytes) for media or `name` for mark.
    """
    data = wire.load_object(text, OUTBOUND_MAX_BYTES)
    event = data.get("event")
    sid = data.get("streamSid")
    if not isinstance(sid, str):
        raise ProtocolError(f"TOM's {event!r} message has no streamSid string")
    out: dict[str, Any] = {"event": event, "stream_sid": sid}
    if event == "media":
        out["payload"] = _decoded(_field(data, "media", "payload"))
    elif event == "mark":
        out["name"] = _field(data, "mark", "name")
    elif event != "clear":
        raise ProtocolError(f"TOM may send only media, mark or clear, not {event!r}")
    return out


def _field(data: Mapping[str, Any], section: str, key: str) -> str:
    inner = data.get(section)
    value = inner.get(key) if isinstance(inner, dict) else None
    if not isinstance(value, str):
        raise ProtocolError(f"TOM's {section} message has no {section}.{key} string")
    return value


def _decoded(payload: str) -> bytes:
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("TOM's media payload is not valid base64") from None
