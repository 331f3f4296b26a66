"""Audio primitives shared by every transport and engine stage.

Inside TOM audio is signed 16-bit little-endian mono PCM ("PCM16") in 20 ms frames; telephony
wires carry G.711 μ-law at 8 kHz, models want float32 at their own rate. Everything that
converts between those lives here, so no stage hand-rolls its own sample maths.
"""

from __future__ import annotations

import math
import os
import wave

import numpy as np
import numpy.typing as npt
import soxr

FRAME_MS = 20
PHONE_RATE = 8000  # every telephone transport (Twilio, AudioSocket, SIP) carries 8 kHz audio
SAMPLE_WIDTH = 2  # bytes per PCM16 sample
SILENCE_DBFS = -120.0  # what `rms_dbfs` reports for digital silence, instead of -inf

Pcm16Array = npt.NDArray[np.int16]
FloatAudio = npt.NDArray[np.float32]  # samples in [-1, 1], what the models take and give

# --- frames -------------------------------------------------------------------------------------


def whole_frames(pcm: bytes, sample_rate: int, frame_ms: int = FRAME_MS) -> list[bytes]:
    """`pcm` cut into frames; a short last frame is padded with silence so every frame is whole."""
    size = frame_bytes(sample_rate, frame_ms)
    frames = [pcm[i:i + size] for i in range(0, len(pcm), size)]
    if frames and len(frames[-1]) < size:
        frames[-1] += bytes(size - len(frames[-1]))
    return frames


def frame_bytes(sample_rate: int, frame_ms: int = FRAME_MS) -> int:
    """Bytes of PCM16 in one frame; a rate that gives a fractional sample count is refused."""
    samples, rest = divmod(sample_rate * frame_ms, 1000)
    if sample_rate <= 0 or frame_ms <= 0 or rest:
        raise ValueError(
            f"{frame_ms} ms at {sample_rate} Hz is not a whole number of samples; "
            "use a rate divisible by 50 (e.g. 8000, 16000, 22050)")
    return samples * SAMPLE_WIDTH


