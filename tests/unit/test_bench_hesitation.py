"""`--pauses`: a hesitation goes after a word no sentence ends on, found from the words."""

from __future__ import annotations

import numpy as np
import pytest

from tom.bench.hesitation import WHISPER_SLACK_S, Gap, WordTime, pause_gap, split_for_pause
from tom.bench.synth import CallerVoice, quietest_point, with_pause


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


def _timed(*words: str) -> list[WordTime]:
    return [WordTime(w, 0.3 * i, 0.3 * i + 0.25) for i, w in enumerate(words)]


def _around(at: float) -> Gap:
    return Gap(at - WHISPER_SLACK_S, at + WHISPER_SLACK_S)


def test_the_pause_goes_in_the_gap_after_the_function_word_as_whisper_timed_it():
    words = _timed("I'd", "like", "to", "book", "a", "service", "for", "my", "bike.")
    gap = pause_gap("I'd like to book a service for my bike.", words)
    assert gap == _around((words[4].end_s + words[5].start_s) / 2)


def test_the_pair_nearest_its_place_in_the_text_is_taken():
    # "a" + "service" twice: the split is after the first "a" near the middle of the text
    text = "I'd like a service and a service for my bike too."
    words = _timed("I'd", "like", "a", "service", "and", "a", "service", "for", "my", "bike", "too.")
    first, _ = split_for_pause(text) or ("", "")
    index = len(first.split()) - 1
    assert pause_gap(text, words) == _around((words[index].end_s + words[index + 1].start_s) / 2)


def test_no_pause_where_the_text_has_no_point_or_whisper_misheard_it():
    assert pause_gap("Thank you very much.", _timed("Thank", "you", "very", "much.")) is None
    misheard = _timed("I'd", "like", "to", "book", "the", "service", "for", "my", "bike.")
    assert pause_gap("I'd like to book a service for my bike.", misheard) is None


def test_the_pause_goes_into_the_gap_nearest_the_share_asked_for():
    rate = 8000
    tone = 0.3 * np.sin(np.arange(rate // 2) * 2 * np.pi * 300 / rate).astype(np.float32)
    gap = np.zeros(rate // 25, np.float32)
    x = np.concatenate([tone, gap, tone, gap, tone, gap, tone])  # gaps at ~25, 50, 75 %
    late = with_pause(x, rate, 1000, quietest_point(x, rate, near=0.75, window=0.05))
    third_gap = 3 * len(tone) + 2 * len(gap)
    assert np.abs(late[third_gap:third_gap + rate]).max() == 0.0
    assert np.abs(late[:third_gap]).max() > 0  # the words before it are intact


def test_the_gap_piper_timed_is_found_by_counting_espeaks_words(tmp_path):
    voice = CallerVoice(cache_dir=tmp_path)
    gaps = {k: Gap(k, k + 0.05) for k in range(1, 12)}  # the gap after word k
    assert voice._piper_gap("I'd like to book a service for my bike.", "en", gaps) == gaps[5]
    # espeak speaks "on the" as one word: "Are you open on the" is four of its words
    assert voice._piper_gap("Are you open on the twenty-fourth of December?", "en",
                            gaps) == gaps[4]
    assert voice._piper_gap("Thank you very much.", "en", gaps) is None
