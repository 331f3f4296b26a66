"""An unfinished verdict whose words read finished ends the pause sooner (TurnDetector.shorten)."""

from __future__ import annotations

import numpy as np

from tom.config import Settings
from tom.engine.vad import CHUNK, CHUNK_MS, TurnDetector


class LoudIsSpeech:
    """A VAD stand-in: a chunk is speech when it is loud."""

    def __call__(self, chunk: np.ndarray) -> float:
        return 1.0 if np.abs(chunk).max() > 0.1 else 0.0

    def reset(self) -> None:
        pass


def run(words_finished: bool | None, *, stale: bool = False) -> int | None:
    """Silence (ms) after the voice at which the turn ended; None: not within 2 s."""
    turns: list = []
    asked: list[int] = []
    det = TurnDetector(LoudIsSpeech(), Settings.from_dict({}).vad, on_speech_start=lambda _: None,
                       on_turn=turns.append, on_judge=lambda audio, token: asked.append(token),
                       judge_after_ms=256, unfinished_ms=1400)
    voice, quiet = np.full(CHUNK, 0.5, np.float32), np.zeros(CHUNK, np.float32)
    for _ in range(20):
        det.feed(voice)
    for n in range(1, 2000 // CHUNK_MS):
        det.feed(quiet)
        if turns:
            return n * CHUNK_MS
        if asked and n == 256 // CHUNK_MS:
            token = asked[-1] - 1 if stale else asked[-1]
            det.verdict(token, False)
        if words_finished is not None and asked and n == 400 // CHUNK_MS:
            if words_finished:
                det.shorten(asked[-1] - 1 if stale else asked[-1], 640)
    return None


def test_unfinished_waits_the_long_fallback():
    assert run(None) == 1400 // CHUNK_MS * CHUNK_MS  # whole 32 ms chunks


def test_finished_words_end_it_after_the_shorter_silence():
    assert run(True) == 640


def test_a_stale_token_changes_nothing():
    assert run(True, stale=True) == 1400 // CHUNK_MS * CHUNK_MS


def test_the_model_is_asked_ahead_on_what_the_look_will_hear_and_ends_it_at_the_look():
    """Asked 64 ms before the look (its run takes that long on loaded cores), on the turn so far
    with its last 64 ms of silence twice: a verdict given at once still ends it at the look."""
    turns: list = []
    asked: list[tuple[int, int]] = []  # (silence in ms when asked, samples asked about)
    det: TurnDetector
    silent = 0

    def judge(audio: np.ndarray, token: int) -> None:
        asked.append((silent * CHUNK_MS, len(audio)))
        det.verdict(token, True)

    det = TurnDetector(LoudIsSpeech(), Settings.from_dict({}).vad, on_speech_start=lambda _: None,
                       on_turn=turns.append, on_judge=judge, judge_after_ms=256)
    voice, quiet = np.full(CHUNK, 0.5, np.float32), np.zeros(CHUNK, np.float32)
    for _ in range(20):
        det.feed(voice)
    spoken = len(det.speech)
    while not turns:
        silent += 1
        det.feed(quiet)
    assert silent * CHUNK_MS == 256
    assert asked == [(192, (spoken + 256 // CHUNK_MS) * CHUNK)]
