"""Streaming Silero VAD and the turn detector that cuts caller audio into `UserTurn`s.

The ONNX session is shared by all calls; each call keeps its own recurrent state. One
inference on a 32 ms chunk takes well under a millisecond, cheaper than a thread hop, so it runs
inline on the event loop.

Audio carries the time it arrived: `TurnDetector.feed(audio, end_ts_ns)` stamps each chunk from
the arrival time of its last sample, so the end of speech is when that audio reached TOM, not
when the detector got round to it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from tom.config import VadSettings
from tom.engine.samples import Samples

SAMPLE_RATE = 16000
CHUNK = 512  # 32 ms at 16 kHz: what Silero expects
CONTEXT = 64
CHUNK_MS = CHUNK * 1000 // SAMPLE_RATE
# The end-of-turn model is asked this much before its look, on the turn so far with its last
# this-much of silence heard twice (what the look would hear, offline the same verdict on 465
# of 467 pauses): its ~30-60 ms on two loaded cores are then over when the look comes.
JUDGE_AHEAD_CHUNKS = 2


def load_silero(path: str, threads: int) -> Any:
    """The shared ONNX session (an `onnxruntime.InferenceSession`)."""
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 4
    # Idle onnxruntime workers must not spin: they would steal the cores llama.cpp needs.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(path, sess_options=opts,
                                           providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}
    if inputs not in ({"input", "h", "c"}, {"input", "state", "sr"}):
        raise ValueError(f"not a Silero VAD model (its inputs are {', '.join(sorted(inputs))})")
    return session


class VadStream(Protocol):
    """Speech probability of consecutive 32 ms chunks of one stream; `reset` forgets the past."""

    def __call__(self, chunk: Samples) -> float: ...

    def reset(self) -> None: ...


class SileroStream:
    """Speech probability for consecutive 32 ms chunks of one audio stream.

    Two exports of Silero are in use: faster-whisper's (inputs `input`, `h`, `c`; 16 kHz only)
    and Silero's own (inputs `input`, `state`, `sr`), which the `pipecat-ai` wheel ships.
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self.own_export = "state" in {i.name for i in session.get_inputs()}
        self.reset()

    def reset(self) -> None:
        self.h = np.zeros((1, 1, 128), dtype=np.float32)
        self.c = np.zeros((1, 1, 128), dtype=np.float32)
        self.state = np.zeros((2, 1, 128), dtype=np.float32)
        self.context = np.zeros(CONTEXT, dtype=np.float32)

    def __call__(self, chunk: Samples) -> float:
        x = np.concatenate([self.context, chunk]).reshape(1, -1)
        self.context = chunk[-CONTEXT:]
        if self.own_export:
            out, self.state = self.session.run(None, {"input": x, "state": self.state,
                                                      "sr": _RATE})
        else:
            out, self.h, self.c = self.session.run(None, {"input": x, "h": self.h, "c": self.c})
        return float(np.asarray(out).reshape(-1)[0])


_RATE = np.array(SAMPLE_RATE, dtype=np.int64)


@dataclass
class UserTurn:
    """One caller utterance: its audio (16 kHz float32) and when speech started and ended."""

    audio: Samples
    speech_start_ns: int
    speech_end_ns: int  # arrival of the last voiced chunk
    detected_ns: int  # arrival of the chunk that completed the end-of-turn silence


ONSET_PROB = 0.2  # weak but real voice: Silero ramps up slowly on soft word onsets
ONSET_GAP = 8  # chunks (256 ms) of near-silence that still join an earlier word ("Hello, good…")
PAD = 2  # chunks kept before the first voiced one
# Silero's recurrent state drifts over long silence and then under-rates speech (a lone "Bye!"
# after 12 s of line silence peaks near 0.5 instead of 0.8); a fresh state after each second of
# silence keeps it as sensitive as at the start of a call.
RESET_AFTER_SILENT_CHUNKS = 31


def onset(history: list[tuple[Samples, float]]) -> list[Samples]:
    """The chunks of `history` from where this speech really began.

    Silero confirms speech late and may stay under the threshold for a whole soft first word,
    so the start is traced back over weakly voiced chunks and short gaps between them.
    """
    start = len(history) - 1
    gap = 0
    for i in range(len(history) - 1, -1, -1):
        if history[i][1] >= ONSET_PROB:
            start, gap = i, 0
        else:
            gap += 1
            if gap > ONSET_GAP:
                break
    return [chunk for chunk, _ in history[max(0, start - PAD):]]


