"""Rolling latency percentiles per stage for GET /api/stats and the dashboard.

Prometheus keeps the long history; this answers "how are we doing right now" without one:
a time window (default 15 min) holding at most `max_samples` samples per stage.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tom.monitor.events import (
    OUTCOMES,
    TIMING_KEYS,
    BargeIn,
    CallEnded,
    CallError,
    CallStarted,
    Event,
    Outcome,
    TurnTimed,
)

# Latency targets in ms; None where there is no target (VAD wait is a tuning choice, a queue
# wait is judged by the compute target beside it). Every `turn` timing key, then barge-in.
TARGETS_MS: dict[str, float | None] = {
    "vad_wait": None,
    "stt_queue": None,
    "stt": 200,
    "llm_queue": None,
    "llm_first_token": 500,
    "tts_queue": None,
    "tts_first_audio": 300,
    "e2e": 1000,
    "barge_in": 300,
}
STAGES = tuple(TARGETS_MS)


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0–100) by linear interpolation between closest ranks.

    Same definition as numpy's default: rank = p/100 * (n-1). None for no values.
    """
    if not values:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    ordered = sorted(values)
    rank = p / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class StageStats:
    """Feeds on bus events (`bus.listen(stats.on_event)`); `snapshot()` is the /api/stats body."""

    def __init__(self, window_s: float = 900.0, max_samples: int = 5000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._samples: dict[str, deque[tuple[float, float]]] = {
            stage: deque(maxlen=max_samples) for stage in STAGES}
        self._outcomes: Counter[str] = Counter()
        self._active: set[str] = set()
        self._calls = 0
        self._errors = 0
        self._busy = 0

    def on_event(self, event: Event) -> None:
        """Synchronous bus listener; odd values (a non-number timing) are skipped."""
        match event:
            case TurnTimed(timings_ms=timings) if isinstance(timings, Mapping):
                for stage in TIMING_KEYS:
                    self._add(stage, timings.get(stage))
            case BargeIn(reaction_ms=reaction_ms):
                self._add("barge_in", reaction_ms)
            case CallStarted(call_id=call_id) if call_id not in self._active:
                self._active.add(call_id)
                self._calls += 1
            case CallEnded(call_id=call_id, outcome=outcome):
                if call_id in self._active:
                    self._active.discard(call_id)
                else:  # e.g. refused as busy before it ever started
                    self._calls += 1
                self._outcomes[str(outcome or "unknown")] += 1
                if outcome == Outcome.BUSY:
                    self._busy += 1
            case CallError():
                self._errors += 1

    def _add(self, stage: str, ms: Any) -> None:
        if isinstance(ms, bool) or not isinstance(ms, (int, float)) or ms != ms or ms < 0:
            return
        self._samples[stage].append((self._clock(), float(ms)))

    def _recent(self, stage: str) -> list[float]:
        samples = self._samples[stage]
        horizon = self._clock() - self.window_s
        while samples and samples[0][0] < horizon:
            samples.popleft()
        return [ms for _, ms in samples]

    def snapshot(self) -> dict[str, Any]:
        """`{window_s, stages: {name: {p50_ms, p95_ms, count, target_ms}}, outcomes, counters}`.

        Stages cover the window; outcomes and counters count since the process started.
        """
        stages: dict[str, dict[str, Any]] = {}
        for stage in STAGES:
            values = self._recent(stage)
            stages[stage] = {
                "p50_ms": _round(percentile(values, 50)),
                "p95_ms": _round(percentile(values, 95)),
                "count": len(values),
                "target_ms": TARGETS_MS[stage],
            }
        outcomes = {str(name): self._outcomes.get(name, 0) for name in OUTCOMES}
        outcomes.update(self._outcomes)
        return {
            "window_s": self.window_s,
            "stages": stages,
            "outcomes": outcomes,
            "counters": {"calls": self._calls, "errors": self._errors, "busy": self._busy,
                         "active": len(self._active)},
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
