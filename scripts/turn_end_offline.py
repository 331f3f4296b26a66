"""Offline: how TOM judges a pause at the end of an utterance and at a hesitation inside it.

For every English bench utterance (three caller styles) on the phone path: the whole utterance,
and the same utterance cut where `tom bench --pauses` puts its hesitation (the word gap after a
function word, tom/bench/hesitation.py); for every recorded prompt the whole utterance. Each
pause is heard and judged as a call does it: the audio and a second of silence go through the
VAD's turn detector (Silero), tiny.en transcribes the turn at its pause (`vad.pause_ms`), Smart
Turn hears it when it is asked (`turns.smart_turn_after_ms`), then tom/call/finished.py
`doubts_end` and `judge_pause` decide, with the configured settings. Printed as the
shares that end now, sooner (640 ms) and later (1.4 s). Whole utterances should end now; cut
ones should not end before the caller goes on.

    .venv/bin/python scripts/turn_end_offline.py [--show] [--inside] [--look=MS] [--set=S.KEY=V]

`--show`: each cut one that ends, each whole one that waits. `--inside`: also every pause
inside the whole utterances (a sentence break, a comma): how many last 160, 192, 224 and 256
ms, and how many of those Smart Turn asked then, with the words at the pause, would end.
`--look=MS`: Smart Turn asked this far into a pause instead of `turns.smart_turn_after_ms`.
`--set=SECTION.KEY=VALUE`: any other setting, e.g. `--set=turns.added_word_ms=200` (repeatable).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tom.audio import pcm16_to_float, read_wav, resample
from tom.bench.corpus import load_corpus
from tom.bench.recordings import find_recordings
from tom.bench.synth import CALLER_STYLES, CallerVoice, LineOptions, on_the_line
from tom.call.finished import Ends, doubts_end, judge_pause, last_word_lead_s
from tom.config import Settings
from tom.engine.smart_turn import SmartTurn, model_path
from tom.engine.stt import SpeechToText, load_whisper
from tom.engine.vad import CHUNK, SileroStream, TurnDetector, UserTurn, load_silero
from tom.models import resolve_stt, resolve_vad

RATE = 16000
LOOKS_MS = (160, 192, 224, 256)  # `--inside`: Smart Turn asked this far into a pause


@dataclass
class Pause:
    """One pause the VAD announced (`vad.pause_ms` into it): the turn's audio then, the
    silence it ends on, where in the line that was, and the longest the silence lasted."""

    audio: np.ndarray
    silence_s: float
    line_at: int
    longest_s: float = 0.0

    def looked_at(self, line: np.ndarray, after_s: float) -> np.ndarray:
        """What Smart Turn hears when asked `after_s` into this pause."""
        more = round((after_s - self.silence_s) * RATE)
        return np.concatenate([self.audio, line[self.line_at:self.line_at + max(0, more)]])


class Heard:
    """One utterance through the VAD's turn detector: every pause in it (the last one ends
    it), the turn's audio at its last pause and when Smart Turn is asked there."""

    def __init__(self, detector_for: Callable[..., TurnDetector], audio: np.ndarray) -> None:
        self.pauses: list[Pause] = []
        self.asked: np.ndarray | None = None
        detector = detector_for(on_pause=self._paused, on_judge=self._judged)
        self.detector = detector
        self.line = np.concatenate([np.zeros(RATE // 2, np.float32), audio,
                                    np.zeros(RATE, np.float32)])
        for at in range(0, len(self.line) - CHUNK + 1, CHUNK):
            self._at = at + CHUNK
            detector.feed(self.line[at:self._at], self._at * 1_000_000_000 // RATE)
            if self.pauses and detector.silence_s:
                last = self.pauses[-1]
                last.longest_s = max(last.longest_s, detector.silence_s)

    @property
    def at_pause(self) -> tuple[np.ndarray, float] | None:
        return (self.pauses[-1].audio, self.pauses[-1].silence_s) if self.pauses else None

    def _paused(self, turn: UserTurn) -> None:
        self.pauses.append(Pause(turn.audio, self.detector.silence_s, self._at))

    def _judged(self, audio: np.ndarray, token: int) -> None:
        self.asked = audio


def main() -> None:
    show = "--show" in sys.argv
    look = [int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--look=")]
    raw: dict[str, dict[str, Any]] = {
        "turns": {"smart_turn": True, **({"smart_turn_after_ms": look[0]} if look else {})}}
    for arg in sys.argv:
        if arg.startswith("--set="):
            name, value = arg.removeprefix("--set=").split("=", 1)
            section, key = name.split(".", 1)
            raw.setdefault(section, {})[key] = value  # typed as from TOM_* variables
    settings = Settings.from_dict(raw)
    turns = settings.turns
    smart = SmartTurn(model_path(), threads=1)
    stt = SpeechToText(load_whisper(str(resolve_stt(settings).path), settings.stt), settings.stt)
    silero = load_silero(str(resolve_vad(settings).path), settings.vad.threads)

    def detector_for(**hooks: Any) -> TurnDetector:
        return TurnDetector(SileroStream(silero), settings.vad, on_speech_start=lambda ns: None,
                            on_turn=lambda turn: None, clock=lambda: 0,
                            judge_after_ms=turns.smart_turn_after_ms,
                            unfinished_ms=turns.unfinished_silence_ms, **hooks)
    judged: dict[tuple[str, str], Counter[Ends]] = {}
    inside: dict[str, dict[int, list[int]]] = {}  # callers → look (ms) → [lasted, ended]

    def look_inside(kind: str, heard: Heard) -> None:
        """Each pause inside the utterance: would Smart Turn asked at each of LOOKS_MS (had
        the pause lasted that long) and the words at the pause have ended the turn there?"""
        for pause in heard.pauses[:-1]:
            words = stt.transcribe(pause.audio)
            text = words.text if words.has_words else ""
            doubted = doubts_end(words, pause.silence_s, turns)
            read_finished = judge_pause(True, text, doubted) is Ends.NOW
            for look_ms in LOOKS_MS:
                if pause.longest_s * 1000 < look_ms:
                    continue
                counts = inside.setdefault(kind, {}).setdefault(look_ms, [0, 0])
                counts[0] += 1
                heard_then = pause.looked_at(heard.line, look_ms / 1000)
                if read_finished and smart.complete(heard_then) >= turns.smart_turn_threshold:
                    counts[1] += 1

    def judge(kind: str, at: str, audio: np.ndarray) -> None:
        heard = Heard(detector_for, audio)
        if at == "whole" and "--inside" in sys.argv:
            look_inside(kind, heard)
        if heard.at_pause is None or heard.asked is None:
            print(f"  the VAD heard no pause in a {kind} utterance ({at})")
            return
        paused, silence_s = heard.at_pause
        complete = smart.complete(heard.asked) >= turns.smart_turn_threshold
        words = stt.transcribe(paused)
        text = words.text if words.has_words else ""
        doubted = doubts_end(words, silence_s, turns, sound_finished=complete)
        ends = judge_pause(complete, text, doubted)
        judged.setdefault((kind, at), Counter())[ends] += 1
        if show and (at == "whole") == (ends is Ends.LATER):
            lead_s = last_word_lead_s(words, silence_s)
            placed = "" if lead_s is None else f" at {-lead_s * 1000:+.0f} ms"
            print(f"  {at:10} {ends.value:6} sound={'finished' if complete else 'unfinished':10} "
                  f"last word {words.last_word.prob:.2f}{placed} "
                  f"next word {words.more_words_prob:.2f}  {text!r}")

    voice = CallerVoice()
    line = LineOptions(tail_ms=0)
    for turn in load_corpus().turns.values():
        if turn.language != "en":
            continue
        for seed, style in enumerate(CALLER_STYLES[:3]):
            whole = voice.say(turn.text, turn.language, style, line, seed=seed)
            x = resample(pcm16_to_float(whole.pcm), 8000, RATE)
            judge("piper", "whole", x[:whole.speech_end * 2])
            paused = voice.say(turn.text, turn.language, style,
                               LineOptions(tail_ms=0, pause_ms=1000), seed=seed)
            if paused.pause_at is not None:
                y = resample(pcm16_to_float(paused.pcm), 8000, RATE)
                judge("piper", "hesitation", y[:paused.pause_at * 2])
    for rec in find_recordings():
        audio, rate = read_wav(rec.path)
        spoken = on_the_line(audio, rate, line, seed=0)
        judge("recorded", "whole", resample(pcm16_to_float(spoken.pcm), 8000,
                                            RATE)[:spoken.speech_end * 2])
    print(f"{'callers':9} {'pause':11} {'n':>4} {'now':>6} {'sooner':>7} {'later':>6}")
    for (kind, at), counts in judged.items():
        n = sum(counts.values())
        print(f"{kind:9} {at:11} {n:4} {counts[Ends.NOW] / n:6.0%} "
              f"{counts[Ends.SOONER] / n:7.0%} {counts[Ends.LATER] / n:6.0%}")
    if inside:
        print("pauses inside whole utterances: lasted at least the look / would have ended there")
        print(f"{'callers':9} " + " ".join(f"{f'{ms} ms':>11}" for ms in LOOKS_MS))
        for kind, looks in inside.items():
            print(f"{kind:9} " + " ".join(f"{'{} / {}'.format(*looks.get(ms, [0, 0])):>11}"
                                          for ms in LOOKS_MS))


if __name__ == "__main__":
    main()
