"""Property tests: whatever arrives on a wire, parsers answer with a message or ProtocolError."""

from __future__ import annotations

import asyncio
import json
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tom.audio import ulaw_decode, ulaw_encode
from tom.bench import twilio_caller as tc
from tom.telephony import audiosocket_wire as asw
from tom.telephony import twilio_wire as tw

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TWILIO_TYPES = (tw.Connected, tw.Start, tw.Media, tw.Dtmf, tw.Mark, tw.Stop)

json_scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
                | st.sampled_from(["", "0", "12", "-1", "AAAA", "//8=", "audio/x-mulaw", "#"]))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12,
)
sids = st.text(max_size=12)
valid_messages = st.one_of(
    st.just(tc.connected_message()),
    st.builds(tc.start_message, sids, sids,
              st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
              st.sampled_from(["audio/x-mulaw", "audio/x-l16"]), st.sampled_from([8000, 16000])),
    st.builds(tc.inbound_media_message, sids, st.binary(max_size=40),
              st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6),
              sequence=st.none() | st.integers(min_value=0)),
    st.builds(tc.dtmf_message, sids, st.sampled_from(sorted(tw.DTMF_DIGITS))),
    st.builds(tc.mark_echo_message, sids, st.text(max_size=10)),
    st.builds(tc.stop_message, sids, sids),
).map(json.loads)


def _fields(obj: dict, out: list[tuple[dict, str]]) -> list[tuple[dict, str]]:
    """Every (object, key) in a JSON tree, so a mutation can hit any level."""
    for key, value in obj.items():
        out.append((obj, key))
        if isinstance(value, dict):
            _fields(value, out)
    return out


@st.composite
def mutated_messages(draw: st.DrawFn) -> dict:
    """A genuine Twilio message with up to three fields deleted or replaced by random JSON."""
    message = draw(valid_messages)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        fields = _fields(message, [])
        if not fields:
            break
        obj, key = draw(st.sampled_from(fields))
        if draw(st.booleans()):
            del obj[key]
        else:
            obj[key] = draw(json_values)
    return message


def _parse_or_protocol_error(text: str | bytes, max_bytes: int = 65536) -> object:
    try:
        message = tw.parse_message(text, max_bytes=max_bytes)
    except tw.ProtocolError as exc:
        assert str(exc)  # always says something
        return exc
    assert isinstance(message, TWILIO_TYPES)
    return message


# --- Twilio -----------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=400))
def test_twilio_arbitrary_bytes(data, max_bytes):
    _parse_or_protocol_error(data, max_bytes)


@FUZZ
@given(st.text(max_size=300))
def test_twilio_arbitrary_text(text):
    _parse_or_protocol_error(text)


@FUZZ
@given(json_values)
def test_twilio_arbitrary_json(value):
    _parse_or_protocol_error(json.dumps(value))


@FUZZ
@given(mutated_messages())
def test_twilio_mutated_messages(value):
    result = _parse_or_protocol_error(json.dumps(value))
    if isinstance(result, tw.Start):
        try:
            tw.check_media_format(result)
        except tw.ProtocolError:
            pass


@FUZZ
@given(sid=st.text(max_size=40), ulaw=st.binary(max_size=400),
       chunk=st.integers(min_value=0, max_value=10**12),
       ts=st.integers(min_value=0, max_value=10**12),
       params=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=5))
def test_twilio_caller_messages_round_trip(sid, ulaw, chunk, ts, params):
    media = tw.parse_message(tc.inbound_media_message(sid, ulaw, chunk, ts), max_bytes=10**6)
    assert media == tw.Media(sid, ulaw, "inbound", chunk, ts)
    start = tw.parse_message(tc.start_message(sid, "CA1", params))
    assert isinstance(start, tw.Start) and start.custom_parameters == params
    assert tc.parse_outbound(tw.media_message(sid, ulaw))["payload"] == ulaw