class TurnDetector:
    """Turns speech probabilities into speech-start and end-of-turn decisions.

    `on_speech_start(ts_ns)` fires after `start_ms` of speech (barge-in uses it);
    `on_pause(UserTurn)` fires once `pause_ms` into a silence, so STT can start speculatively;
    `on_turn(UserTurn)` fires after `end_silence_ms` of silence following speech.
    """

    def __init__(self, vad: VadStream, settings: VadSettings, *,
                 on_speech_start: Callable[[int], None], on_turn: Callable[[UserTurn], None],
                 on_pause: Callable[[UserTurn], None] | None = None,
                 on_resume: Callable[[], None] | None = None,
                 clock: Callable[[], int] = time.monotonic_ns, preroll_ms: int = 1024,
                 max_turn_s: float = 25.0,
                 on_judge: Callable[[Samples, int], None] | None = None,
                 judge_after_ms: int = 256, unfinished_ms: int = 1400) -> None:
        self.vad = vad
        self.settings = settings
        self.on_speech_start = on_speech_start
        self.on_turn = on_turn
        self.on_pause = on_pause
        self.on_resume = on_resume
        self.clock = clock
        self.buffer: Samples = np.zeros(0, dtype=np.float32)
        self.heard_buffer: Samples = np.zeros(0, dtype=np.float32)
        self.preroll: deque[tuple[Samples, float]] = deque(
            maxlen=max(1, preroll_ms // CHUNK_MS))
        self.speech: list[Samples] = []
        self.in_speech = False
        self.paused = False  # a pause was announced and no voice came since
        self.voiced_run = 0
        self.silent_run = 0
        self.start_ns = 0
        self.last_voice_ns = 0
        self.max_chunks = int(max_turn_s * 1000 / CHUNK_MS)
        self.last_prob = 0.0
        self.quiet_run = 0
        # Semantic end of turn: at a pause `on_judge(audio, token)` asks whether the caller
        # has finished (`JUDGE_AHEAD_CHUNKS` before `judge_after_ms`, on what the look would
        # hear); `verdict(token, complete)` answers, and a finished turn ends at the look or,
        # answered later, at the answer. Until then, or when unfinished, the turn ends only
        # after `unfinished_ms` of silence.
        self.on_judge = on_judge
        self.unfinished_chunks = max(1, unfinished_ms // CHUNK_MS)
        self.judge_chunks = max(1, judge_after_ms // CHUNK_MS)
        self.judge_token = 0
        self.complete: bool | None = None
        # An unfinished verdict whose words read finished (`shorten`): this pause ends sooner.
        self.shortened: int | None = None

    def feed(self, audio: Samples, end_ts_ns: int | None = None,
             heard: Samples | None = None) -> None:
        """Feed 16 kHz float32 audio; `end_ts_ns` is when its last sample arrived (default: now).

        `heard` is the same audio with TOM's echo silenced (tom/engine/echo.py), as long as
        `audio`: the VAD decides on it, while the turn keeps the untouched `audio` for STT.
        """
        end_ts_ns = self.clock() if end_ts_ns is None else end_ts_ns
        audio = audio.astype(np.float32, copy=False)
        cleaned = audio if heard is None else heard.astype(np.float32, copy=False)
        self.buffer = np.concatenate([self.buffer, audio])
        self.heard_buffer = np.concatenate([self.heard_buffer, cleaned])
        n = len(self.buffer) // CHUNK
        for i in range(n):
            chunk = self.buffer[i * CHUNK:(i + 1) * CHUNK]
            ts = end_ts_ns - int((len(self.buffer) - (i + 1) * CHUNK) * 1e9 / SAMPLE_RATE)
            self._chunk(chunk, ts, self.heard_buffer[i * CHUNK:(i + 1) * CHUNK])
        self.buffer = self.buffer[n * CHUNK:]
        self.heard_buffer = self.heard_buffer[n * CHUNK:]

    def _chunk(self, chunk: Samples, ts_ns: int, heard: Samples | None = None) -> None:
        prob = self.last_prob = self.vad(chunk if heard is None else heard)
        threshold = self.settings.hold_threshold if self.in_speech else self.settings.threshold
        voiced = prob >= threshold
        start_chunks = max(1, self.settings.start_ms // CHUNK_MS)
        end_chunks = self._end_chunks
        if not self.in_speech:
            self.quiet_run = self.quiet_run + 1 if prob < ONSET_PROB else 0
            if self.quiet_run >= RESET_AFTER_SILENT_CHUNKS:
                self.vad.reset()
                self.quiet_run = 0
            self.preroll.append((chunk, prob))
            self.voiced_run = self.voiced_run + 1 if voiced else 0
            if self.voiced_run >= start_chunks:
                self.in_speech = True
                self.silent_run = 0
                self.speech = onset(list(self.preroll))
                self.start_ns = ts_ns - (start_chunks * CHUNK_MS) * 1_000_000
                self.last_voice_ns = ts_ns
                self.on_speech_start(ts_ns)
            return
        self.speech.append(chunk)
        if voiced:
            if self.silent_run:
                self.judge_token += 1  # a verdict on the pause before this voice is stale
                self.complete = None
                self.shortened = None
            self.silent_run = 0
            self.last_voice_ns = ts_ns
            if self.paused:
                self.paused = False
                if self.on_resume is not None:
                    self.on_resume()
        else:
            self.silent_run += 1
            pause_chunks = max(1, self.settings.pause_ms // CHUNK_MS)
            if self.on_pause is not None and self.silent_run == pause_chunks < end_chunks:
                self.paused = True
                self.on_pause(UserTurn(np.concatenate(self.speech), self.start_ns,
                                       self.last_voice_ns, ts_ns))
            look = self._look_chunks
            ahead = min(JUDGE_AHEAD_CHUNKS, look - 1)
            if self.on_judge is not None and self.silent_run == look - ahead:
                self.judge_token += 1
                self.complete = None
                self.shortened = None
                heard = np.concatenate(self.speech + self.speech[len(self.speech) - ahead:])
                self.on_judge(heard, self.judge_token)
                if not self.in_speech:  # answered at once, at the look, and the turn is over
                    return
            if self.complete and self.silent_run == look:
                self._finish(ts_ns)
                return
        if self.on_judge is not None and self.complete is not True:
            end_chunks = max(end_chunks, self.shortened or self.unfinished_chunks)
        if self.silent_run >= end_chunks or len(self.speech) >= self.max_chunks:
            self._finish(ts_ns)

    def verdict(self, token: int, complete: bool) -> None:
        """The answer to `on_judge(…, token)`: a finished turn ends now if still silent, or
        at the look if that is still to come."""
        if token != self.judge_token or not self.in_speech or self.silent_run == 0:
            return
        self.complete = complete
        if complete and self.silent_run >= self._look_chunks:
            self._finish(self.clock())

    @property
    def _end_chunks(self) -> int:
        """Silence (chunks) that ends a turn without the end-of-turn model."""
        return max(1, self.settings.end_silence_ms // CHUNK_MS)

    @property
    def _look_chunks(self) -> int:
        """Silence (chunks) at which the end-of-turn model's verdict takes effect."""
        return min(self.judge_chunks, self._end_chunks)

    def shorten(self, token: int, after_ms: int) -> None:
        """Unfinished by its sound, finished by its words (tom/call/finished.py): this pause
        ends the turn after `after_ms` of silence instead of `unfinished_ms`."""
        if token != self.judge_token or not self.in_speech or self.silent_run == 0 \
                or self.complete:
            return
        self.shortened = max(self._end_chunks, after_ms // CHUNK_MS)
        if self.silent_run >= self.shortened:
            self._finish(self.clock())

    def _finish(self, ts_ns: int) -> None:
        audio = np.concatenate(self.speech) if self.speech else np.zeros(0, np.float32)
        turn = UserTurn(audio, self.start_ns, self.last_voice_ns, ts_ns)
        self.in_speech = False
        self.paused = False
        self.voiced_run = 0
        self.judge_token += 1
        self.complete = None
        self.shortened = None
        self.speech = []
        self.preroll.clear()
        self.on_turn(turn)

    @property
    def speaking(self) -> bool:
        return self.in_speech

    @property
    def silence_s(self) -> float:
        """The silence at the end of the caller's speech so far (its audio ends on it)."""
        return self.silent_run * CHUNK_MS / 1000 if self.in_speech else 0.0
