"""What every TTS engine gives: one sentence in, float32 samples at the engine's own rate out."""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np

from tom.engine.samples import Samples

# Loudness every voice is levelled to: piper's en_US-joe speaks at about this RMS (measured over
# six demo sentences, pauses included), so a German Pico sentence sounds as loud as an English one.
TARGET_RMS = 0.11
PEAK = 0.98  # never more than this after levelling: with the line's VOLUME, μ-law cannot clip


class Synthesis(NamedTuple):
    """One sentence spoken: float32 samples at the voice's own rate."""

    samples: Samples
    rate: int


class TextToSpeech(Protocol):
    """Blocking synthesis of one sentence; callers run it in the TTS worker thread."""

    sample_rate: int

    def synthesize(self, text: str) -> Synthesis: ...


class VoiceError(RuntimeError):
    """A voice cannot be loaded; the message says what to install or set."""


def level(samples: Samples, gain: float) -> Samples:
    """`samples` times a voice's fixed `gain`, scaled down further only where a peak would clip."""
    out = np.asarray(samples, dtype=np.float32) * np.float32(gain)
    peak = float(np.max(np.abs(out))) if len(out) else 0.0
    if peak > PEAK:
        out *= np.float32(PEAK / peak)
    return out
