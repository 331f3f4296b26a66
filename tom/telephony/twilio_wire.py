"""Twilio Media Streams messages (bidirectional `<Connect><Stream>`): parse and serialise.

Pure functions only: text in, typed messages out, and back. Every malformed input becomes one
`ProtocolError` whose message a person can act on, so the bridge can end that call alone.
TwiML lives in `twiml`, webhook signatures in `twilio_signature`; the caller's side of the
protocol (what tests and the bench send as Twilio would) in `tom.bench.twilio_caller`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar

from tom.audio import PHONE_RATE
from tom.telephony import errors

DEFAULT_MAX_BYTES = 65536
ACCEPTED_ENCODING = "audio/x-mulaw"
ACCEPTED_RATE = PHONE_RATE
ACCEPTED_CHANNELS = 1
DTMF_DIGITS = frozenset("0123456789*#ABCD")
_MAX_INT_DIGITS = 18  # chunk, timestamp, sequenceNumber: generous, but never a huge int


class ProtocolError(errors.ProtocolError):
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

_T = TypeVar("_T")


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _type_name(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            type(None): "null"}.get(type(value), "number")


def _get(obj: Mapping[str, Any], key: str, where: str, kind: type[_T],
         default: _T | None = None) -> _T:
    """`obj[key]` checked to be a `kind`; a missing key is an error unless there is a default."""
    if key not in obj:
        if default is None:
            raise ProtocolError(f"Twilio message field {where}{key} is missing")
        return default
    value = obj[key]
    if not isinstance(value, kind):
        name = _type_name(kind())
        article = "an" if name[0] in "aeiou" else "a"
        raise ProtocolError(f"Twilio message field {where}{key} must be {article} {name}, "
                            f"got {_type_name(value)} {_short(value)}")
    return value


def _str(obj: Mapping[str, Any], key: str, where: str = "", default: str | None = None) -> str:
    return _get(obj, key, where, str, default)


def _obj(obj: Mapping[str, Any], key: str, where: str = "",
         default: dict[str, Any] | None = None) -> dict[str, Any]:
    return _get(obj, key, where, dict, default)


def _uint(obj: Mapping[str, Any], key: str, where: str = "") -> int:
    """A non-negative integer that Twilio may send as a JSON number or a decimal string."""
    if key not in obj:
        raise ProtocolError(f"Twilio message field {where}{key} is missing")
    value = obj[key]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**_MAX_INT_DIGITS:
        return value
    if (isinstance(value, str) and value.isascii() and value.isdigit()
            and len(value) <= _MAX_INT_DIGITS):
        return int(value)
    raise ProtocolError(f"Twilio message field {where}{key} must be a non-negative integer, "
                        f"got {_short(value)}")


def _sequence(data: Mapping[str, Any]) -> int | None:
    """`sequenceNumber`, which every message may carry and none has to."""
    return _uint(data, "sequenceNumber") if "sequenceNumber" in data else None


def _b64(encoded: str, what: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(f"{what} is not valid base64") from None


def load_object(text: str | bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """One websocket text frame as a JSON object, size-checked before it is parsed."""
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
    data = load_object(text, max_bytes)
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
        stream_sid=_str(start, "streamSid", "start.", default="") or _str(data, "streamSid"),
        call_sid=_str(start, "callSid", "start."),
        account_sid=_str(start, "accountSid", "start."),
        media_format=MediaFormat(
            encoding=_str(fmt, "encoding", "start.mediaFormat."),
            sample_rate=_uint(fmt, "sampleRate", "start.mediaFormat."),
            channels=_uint(fmt, "channels", "start.mediaFormat."),
        ),
        custom_parameters=dict(params),
        tracks=tuple(tracks),
        sequence=_sequence(data),
    )


def _parse_media(data: dict[str, Any]) -> Media:
    media = _obj(data, "media")
    return Media(
        stream_sid=_str(data, "streamSid"),
        payload=_b64(_str(media, "payload", "media."), "Twilio media payload"),
        track=_str(media, "track", "media.", default="inbound"),
        chunk=_uint(media, "chunk", "media."),
        timestamp_ms=_uint(media, "timestamp", "media."),
        sequence=_sequence(data),
    )


def _parse_dtmf(data: dict[str, Any]) -> Dtmf:
    dtmf = _obj(data, "dtmf")
    digit = _str(dtmf, "digit", "dtmf.")
    if digit not in DTMF_DIGITS:
        raise ProtocolError(f"Twilio DTMF digit {_short(digit)} is not one of 0-9 * # A-D")
    return Dtmf(_str(data, "streamSid"), digit, _str(dtmf, "track", "dtmf.", "inbound_track"),
                _sequence(data))


def _parse_mark(data: dict[str, Any]) -> Mark:
    return Mark(_str(data, "streamSid"), _str(_obj(data, "mark"), "name", "mark."),
                _sequence(data))


def _parse_stop(data: dict[str, Any]) -> Stop:
    stop = _obj(data, "stop", default={})  # lenient: a hang-up must never look like an error
    return Stop(_str(data, "streamSid"), _str(stop, "callSid", "stop.", ""),
                _str(stop, "accountSid", "stop.", ""), _sequence(data))


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
