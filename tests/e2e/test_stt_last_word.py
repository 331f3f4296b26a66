"""Whisper's last word as one decoder pass over the text reads it (`Transcript.last_word`), and
what it expected after the sentence end it wrote (`Transcript.more_words_prob`), on the real
tiny.en: they tell a sentence the caller finished from one Whisper finished for them
(tom/call/finished.py `doubts_end`)."""

from __future__ import annotations

import numpy as np
import pytest

from tom.audio import pcm16_to_float, resample
from tom.bench.synth import CallerVoice, LineOptions, VoiceStyle
from tom.call.finished import Ends, doubts_end, judge_pause, reads_finished
from tom.config import Settings, TurnsSettings
from tom.engine.stt import SAMPLE_RATE, SpeechToText, Transcript, load_whisper
from tom.models import resolve_stt

pytestmark = pytest.mark.e2e
TURNS = TurnsSettings()
QUESTION = "Where exactly is your workshop?"
SILENCE_S = 1 / 3
DROPPED = "How much does it cost to fix a flat tire?"
STEADY = VoiceStyle(length_scale=1.1, noise_scale=0.0, noise_w=0.0)


@pytest.fixture(scope="module")
def stt() -> SpeechToText:
    settings = Settings.from_dict({})
    return SpeechToText(load_whisper(str(resolve_stt(settings).path), settings.stt), settings.stt)


def voiced(speech, text: str) -> np.ndarray:
    """`text` spoken, without the silence piper leaves after it."""
    said = speech(text, SAMPLE_RATE)
    return said[: np.flatnonzero(np.abs(said) > 0.02)[-1] + 1]


def paused(voice: np.ndarray) -> np.ndarray:
    """`voice` as heard at a pause: followed by `SILENCE_S` of silence."""
    return np.concatenate([voice, np.zeros(int(SAMPLE_RATE * SILENCE_S), np.float32)])


@pytest.fixture(scope="module")
def voice(speech) -> np.ndarray:
    return voiced(speech, QUESTION)


@pytest.fixture(scope="module")
def spoken(voice) -> np.ndarray:
    return paused(voice)


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
    assert not doubts_end(heard, SILENCE_S, TURNS)


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
    assert not doubts_end(said, SILENCE_S, only_where)
    assert doubts_end(added, SILENCE_S, only_where)


def at_pause(caller: CallerVoice, text: str, hesitating: bool) -> np.ndarray:
    """`text` said by a bench caller without piper's two noises (the same audio on every run),
    up to where `tom bench --pauses` hesitates (after "to") or whole, then `SILENCE_S`."""
    said = caller.say(text, "en", STEADY, LineOptions(tail_ms=0, pause_ms=1000 * hesitating))
    end = said.pause_at if hesitating else said.speech_end
    assert end is not None
    return paused(resample(pcm16_to_float(said.pcm), said.rate, SAMPLE_RATE)[: end * 2])


def test_a_word_whisper_dropped_leaves_it_expecting_more(stt, tmp_path):
    """Cut off after "to", tiny.en drops the "to" and ends the sentence ("How much does it
    cost?"), sure of every word it wrote, yet gives a next word a fair chance where it ends
    it; said whole, the sentence ends there."""
    caller = CallerVoice(cache_dir=tmp_path)
    cut = stt.transcribe(at_pause(caller, DROPPED, hesitating=True))
    whole = stt.transcribe(at_pause(caller, DROPPED, hesitating=False))
    assert reads_finished(cut.text) and cut.last_word.prob > 0.9, cut  # what the rule is for
    assert whole.more_words_prob < TURNS.more_words_prob <= cut.more_words_prob, (cut, whole)
    assert judge_pause(True, cut.text, doubts_end(cut, SILENCE_S, TURNS)) is not Ends.NOW
    assert judge_pause(True, whole.text, doubts_end(whole, SILENCE_S, TURNS)) is Ends.NOW
