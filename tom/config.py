"""One validated `Settings` object, from defaults, a TOML file and `TOM_*` environment variables.

A wrong value fails at start-up with a message naming the key, the value and what is allowed.
Environment overrides are `TOM_<SECTION>_<KEY>`, e.g. `TOM_LLM_BACKEND=openai`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_origin, get_type_hints
from urllib.parse import urlsplit

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "tom.toml"


class ConfigError(ValueError):
    """A setting is wrong; the message says which, what it was and what is allowed."""


# URL settings: the schemes each accepts (an empty value always means "off" / "not used").
HTTP = ("http", "https")
REDIS = ("redis", "rediss", "unix")


def _opt(default: Any, *, choices: tuple[str, ...] | None = None, min: float | None = None,
         max: float | None = None, url: tuple[str, ...] | None = None, networks: bool = False,
         required: bool = False) -> Any:
    """A setting's default plus what is allowed: choices, a range, URL schemes, IP networks,
    or `required` (an empty string is refused)."""
    meta = {"choices": choices, "min": min, "max": max, "url": url, "networks": networks,
            "required": required}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class ServerSettings:
    host: str = _opt("127.0.0.1")
    port: int = _opt(8080, min=0, max=65535)
    public_url: str = _opt("", url=HTTP)
    max_calls: int = _opt(4, min=1, max=1000)
    shutdown_grace_s: float = _opt(10.0, min=0, max=3600)
    max_message_bytes: int = _opt(65536, min=1024, max=16 * 1024 * 1024)
    playback_lead_ms: int = _opt(100, min=20, max=2000)
    hangup_delay_ms: int = _opt(300, min=0, max=10_000)
    dashboard_dir: str = _opt("")
    # New connections (call websockets, AudioSocket) per source address per minute; 0 = off.
    rate_limit_per_min: int = _opt(60, min=0, max=100_000)


@dataclass
class AudioSocketSettings:
    enabled: bool = _opt(True)
    host: str = _opt("127.0.0.1")
    port: int = _opt(9092, min=0, max=65535)
    allowed_sources: list[str] = _opt([], networks=True)


@dataclass
class TwilioSettings:
    auth_token: str = _opt("")
    stream_token: str = _opt("")
    validate_signature: bool = _opt(True)


@dataclass
class CallSettings:
    greeting: bool = _opt(True)
    reprompt_after_s: float = _opt(8.0, min=1, max=600)
    max_reprompts: int = _opt(2, min=0, max=20)
    max_duration_s: float = _opt(600.0, min=10, max=86400)
    transfer_number: str = _opt("")


@dataclass
class VadSettings:
    model_path: str = _opt("")
    threshold: float = _opt(0.5, min=0.05, max=0.95)
    start_ms: int = _opt(96, min=32, max=2000)
    end_silence_ms: int = _opt(300, min=64, max=3000)
    pause_ms: int = _opt(128, min=32, max=3000)
    threads: int = _opt(1, min=1, max=16)


@dataclass
class SttSettings:
    model: str = _opt("tiny.en")
    language: str = _opt("en")
    beam_size: int = _opt(1, min=1, max=10)
    threads: int = _opt(2, min=1, max=16)
    compute_type: str = _opt("int8", choices=("int8", "int8_float32", "float32"))
    window: str = _opt("fit", choices=("fit", "30s"))
    speculative: bool = _opt(True)


@dataclass
class LlmSettings:
    backend: str = _opt("llama", choices=("llama", "openai"))
    model_path: str = _opt("")
    base_url: str = _opt("http://127.0.0.1:8000/v1", url=HTTP)
    model: str = _opt("local")
    api_key: str = _opt("")
    temperature: float = _opt(0.2, min=0, max=2)
    max_tokens: int = _opt(80, min=8, max=2048)
    context: int = _opt(2048, min=256, max=131072)
    threads: int = _opt(2, min=1, max=64)
    timeout_s: float = _opt(20.0, min=1, max=600)


@dataclass
class TtsSettings:
    model_path: str = _opt("")
    length_scale: float = _opt(1.0, min=0.5, max=2.0)
    threads: int = _opt(2, min=1, max=16)


@dataclass
class AssistantSettings:
    profile: str = _opt("")
    language: str = _opt("en")


@dataclass
class LogSettings:
    format: str = _opt("auto", choices=("auto", "json", "console"))
    level: str = _opt("info", choices=("debug", "info", "warning", "error"))
    redact: bool = _opt(False)


@dataclass
class RedisSettings:
    url: str = _opt("", url=REDIS)
    stream: str = _opt("tom:events")
    maxlen: int = _opt(10000, min=10, max=10_000_000)
    queue_size: int = _opt(1000, min=10, max=1_000_000)


@dataclass
class AuthSettings:
    # `tom hash-password` prints it: pbkdf2_sha256$iterations$salt_b64$hash_b64
    operator_password_hash: str = _opt("")
    # Bearer token for scripts and the dashboard (`Authorization: Bearer ...` or `?token=`).
    token: str = _opt("")
    # How long a dashboard login lasts.
    session_hours: float = _opt(12.0, min=0.1, max=24 * 90)
    # Password/token attempts per source address per minute on POST /api/login.
    login_attempts_per_min: int = _opt(10, min=1, max=1000)


@dataclass
class LimitsSettings:
    """What one caller may cost the server (tom/telephony/limits.py explains each bound)."""

    start_timeout_s: float = _opt(10.0, min=1, max=600)
    header_timeout_s: float = _opt(10.0, min=1, max=600)
    pending_per_source: int = _opt(8, min=1, max=10_000)
    pending_total: int = _opt(64, min=1, max=100_000)
    refusals_per_min: float = _opt(10.0, min=0, max=100_000)
    burst_s: float = _opt(2.0, min=0.2, max=60)
    max_frame_ms: int = _opt(1000, min=20, max=60_000)
    browser_origins: list[str] = _opt([], url=HTTP)


@dataclass
class DataSettings:
    dir: str = _opt("data/runtime", required=True)
    retention_days: int = _opt(30, min=0, max=3650)
    webhook_url: str = _opt("", url=HTTP)


@dataclass
class Settings:
    """Every setting of TOM; sections mirror `config/tom.toml`."""

    server: ServerSettings = field(default_factory=ServerSettings)
    audiosocket: AudioSocketSettings = field(default_factory=AudioSocketSettings)
    twilio: TwilioSettings = field(default_factory=TwilioSettings)
    call: CallSettings = field(default_factory=CallSettings)
    vad: VadSettings = field(default_factory=VadSettings)
    stt: SttSettings = field(default_factory=SttSettings)
    llm: LlmSettings = field(default_factory=LlmSettings)
    tts: TtsSettings = field(default_factory=TtsSettings)
    assistant: AssistantSettings = field(default_factory=AssistantSettings)
    log: LogSettings = field(default_factory=LogSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    data: DataSettings = field(default_factory=DataSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
             overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Settings:
        """Defaults < TOML file (default `config/tom.toml` if present) < `TOM_*` env < overrides."""
        raw: dict[str, dict[str, Any]] = {}
        file = Path(path) if path else DEFAULT_CONFIG
        if path and not file.is_file():
            raise ConfigError(f"config file {file} does not exist")
        if file.is_file():
            try:
                raw = tomllib.loads(file.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
                raise ConfigError(f"config file {file} is not valid TOML: {exc}") from None
        _check_tables(raw)  # before env and overrides are merged into them
        _merge(raw, _from_env(os.environ if env is None else env))
        for section, values in (overrides or {}).items():
            raw.setdefault(section, {}).update(values)
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Settings:
        settings = cls()
        sections = {f.name: f for f in dataclasses.fields(cls)}
        for name, values in raw.items():
            if name not in sections:
                raise ConfigError(f"unknown config section [{name}]; allowed: {', '.join(sections)}")
            _check_tables({name: values})
            _apply(name, getattr(settings, name), values)
        return settings

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)


def _check_tables(raw: Mapping[str, Any]) -> None:
    """Each top-level key is a [section] of settings; `server = 5` is not."""
    for name, values in raw.items():
        if not isinstance(values, Mapping):
            raise ConfigError(
                f"{name} = {values!r} at the top level is not allowed: [{name}] must be a table "
                f"of settings; write it as a [{name}] section with `key = value` lines below it")


def _merge(base: dict[str, dict[str, Any]], extra: dict[str, dict[str, Any]]) -> None:
    for section, values in extra.items():
        base.setdefault(section, {}).update(values)


def _from_env(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    sections = {f.name for f in dataclasses.fields(Settings)}
    for key, value in env.items():
        if not key.startswith("TOM_"):
            continue
        section, _, name = key[4:].lower().partition("_")
        if section in sections and name:
            out.setdefault(section, {})[name] = value
    return out


def _apply(section: str, target: Any, values: Mapping[str, Any]) -> None:
    hints = get_type_hints(type(target))
    fields = {f.name: f for f in dataclasses.fields(target)}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(
                f"unknown setting {section}.{key}; allowed: {', '.join(fields)}")
        kind = get_origin(hints[key]) or hints[key]  # list[str] is checked as a list
        setattr(target, key, _coerce(f"{section}.{key}", value, kind, fields[key].metadata))


def _coerce(key: str, value: Any, kind: type, meta: Mapping[str, Any]) -> Any:
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError
                value = value.lower() in ("true", "1", "yes", "on")
            elif not isinstance(value, bool):
                raise ValueError
        elif kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            value = int(value)
        elif kind is float:
            if isinstance(value, bool):
                raise ValueError
            value = float(value)
            if not math.isfinite(value):  # nan compares false with every bound
                raise ConfigError(f"{key} = {value!r} is not allowed; use a finite number"
                                  f"{_range(meta)}")
        elif kind is list:
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list):
                raise ValueError
        elif kind is str:
            if not isinstance(value, str):
                raise ValueError
    except ConfigError:
        raise
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{key} = {value!r} is not a valid {kind.__name__}") from None
    choices, lo, hi = meta.get("choices"), meta.get("min"), meta.get("max")
    if choices and value not in choices:
        raise ConfigError(f"{key} = {value!r} is not allowed; choose one of {', '.join(choices)}")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ConfigError(f"{key} = {value!r} is out of range; allowed {lo} to {hi}")
    if meta.get("required") and not value.strip():
        raise ConfigError(f"{key} = {value!r} is empty; set it to a directory path, e.g. "
                          f"{key} = \"data/runtime\"")
    if meta.get("url") and value:
        for item in value if isinstance(value, list) else [value]:
            _check_url(key, item if isinstance(item, str) else repr(item), meta["url"])
    if meta.get("networks"):
        for item in value:
            _check_network(key, item)
    return value


def _range(meta: Mapping[str, Any]) -> str:
    lo, hi = meta.get("min"), meta.get("max")
    return f" from {lo} to {hi}" if lo is not None and hi is not None else ""


def _check_url(key: str, value: str, schemes: tuple[str, ...]) -> None:
    """A URL TOM will connect to: one of `schemes`, a host (or a socket path for unix://)."""
    example = {"redis": "redis://127.0.0.1:6379/0", "http": "http://127.0.0.1:8000/path"}
    hint = (f"use a URL starting with {' or '.join(s + '://' for s in schemes)}, e.g. "
            f"{example[schemes[0]]!r}, or leave it empty")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        raise ConfigError(f"{key} = {value!r} is not a valid URL; {hint}") from None
    if parts.scheme not in schemes or any(c.isspace() for c in value):
        raise ConfigError(f"{key} = {value!r} is not a valid URL; {hint}")
    if not (parts.hostname or (parts.scheme == "unix" and parts.path)):
        raise ConfigError(f"{key} = {value!r} has no host; {hint}")


def _check_network(key: str, item: Any) -> None:
    try:
        if not isinstance(item, str):
            raise ValueError
        ipaddress.ip_network(item, strict=False)
    except ValueError:
        raise ConfigError(
            f"{key} contains {item!r}, which is not an IP address or network; list addresses "
            "like \"10.0.0.5\" or networks like \"10.0.0.0/24\"") from None
