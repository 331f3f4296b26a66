"""Audio primitives: μ-law against a plain reading of G.711, resampling, framing, WAV files."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from tom.audio import (
    FRAME_MS,
    SILENCE_DBFS,
    FrameSplitter,
    Resampler,
    float_to_pcm16,
    frame_bytes,
    pcm16_to_float,
    read_wav,
    resample,
    rms_dbfs,
    ulaw_decode,
    ulaw_encode,
    whole_frames,
    write_wav,
)

ALL_PCM = np.arange(-32768, 32768, dtype=np.int32)


def _ref_ulaw_encode(sample: int) -> int:
    """G.711 μ-law for one sample, written out step by step as the ITU-T reference coder does."""
    magnitude = ((~sample if sample < 0 else sample) >> 2) + 33  # 14-bit, biased
    magnitude = min(magnitude, 0x1FFF)
    segment = 1
    while magnitude >> (segment + 5) and segment < 8:
        segment += 1
    mantissa = (magnitude >> segment) & 0x0F
    code = ((8 - segment) << 4) | (0x0F - mantissa)
    return code | 0x80 if sample >= 0 else code


def _ref_ulaw_decode(code: int) -> int:
    inverted = ~code & 0xFF
    exponent, mantissa = (inverted >> 4) & 7, inverted & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -magnitude if inverted & 0x80 else magnitude


def _pcm(values) -> bytes:
    return np.asarray(values, dtype="<i2").tobytes()


def _tone(rate: int, seconds: float, hz: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


# --- μ-law ------------------------------------------------------------------------------------


def test_ulaw_decode_matches_reference_for_every_code():
    decoded = np.frombuffer(ulaw_decode(bytes(range(256))), "<i2")
    assert decoded.tolist() == [_ref_ulaw_decode(c) for c in range(256)]


def test_ulaw_encode_matches_reference_for_every_sample():
    encoded = ulaw_encode(_pcm(ALL_PCM))
    assert list(encoded) == [_ref_ulaw_encode(s) for s in range(-32768, 32768)]


def test_ulaw_known_values():
    # silence, both zeros, full scale positive and negative
    assert ulaw_encode(_pcm([0, -1, 32767, -32768])) == bytes([0xFF, 0x7F, 0x80, 0x00])
    assert np.frombuffer(ulaw_decode(bytes([0xFF, 0x7F, 0x80, 0x00])), "<i2").tolist() == [
        0, 0, 32124, -32124]


def test_every_code_survives_decode_then_encode():
    codes = bytes(range(256))
    again = ulaw_encode(ulaw_decode(codes))
    # 0x7F is μ-law's "negative zero": it decodes to 0, which encodes as the positive zero 0xFF.
    expected = bytes(0xFF if c == 0x7F else c for c in range(256))
    assert again == expected


def test_ulaw_error_is_within_half_a_quantisation_step():
    decoded = np.frombuffer(ulaw_decode(ulaw_encode(_pcm(ALL_PCM))), "<i2").astype(np.int32)
    error = np.abs(decoded - ALL_PCM)
    in_range = np.abs(ALL_PCM) <= 32124
    # Step size doubles per segment; half a step is at most (|x| + bias) / 32.
    assert np.all(error[in_range] <= (np.abs(ALL_PCM[in_range]) + 132) / 32)
    assert error.max() <= 32768 - 32124  # clipped peaks
    assert np.all(error[np.abs(ALL_PCM) < 64] <= 4)


def test_ulaw_lengths_and_odd_input():
    assert len(ulaw_decode(b"\x00" * 160)) == 320
    assert len(ulaw_encode(b"\x00" * 320)) == 160
    assert ulaw_encode(b"") == b"" and ulaw_decode(b"") == b""
    with pytest.raises(ValueError, match="even number"):
        ulaw_encode(b"\x00\x01\x02")


# --- sample format ----------------------------------------------------------------------------


def test_pcm16_float_round_trip_is_exact():
    pcm = _pcm(ALL_PCM)
    x = pcm16_to_float(pcm)
    assert x.dtype == np.float32 and x.min() == -1.0 and x.max() < 1.0
    assert float_to_pcm16(x) == pcm


def test_float_to_pcm16_clips_and_cleans():
    out = np.frombuffer(float_to_pcm16(np.array([2.0, -2.0, np.nan, np.inf, -np.inf, 0.5])), "<i2")
    assert out.tolist() == [32767, -32768, 0, 32767, -32768, 16384]


def test_rms_dbfs():
    assert rms_dbfs(b"") == SILENCE_DBFS
    assert rms_dbfs(b"\x00" * 320) == SILENCE_DBFS
    full_square = _pcm([32767, -32768] * 80)
    assert rms_dbfs(full_square) == pytest.approx(0.0, abs=0.01)
    sine = float_to_pcm16(_tone(8000, 0.5, amp=0.5))
    assert rms_dbfs(sine) == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.05)


# --- frames -----------------------------------------------------------------------------------


def test_whole_frames_pads_only_the_last_frame():
    pcm = bytes(range(1, 251)) * 3  # 750 bytes at 8 kHz: two whole frames and 110 bytes
    frames = whole_frames(pcm, 8000)
    assert [len(f) for f in frames] == [320, 320, 320]
    assert b"".join(frames)[:750] == pcm and frames[-1][110:] == bytes(210)


def test_whole_frames_of_exact_and_empty_audio():
    assert whole_frames(bytes(640), 16000) == [bytes(640)]
    assert whole_frames(b"", 8000) == []


@pytest.mark.parametrize(("rate", "size"), [(8000, 320), (16000, 640), (22050, 882), (48000, 1920)])
def test_frame_bytes(rate, size):
    assert frame_bytes(rate) == size


def test_frame_bytes_refuses_fractional_samples():
    with pytest.raises(ValueError, match="whole number of samples"):
        frame_bytes(11025, 10)


def test_frame_splitter_yields_exact_frames_in_order():
    splitter = FrameSplitter(8000)
    data = bytes(range(256)) * 10  # 2560 bytes = 8 frames
    frames: list[bytes] = []
    for size in (1, 319, 2, 700, 1000, 538):
        frames += splitter.push(data[:size])
        data = data[size:]
    assert data == b""
    assert [len(f) for f in frames] == [320] * 8
    assert b"".join(frames) == bytes(range(256)) * 10
    assert splitter.pending == 0 and splitter.flush() is None


def test_frame_splitter_flush_pads_the_tail():
    splitter = FrameSplitter(16000, FRAME_MS)
    assert splitter.push(b"\x01\x02" * 10) == []
    assert splitter.pending == 20
    tail = splitter.flush()
    assert tail == b"\x01\x02" * 10 + b"\x00" * 620
    assert splitter.pending == 0


# --- resampling -------------------------------------------------------------------------------


def _stream(src: int, dst: int, pcm: bytes, chunk: int) -> bytes:
    r = Resampler(src, dst)
    out = [r.process(pcm[i:i + chunk]) for i in range(0, len(pcm), chunk)]
    return b"".join(out) + r.flush()


@pytest.mark.parametrize(("src", "dst"), [(8000, 16000), (16000, 8000), (22050, 8000),
                                          (22050, 16000), (8000, 22050), (16000, 22050)])
def test_streaming_resampler_length_matches_one_shot(src, dst):
    x = _tone(src, 1.0, hz=300.0)
    pcm = float_to_pcm16(x)
    streamed = _stream(src, dst, pcm, chunk=2 * 160 + 1)  # odd chunks split samples in two
    one_shot = resample(x, src, dst)
    assert len(one_shot) == pytest.approx(dst, abs=2)
    assert len(streamed) // 2 == pytest.approx(len(one_shot), abs=2)


def test_streaming_resampler_preserves_the_signal():
    x = _tone(8000, 0.5, hz=300.0)
    streamed = pcm16_to_float(_stream(8000, 16000, float_to_pcm16(x), chunk=320))
    reference = resample(x, 8000, 16000)
    n = min(len(streamed), len(reference))
    middle = slice(n // 4, 3 * n // 4)  # skip filter edges
    assert np.max(np.abs(streamed[middle] - reference[middle])) < 0.01


@pytest.mark.parametrize(("src", "dst"), [(8000, 16000), (48000, 16000), (44100, 16000)])
def test_streaming_resampler_delivers_each_frame_with_it(src, dst):
    """No block buffering: caller audio reaches the VAD as it arrives (soxr's stream held
    8 kHz audio back 120 ms and then gave it out in 104 ms bursts)."""
    r = Resampler(src, dst)
    frame = float_to_pcm16(_tone(src, 0.02, hz=300.0))
    sizes = [len(r.process(frame)) // 2 for _ in range(20)]
    per_frame = dst // 50
    assert sizes[0] >= per_frame - Resampler.LOOKAHEAD * dst // min(src, dst)
    assert all(abs(n - per_frame) <= 1 for n in sizes[1:])


def test_streaming_resampler_gives_the_same_for_one_long_chunk_and_for_frames():
    pcm = float_to_pcm16(_tone(8000, 3.0, hz=700.0))  # 48000 output samples: several blocks
    assert len(pcm) // 2 * 2 > Resampler.BLOCK
    assert _stream(8000, 16000, pcm, chunk=len(pcm)) == _stream(8000, 16000, pcm, chunk=320)


def test_streaming_resampler_rejects_the_images_of_upsampling():
    """8 kHz phone audio up to 3.4 kHz: its mirror images above 4 kHz must not reach STT."""
    x = _tone(8000, 1.0, hz=3400.0)
    y = pcm16_to_float(_stream(8000, 16000, float_to_pcm16(x), chunk=320))
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / 16000)
    tone = spectrum[np.argmin(np.abs(freqs - 3400))]
    image = spectrum[np.argmin(np.abs(freqs - 4600))]
    assert 20 * np.log10(image / tone) < -60


def test_resampler_passes_through_equal_rates_and_carries_odd_bytes():
    r = Resampler(16000, 16000)
    assert r.process(b"\x01\x02\x03") == b"\x01\x02"
    assert r.process(b"\x04") == b"\x03\x04"
    assert r.flush() == b""


def test_resampler_rejects_bad_rates():
    with pytest.raises(ValueError):
        Resampler(0, 16000)


def test_one_shot_resample_equal_rates_and_empty():
    x = _tone(16000, 0.1)
    assert np.array_equal(resample(x, 16000, 16000), x)
    assert resample(np.zeros(0, np.float32), 8000, 16000).size == 0


# --- WAV --------------------------------------------------------------------------------------


def test_wav_round_trip_pcm_bytes(tmp_path: Path):
    pcm = float_to_pcm16(_tone(16000, 0.25))
    write_wav(tmp_path / "a.wav", pcm, 16000)
    x, rate = read_wav(tmp_path / "a.wav")
    assert rate == 16000 and x.dtype == np.float32
    assert float_to_pcm16(x) == pcm


def test_wav_round_trip_float_and_int16_arrays(tmp_path: Path):
    x = _tone(8000, 0.1)
    write_wav(tmp_path / "f.wav", x, 8000)
    y, _ = read_wav(tmp_path / "f.wav")
    assert np.max(np.abs(y - x)) <= 1 / 32768
    ints = np.array([1, -2, 3], dtype=np.int16)
    write_wav(tmp_path / "i.wav", ints, 8000)
    z, _ = read_wav(tmp_path / "i.wav")
    assert np.frombuffer(float_to_pcm16(z), "<i2").tolist() == [1, -2, 3]


def _write_raw_wav(path: Path, raw: bytes, channels: int, width: int, rate: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(raw)


def test_stereo_is_mixed_down(tmp_path: Path):
    left, right = [1000, -2000, 3000], [3000, 2000, -3000]
    interleaved = _pcm([v for pair in zip(left, right, strict=True) for v in pair])
    _write_raw_wav(tmp_path / "s.wav", interleaved, 2, 2, 22050)
    x, rate = read_wav(tmp_path / "s.wav")
    assert rate == 22050
    assert np.allclose(x * 32768, [2000, 0, 0])


def test_8_bit_and_32_bit_wavs(tmp_path: Path):
    _write_raw_wav(tmp_path / "8.wav", bytes([128, 255, 0]), 1, 1, 8000)
    x8, _ = read_wav(tmp_path / "8.wav")
    assert np.allclose(x8, [0.0, 127 / 128, -1.0])
    _write_raw_wav(tmp_path / "32.wav", struct.pack("<3i", 0, 2**30, -(2**31)), 1, 4, 8000)
    x32, _ = read_wav(tmp_path / "32.wav")
    assert np.allclose(x32, [0.0, 0.5, -1.0])


def test_24_bit_wav(tmp_path: Path):
    raw = b"".join(v.to_bytes(3, "little", signed=True) for v in (0, 2**22, -(2**23)))
    _write_raw_wav(tmp_path / "24.wav", raw, 1, 3, 8000)
    x, _ = read_wav(tmp_path / "24.wav")
    assert np.allclose(x, [0.0, 0.5, -1.0])


def test_non_pcm_wav_is_a_clear_value_error(tmp_path: Path):
    # A minimal IEEE-float WAV header (format tag 3), which TOM does not read.
    data = struct.pack("<2f", 0.0, 0.5)
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack(
        "<I", len(data)) + data
    path = tmp_path / "float.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(ValueError, match="16-bit PCM"):
        read_wav(path)


@pytest.mark.parametrize("content", [b"", b"not a wav file at all", b"RIFF\x00\x00"])
def test_garbage_file_is_a_value_error(tmp_path: Path, content: bytes):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="bad.wav"):
        read_wav(path)


def test_write_wav_rejects_odd_pcm(tmp_path: Path):
    with pytest.raises(ValueError, match="even number"):
        write_wav(tmp_path / "x.wav", b"\x00\x01\x02", 8000)

