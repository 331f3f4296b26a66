"""An earlier look at a pause (TurnDetector `on_early`, `turns.early_look_ms`): only a sure
verdict ends the turn there; anything else leaves it to the look at `judge_after_ms`."""

from __future__ import annotations

import numpy as np
from test_turn_shorten import LoudIsSpeech
from test_turn_words import ended_after_ms

from tom.config import Settings
from tom.engine.vad import CHUNK, CHUNK_MS, TurnDetector

EARLY = {"turns": {"early_look_ms": 160, "early_look_threshold": 0.95}}


def run(early_says: bool | None) -> tuple[int | None, list[str]]:
    """Silence (ms) after the voice at which the turn ended (None: not within 2 s), and the
    looks asked in order; the early look answers `early_says` at once (None: not at all),
    the later one "finished"."""
    turns: list = []
    asked: list[str] = []
    det: TurnDetector

    def early(audio: np.ndarray, token: int) -> None:
        asked.append("early")
        if early_says is not None:
            det.verdict(token, early_says)

    def late(audio: np.ndarray, token: int) -> None:
        asked.append("late")
        det.verdict(token, True)

    det = TurnDetector(LoudIsSpeech(), Settings.from_dict({}).vad, on_speech_start=lambda _: None,
                       on_turn=turns.append, on_judge=late, judge_after_ms=256,
                       unfinished_ms=1400, on_early=early, early_ms=160)
    voice, quiet = np.full(CHUNK, 0.5, np.float32), np.zeros(CHUNK, np.float32)
    for _ in range(20):
        det.feed(voice)
    for n in range(1, 2000 // CHUNK_MS):
        det.feed(quiet)
        if turns:
            return n * CHUNK_MS, asked
    return None, asked


def test_a_sure_early_verdict_ends_the_turn_there():
    assert run(True) == (160, ["early"])


def test_an_unsure_or_missing_early_verdict_leaves_it_to_the_later_look():
    assert run(False) == (256, ["early", "late"])
    assert run(None) == (256, ["early", "late"])


async def test_a_sure_sound_and_finished_words_end_at_the_early_look() -> None:
    assert await ended_after_ms(0.97, "Where are you located?", **EARLY) < 240


async def test_a_less_sure_sound_waits_for_the_later_look() -> None:
    assert 240 <= await ended_after_ms(0.9, "Where are you located?", **EARLY) < 500


async def test_open_words_are_not_ended_early_however_sure_the_sound() -> None:
    assert await ended_after_ms(0.97, "I'd like to book a", **EARLY) >= 1400
