"""Offline: how TOM judges a pause at the end of an utterance and at a hesitation inside it.

For every English bench utterance (three caller styles) on the phone path: the whole utterance,
and the same utterance cut where `tom bench --pauses` puts its hesitation (the word gap after a
function word, tom/bench/hesitation.py), each followed by 256 ms of silence (when Smart Turn is
asked); for every recorded prompt the whole utterance. Each pause is judged as a call judges it
(Smart Turn, then tom/call/finished.py `judge_pause` on tiny.en's words with the configured
`turns.sure_word_prob`) and printed as the shares that end now, sooner (640 ms) and later
(1.4 s). Whole utterances should end now; cut ones should not end before the caller goes on.

    .venv/bin/python scripts/turn_end_offline.py [--show]    # --show: print each cut one that ends
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np

from tom.audio import pcm16_to_float, read_wav, resample
from tom.bench.corpus import load_corpus
from tom.bench.recordings import find_recordings
from tom.bench.synth import CALLER_STYLES, CallerVoice, LineOptions, on_the_line
from tom.call.finished import Ends, judge_pause
from tom.config import Settings
from tom.engine.smart_turn import SmartTurn, model_path
from tom.engine.stt import SpeechToText, load_whisper
from tom.models import resolve_stt

RATE = 16000
SILENCE = np.zeros(int(RATE * 0.256), np.float32)


def main() -> None:
    show = "--show" in sys.argv
    settings = Settings.from_dict({"turns": {"smart_turn": True}})
    turns = settings.turns
    smart = SmartTurn(model_path(), threads=1)
    stt = SpeechToText(load_whisper(str(resolve_stt(settings).path), settings.stt), settings.stt)
    judged: dict[tuple[str, str], Counter[Ends]] = {}

    def judge(kind: str, at: str, audio: np.ndarray) -> None:
        heard = np.concatenate([audio, SILENCE])
        complete = smart.complete(heard) >= turns.smart_turn_threshold
        words = stt.transcribe(heard)
        text = words.text if words.has_words else ""
        ends = judge_pause(complete, text, words.last_word_prob, turns.sure_word_prob)
        judged.setdefault((kind, at), Counter())[ends] += 1
        if show and at != "whole" and ends is not Ends.LATER:
            print(f"  {ends.value:6} sound={'finished' if complete else 'unfinished':10} "
                  f"last word {words.last_word_prob:.2f}  {text!r}")

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


if __name__ == "__main__":
    main()
