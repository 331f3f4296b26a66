"""Shared fixtures: caller speech synthesized with the bundled piper voice (cached per session)."""

from __future__ import annotations

import functools
import os

# Every call in the suite (and in the subprocesses it starts) runs a strict call flow: a trigger
# the FSM does not allow raises instead of being logged, so a wrong transition fails a test.
os.environ.setdefault("TOM_STRICT_FLOW", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tom  # noqa: F401,E402  (sets OMP_WAIT_POLICY before engines load)


@functools.lru_cache(maxsize=1)
def _voice():
    from piper import PiperVoice

    from tom.config import Settings
    from tom.models import resolve_tts

    return PiperVoice.load(str(resolve_tts(Settings.from_dict({})).path))


@functools.lru_cache(maxsize=256)
def _speak(text: str, rate: int) -> np.ndarray:
    from tom.audio import resample

    voice = _voice()
    audio = np.concatenate([c.audio_float_array for c in voice.synthesize(text)])
    return resample(audio * 0.6, voice.config.sample_rate, rate)


@pytest.fixture(scope="session")
def speech():
    """`speech(text, rate=16000)` → float32 mono audio of the text, spoken by piper."""

    def make(text: str, rate: int = 16000) -> np.ndarray:
        return _speak(text, rate).copy()

    return make
