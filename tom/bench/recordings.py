"""Real human callers for `tom bench --callers recorded`: Asterisk's core sound prompts.

Debian's `asterisk-core-sounds-en-wav` holds a few hundred phone prompts read by one
professional human speaker (Allison Smith, CC-BY-SA 3.0), recorded for telephone lines at
8 kHz; `asterisk-core-sounds-en` holds their texts. They are speech TOM's own voice never
made, with the pauses of read sentences ("Agent login.  Please enter…"), so the bench measures
what the phone path does to real speech: word accuracy through TOM against stock
faster-whisper on the very same audio, and words lost at turn boundaries.
Nothing of them is copied into TOM: they are read from the installed packages.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tom.audio import read_wav
from tom.bench.corpus import CallScript, Corpus, CorpusError, CorpusTurn
from tom.bench.synth import LineOptions, SpokenAudio, VoiceStyle, on_the_line

SOUND_DIRS = (Path("/usr/share/asterisk/sounds/en_US_f_Allison"),
              Path("/usr/share/asterisk/sounds/en"))
TEXTS = ("core-sounds-en.txt", "/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
MIN_WORDS, MAX_WORDS = 5, 30  # shorter prompts are single words ("Activated."), longer are menus
TURNS_PER_CALL = 3
SOURCE = "Asterisk core sounds (en, Allison Smith, CC-BY-SA 3.0), Debian asterisk-core-sounds-en-wav"
INSTALL_HINT = ("install Debian's asterisk-core-sounds-en-wav and asterisk-core-sounds-en "
                "(`scripts/install-system-packages.sh test`), or pass --recordings DIR with "
                "the WAV files and core-sounds-en.txt")
_PLAIN, _LINE = VoiceStyle(), LineOptions()
_WORD = re.compile(r"[A-Za-z0-9']+")
# The texts' notes are not said ("(simple tone sound plays)"); the keys are said by name.
_NOTE = re.compile(r"\([^)]*\)")
_KEYS = {"*": " star ", "#": " pound "}


@dataclass(frozen=True, slots=True)
class Recording:
    """One prompt: its file and what is said in it."""

    name: str
    text: str
    path: Path

    @property
    def words(self) -> int:
        return len(_WORD.findall(self.text))


def find_recordings(directory: Path | None = None) -> list[Recording]:
    """Every prompt with a text of MIN_WORDS..MAX_WORDS words (no tones, no menus), by name."""
    folder = directory or next((d for d in SOUND_DIRS if d.is_dir()), None)
    if folder is None or not folder.is_dir():
        raise CorpusError(f"no recorded callers: {directory or SOUND_DIRS[0]} is missing; "
                          f"{INSTALL_HINT}")
    texts = _texts(folder)
    found = []
    for name, text in sorted(texts.items()):
        path = folder / f"{name}.wav"
        if "[" in text or not path.is_file():
            continue  # "[ascending tones]": not speech
        rec = Recording(name, spoken(text), path)
        if MIN_WORDS <= rec.words <= MAX_WORDS:
            found.append(rec)
    if not found:
        raise CorpusError(f"no prompt with a text in {folder}; {INSTALL_HINT}")
    return found


def spoken(text: str) -> str:
    """What the speaker says for a prompt's text: the reference its transcripts are scored on."""
    text = _NOTE.sub(" ", text)
    for key, word in _KEYS.items():
        text = text.replace(key, word)
    return " ".join(text.split())


def _texts(folder: Path) -> dict[str, str]:
    for candidate in TEXTS:
        path = folder / candidate if "/" not in candidate else Path(candidate)
        if path.is_file():
            raw = (gzip.decompress(path.read_bytes()) if path.suffix == ".gz"
                   else path.read_bytes()).decode("utf-8", errors="replace")
            return dict(_entries(raw))
    raise CorpusError(f"the prompts' texts (core-sounds-en.txt) are missing; {INSTALL_HINT}")


def _entries(raw: str) -> list[tuple[str, str]]:
    """`name: Text of the prompt.` lines; `;` starts a comment."""
    out = []
    for line in raw.splitlines():
        line = line.strip()
        if not line or line.startswith(";") or ":" not in line:
            continue
        name, text = line.split(":", 1)
        if text.strip():
            out.append((name.strip(), " ".join(text.split())))
    return out


# Prompts a caller could mean: "press 0 to reach an operator" asks for a person (TOM
# transfers), "Goodbye. Thank you for …" ends the call; neither is a failed call.
_ASKS_TO_END = re.compile(r"\b(?:operator|representatives?|goodbye)\b", re.IGNORECASE)


def recorded_corpus(recordings: list[Recording], calls: int) -> Corpus:
    """`calls` scripts of TURNS_PER_CALL prompts each, taking the prompts in turn (spread over
    the whole set, so a short bench still hears many different sentences)."""
    stride = max(1, len(recordings) // max(1, calls * TURNS_PER_CALL))
    order = [recordings[(i * stride + i // len(recordings)) % len(recordings)]
             for i in range(calls * TURNS_PER_CALL)]
    turns = {f"rec-{r.name}": CorpusTurn(f"rec-{r.name}", r.text, "en", "",
                                         ends_call=bool(_ASKS_TO_END.search(r.text)))
             for r in order}
    scripts = tuple(
        CallScript(f"recorded-{k + 1}", "en", tuple(
            turns[f"rec-{r.name}"] for r in order[k * TURNS_PER_CALL:(k + 1) * TURNS_PER_CALL]))
        for k in range(calls))
    return Corpus(turns, scripts)


def stock_transcripts(calls: list[tuple[str, list[bytes]]], model_path: Path,
                      threads: int = 2) -> dict[str, str]:
    """Stock faster-whisper (default decoding, beam 5) on the very audio the callers sent,
    per call id: the baseline TOM's phone path must not fall more than a point below."""
    from faster_whisper import WhisperModel

    from tom.audio import pcm16_to_float, resample

    model = WhisperModel(str(model_path), device="cpu", compute_type="int8",
                         cpu_threads=threads)
    out = {}
    for call_id, turns in calls:
        heard = []
        for pcm in turns:
            audio = resample(pcm16_to_float(pcm), 8000, 16000).astype(np.float32)
            segments, _ = model.transcribe(audio, language="en")
            heard.append(" ".join(s.text.strip() for s in segments))
        out[call_id] = " ".join(heard)
    return out


class RecordedVoice:
    """Says a prompt's text by playing its recording (the same interface as CallerVoice)."""

    def __init__(self, recordings: list[Recording]) -> None:
        self.by_text = {r.text: r for r in recordings}
        first = recordings[0].path.parent if recordings else SOUND_DIRS[0]
        self.model_path = first  # what the bench report names as its voice

    def say(self, text: str, language: str = "en", style: VoiceStyle = _PLAIN,
            options: LineOptions = _LINE, seed: int = 0,
            babble: np.ndarray | None = None) -> SpokenAudio:
        rec = self.by_text.get(text)
        if rec is None:
            raise CorpusError(f"no recording says {text!r}")
        audio, rate = read_wav(rec.path)
        return on_the_line(audio.astype(np.float32), rate, options, seed, babble)
