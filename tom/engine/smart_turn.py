"""Semantic end of turn: has the caller finished, or only paused inside a sentence?

Silence alone cannot tell "I'd like to book… (thinks) …a table for two" from a finished
question. Smart Turn v3.2 (an ONNX model, BSD-2 licensed, shipped inside the `pipecat-ai`
wheel, which TOM installs without its dependencies) reads the last 8 s of the caller's audio
as Whisper-style log-mel features and gives the probability that the turn is complete.

The features are computed here with numpy (16 kHz, 25 ms Hann window, 10 ms hop, 80 Slaney
mel bands up to 8 kHz, log10, floored 8 decades under the peak, scaled as Whisper does); the
model takes exactly 800 frames, so shorter audio is padded with silence in front.
"""

from __future__ import annotations

import importlib.metadata
import time
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog

from tom.engine.samples import Samples

log = structlog.get_logger(__name__)

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
SECONDS = 8
FRAMES = SECONDS * SAMPLE_RATE // HOP  # 800
PACKAGE = "pipecat-ai"
MODEL_FILE = "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"


class SmartTurnUnavailable(RuntimeError):
    """The model file is not installed (or not readable): TOM falls back to VAD silence."""


def model_path(configured: str = "") -> Path:
    """The ONNX file: `configured`, else the one inside the installed `pipecat-ai` wheel."""
    if configured:
        path = Path(configured)
    else:
        try:
            path = Path(str(importlib.metadata.distribution(PACKAGE).locate_file(MODEL_FILE)))
        except importlib.metadata.PackageNotFoundError:
            raise SmartTurnUnavailable(
                f"Smart Turn needs the {PACKAGE} package (pip install --no-deps {PACKAGE}); "
                "set turns.smart_turn = false to end turns on silence alone") from None
    if not path.is_file():
        raise SmartTurnUnavailable(f"Smart Turn model {path} does not exist")
    return path


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, mel)


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    hz = mel * (200.0 / 3)
    exp_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, exp_part, hz)


@cache
def mel_filters() -> npt.NDArray[np.float32]:
    """(80, 201) triangular filters, area-normalised (Slaney), 0 Hz to 8 kHz."""
    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(8000.0)),
                                   N_MELS + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def log_mel(audio: Samples) -> npt.NDArray[np.float32]:
    """Whisper-style log-mel features (80, len/160) of 16 kHz audio."""
    x = np.asarray(audio, dtype=np.float32)
    padded = np.pad(x, N_FFT // 2, mode="reflect") if len(x) > N_FFT // 2 else np.pad(
        x, N_FFT // 2)
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    count = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(count, N_FFT), strides=(padded.strides[0] * HOP, padded.strides[0]))
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2  # (count, 201)
    mel = mel_filters() @ power[:-1].T.astype(np.float32)  # Whisper drops the last frame
    logs = np.log10(np.maximum(mel, 1e-10))
    logs = np.maximum(logs, logs.max() - 8.0)
    scaled: npt.NDArray[np.float32] = ((logs + 4.0) / 4.0).astype(np.float32)
    return scaled


def features(audio: Samples) -> npt.NDArray[np.float32]:
    """The model's input (1, 80, 800): the last 8 s, normalised, silence in front if shorter."""
    x = np.asarray(audio, dtype=np.float32)[-SECONDS * SAMPLE_RATE:]
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7) if len(x) else x
    full = np.zeros(SECONDS * SAMPLE_RATE, dtype=np.float32)
    full[len(full) - len(x):] = x
    return np.asarray(log_mel(full)[None, :, :FRAMES], dtype=np.float32)


class SmartTurn:
    """The shared ONNX session; `complete(audio)` is the probability the turn is over."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 4
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session: Any = onnxruntime.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.last_ms = 0.0

    def complete(self, audio: Samples) -> float:
        started = time.perf_counter()
        (out,) = self.session.run(None, {"input_features": features(audio)})
        self.last_ms = (time.perf_counter() - started) * 1000
        value = float(np.asarray(out).reshape(-1)[0])
        if not 0.0 <= value <= 1.0:  # a build that returns logits
            value = float(1 / (1 + np.exp(-value)))
        return value


_shared: dict[str, SmartTurn | SmartTurnUnavailable] = {}


def shared(configured: str = "") -> SmartTurn | None:
    """One session for all calls, loaded on first use; None (logged once) when unavailable."""
    got = _shared.get(configured)
    if got is None:
        try:
            got = SmartTurn(model_path(configured))
            log.info("smart turn loaded", model=str(model_path(configured)))
        except SmartTurnUnavailable as exc:
            log.warning("smart turn unavailable; turns end on silence", reason=str(exc))
            got = exc
        _shared[configured] = got
    return got if isinstance(got, SmartTurn) else None
