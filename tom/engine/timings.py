"""Per-turn timestamps, so every stage's latency can be computed afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field

MARKS = ("stt_start", "eot_detected", "stt_done", "llm_start", "llm_first_token",
         "first_sentence", "tts_first_audio", "first_frame_out")


@dataclass
class TurnTimer:
    """Monotonic ns timestamps of one turn, relative to the end of caller speech."""

    turn: int
    speech_end_ns: int
    marks: dict[str, int] = field(default_factory=dict)

    def mark(self, name: str, ts_ns: int) -> None:
        self.marks.setdefault(name, ts_ns)

    def marks_ms(self) -> dict[str, float]:
        return {k: round((v - self.speech_end_ns) / 1e6, 1) for k, v in self.marks.items()}

    def timings_ms(self) -> dict[str, float]:
        """Each stage's own time (only stages that ran) and end-to-end.

        A stage may start before the end of the turn (speculative STT at a pause), so stage
        times need not add up to `e2e`, which is what the caller waits.
        """
        m = self.marks
        spans = {
            "vad_wait": (self.speech_end_ns, m.get("eot_detected")),
            "stt": (m.get("stt_start"), m.get("stt_done")),
            "llm_first_token": (m.get("llm_start"), m.get("llm_first_token")),
            "tts_first_audio": (m.get("first_sentence"), m.get("tts_first_audio")),
            "e2e": (self.speech_end_ns, m.get("first_frame_out")),
        }
        return {k: round((b - a) / 1e6, 1) for k, (a, b) in spans.items()
                if a is not None and b is not None}
