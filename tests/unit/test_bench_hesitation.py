"""`--pauses`: a hesitation goes after a word no sentence ends on, found from the words."""

from __future__ import annotations

import numpy as np
import pytest

from tom.bench.hesitation import pause_share, split_for_pause
from tom.bench.synth import with_pause


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("I'd like to book a service for my bike.", "en", ("I'd like to book a", "service for my bike.")),
    ("Kann ich bitte mit einem Mitarbeiter sprechen?", "de",
     ("Kann ich bitte mit einem", "Mitarbeiter sprechen?")),
    ("Thank you very much.", "en", None),  # no function word: no hesitation point
    ("Sorry, and goodbye.", "en", None),  # "and" with one word before it: too early
])
def test_the_split_is_after_a_function_word_near_the_middle(text, language, expected):
    assert split_for_pause(text, language) == expected


def test_a_function_word_before_punctuation_is_a_clause_end_not_a_hesitation():
    assert split_for_pause("Where are you located, and when are you open?") == (
        "Where are you located, and", "when are you open?")
    assert split_for_pause("Is it for, erm, the brakes?") == ("Is it for, erm, the", "brakes?")


def test_the_share_comes_from_the_voiced_lengths_of_the_halves():
    rate = 8000
    lengths = {"I'd like to book a": 3 * rate, "service for my bike.": rate}

    def speak(part: str) -> tuple[np.ndarray, int]:
        voiced = np.full(lengths[part], 0.3, np.float32)
        return np.concatenate([np.zeros(rate // 4, np.float32), voiced]), rate

    def bounds(pcm: bytes, r: int) -> tuple[int, int]:
        x = np.frombuffer(pcm, dtype="<i2")
        loud = np.flatnonzero(np.abs(x) > 100)
        return int(loud[0]), int(loud[-1]) + 1

    share = pause_share(speak, bounds, "I'd like to book a service for my bike.")
    assert share == pytest.approx(0.75)
    assert pause_share(speak, bounds, "Thank you very much.") is None


def test_the_pause_goes_into_the_gap_nearest_the_share_asked_for():
    rate = 8000
    tone = 0.3 * np.sin(np.arange(rate // 2) * 2 * np.pi * 300 / rate).astype(np.float32)
    gap = np.zeros(rate // 25, np.float32)
    x = np.concatenate([tone, gap, tone, gap, tone, gap, tone])  # gaps at ~25, 50, 75 %
    late = with_pause(x, rate, 1000, near=0.75, window=0.05)
    third_gap = 3 * len(tone) + 2 * len(gap)
    assert np.abs(late[third_gap:third_gap + rate]).max() == 0.0
    assert np.abs(late[:third_gap]).max() > 0  # the words before it are intact
