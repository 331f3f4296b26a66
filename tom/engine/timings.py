"""Per-turn timestamps, so every stage's latency can be computed afterwards.

All marks are monotonic ns; `marks_ms()` gives them relative to the end of caller speech (the
arrival time of the last voiced audio). A stage that waits for its engine's worker thread has a
`*_queued` mark (asked for), a start mark (the worker began) and a done mark:

    eot_detected     the end-of-turn silence had elapsed (arrival time of that audio)
    stt_queued       the turn's audio was handed to the STT worker
    stt_start        the STT worker began on it            stt_done      the transcript was ready
    llm_queued       the prompt was handed to the LLM      llm_start     its worker began (an HTTP
                                                                         backend: = llm_queued)
    llm_first_token  the first generated text arrived
    first_sentence   the first sentence was handed to TTS  tts_start     the TTS worker began on it
    tts_first_audio  the first sentence's audio was ready
    first_frame_out  the first frame of the reply left for the caller

`timings_ms()` turns them into stage durations (the TurnTimed event's `timings_ms`):

    vad_wait         speech end -> eot_detected
    stt_queue        stt_queued -> stt_start         stt              stt_start -> stt_done
    llm_queue        llm_queued -> llm_start         llm_first_token  llm_start -> llm_first_token
    tts_queue        first_sentence -> tts_start     tts_first_audio  tts_start -> tts_first_audio
    e2e              speech end -> first_frame_out   (what the caller waits)

`stt`, `llm_first_token` and `tts_first_audio` are compute only; the `*_queue` keys are the wait
for the shared worker thread, which grows with concurrent calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], int]  # monotonic nanoseconds; injectable so tests control time

MARKS = ("eot_detected", "stt_queued", "stt_start", "stt_done", "llm_queued", "llm_start",
         "llm_first_token", "first_sentence", "tts_start", "tts_first_audio", "first_frame_out")

SPANS = {
    "vad_wait": (None, "eot_detected"),  # None: the end of caller speech
    "stt_queue": ("stt_queued", "stt_start"),
    "stt": ("stt_start", "stt_done"),
    "llm_queue": ("llm_queued", "llm_start"),
    "llm_first_token": ("llm_start", "llm_first_token"),
    "tts_queue": ("first_sentence", "tts_start"),
    "tts_first_audio": ("tts_start", "tts_first_audio"),
    "e2e": (None, "first_frame_out"),
}


@dataclass
class TurnTimer:
    """Monotonic ns timestamps of one turn, relative to the end of caller speech."""

    turn: int
    speech_end_ns: int
    marks: dict[str, int] = field(default_factory=dict)

    def mark(self, name: str, ts_ns: int) -> None:
        """Record `name` once: the first time a stage happens in this turn is what counts."""
        self.marks.setdefault(name, ts_ns)

    def marks_ms(self) -> dict[str, float]:
        return {k: round((v - self.speech_end_ns) / 1e6, 1) for k, v in self.marks.items()}

    def timings_ms(self) -> dict[str, float]:
        """Each stage's own time (only stages that ran) and end-to-end.

        A stage may start before the end of the turn (speculative STT at a pause), so stage
        times need not add up to `e2e`, which is what the caller waits.
        """
        out: dict[str, float] = {}
        for key, (start, end) in SPANS.items():
            a = self.speech_end_ns if start is None else self.marks.get(start)
            b = self.marks.get(end)
            if a is not None and b is not None:
                out[key] = round((b - a) / 1e6, 1)
        return out
