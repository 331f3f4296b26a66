"""SVOX Pico through ctypes: German at 16 kHz, as loud as the English voice, never clipping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tom.engine.tts import VoiceError, level
from tom.engine.tts.base import PEAK, TARGET_RMS
from tom.engine.tts.pico import LANG_DIR, PicoVoice, language_files

needs_pico = pytest.mark.skipif(not (LANG_DIR / "de-DE_ta.bin").is_file(),
                                reason="SVOX Pico is not installed "
                                       "(sudo scripts/install-system-packages.sh runtime)")


@needs_pico
def test_pico_speaks_german_at_the_english_voices_level():
    voice = PicoVoice("de")
    try:
        said = [voice.synthesize(t) for t in (
            "Guten Tag, hier ist die Radwerkstatt Brandt.",
            "Am Samstag haben wir von zehn bis vierzehn Uhr geöffnet.",
            "Grüße aus der Mühle, schönen Tag noch!")]
    finally:
        voice.close()
    assert all(s.rate == 16000 and len(s.samples) > 16000 for s in said)
    audio = np.concatenate([s.samples for s in said])
    rms = float(np.sqrt(np.mean(audio ** 2)))
    assert 0.7 * TARGET_RMS < rms < 1.3 * TARGET_RMS
    assert float(np.max(np.abs(audio))) <= PEAK


@needs_pico
def test_pico_survives_empty_text_and_closes_twice():
    voice = PicoVoice("de")
    assert len(voice.synthesize("").samples) < 1600
    voice.close()
    voice.close()


def test_level_scales_and_caps_peaks():
    loud = np.array([0.0, 0.5, -2.0, 1.0], dtype=np.float32)
    out = level(loud, 1.0)
    assert float(np.max(np.abs(out))) == pytest.approx(PEAK)
    assert level(np.array([0.1], dtype=np.float32), 0.5)[0] == pytest.approx(0.05)


def test_missing_files_name_the_install_command(tmp_path: Path):
    with pytest.raises(VoiceError, match="install-system-packages.sh runtime.*libttspico0"):
        language_files("de", tmp_path)
    with pytest.raises(VoiceError, match="no voice for language 'nl'"):
        language_files("nl", tmp_path)
