"""Caller synthesis: disk cache, per-caller variety, noise at a given SNR, the phone path."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tom.audio import ulaw_decode, ulaw_encode
from tom.bench.hesitation import Gap
from tom.bench.synth import (
    CALLER_STYLES,
    CallerVoice,
    LineOptions,
    mix_noise,
    on_the_line,
    phone_path,
    quietest_point,
    with_pause,
)


@pytest.fixture(scope="module")
def voice(tmp_path_factory):
    return CallerVoice(cache_dir=tmp_path_factory.mktemp("bench-cache"))


def test_synthesis_is_cached_on_disk(voice, monkeypatch):
    first = voice.say("Are you open on Saturday?", "en", CALLER_STYLES[1])
    assert len(list(voice.cache_dir.glob("*.wav"))) >= 1

    def no_piper(*_a, **_k):
        raise AssertionError("should have come from the cache")

    monkeypatch.setattr(voice, "_synthesize", no_piper)
    again = voice.say("Are you open on Saturday?", "en", CALLER_STYLES[1])
    assert again.pcm == first.pcm


def test_cache_key_depends_on_text_voice_params_and_language(voice):
    key = voice.cache_key("Hallo", "de", CALLER_STYLES[0])
    assert key == voice.cache_key("Hallo", "de", CALLER_STYLES[0])
    assert key != voice.cache_key("Hallo!", "de", CALLER_STYLES[0])
    assert key != voice.cache_key("Hallo", "en", CALLER_STYLES[0])
    assert key != voice.cache_key("Hallo", "de", CALLER_STYLES[1])


def test_callers_differ_and_speech_bounds_cover_the_padding(voice):
    options = LineOptions(lead_ms=200, tail_ms=100)
    # piper draws each phoneme's length with noise_w, so two styles' lengths overlap from run
    # to run (1.56 against 1.58 s once); without that noise the length scales alone decide
    slow_style, fast_style = (replace(style, noise_w=0.0) for style in CALLER_STYLES[1:3])
    slow = voice.say("I would like to book a service.", "en", slow_style, options)
    fast = voice.say("I would like to book a service.", "en", fast_style, options)
    assert slow.duration_s > fast.duration_s  # length_scale 1.12 vs 0.9
    assert slow.rate == 8000 and slow.speech_start == 1600
    assert slow.speech_end == len(slow.pcm) // 2 - 800


def test_german_text_is_spoken(voice):
    spoken = voice.say("Grüß Gott, haben Sie am Samstag geöffnet?", "de")
    assert spoken.duration_s > 1.0
    x = np.frombuffer(spoken.pcm, "<i2")
    assert np.abs(x[spoken.speech_start:spoken.speech_end]).max() > 3000


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_noise_is_mixed_at_the_requested_snr():
    t = np.arange(16000) / 8000
    speech = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for snr in (0.0, 10.0, 20.0):
        noisy = mix_noise(speech, snr, seed=3)
        measured = 20 * np.log10(_rms(speech) / _rms(noisy - speech))
        assert measured == pytest.approx(snr, abs=0.01)
    assert np.array_equal(mix_noise(speech, 10, seed=1), mix_noise(speech, 10, seed=1))
    assert not np.array_equal(mix_noise(speech, 10, seed=1), mix_noise(speech, 10, seed=2))


def test_phone_path_keeps_the_voice_band_and_is_mu_law():
    t = np.arange(8000) / 8000
    low = (0.3 * np.sin(2 * np.pi * 60 * t)).astype(np.float32)
    mid = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    assert _rms(phone_path(low, 8000)) < 0.1 * _rms(low)
    assert _rms(phone_path(mid, 8000)) == pytest.approx(_rms(mid), rel=0.05)
    pcm = (phone_path(mid, 8000) * 32768).astype("<i2").tobytes()
    assert ulaw_decode(ulaw_encode(pcm)) == pcm  # already on the μ-law grid


def test_a_pause_goes_into_the_quiet_gap_mid_utterance():
    rate = 8000
    tone = 0.3 * np.sin(np.arange(rate) * 2 * np.pi * 300 / rate).astype(np.float32)
    gap = np.zeros(rate // 25, np.float32)  # 40 ms between two "words"
    x = np.concatenate([tone, gap, tone])
    paused = with_pause(x, rate, 1000, quietest_point(x, rate))
    assert len(paused) == len(x) + rate
    middle = paused[rate:rate + rate + len(gap)]
    assert np.abs(middle).max() == 0.0  # the pause joined the gap: no word was cut
    spoken = on_the_line(x, rate, LineOptions(phone_path=False, pause_ms=1000), seed=0)
    assert spoken.speech_end - spoken.speech_start == len(paused)
    assert spoken.pause_at is not None  # where the second of silence begins
    assert np.abs(np.frombuffer(spoken.pcm, "<i2")[spoken.pause_at:][:rate]).max() == 0
    short = on_the_line(tone, rate, LineOptions(phone_path=False, pause_ms=1000), seed=0)
    assert short.speech_end - short.speech_start == len(tone)  # under 1.5 s: no pause
    assert not short.paused


def test_a_pause_at_a_known_word_gap_goes_there_not_mid_way():
    rate = 8000
    tone = 0.3 * np.sin(np.arange(rate // 2) * 2 * np.pi * 300 / rate).astype(np.float32)
    gap = np.zeros(rate // 25, np.float32)
    x = np.concatenate([tone, gap, tone, gap, tone, gap, tone])  # gaps at ~25, 50, 75 %
    first_gap = Gap(len(tone) / rate, (len(tone) + len(gap)) / rate)
    spoken = on_the_line(x, rate, LineOptions(phone_path=False, pause_ms=1000), seed=0,
                         pause_in=first_gap)
    pcm = np.frombuffer(spoken.pcm, dtype="<i2")[spoken.speech_start:spoken.speech_end]
    assert spoken.paused
    assert np.abs(pcm[len(tone):len(tone) + rate]).max() == 0  # the first gap, not the middle
    assert np.abs(pcm[:len(tone)]).max() > 0
