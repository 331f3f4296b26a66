"""Twilio Media Streams (bidirectional `<Connect><Stream>`), TwiML and webhook signatures.

Pure functions only: text in, typed messages out, and back. Every malformed input becomes one
`ProtocolError` whose message a person can act on, so the bridge can end that call alone.
The caller-side builders at the bottom speak as Twilio would; tests and the bench use them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

DEFAULT_MAX_BYTES = 65536
ACCEPTED_ENCODING = "audio/x-mulaw"
ACCEPTED_RATE = 8000
ACCEPTED_CHANNELS = 1
DTMF_DIGITS = frozenset("0123456789*#ABCD")
_MAX_INT_DIGITS = 18  # chunk, timestamp, sequenceNumber: generous, but never a huge int


class ProtocolError(ValueError):
    """A Twilio message that TOM cannot accept; the text says what was wrong."""


# --- inbound messages (Twilio -> TOM) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    """First message on the socket; announces the protocol."""

    protocol: str = ""
    version: str = ""


@dataclass(frozen=True, slots=True)
class MediaFormat:
    encoding: str
    sample_rate: int
    channels: int


@dataclass(frozen=True, slots=True)
class Start:
    """Stream metadata, sent once; `custom_parameters` are the TwiML `<Parameter>`s."""

    stream_sid: str
    call_sid: str
    account_sid: str
    media_format: MediaFormat
    custom_parameters: dict[str, str] = field(default_factory=dict)
    tracks: tuple[str, ...] = ("inbound",)
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class Media:
    """One chunk of caller audio; `payload` is raw μ-law (base64 already decoded)."""

    stream_sid: str
    payload: bytes = field(repr=False)
    track: str
    chunk: int
    timestamp_ms: int
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class Dtmf:
    stream_sid: str
    digit: str
    track: str = "inbound_track"
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class Mark:
    """Twilio echoes a mark when the audio sent before it has played (or was cleared)."""

    stream_sid: str
    name: str
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class Stop:
    """The stream ended (caller hung up or the call moved on)."""

    stream_sid: str
    call_sid: str = ""
    account_sid: str = ""
    sequence: int | None = None


InboundMessage: TypeAlias = Connected | Start | Media | Dtmf | Mark | Stop

_MISSING: Any = object()


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            type(None): "null"}.get(type(value), "number")


def _get(obj: Mapping[str, Any], key: str, where: str, kind: type, default: Any) -> Any:
    if key not in obj:
        if default is _MISSING:
            raise ProtocolError(f"Twilio message field {where}{key} is missing")
        return default
    value = obj[key]
    if not isinstance(value, kind):
        name = _type_name(kind())
        article = "an" if name[0] in "aeiou" else "a"
        raise ProtocolError(f"Twilio message field {where}{key} must be {article} {name}, "
                            f"got {_type_name(value)} {_short(value)}")
    return value


def _str(obj: Mapping[str, Any], key: str, where: str = "", default: Any = _MISSING) -> str:
    return _get(obj, key, where, str, default)


def _obj(obj: Mapping[str, Any], key: str, where: str = "", default: Any = _MISSING) -> dict:
    return _get(obj, key, where, dict, default)


def _uint(obj: Mapping[str, Any], key: str, where: str = "", default: Any = _MISSING) -> Any:
    """A non-negative integer that Twilio may send as a JSON number or a decimal string."""
    if key not in obj and default is not _MISSING:
        return default
    value = obj.get(key, _MISSING)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**_MAX_INT_DIGITS:
        return value
    if (isinstance(value, str) and value.isascii() and value.isdigit()
            and len(value) <= _MAX_INT_DIGITS):
        return int(value)
    if value is _MISSING:
        raise ProtocolError(f"Twilio message field {where}{key} is missing")
    raise ProtocolError(f"Twilio message field {where}{key} must be a non-negative integer, "
                        f"got {_short(value)}")


def _b64(encoded: str, what: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(f"{what} is not valid base64") from None


def _load_json(text: str | bytes, max_bytes: int) -> dict[str, Any]:
    if isinstance(text, (bytes, bytearray, memoryview)):
        if len(text) > max_bytes:
            raise ProtocolError(f"Twilio message of {len(text)} bytes exceeds the limit of "
                                f"{max_bytes} (server.max_message_bytes)")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("Twilio message is not UTF-8 text") from None
    elif len(text) > max_bytes or (len(text) * 4 > max_bytes and
                                   len(text.encode("utf-8", "surrogatepass")) > max_bytes):
        raise ProtocolError(f"Twilio message exceeds the limit of {max_bytes} bytes "
                            "(server.max_message_bytes)")
    try:
        data = json.loads(text)
    except RecursionError:
        raise ProtocolError("Twilio message is JSON nested too deeply") from None
    except ValueError as exc:
        raise ProtocolError(f"Twilio message is not valid JSON: {_short(str(exc), 80)}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"Twilio message must be a JSON object, got {_type_name(data)}")
    return data


def parse_message(text: str | bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> InboundMessage:
    """Parse one websocket text frame from Twilio into a typed message."""
    data = _load_json(text, max_bytes)
    event = data.get("event")
    if not isinstance(event, str):
        raise ProtocolError("Twilio message has no 'event' string")
    parser = _PARSERS.get(event)
    if parser is None:
        raise ProtocolError(f"unknown Twilio event {_short(event)}; "
                            f"expected one of {', '.join(_PARSERS)}")
    return parser(data)


def _parse_connected(data: dict[str, Any]) -> Connected:
    return Connected(_str(data, "protocol", default=""), _str(data, "version", default=""))


def _parse_start(data: dict[str, Any]) -> Start:
    start = _obj(data, "start")
    fmt = _obj(start, "mediaFormat", "start.")
    params = _obj(start, "customParameters", "start.", default={})
    for key, value in params.items():
        if not isinstance(value, str):
            raise ProtocolError(f"Twilio custom parameter {_short(key)} must be a string, "
                                f"got {_type_name(value)}")
    tracks = _get(start, "tracks", "start.", list, ["inbound"])
    if not all(isinstance(t, str) for t in tracks):
        raise ProtocolError("Twilio message field start.tracks must be an array of strings")
    return Start(
        stream_sid=_str(start, "streamSid", "start.", default=None) or _str(data, "streamSid"),
        call_sid=_str(start, "callSid", "start."),
        account_sid=_str(start, "accountSid", "start."),
        media_format=MediaFormat(
            encoding=_str(fmt, "encoding", "start.mediaFormat."),
            sample_rate=_uint(fmt, "sampleRate", "start.mediaFormat."),
            channels=_uint(fmt, "channels", "start.mediaFormat."),
        ),
        custom_parameters=dict(params),
        tracks=tuple(tracks),
        sequence=_uint(data, "sequenceNumber", default=None),
    )


def _parse_media(data: dict[str, Any]) -> Media:
    media = _obj(data, "media")
    return Media(
        stream_sid=_str(data, "streamSid"),
        payload=_b64(_str(media, "payload", "media."), "Twilio media payload"),
        track=_str(media, "track", "media.", default="inbound"),
        chunk=_uint(media, "chunk", "media."),
        timestamp_ms=_uint(media, "timestamp", "media."),
        sequence=_uint(data, "sequenceNumber", default=None),
    )


def _parse_dtmf(data: dict[str, Any]) -> Dtmf:
    dtmf = _obj(data, "dtmf")
    digit = _str(dtmf, "digit", "dtmf.")
    if digit not in DTMF_DIGITS:
        raise ProtocolError(f"Twilio DTMF digit {_short(digit)} is not one of 0-9 * # A-D")
    return Dtmf(_str(data, "streamSid"), digit, _str(dtmf, "track", "dtmf.", "inbound_track"),
                _uint(data, "sequenceNumber", default=None))


def _parse_mark(data: dict[str, Any]) -> Mark:
    return Mark(_str(data, "streamSid"), _str(_obj(data, "mark"), "name", "mark."),
                _uint(data, "sequenceNumber", default=None))


def _parse_stop(data: dict[str, Any]) -> Stop:
    stop = _obj(data, "stop", default={})  # lenient: a hang-up must never look like an error
    return Stop(_str(data, "streamSid"), _str(stop, "callSid", "stop.", ""),
                _str(stop, "accountSid", "stop.", ""), _uint(data, "sequenceNumber", default=None))


_PARSERS: dict[str, Callable[[dict[str, Any]], InboundMessage]] = {
    "connected": _parse_connected, "start": _parse_start, "media": _parse_media,
    "dtmf": _parse_dtmf, "mark": _parse_mark, "stop": _parse_stop,
}


def check_media_format(start: Start) -> None:
    """Refuse a stream whose audio is not μ-law 8 kHz mono (the only format TOM decodes)."""
    fmt = start.media_format
    if (fmt.encoding, fmt.sample_rate, fmt.channels) != (
            ACCEPTED_ENCODING, ACCEPTED_RATE, ACCEPTED_CHANNELS):
        raise ProtocolError(
            f"Twilio stream sends {_short(fmt.encoding)} at {fmt.sample_rate} Hz with "
            f"{fmt.channels} channel(s); TOM accepts only {ACCEPTED_ENCODING} at "
            f"{ACCEPTED_RATE} Hz mono")


# --- outbound messages (TOM -> Twilio) ------------------------------------------------------------


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


def media_message(stream_sid: str, ulaw: bytes) -> str:
    """Audio for the caller to hear: raw μ-law 8 kHz, base64 in JSON."""
    payload = base64.b64encode(ulaw).decode("ascii")
    return _dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}})


def mark_message(stream_sid: str, name: str) -> str:
    """Ask Twilio to echo `name` once everything sent before it has played."""
    return _dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    """Drop audio Twilio has buffered but not played (barge-in)."""
    return _dumps({"event": "clear", "streamSid": stream_sid})


# --- TwiML ----------------------------------------------------------------------------------------

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


# --- webhook signatures ---------------------------------------------------------------------------

SignatureParams: TypeAlias = Mapping[str, str | Sequence[str]]


def compute_signature(auth_token: str, url: str, params: SignatureParams | None = None) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL + each POST key and value, sorted by key."""
    parts = [url]
    for key in sorted(params or {}):
        value = params[key]  # type: ignore[index]
        values = [value] if isinstance(value, str) else list(value)
        parts.extend(key + v for v in sorted(set(values)))
    digest = hmac.new(auth_token.encode("utf-8"), "".join(parts).encode("utf-8"), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode("ascii")


def _url_variants(url: str) -> list[str]:
    """Twilio may sign with or without the default port; accept both spellings of the URL."""
    variants = [url]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return variants
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = userinfo + "@" if userinfo else ""
    default = {"https": 443, "http": 80, "wss": 443, "ws": 80}.get(parts.scheme)
    if port is not None:
        variants.append(urlunsplit(parts._replace(netloc=prefix + host)))
    elif default is not None:
        variants.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}")))
    return variants


