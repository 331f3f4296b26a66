"""One validated `Settings` object, from defaults, a TOML file and `TOM_*` environment variables.

A wrong value fails at start-up with a message naming the key, the value and what is allowed.
Environment overrides are `TOM_<SECTION>_<KEY>`, e.g. `TOM_LLM_BACKEND=openai`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_origin, get_type_hints

from tom.config_values import HTTP, REDIS, coerce, option
from tom.config_values import ConfigError as ConfigError  # part of this module's API

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "tom.toml"


@dataclass
class ServerSettings:
    host: str = option("127.0.0.1")
    port: int = option(8080, min=0, max=65535)
    public_url: str = option("", url=HTTP)
    max_calls: int = option(8, min=1, max=1000)
    shutdown_grace_s: float = option(10.0, min=0, max=3600)
    max_message_bytes: int = option(65536, min=1024, max=16 * 1024 * 1024)
    playback_lead_ms: int = option(100, min=20, max=2000)
    hangup_delay_ms: int = option(300, min=0, max=10_000)
    dashboard_dir: str = option("")
    # New connections (call websockets, AudioSocket) per source address per minute; 0 = off.
    rate_limit_per_min: int = option(60, min=0, max=100_000)


@dataclass
class AudioSocketSettings:
    enabled: bool = option(True)
    host: str = option("127.0.0.1")
    port: int = option(9092, min=0, max=65535)
    allowed_sources: list[str] = option([], networks=True)


@dataclass
class TwilioSettings:
    auth_token: str = option("")
    stream_token: str = option("")
    validate_signature: bool = option(True)


@dataclass
class CallSettings:
    greeting: bool = option(True)
    reprompt_after_s: float = option(8.0, min=1, max=600)
    max_reprompts: int = option(2, min=0, max=20)
    max_duration_s: float = option(600.0, min=10, max=86400)
    transfer_number: str = option("")


@dataclass
class VadSettings:
    model_path: str = option("")
    threshold: float = option(0.5, min=0.05, max=0.95)
    hold_threshold: float = option(0.5, min=0.05, max=0.95)
    start_ms: int = option(96, min=32, max=2000)
    end_silence_ms: int = option(300, min=64, max=3000)
    pause_ms: int = option(128, min=32, max=3000)
    threads: int = option(1, min=1, max=16)


@dataclass
class SttSettings:
    model: str = option("tiny.en")
    language: str = option("en")
    beam_size: int = option(1, min=1, max=10)
    threads: int = option(2, min=1, max=16)
    compute_type: str = option("int8", choices=("int8", "int8_float32", "float32"))
    window: str = option("fit", choices=("fit", "30s"))
    speculative: bool = option(True)


@dataclass
class LlmSettings:
    backend: str = option("llama", choices=("llama", "openai"))
    model_path: str = option("")
    base_url: str = option("http://127.0.0.1:8000/v1", url=HTTP)
    model: str = option("local")
    api_key: str = option("")
    temperature: float = option(0.2, min=0, max=2)
    max_tokens: int = option(80, min=8, max=2048)
    context: int = option(2048, min=256, max=131072)
    threads: int = option(2, min=1, max=64)
    timeout_s: float = option(20.0, min=1, max=600)


@dataclass
class TtsSettings:
    model_path: str = option("")
    length_scale: float = option(1.0, min=0.5, max=2.0)
    threads: int = option(2, min=1, max=16)
    # The voice of each language TOM speaks: "pico", "piper" (model_path) or a piper .onnx path.
    voices: dict[str, str] = option({})
    pico_dir: str = option("/usr/share/pico/lang")  # SVOX Pico's language files (Debian's path)
    prerender: bool = option(False)  # render the profile's fixed texts in the background at start


@dataclass
class AssistantSettings:
    profile: str = option("")
    language: str = option("en")
    # More than one: TOM answers in the caller's language (the first is the greeting's).
    languages: list[str] = option([])


@dataclass
class LogSettings:
    format: str = option("auto", choices=("auto", "json", "console"))
    level: str = option("info", choices=("debug", "info", "warning", "error"))
    redact: bool = option(False)


@dataclass
class RedisSettings:
    url: str = option("", url=REDIS)
    stream: str = option("tom:events")
    maxlen: int = option(10000, min=10, max=10_000_000)
    queue_size: int = option(1000, min=10, max=1_000_000)


@dataclass
class AuthSettings:
    # `tom hash-password` prints it: pbkdf2_sha256$iterations$salt_b64$hash_b64
    operator_password_hash: str = option("")
    # Bearer token for scripts and the dashboard (`Authorization: Bearer ...` or `?token=`).
    token: str = option("")
    # How long a dashboard login lasts.
    session_hours: float = option(12.0, min=0.1, max=24 * 90)
    # Password/token attempts per source address per minute on POST /api/login.
    login_attempts_per_min: int = option(10, min=1, max=1000)


@dataclass
class LimitsSettings:
    """What one caller may cost the server (tom/telephony/limits.py explains each bound)."""

    start_timeout_s: float = option(10.0, min=1, max=600)
    header_timeout_s: float = option(10.0, min=1, max=600)
    pending_per_source: int = option(8, min=1, max=10_000)
    pending_total: int = option(64, min=1, max=100_000)
    refusals_per_min: float = option(10.0, min=0, max=100_000)
    burst_s: float = option(2.0, min=0.2, max=60)
    max_frame_ms: int = option(1000, min=20, max=60_000)
    browser_origins: list[str] = option([], url=HTTP)
    admit_queue_p95_ms: float = option(400.0, min=0, max=60_000)


@dataclass
class DataSettings:
    dir: str = option("data/runtime", required=True)
    retention_days: int = option(30, min=0, max=3650)
    webhook_url: str = option("", url=HTTP)


@dataclass
class GroundingSettings:
    """How questions off the FAQ are answered (docs/grounding.md): a fact verbatim by default."""

    rephrase: bool = option(False)  # let the LLM reword the one fact the relevance gate found


@dataclass
class SipSettings:
    """Native SIP (docs/sip.md): TOM as an extension of a trunk, PBX or Kamailio; off by default."""

    enabled: bool = option(False)
    host: str = option("127.0.0.1")  # address to listen on (UDP and TCP)
    port: int = option(5060, min=0, max=65535)
    public_address: str = option("")  # address put in Contact/SDP when behind NAT; "" = host
    user: str = option("tom")  # the extension: sip:USER@...
    registrar: str = option("")  # e.g. "sip:pbx.example.com"; "" = no REGISTER (trunk sends INVITEs)
    auth_user: str = option("")  # digest user name; "" = `user`
    password: str = option("")  # digest secret: TOM_SIP_PASSWORD, never in a committed file
    register_expires_s: int = option(300, min=30, max=86400)
    register_retry_s: int = option(30, min=5, max=3600)  # backoff after a failed REGISTER
    allowed_sources: list[str] = option([], networks=True)  # INVITE sources; [] = any
    invites_per_min: int = option(60, min=0, max=100_000)  # per source; 0 = off
    busy: str = option("486", choices=("486", "503", "message"))
    retry_after_s: int = option(30, min=1, max=3600)  # with busy = "503"
    rtp_port: int = option(40000, min=1024, max=65000)
    rtp_port_range: int = option(200, min=2, max=20000)
    transfer_domain: str = option("")  # REFER target host for a plain number; "" = registrar


@dataclass
class EchoSettings:
    """The echo guard in front of the VAD (tom/engine/echo.py)."""

    enabled: bool = option(True)
    assume_loss_db: float = option(20.0, min=0, max=80)
    margin_db: float = option(6.0, min=0, max=40)
    min_delay_ms: int = option(-120, min=-1000, max=0)
    max_delay_ms: int = option(600, min=20, max=3000)


@dataclass
class TurnsSettings:
    """Turn-taking while TOM talks (tom/call/turns.py)."""

    # Caller voice while TOM talks first pauses TOM; this much voice makes it an interruption
    # (TOM stops); less, and a backchannel ("mhm", "okay") lets TOM go on. 0: stop at once.
    hold_ms: int = option(600, min=0, max=3000)
    backchannels: list[str] = option(["mhm", "mhmm", "mm", "hm", "hmm", "uh huh", "oh", "ah",
                                      "okay", "ok", "yes", "yeah", "yep", "right", "sure",
                                      "alright", "i see", "got it", "ja", "jaja", "genau",
                                      "aha", "ach so", "achso", "alles klar", "verstehe"])
    # Semantic end of turn (tom/engine/smart_turn.py): at a pause the model decides whether
    # the caller has finished; off here, on in config/tom.toml (needs the pipecat-ai wheel).
    smart_turn: bool = option(False)
    smart_turn_model: str = option("")
    smart_turn_threshold: float = option(0.5, min=0.05, max=0.95)
    smart_turn_after_ms: int = option(256, min=32, max=2000)  # silence before it is asked
    # silence after which a turn the model judged unfinished ends anyway
    unfinished_silence_ms: int = option(1400, min=100, max=5000)
    # … and after this much when the words so far read as a finished sentence (STT at the
    # pause, tom/call/finished.py); 0: the model's verdict alone
    finished_words_silence_ms: int = option(640, min=0, max=5000)
    # Words whose last word Whisper is less sure of than this read neither finished nor open:
    # cut off mid-sentence it finishes the sentence itself ("I'd like to book a" → "… a
    # second."). Such a turn ends after unfinished_silence_ms. 0: every last word believed.
    sure_word_prob: float = option(0.3, min=0.0, max=0.95)
    # ... and where Smart Turn heard the caller unfinished, the words overrule it (end the
    # turn after finished_words_silence_ms) only with a last word at least this sure: two
    # doubtful signs are no end ("Can I rent a bike while |" → "… a bike wall?" at 0.34).
    sure_word_prob_unfinished: float = option(0.5, min=0.0, max=0.95)
    # ... and so do words whose last word Whisper aligns to start less than this before the
    # caller's voice ended, unless it is sure of it (tom/call/finished.py `doubts_end`):
    # it added the word in the silence ("I'd like to book a | second."). 0: off.
    added_word_ms: int = option(200, min=0, max=1000)
    # ... and so do words whose sentence end Whisper wrote while giving a next word at least
    # this probability there: it dropped the word the caller stopped after ("How much does
    # it cost to |" → "How much does it cost?"). 0: off.
    more_words_prob: float = option(0.2, min=0.0, max=1.0)
    # Caller voice that begins within this much of the end of the turn TOM is answering goes
    # on from it (a pause mid-sentence): TOM stops and answers the two as one turn, whatever
    # the new words are, unless they take the first back ("Sorry, I only need …": then they
    # are the turn). 0: off (such a sound is judged like any other while TOM talks).
    continuation_ms: int = option(1500, min=0, max=5000)


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
    grounding: GroundingSettings = field(default_factory=GroundingSettings)
    sip: SipSettings = field(default_factory=SipSettings)
    echo: EchoSettings = field(default_factory=EchoSettings)
    turns: TurnsSettings = field(default_factory=TurnsSettings)

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
        setattr(target, key, coerce(f"{section}.{key}", value, kind, fields[key].metadata))
