"""Which voice speaks which language: `[tts.voices]` (e.g. de = "pico", en = "piper").

A voice is "pico" (SVOX Pico for that language), "piper" (the piper voice of `tts.model_path`, by
default the bundled en_US-joe) or the path of another piper `.onnx` voice (a de_DE voice a user
downloaded). Only the languages TOM speaks are loaded, so an English-only TOM loads piper alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from tom.config import TtsSettings
from tom.engine.tts.base import Synthesis, TextToSpeech, VoiceError

DEFAULT_VOICES = {"de": "pico", "en": "piper"}


class Engine(StrEnum):
    PIPER = "piper"
    PICO = "pico"


@dataclass(frozen=True)
class VoiceChoice:
    """The voice for one language: an engine and, for piper, its model file."""

    language: str
    engine: Engine
    path: Path | None = None  # the piper .onnx; None for Pico

    @property
    def name(self) -> str:
        if self.engine is Engine.PICO:
            return f"SVOX Pico {self.language}"
        return f"piper {self.path.name.removesuffix('.onnx') if self.path else '?'}"


def choose(languages: Iterable[str], settings: TtsSettings, piper_path: Callable[[], Path],
           ) -> list[VoiceChoice]:
    """The voice of each language; `piper_path` resolves "piper" (tts.model_path or the bundle)."""
    configured = {**DEFAULT_VOICES, **settings.voices}
    out: list[VoiceChoice] = []
    for language in dict.fromkeys(languages):
        value = configured.get(language, Engine.PIPER.value).strip()
        if value == Engine.PICO:
            out.append(VoiceChoice(language, Engine.PICO))
        elif value == Engine.PIPER:
            out.append(VoiceChoice(language, Engine.PIPER, piper_path()))
        else:
            path = Path(value).expanduser()
            if not path.is_file() or not Path(f"{path}.json").is_file():
                raise VoiceError(f"tts.voices.{language} = {value!r}: a piper voice needs the "
                                 f"file and its .onnx.json beside it; or use \"pico\" or \"piper\"")
            out.append(VoiceChoice(language, Engine.PIPER, path))
    return out


class Voices:
    """One `TextToSpeech` per language (a voice file shared by languages is loaded once)."""

    def __init__(self, by_language: dict[str, TextToSpeech], default: str) -> None:
        self.by_language = by_language
        self.default = default

    def voice(self, language: str | None) -> TextToSpeech:
        return self.by_language.get(language or self.default) or self.by_language[self.default]

    def synthesize(self, text: str, language: str | None = None) -> Synthesis:
        return self.voice(language).synthesize(text)

    def close(self) -> None:
        for engine in self.by_language.values():
            close = getattr(engine, "close", None)
            if close is not None:
                close()


def load_voices(choices: list[VoiceChoice], settings: TtsSettings) -> Voices:
    """Load each chosen voice once (blocking: the TTS worker runs it)."""
    from tom.engine.tts.pico import PicoVoice
    from tom.engine.tts.piper import PiperVoiceEngine, load_piper

    loaded: dict[tuple[Engine, str], TextToSpeech] = {}
    by_language: dict[str, TextToSpeech] = {}
    for choice in choices:
        key = (choice.engine, choice.language if choice.engine is Engine.PICO else str(choice.path))
        if key not in loaded:
            if choice.engine is Engine.PICO:
                loaded[key] = PicoVoice(choice.language, Path(settings.pico_dir))
            else:
                assert choice.path is not None
                loaded[key] = PiperVoiceEngine(load_piper(choice.path, settings), settings)
        by_language[choice.language] = loaded[key]
    return Voices(by_language, choices[0].language)