def validate_signature(auth_token: str, url: str, params: SignatureParams | None,
                       signature: str | None) -> bool:
    """True when `signature` proves the request came from Twilio for this URL and body."""
    if not auth_token or not signature:
        return False
    given = signature.strip().encode("utf-8")
    ok = False
    for variant in _url_variants(url):  # no early exit: same work whatever matches
        ok |= hmac.compare_digest(compute_signature(auth_token, variant, params).encode(), given)
    return ok


# --- caller side (tests, bench): messages as Twilio sends them ------------------------------------


def _with_sequence(obj: dict[str, Any], sequence: int | None) -> str:
    if sequence is not None:
        obj["sequenceNumber"] = str(sequence)
    return _dumps(obj)


def connected_message() -> str:
    return _dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def start_message(stream_sid: str, call_sid: str, custom_parameters: Mapping[str, str] | None = None,
                  encoding: str = ACCEPTED_ENCODING, rate: int = ACCEPTED_RATE, *,
                  channels: int = 1, account_sid: str = "AC" + "0" * 32,
                  sequence: int | None = 1) -> str:
    start = {"streamSid": stream_sid, "accountSid": account_sid, "callSid": call_sid,
             "tracks": ["inbound"], "customParameters": dict(custom_parameters or {}),
             "mediaFormat": {"encoding": encoding, "sampleRate": rate, "channels": channels}}
    return _with_sequence({"event": "start", "streamSid": stream_sid, "start": start}, sequence)


