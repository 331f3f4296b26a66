"""Whisper's last word as one decoder pass over the text reads it (`Transcript.last_word`), on
the real tiny.en: how sure it is of the word and where it puts it tell a sentence the caller
finished from one Whisper finished for them (tom/call/finished.py `doubts_last_word`)."""

from __future__ import annotations

import numpy as np
import pytest

from tom.call.finished import doubts_last_word
from tom.config import Settings, TurnsSettings
from tom.engine.stt import SAMPLE_RATE, SpeechToText, Transcript, load_whisper
from tom.models import resolve_stt

pytestmark = pytest.mark.e2e
TURNS = TurnsSettings()
QUESTION = "Where exactly is your workshop?"
SILENCE_S = 1 / 3


@pytest.fixture(scope="module")
def stt() -> SpeechToText:
    settings = Settings.from_dict({})
    return SpeechToText(load_whisper(str(resolve_stt(settings).path), settings.stt), settings.stt)


@pytest.fixture(scope="module")
def voice(speech) -> np.ndarray:
    """The question without the silence piper leaves after it."""
    said = speech(QUESTION, SAMPLE_RATE)
    return said[: np.flatnonzero(np.abs(said) > 0.02)[-1] + 1]


@pytest.fixture(scope="module")
def spoken(voice) -> np.ndarray:
    return np.concatenate([voice, np.zeros(int(SAMPLE_RATE * SILENCE_S), np.float32)])


def words(stt: SpeechToText, audio: np.ndarray, text: str) -> Transcript:
    """`text` as the words of `audio`, its last word scored and placed by the decoder."""
    encoded = stt.encode(audio)
    audio_s = len(audio) / SAMPLE_RATE
    return Transcript(text, "en", 0.0, 0.0, audio_s,
                      last_word=stt.last_word(encoded, stt.prompt, text, audio_s))


def test_a_clearly_spoken_last_word_is_believed(stt, spoken):
    heard = stt.transcribe(spoken)
    assert "workshop" in heard.text.lower()
    assert TURNS.sure_word_prob <= heard.last_word.prob < 1.0  # measured, not "not asked"
    assert heard.last_word.start_s is not None
    assert not doubts_last_word(heard, SILENCE_S, TURNS)


def test_a_last_word_the_caller_did_not_say_is_unsure(stt, spoken):
    said = words(stt, spoken, QUESTION).last_word
    invented = words(stt, spoken, "Where exactly is your banana?").last_word
    assert invented.prob < TURNS.sure_word_prob <= said.prob


def test_a_word_added_after_the_last_one_said_is_placed_in_the_silence(stt, spoken, voice):
    said = words(stt, spoken, QUESTION)
    added = words(stt, spoken, "Where exactly is your workshop today?")
    voice_s = len(voice) / SAMPLE_RATE
    assert said.last_word.start_s is not None and added.last_word.start_s is not None
    assert said.last_word.start_s < voice_s - TURNS.added_word_ms / 1000 <= added.last_word.start_s
    only_where = TurnsSettings(sure_word_prob=0.0)  # the place alone tells them apart
    assert not doubts_last_word(said, SILENCE_S, only_where)
    assert doubts_last_word(added, SILENCE_S, only_where)
