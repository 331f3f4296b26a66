"""A voice per language: [tts.voices], tts.model_path for a piper voice a user brings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tom import models
from tom.config import ConfigError, Settings
from tom.engine.tts import VoiceError
from tom.engine.tts.voices import Engine, choose, load_voices

JOE = models._piper_source(Settings()).path
needs_pico = pytest.mark.skipif(not Path("/usr/share/pico/lang/de-DE_ta.bin").is_file(),
                                reason="SVOX Pico is not installed "
                                       "(sudo scripts/install-system-packages.sh runtime)")


def _settings(**sections: dict[str, object]) -> Settings:
    return Settings.from_dict(sections)


def test_english_only_loads_piper_alone_as_before():
    source = models.resolve_tts(_settings())
    assert source.name == "piper en_US-joe-medium" and source.path == JOE
    assert [c.engine for c in models.voice_choices(_settings())] == [Engine.PIPER]


@needs_pico
def test_german_and_english_get_pico_and_piper():
    s = _settings(assistant={"languages": ["de", "en"]}, stt={"model": "base"})
    choices = models.voice_choices(s)
    assert [(c.language, c.engine) for c in choices] == [("de", Engine.PICO),
                                                         ("en", Engine.PIPER)]
    assert models.resolve_tts(s).name == "SVOX Pico de (de) + piper en_US-joe-medium (en)"


def test_a_piper_voice_brought_for_german_via_model_path():
    """`tts.model_path` + `[tts.voices] de = "piper"`: the user's de_DE voice speaks German (the
    English voice file stands in for a downloaded de_DE one)."""
    s = _settings(assistant={"language": "de"}, tts={"model_path": str(JOE),
                                                     "voices": {"de": "piper"}})
    (choice,) = models.voice_choices(s)
    assert choice.engine is Engine.PIPER and choice.path == JOE
    assert models.resolve_tts(s).origin == "path"
    voices = load_voices([choice], s.tts)
    said = voices.synthesize("Guten Tag.", "de")
    assert said.rate == 22050 and np.abs(said.samples).max() > 0.05


def test_a_voice_path_per_language(tmp_path: Path):
    s = _settings(tts={"voices": {"en": str(JOE)}})
    assert choose(["en"], s.tts, lambda: JOE)[0].path == JOE
    lonely = tmp_path / "de_DE-x.onnx"
    lonely.write_bytes(b"")
    with pytest.raises(VoiceError, match=r"tts.voices.de.*\.onnx\.json"):
        choose(["de"], _settings(tts={"voices": {"de": str(lonely)}}).tts, lambda: JOE)


def test_voices_from_the_environment_and_bad_values():
    s = Settings.load(env={"TOM_TTS_VOICES": "de=piper, en=pico"})
    assert s.tts.voices == {"de": "piper", "en": "pico"}
    with pytest.raises(ConfigError, match="tts.voices"):
        Settings.load(env={"TOM_TTS_VOICES": "de"})
    with pytest.raises(ConfigError, match="tts.voices"):
        Settings.from_dict({"tts": {"voices": {"de": 3}}})


def test_languages_tom_cannot_speak_or_hear():
    with pytest.raises(ConfigError, match=r"assistant.languages.*TOM speaks en, de"):
        models.voice_choices(_settings(assistant={"languages": ["de", "fr"]}))
    with pytest.raises(models.ModelError, match='stt.model = "base"'):
        models.resolve_stt(_settings(assistant={"languages": ["de", "en"]}))


def test_missing_pico_is_a_model_error_naming_apt(tmp_path: Path):
    s = _settings(assistant={"language": "de"}, tts={"pico_dir": str(tmp_path)})
    with pytest.raises(models.ModelError, match="SVOX Pico.*install-system-packages.sh runtime"):
        models.resolve_tts(s)
