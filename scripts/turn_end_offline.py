"""Offline: how often Smart Turn, the words rule and both together call a pause finished.

For every English bench utterance (three caller styles) and every recorded prompt, on the phone
path: the whole utterance, and the same cut at the quietest point mid-way (the old
`tom bench --pauses` placement), each followed by 256 ms of silence. Prints the share judged
finished by Smart Turn (p >= 0.5), by the words (tom/call/finished.py on tiny.en's transcript)
and by both. Whole utterances should end (high), cut ones should not (low).

    .venv/bin/python scripts/turn_end_offline.py
"""

from __future__ import annotations

import numpy as np

from tom.audio import pcm16_to_float, read_wav, resample
from tom.bench.corpus import load_corpus
from tom.bench.recordings import find_recordings
from tom.bench.synth import CALLER_STYLES, PAUSED_MIN_S, CallerVoice, LineOptions, on_the_line
from tom.call.finished import reads_finished
from tom.config import Settings
from tom.engine.smart_turn import SmartTurn, model_path
from tom.engine.stt import SpeechToText, load_whisper
from tom.models import resolve_stt

RATE = 16000
SILENCE = np.zeros(int(RATE * 0.256), np.float32)


def mid_cut(x: np.ndarray) -> int:
    """The quietest 20 ms in the middle fifth (as `synth.with_pause` places a pause)."""
    frame = RATE // 50
    lo, hi = int(len(x) * 0.4) // frame, int(len(x) * 0.6) // frame
    rms = [float(np.sqrt(np.mean(np.square(x[i * frame:(i + 1) * frame], dtype=np.float64))))
           for i in range(lo, max(lo + 1, hi))]
    return (lo + int(np.argmin(rms))) * frame + frame // 2


def main() -> None:
    settings = Settings.from_dict({})
    smart = SmartTurn(model_path(), threads=1)
    stt = SpeechToText(load_whisper(str(resolve_stt(settings).path), settings.stt), settings.stt)
    judged: dict[tuple[str, str], list[tuple[bool, bool]]] = {}

    def judge(kind: str, audio: np.ndarray, start: int, end: int) -> None:
        cuts = [("whole", end)]
        if end - start >= PAUSED_MIN_S * RATE:
            cuts.append(("cut mid-way", start + mid_cut(audio[start:end])))
        for at, stop in cuts:
            heard = np.concatenate([audio[:stop], SILENCE])
            sound = smart.complete(heard) >= 0.5
            words = reads_finished(stt.transcribe(heard).text)
            judged.setdefault((kind, at), []).append((sound, words))

    voice = CallerVoice()
    for turn in load_corpus().turns.values():
        if turn.language != "en":
            continue
        for seed, style in enumerate(CALLER_STYLES[:3]):
            audio, rate = voice.speech(turn.text, turn.language, style)
            line = on_the_line(audio, rate, LineOptions(tail_ms=0), seed=seed)
            judge("piper", resample(pcm16_to_float(line.pcm), 8000, RATE),
                  line.speech_start * 2, line.speech_end * 2)
    for rec in find_recordings():
        audio, rate = read_wav(rec.path)
        line = on_the_line(audio, rate, LineOptions(tail_ms=0), seed=0)
        judge("recorded", resample(pcm16_to_float(line.pcm), 8000, RATE),
              line.speech_start * 2, line.speech_end * 2)
    print(f"{'callers':9} {'pause':12} {'n':>4} {'sound':>6} {'words':>6} {'both':>6}")
    for (kind, at), marks in judged.items():
        n = len(marks)
        sound = sum(s for s, _ in marks) / n
        words = sum(w for _, w in marks) / n
        both = sum(s and w for s, w in marks) / n
        print(f"{kind:9} {at:12} {n:4} {sound:6.0%} {words:6.0%} {both:6.0%}")


if __name__ == "__main__":
    main()
