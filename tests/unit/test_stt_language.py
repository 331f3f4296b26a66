"""Whisper's language identification, and when a call keeps or changes its language."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tom.config import SttSettings
from tom.engine.stt import SpeechToText


class FakeWhisper:
    """Only what `identify` reads: the ranked languages of one utterance."""

    def __init__(self, ranked: list[tuple[str, float]]) -> None:
        self.ranked = ranked

    def detect_language(self, encoded: object) -> list[list[tuple[str, float]]]:
        return [[(f"<|{code}|>", p) for code, p in self.ranked]]


def stt(ranked: list[tuple[str, float]]) -> SpeechToText:
    s = SpeechToText.__new__(SpeechToText)  # no model: identify needs only detect_language
    s.model = SimpleNamespace(model=FakeWhisper(ranked))
    s.settings = SttSettings()
    s.language, s.languages = "de", ("de", "en")
    return s


@pytest.mark.parametrize(("ranked", "audio_s", "current", "expected"), [
    ([("en", 0.95), ("de", 0.03)], 1.0, None, "en"),   # first turn: a sure English caller
    ([("en", 0.57), ("de", 0.40)], 3.0, None, "de"),   # unsure: the greeting's language holds
    ([("de", 0.80), ("en", 0.10)], 2.5, "en", "de"),   # a switch mid-call, sure and long
    ([("en", 0.80), ("de", 0.10)], 1.0, "de", "de"),   # a short name sounds English: kept
    ([("fr", 0.90), ("de", 0.05)], 3.0, None, "fr"),   # a language TOM does not speak
    ([("nl", 0.98), ("de", 0.01)], 3.0, "de", "de"),   # a German caller heard as Dutch: kept
    ([("zh", 0.82), ("de", 0.10)], 1.0, "de", "de"),   # "Ja, bitte." heard as Chinese: kept
    ([("nl", 0.45), ("en", 0.30)], 3.0, "en", "en"),   # unsure about a foreign one: ours
])
def test_identify(ranked, audio_s, current, expected):
    assert stt(ranked).identify(None, audio_s, current)[0] == expected
