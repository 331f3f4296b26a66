from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from tom.audio import pcm16_to_float, resample
from tom.bench.synth import CALLER_STYLES, CallerVoice, LineOptions
from tom.config import Settings
from tom.engine.vad import SileroStream, TurnDetector, load_silero
from tom.models import resolve_vad


@pytest.fixture(scope="module")
def session():
    return load_silero(str(resolve_vad(Settings()).path), 1)


def run(session, audio, **vad):
    settings = Settings.from_dict({"vad": vad}).vad
    starts, turns = [], []
    det = TurnDetector(SileroStream(session), settings, on_speech_start=starts.append,
                       on_turn=turns.append)
    t = 0
    for i in range(0, len(audio), 320):  # 20 ms frames as a phone line delivers them
        t += 20_000_000
        det.feed(audio[i:i + 320].astype(np.float32), end_ts_ns=t)
    return starts, turns


def test_speech_makes_one_turn(session, speech):
    audio = np.concatenate([np.zeros(8000), speech("What time do you open on Saturday?"),
                            np.zeros(16000)])
    starts, turns = run(session, audio)
    assert len(starts) == 1 and len(turns) == 1
    turn = turns[0]
    spoken_s = len(speech("What time do you open on Saturday?")) / 16000
    assert abs(len(turn.audio) / 16000 - spoken_s) < 0.8
    # end of turn is declared end_silence_ms (300) after the last voiced chunk
    assert 250e6 <= turn.detected_ns - turn.speech_end_ns <= 400e6


def test_two_utterances_make_two_turns(session, speech):
    gap = np.zeros(16000)
    audio = np.concatenate([gap, speech("Hello there."), gap, speech("Goodbye now."), gap])
    _, turns = run(session, audio)
    assert len(turns) == 2


def test_silence_and_noise_make_no_turn(session):
    rng = np.random.default_rng(1)
    silence = np.zeros(16000 * 3)
    hiss = rng.normal(0, 0.01, 16000 * 3)
    hum = 0.2 * np.sin(2 * np.pi * 50 * np.arange(16000 * 3) / 16000)
    for audio in (silence, hiss, hum):
        starts, turns = run(session, audio)
        assert starts == [] and turns == []


def test_longer_end_silence_waits_longer(session, speech):
    audio = np.concatenate([np.zeros(8000), speech("Is anybody there?"), np.zeros(32000)])
    _, short = run(session, audio, end_silence_ms=200)
    _, long = run(session, audio, end_silence_ms=800)
    wait = lambda t: t.detected_ns - t.speech_end_ns  # noqa: E731
    assert wait(long[0]) > wait(short[0]) + 400e6


def test_a_short_word_after_a_long_silence_is_heard(session, speech):
    """Silero's state drifts over long silence; the detector keeps it fresh."""
    from tom.audio import pcm16_to_float, resample
    from tom.bench.synth import CallerVoice

    said = CallerVoice().say("Bye!")  # the bench's caller: phone band, μ-law
    bye = resample(pcm16_to_float(said.pcm), said.rate, 16000)
    audio = np.concatenate([np.zeros(16000 * 12), bye, np.zeros(16000)])
    starts, turns = run(session, audio)
    assert len(starts) == 1 and len(turns) == 1


@pytest.mark.parametrize("shift", [0, 128, 256, 384])
def test_a_short_closing_turn_is_heard_wherever_the_chunks_fall(session, shift):
    """'Great, thanks. Bye!' on a phone line, by each of the bench's caller voices, starting at
    four offsets into Silero's 32 ms chunks. faster-whisper's v6 export heard none of it at some
    offsets (probabilities peaking near 0.4): the caller got the 5 s re-prompt instead."""
    voice = CallerVoice()
    for seed, style in enumerate(CALLER_STYLES):
        said = voice.say("Great, thanks. Bye!", "en", style, LineOptions(), seed=seed)
        audio = np.concatenate([np.zeros(32000 + shift), resample(pcm16_to_float(said.pcm), 8000,
                                                                  16000), np.zeros(16000)])
        starts, turns = run(session, audio)
        assert starts and turns, (style, shift)


def test_an_onnx_file_that_is_not_silero_is_refused_at_load():
    other = Path(onnxruntime.__file__).parent / "datasets" / "sigmoid.onnx"
    with pytest.raises(ValueError, match="not a Silero VAD model"):
        load_silero(str(other), 1)