def inbound_media_message(stream_sid: str, ulaw: bytes, chunk: int, timestamp_ms: int, *,
                          sequence: int | None = None) -> str:
    media = {"track": "inbound", "chunk": str(chunk), "timestamp": str(timestamp_ms),
             "payload": base64.b64encode(ulaw).decode("ascii")}
    return _with_sequence({"event": "media", "streamSid": stream_sid, "media": media}, sequence)


def dtmf_message(stream_sid: str, digit: str, *, sequence: int | None = None) -> str:
    return _with_sequence({"event": "dtmf", "streamSid": stream_sid,
                           "dtmf": {"track": "inbound_track", "digit": digit}}, sequence)


def stop_message(stream_sid: str, call_sid: str = "", *, account_sid: str = "AC" + "0" * 32,
                 sequence: int | None = None) -> str:
    return _with_sequence({"event": "stop", "streamSid": stream_sid,
                           "stop": {"accountSid": account_sid, "callSid": call_sid}}, sequence)


def mark_echo_message(stream_sid: str, name: str, *, sequence: int | None = None) -> str:
    return _with_sequence({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}},
                          sequence)


def parse_outbound(text: str | bytes) -> dict[str, Any]:
    """Check a message TOM sent to Twilio and flatten it.

    Returns `{"event", "stream_sid"}` plus `payload` (μ-law bytes) for media or `name` for mark.
    """
    data = _load_json(text, DEFAULT_MAX_BYTES * 16)
    event = data.get("event")
    out: dict[str, Any] = {"event": event, "stream_sid": _str(data, "streamSid")}
    if event == "media":
        encoded = _str(_obj(data, "media"), "payload", "media.")
        out["payload"] = _b64(encoded, "outbound media payload")
    elif event == "mark":
        out["name"] = _str(_obj(data, "mark"), "name", "mark.")
    elif event != "clear":
        raise ProtocolError(f"TOM may send only media, mark or clear, not {_short(event)}")
    return out
