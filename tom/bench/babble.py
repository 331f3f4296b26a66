"""`tom bench --babble SNR_DB`: other people talking behind the caller (a café, an open office).

The babble is made of the bench's own synthesised utterances of *other* corpus texts (never
the caller's own words, which would make a louder second copy of the answer), TALKERS of them
at once, each in another caller style, looped from a random point and a few dB louder or
quieter than the others. It is mixed under the caller's utterance like `--noise` mixes pink
noise: speech power over babble power is the SNR. The same seed gives the same babble.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tom.bench.synth import CALLER_STYLES, LineOptions, Speaker, loop, rms

TALKERS = 4
GAIN_SPREAD_DB = 3.0  # each talker this much louder or quieter, at most


def pick_texts(pool: Sequence[str], own: str, seed: int, talkers: int = TALKERS) -> list[str]:
    """`talkers` texts of `pool` other than `own` (distinct while the pool allows)."""
    others = sorted({t for t in pool if t.strip() and t != own})
    if not others:
        raise ValueError("babble needs at least one other utterance in the corpus")
    rng = np.random.default_rng([seed, 1])
    if len(others) >= talkers:
        return [others[int(i)] for i in rng.choice(len(others), talkers, replace=False)]
    return [others[int(i)] for i in rng.integers(0, len(others), talkers)]


def make_babble(voice: Speaker, pool: Sequence[str], own: str, language: str, seed: int,
                rate: int = 8000, talkers: int = TALKERS) -> np.ndarray:
    """TALKERS other utterances spoken at once: float32 at `rate`, RMS 1, as long as the
    longest of them (`synth.mix_at_snr` loops it under longer speech)."""
    texts = pick_texts(pool, own, seed, talkers)
    rng = np.random.default_rng([seed, 2])
    voices = []
    for k, text in enumerate(texts):
        style = CALLER_STYLES[(seed + k + 1) % len(CALLER_STYLES)]
        spoken = voice.say(text, language, style, LineOptions(
            rate=rate, phone_path=False, lead_ms=0, tail_ms=0), seed)
        voices.append(np.frombuffer(spoken.pcm, dtype="<i2").astype(np.float32) / 32768.0)
    length = max(len(v) for v in voices)
    out = np.zeros(length, np.float64)
    for v in voices:
        gain = 10 ** (rng.uniform(-GAIN_SPREAD_DB, GAIN_SPREAD_DB) / 20)
        out += gain * np.roll(_unit(loop(v, length)), int(rng.integers(0, length)))
    return _unit(out).astype(np.float32)


def _unit(v: np.ndarray) -> np.ndarray:
    level = rms(v)
    return v / level if level else v
