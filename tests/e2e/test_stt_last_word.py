"""How sure Whisper is of the last word it wrote (`Transcript.last_word_prob`), on the real
tiny.en: the sign that tells a sentence the caller finished from one Whisper finished for them."""

from __future__ import annotations

import numpy as np
import pytest

from tom.config import Settings, TurnsSettings
from tom.engine.stt import SAMPLE_RATE, SpeechToText, load_whisper
from tom.models import resolve_stt

pytestmark = pytest.mark.e2e
SURE = TurnsSettings().sure_word_prob
QUESTION = "Where exactly is your workshop?"


@pytest.fixture(scope="module")
def stt() -> SpeechToText:
    settings = Settings.from_dict({})
    return SpeechToText(load_whisper(str(resolve_stt(settings).path), settings.stt), settings.stt)


@pytest.fixture(scope="module")
def spoken(speech) -> np.ndarray:
    return np.concatenate([speech(QUESTION, SAMPLE_RATE), np.zeros(SAMPLE_RATE // 3, np.float32)])


def test_a_clearly_spoken_last_word_is_believed(stt, spoken):
    heard = stt.transcribe(spoken)
    assert "workshop" in heard.text.lower()
    assert SURE <= heard.last_word_prob < 1.0  # measured, not the "not asked" 1.0


def test_a_last_word_the_caller_did_not_say_is_not(stt, spoken):
    encoded = stt.encode(spoken)
    audio_s = len(spoken) / SAMPLE_RATE
    said = stt.last_word_prob(encoded, stt.prompt, QUESTION, audio_s)
    invented = stt.last_word_prob(encoded, stt.prompt, "Where exactly is your banana?", audio_s)
    assert invented < SURE <= said