class FrameSplitter:
    """Turns PCM16 chunks of any size into exact `frame_ms` frames, keeping the remainder."""

    def __init__(self, sample_rate: int, frame_ms: int = FRAME_MS) -> None:
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self.frame_bytes = frame_bytes(sample_rate, frame_ms)
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back until the next frame is complete."""
        return len(self._buf)

    def push(self, chunk: bytes) -> list[bytes]:
        """Add a chunk; return every frame it completes, oldest first."""
        self._buf += chunk
        n = len(self._buf) // self.frame_bytes * self.frame_bytes
        if not n:
            return []
        out = [bytes(self._buf[i:i + self.frame_bytes]) for i in range(0, n, self.frame_bytes)]
        del self._buf[:n]
        return out

    def flush(self) -> bytes | None:
        """The held-back tail padded with silence to a full frame (None when nothing is held)."""
        if not self._buf:
            return None
        tail = bytes(self._buf) + b"\x00" * (self.frame_bytes - len(self._buf))
        self._buf.clear()
        return tail


# --- G.711 μ-law ----------------------------------------------------------------------------------
# G.711 μ-law as in the ITU-T G.191 reference coder (14-bit magnitude, one's complement for
# negative samples, bias 33, bits inverted on the wire), built once as lookup tables so a 20 ms
# frame costs one numpy indexing operation each way.

_ULAW_BIAS = 0x84  # the bias of 33 at 14-bit scale, as seen on 16-bit samples


def _build_ulaw_decode_table() -> Pcm16Array:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(code & 0x80, -magnitude, magnitude).astype("<i2")


def _build_ulaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm = np.arange(65536, dtype=np.int32).astype(np.uint16).view(np.int16).astype(np.int32)
    absno = np.minimum((np.where(pcm < 0, ~pcm, pcm) >> 2) + 33, 0x1FFF)
    segno = np.ones_like(absno)
    for bit in range(7):  # segment = 1 + bit length of absno >> 6
        segno[(absno >> 6) >= (1 << bit)] = bit + 2
    low = 0x0F - ((absno >> segno) & 0x0F)
    code = ((0x08 - segno) << 4) | low
    table: npt.NDArray[np.uint8] = np.where(pcm >= 0, code | 0x80, code).astype(np.uint8)
    return table


_ULAW_TO_PCM = _build_ulaw_decode_table()
_PCM_TO_ULAW = _build_ulaw_encode_table()  # indexed by the sample's bits as uint16


def ulaw_decode(ulaw: bytes) -> bytes:
    """μ-law bytes to PCM16 LE; the output is always twice as long."""
    return _ULAW_TO_PCM[np.frombuffer(ulaw, dtype=np.uint8)].tobytes()


def ulaw_encode(pcm: bytes) -> bytes:
    """PCM16 LE to μ-law, one byte per sample; odd-length input is a caller bug."""
    if len(pcm) % SAMPLE_WIDTH:
        raise ValueError(f"PCM16 needs an even number of bytes, got {len(pcm)}")
    ulaw: npt.NDArray[np.uint8] = _PCM_TO_ULAW[np.frombuffer(pcm, dtype="<u2")]
    return ulaw.tobytes()


# --- sample format --------------------------------------------------------------------------------


def pcm16_to_float(pcm: bytes) -> FloatAudio:
    """PCM16 LE to float32 in [-1, 1) (scaled by 1/32768, the inverse of `float_to_pcm16`)."""
    if len(pcm) % SAMPLE_WIDTH:
        raise ValueError(f"PCM16 needs an even number of bytes, got {len(pcm)}")
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / np.float32(32768.0)


def float_to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples to PCM16 LE, clipping anything outside [-1, 1] and zeroing NaN."""
    x = np.nan_to_num(np.asarray(samples, dtype=np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    pcm: Pcm16Array = np.clip(np.rint(x * 32768.0), -32768, 32767).astype("<i2")
    return pcm.tobytes()


def rms_dbfs(pcm: bytes) -> float:
    """Loudness of PCM16 relative to full scale; `SILENCE_DBFS` for silence or no audio."""
    x = pcm16_to_float(pcm)
    if not x.size:
        return SILENCE_DBFS
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return max(SILENCE_DBFS, 20.0 * np.log10(rms)) if rms > 0 else SILENCE_DBFS


# --- resampling -----------------------------------------------------------------------------------


class Resampler:
    """Streaming PCM16 resampler that keeps its filter state across chunks of any size.

    A windowed-sinc polyphase FIR in numpy, not soxr's streaming resampler: soxr works in
    blocks, and 8 kHz caller audio came out 8 → 16 kHz in 104 ms bursts every fifth 20 ms frame
    (120 ms before the first), so every VAD decision, end of turn and barge-in was up to a
    burst late. Here each chunk's output leaves with it; what is held back is the filter's
    look-ahead, `LOOKAHEAD` samples of the lower rate (3 ms at 8 kHz). The output is aligned
    with the input (no delay), as the one-shot `resample` is.

    A byte split across two chunks is carried over, so callers may pass raw socket reads.
    """

    LOOKAHEAD = 24  # filter half-width in samples of the lower rate: quality against delay
    KAISER_BETA = 7.0  # ~70 dB stop band
    ROLLOFF = 0.95  # pass band up to this fraction of the lower rate's Nyquist frequency
    BLOCK = 16384  # output samples computed at once

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        if src_rate <= 0 or dst_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self._carry = b""
        g = math.gcd(src_rate, dst_rate)
        self._up, self._down = dst_rate // g, src_rate // g
        # y[k] = sum_m phases[p][m] * x[n - m] with n, p = divmod(k * down + centre, up)
        span = max(self._up, self._down)
        self._centre = self.LOOKAHEAD * span
        taps = 2 * self._centre + 1
        cutoff = self.ROLLOFF * 0.5 / span  # cycles per sample at src_rate * up
        t = np.arange(taps) - self._centre
        h = 2 * cutoff * np.sinc(2 * cutoff * t) * np.kaiser(taps, self.KAISER_BETA) * self._up
        self._per_phase = -(-taps // self._up)
        h = np.concatenate([h, np.zeros(self._per_phase * self._up - taps)])
        self._phases = h.reshape(self._per_phase, self._up).T.astype(np.float32)
        self._reset()

    def _reset(self) -> None:
        # input samples from absolute index `_first` on; silence before the stream began
        self._x = np.zeros(self._per_phase, dtype=np.float32)
        self._first = -self._per_phase
        self._received = 0  # input samples so far
        self._next = 0  # the next output sample's index

    def process(self, pcm: bytes) -> bytes:
        """Resample a chunk: every output sample whose input has arrived (but for the look-ahead)."""
        data = self._carry + pcm
        whole = len(data) - len(data) % SAMPLE_WIDTH
        self._carry = data[whole:]
        if self._up == self._down:
            return data[:whole]
        if not whole:
            return b""
        x = np.frombuffer(data[:whole], dtype="<i2").astype(np.float32) / 32768.0
        self._x = np.concatenate([self._x, x])
        self._received += len(x)
        return self._emit(self._received - 1)

    def flush(self) -> bytes:
        """The last output samples (end of an utterance or stream); resets the stream."""
        self._carry = b""
        if self._up == self._down:
            return b""
        total = -(-self._received * self._up // self._down)  # what the one-shot length is
        self._x = np.concatenate([self._x, np.zeros(self._centre // self._up + 1, np.float32)])
        out = self._emit(self._received + self._centre // self._up, limit=total)
        self._reset()
        return out

    def _emit(self, last_input: int, limit: int | None = None) -> bytes:
        """Output samples up to the one whose newest input sample is `last_input`."""
        end = (last_input * self._up + self._up - 1 - self._centre) // self._down + 1
        if limit is not None:
            end = min(end, limit)
        out: list[bytes] = []
        while self._next < end:  # in blocks: one long chunk must not build a huge index
            k = np.arange(self._next, min(end, self._next + self.BLOCK), dtype=np.int64)
            newest, phase = np.divmod(k * self._down + self._centre, self._up)
            index = (newest - self._first)[:, None] - np.arange(self._per_phase)[None, :]
            y = np.einsum("ij,ij->i", self._x[index], self._phases[phase])
            self._next = int(k[-1]) + 1
            keep_from = (self._next * self._down + self._centre) // self._up - self._per_phase + 1
            if keep_from > self._first:
                self._x = self._x[keep_from - self._first:]
                self._first = keep_from
            pcm: Pcm16Array = np.clip(np.round(y * 32768.0), -32768, 32767).astype("<i2")
            out.append(pcm.tobytes())
        return b"".join(out)


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> FloatAudio:
    """One-shot float32 resampling of a whole signal (files, tests, bench)."""
    x = np.asarray(samples, dtype=np.float32)
    if src_rate == dst_rate or not x.size:
        return x.copy()
    out: FloatAudio = soxr.resample(x, src_rate, dst_rate).astype(np.float32, copy=False)
    return out


# --- WAV files ------------------------------------------------------------------------------------


def read_wav(path: str | os.PathLike[str]) -> tuple[FloatAudio, int]:
    """Read an integer-PCM WAV (8/16/24/32-bit, any channels) as float32 mono and its rate."""
    try:
        with wave.open(os.fspath(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"{path}: not a readable PCM WAV file ({exc}); "
                         "convert it to 16-bit PCM, e.g. with sox or ffmpeg") from None
    if channels < 1 or rate < 1:
        raise ValueError(f"{path}: WAV header claims {channels} channel(s) at {rate} Hz")
    raw = raw[:len(raw) - len(raw) % (width * channels)]
    x = _wav_samples(raw, width, path).reshape(-1, channels)
    return x.mean(axis=1, dtype=np.float32), rate


def _wav_samples(raw: bytes, width: int, path: str | os.PathLike[str]) -> FloatAudio:
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    if width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v & 0x800000, v - (1 << 24), v)
        return v.astype(np.float32) / float(1 << 23)
    if width == 4:
        return (np.frombuffer(raw, "<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    raise ValueError(f"{path}: {8 * width}-bit samples are not supported; use 16-bit PCM")


def write_wav(path: str | os.PathLike[str], audio: bytes | np.ndarray, sample_rate: int) -> None:
    """Write mono 16-bit PCM: `audio` is PCM16 bytes, an int16 array, or floats in [-1, 1]."""
    if isinstance(audio, np.ndarray):
        pcm = audio.astype("<i2").tobytes() if audio.dtype == np.int16 else float_to_pcm16(audio)
    else:
        pcm = bytes(audio)
    if len(pcm) % SAMPLE_WIDTH:
        raise ValueError(f"PCM16 needs an even number of bytes, got {len(pcm)}")
    with wave.open(os.fspath(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