# --- AudioSocket ------------------------------------------------------------------------------


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def _feed_all(chunks: list[bytes], **kwargs) -> list[asw.AudioSocketMessage] | asw.ProtocolError:
    parser = asw.AudioSocketParser(**kwargs)
    out: list[asw.AudioSocketMessage] = []
    try:
        for chunk in chunks:
            out += parser.feed(chunk)
    except asw.ProtocolError as exc:
        return exc
    return out


audiosocket_messages = st.one_of(
    st.binary(max_size=200).map(lambda b: asw.AudioSocketMessage(asw.Kind.AUDIO, b[:len(b) & ~1])),
    st.sampled_from(sorted(asw.DTMF_DIGITS)).map(
        lambda d: asw.AudioSocketMessage(asw.Kind.DTMF, bytes([d]))),
    st.binary(max_size=1).map(lambda b: asw.AudioSocketMessage(asw.Kind.ERROR, b)),
    st.just(asw.AudioSocketMessage(asw.Kind.HANGUP)),
    st.uuids().map(lambda u: asw.AudioSocketMessage(asw.Kind.UUID, u.bytes)),
)


@st.composite
def broken_frames(draw: st.DrawFn) -> bytes:
    """A frame that may lie: any kind byte, any length field, any payload."""
    kind = draw(st.sampled_from([int(k) for k in asw.Kind]) | st.integers(0, 255))
    payload = draw(st.binary(max_size=40))
    length = draw(st.sampled_from([0, 1, 2, 16, len(payload)]) | st.integers(0, 0xFFFF))
    return bytes((kind,)) + length.to_bytes(2, "big") + payload


frames = st.lists(audiosocket_messages.map(lambda m: m.encode()) | broken_frames(),
                  max_size=10).map(b"".join)
noisy_streams = st.one_of(
    st.binary(max_size=400),
    frames,
    frames.map(lambda f: asw.encode_uuid(uuid.UUID(int=7)) + f),
)


@FUZZ
@given(noisy_streams, st.lists(st.integers(min_value=0), max_size=20), st.booleans())
def test_audiosocket_arbitrary_bytes_any_chunking(data, cuts, uuid_first):
    whole = _feed_all([data], require_uuid_first=uuid_first, max_payload=200)
    pieces = _feed_all(_chunked(data, cuts), require_uuid_first=uuid_first, max_payload=200)
    assert isinstance(whole, asw.ProtocolError) == isinstance(pieces, asw.ProtocolError)
    if not isinstance(whole, asw.ProtocolError):
        assert whole == pieces


@FUZZ
@given(st.uuids(), st.lists(audiosocket_messages, max_size=12),
       st.lists(st.integers(min_value=0), max_size=30))
def test_audiosocket_chunking_does_not_change_valid_streams(call_id, messages, cuts):
    expected = [asw.AudioSocketMessage(asw.Kind.UUID, call_id.bytes), *messages]
    data = b"".join(m.encode() for m in expected)
    assert _feed_all(_chunked(data, cuts)) == expected
    assert _read_all(data) == expected


def _read_all(data: bytes) -> list[asw.AudioSocketMessage]:
    async def run() -> list[asw.AudioSocketMessage]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        out = []
        while (message := await asw.read_message(reader)) is not None:
            out.append(message)
        return out

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(run())
    finally:
        loop.close()


@FUZZ
@given(noisy_streams)
def test_audiosocket_reader_raises_only_protocol_error(data):
    try:
        _read_all(asw.encode_uuid(uuid.UUID(int=1)) + data)
    except asw.ProtocolError:
        pass


# --- μ-law ------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2000))
def test_ulaw_decode_doubles_length_and_is_stable(data):
    pcm = ulaw_decode(data)
    assert len(pcm) == 2 * len(data)
    assert ulaw_decode(ulaw_encode(pcm)) == pcm  # decoded values are exact code points


@FUZZ
@given(st.binary(max_size=2000))
def test_ulaw_encode_any_even_length(data):
    pcm = data[:len(data) & ~1]
    assert len(ulaw_encode(pcm)) == len(pcm) // 2
