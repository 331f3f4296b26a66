"""`tom bench --babble`: other callers' words, several at once, under the caller at an SNR."""

from __future__ import annotations

import numpy as np
import pytest

from tom.audio import float_to_pcm16
from tom.bench.babble import TALKERS, make_babble, pick_texts
from tom.bench.cli import options_from_args, register
from tom.bench.corpus import CallScript, Corpus, CorpusError, CorpusTurn
from tom.bench.run import BenchOptions, plan_calls
from tom.bench.synth import LineOptions, SpokenAudio, VoiceStyle, mix_at_snr, on_the_line

POOL = ["Are you open on Saturday?", "How much is a new chain?", "Can I book a repair?",
        "Where is the workshop?", "Do you sell helmets?", "Thanks, goodbye!"]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


_PLAIN, _LINE = VoiceStyle(), LineOptions()


class _Voice:
    """Each text as its own tone (pitch from the text), so talkers can be told apart."""

    model_path = None

    def __init__(self) -> None:
        self.said: list[str] = []

    def say(self, text: str, language: str = "en", style: VoiceStyle = _PLAIN,
            options: LineOptions = _LINE, seed: int = 0,
            babble: np.ndarray | None = None) -> SpokenAudio:
        self.said.append(text)
        hz = 150 + 20 * (sum(map(ord, text)) % 40)
        n = 4000 + 100 * len(text)
        audio = (0.3 * np.sin(2 * np.pi * hz * np.arange(n) / 8000)).astype(np.float32)
        if options.babble_snr_db is not None and babble is not None:
            audio = mix_at_snr(audio, babble, options.babble_snr_db)
        return SpokenAudio(float_to_pcm16(audio), 8000, 0, n)


def test_the_talkers_say_other_texts_than_the_caller():
    for seed in range(10):
        texts = pick_texts(POOL, POOL[0], seed)
        assert len(texts) == TALKERS == len(set(texts)) and POOL[0] not in texts
    assert pick_texts(POOL, POOL[0], 4) == pick_texts(POOL, POOL[0], 4)
    assert len({tuple(pick_texts(POOL, POOL[0], s)) for s in range(10)}) > 1
    assert set(pick_texts(["a", "b"], "a", 0)) == {"b"}  # a small pool repeats its others
    with pytest.raises(ValueError, match="other utterance"):
        pick_texts(["only me"], "only me", 0)


def test_babble_is_several_voices_at_once_and_reproducible():
    voice = _Voice()
    babble = make_babble(voice, POOL, POOL[0], "en", seed=7)
    assert POOL[0] not in voice.said and len(voice.said) == TALKERS
    assert _rms(babble) == pytest.approx(1.0, rel=1e-3)
    assert len(babble) == max(4000 + 100 * len(t) for t in voice.said)
    spectrum = np.abs(np.fft.rfft(babble))
    peaks = np.flatnonzero(spectrum > 0.2 * spectrum.max())
    tones = {round(p * 8000 / len(babble) / 20) for p in peaks}
    assert len(tones) >= 2  # more than one talker is heard at once
    assert np.array_equal(babble, make_babble(_Voice(), POOL, POOL[0], "en", seed=7))
    assert not np.array_equal(babble, make_babble(_Voice(), POOL, POOL[0], "en", seed=8))


def test_babble_is_mixed_under_the_speech_at_the_snr():
    t = np.arange(16000) / 8000
    speech = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    babble = make_babble(_Voice(), POOL, "", "en", seed=1)  # shorter than the speech: looped
    for snr in (0.0, 10.0, 20.0):
        mixed = mix_at_snr(speech, babble, snr)
        assert 20 * np.log10(_rms(speech) / _rms(mixed - speech)) == pytest.approx(snr, abs=0.01)
    # on the line: the SNR is of the voiced part, the babble also fills the lead-in
    tone = (0.3 * np.sin(2 * np.pi * 300 * np.arange(8000) / 8000)).astype(np.float32)
    line = LineOptions(phone_path=False, babble_snr_db=10.0)
    spoken = on_the_line(tone, 8000, line, seed=0, babble=babble)
    x = np.frombuffer(spoken.pcm, dtype="<i2").astype(np.float64) / 32768
    assert _rms(x[:spoken.speech_start]) > 0.01
    clean = on_the_line(tone, 8000, LineOptions(phone_path=False), seed=0)
    y = np.frombuffer(clean.pcm, dtype="<i2").astype(np.float64) / 32768
    voiced = slice(spoken.speech_start, spoken.speech_end)
    assert 20 * np.log10(_rms(y[voiced]) / _rms((x - y)[voiced])) == pytest.approx(10, abs=0.5)


def test_planned_calls_mix_babble_of_other_texts_under_every_utterance():
    turns = [CorpusTurn(f"t{i}", text, "en", "question") for i, text in enumerate(POOL)]
    script = CallScript("s", "en", tuple(turns[:2]))
    corpus = Corpus({t.id: t for t in turns}, (script,))
    voice = _Voice()
    [call] = plan_calls(corpus, 1, "en", voice, BenchOptions(babble_snr_db=5.0))  # type: ignore[arg-type]
    quiet = plan_calls(corpus, 1, "en", _Voice(), BenchOptions())  # type: ignore[arg-type]
    for noisy, clean in zip(call.turns, quiet[0].turns, strict=True):
        assert noisy.audio != clean.audio
    again = plan_calls(corpus, 1, "en", _Voice(), BenchOptions(babble_snr_db=5.0))  # type: ignore[arg-type]
    assert [t.audio for t in again[0].turns] == [t.audio for t in call.turns]
    lonely = Corpus({"t0": turns[0]}, (CallScript("s", "en", (turns[0],)),))
    with pytest.raises(CorpusError, match="--babble"):
        plan_calls(lonely, 1, "en", _Voice(), BenchOptions(babble_snr_db=5.0))  # type: ignore[arg-type]


def test_the_command_line_takes_both_conditions():
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", "--babble", "10", "--backchannels"])
    options = options_from_args(args)
    assert options.babble_snr_db == 10.0 and options.backchannels
    plain = options_from_args(parser.parse_args(["bench"]))
    assert plain.babble_snr_db is None and not plain.backchannels
    text = parser._subparsers._group_actions[0].choices["bench"].format_help()  # type: ignore[union-attr]
    assert "--babble SNR_DB" in text and "--backchannels" in text
