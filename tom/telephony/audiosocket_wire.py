"""Asterisk AudioSocket framing: kind (1 byte) · payload length (2 bytes, big-endian) · payload.

Pure encoding and an incremental parser, plus one `read_message` for asyncio streams. Limits are
checked as soon as a header arrives, so a hostile peer cannot make TOM buffer a large payload.
After a `ProtocolError` the byte stream has no trustworthy boundary left: close the connection.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from enum import IntEnum

from tom.audio import PHONE_RATE, frame_bytes
from tom.telephony import errors

HEADER_BYTES = 3
MAX_LENGTH_FIELD = 0xFFFF
DEFAULT_MAX_PAYLOAD = 8000
AUDIO_RATE = PHONE_RATE  # kind 0x10 is signed linear 16-bit LE, 8 kHz, mono
AUDIO_FRAME_BYTES = frame_bytes(AUDIO_RATE)  # 20 ms
DTMF_DIGITS = frozenset(b"0123456789*#ABCD")


class ProtocolError(errors.ProtocolError):
    """The AudioSocket peer sent something TOM cannot accept; the text says what."""


class Kind(IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10
    ERROR = 0xFF


_KINDS = frozenset(int(k) for k in Kind)


@dataclass(frozen=True, slots=True)
class AudioSocketMessage:
    """One framed message; the helpers read the payload according to its kind."""

    kind: Kind
    payload: bytes = field(default=b"", repr=False)

    @property
    def uuid(self) -> uuid.UUID:
        return uuid_from_payload(self.payload)

    @property
    def digit(self) -> str:
        return self.payload.decode("ascii")

    @property
    def error_code(self) -> int | None:
        """Asterisk's error code byte, when the error message carries one."""
        return self.payload[0] if self.payload else None

    def encode(self) -> bytes:
        return encode(self.kind, self.payload)


def uuid_from_payload(payload: bytes) -> uuid.UUID:
    """The call's UUID from a kind-0x01 payload (16 raw bytes)."""
    if len(payload) != 16:
        raise ProtocolError(f"AudioSocket UUID payload must be 16 bytes, got {len(payload)}")
    return uuid.UUID(bytes=bytes(payload))


def encode(kind: int, payload: bytes = b"") -> bytes:
    """Frame one message; refuses payloads the 16-bit length field cannot describe."""
    if not 0 <= kind <= 0xFF:
        raise ValueError(f"AudioSocket kind must be one byte, got {kind}")
    if len(payload) > MAX_LENGTH_FIELD:
        raise ValueError(f"AudioSocket payload of {len(payload)} bytes exceeds {MAX_LENGTH_FIELD}")
    return bytes((kind,)) + len(payload).to_bytes(2, "big") + bytes(payload)


def encode_audio(pcm: bytes) -> bytes:
    """PCM16 LE 8 kHz mono for the caller to hear."""
    return encode(Kind.AUDIO, pcm)


def encode_hangup() -> bytes:
    return encode(Kind.HANGUP)


def encode_uuid(call_id: uuid.UUID) -> bytes:
    """What Asterisk sends first (used by tests and the bench as a fake Asterisk)."""
    return encode(Kind.UUID, call_id.bytes)


def encode_dtmf(digit: str) -> bytes:
    return encode(Kind.DTMF, digit.encode("ascii"))


def encode_error(code: int | None = None) -> bytes:
    return encode(Kind.ERROR, b"" if code is None else bytes((code,)))


def _check_header(kind: int, length: int, max_payload: int) -> Kind:
    if kind not in _KINDS:
        raise ProtocolError(f"unknown AudioSocket message kind 0x{kind:02x}; "
                            "expected hang-up, UUID, DTMF, audio (slin 8 kHz) or error")
    if length > max_payload:
        raise ProtocolError(f"AudioSocket payload of {length} bytes exceeds the limit of "
                            f"{max_payload}")
    if kind == Kind.UUID and length != 16:
        raise ProtocolError(f"AudioSocket UUID payload must be 16 bytes, got {length}")
    if kind == Kind.DTMF and length != 1:
        raise ProtocolError(f"AudioSocket DTMF payload must be 1 byte, got {length}")
    if kind == Kind.AUDIO and length % 2:
        raise ProtocolError(f"AudioSocket audio payload must be whole 16-bit samples, "
                            f"got {length} bytes")
    return Kind(kind)


def _check_payload(kind: Kind, payload: bytes) -> AudioSocketMessage:
    if kind == Kind.DTMF and payload[0] not in DTMF_DIGITS:
        raise ProtocolError(f"AudioSocket DTMF digit {payload!r} is not one of 0-9 * # A-D")
    return AudioSocketMessage(kind, payload)


class AudioSocketParser:
    """Incremental parser: feed it whatever the socket returns, get whole messages back.

    With `require_uuid_first` (the protocol's rule) anything before the UUID is an error.
    """

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD,
                 require_uuid_first: bool = True) -> None:
        self.max_payload = max_payload
        self._need_uuid = require_uuid_first
        self._buf = bytearray()
        self._kind: Kind | None = None  # header parsed, waiting for its payload
        self._length = 0

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete message; non-zero at EOF means the peer vanished mid-message."""
        return len(self._buf) + (HEADER_BYTES if self._kind is not None else 0)

    def feed(self, data: bytes) -> list[AudioSocketMessage]:
        """Add bytes; return the messages they complete, in order."""
        self._buf += data
        out: list[AudioSocketMessage] = []
        while True:
            if self._kind is None:
                if len(self._buf) < HEADER_BYTES:
                    return out
                kind, length = self._buf[0], int.from_bytes(self._buf[1:3], "big")
                self._kind = _check_header(kind, length, self.max_payload)
                self._length = length
                del self._buf[:HEADER_BYTES]
                if self._need_uuid and self._kind != Kind.UUID:
                    raise ProtocolError(f"AudioSocket stream must start with a UUID message, "
                                        f"got {self._kind.name}")
                self._need_uuid = False
            if len(self._buf) < self._length:
                return out
            payload = bytes(self._buf[:self._length])
            del self._buf[:self._length]
            kind, self._kind = self._kind, None
            out.append(_check_payload(kind, payload))


async def read_message(reader: asyncio.StreamReader,
                       max_payload: int = DEFAULT_MAX_PAYLOAD) -> AudioSocketMessage | None:
    """Read one message; None on a clean EOF between messages.

    Ordering (UUID first) is the caller's job here; see `expect_uuid`.
    """
    try:
        header = await reader.readexactly(HEADER_BYTES)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise ProtocolError(f"AudioSocket peer closed after {len(exc.partial)} byte(s) "
                            "of a message header") from None
    length = int.from_bytes(header[1:3], "big")
    kind = _check_header(header[0], length, max_payload)
    try:
        payload = await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError(f"AudioSocket peer closed after {len(exc.partial)} of {length} "
                            f"payload bytes") from None
    return _check_payload(kind, payload)


def expect_uuid(message: AudioSocketMessage | None) -> uuid.UUID:
    """The call UUID from the first message of a connection, or a ProtocolError saying why not."""
    if message is None:
        raise ProtocolError("AudioSocket peer closed before sending its UUID")
    if message.kind != Kind.UUID:
        raise ProtocolError(f"AudioSocket stream must start with a UUID message, "
                            f"got {message.kind.name}")
    return message.uuid
