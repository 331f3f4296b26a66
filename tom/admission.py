"""Admission by load: a new call is taken only while the box still answers its calls in time.

`server.max_calls` is a hard cap on lines; this is the soft one. Every answered turn reports how
long its requests waited for the engine threads (stt_queue + llm_queue + tts_queue). Waiting is
the first thing that grows when the cores are full, long before compute does, so when the p95
of that wait over the last `WINDOW_S` passes `limits.admit_queue_p95_ms`, new callers get the
busy path (or a 503 from a balancer-facing transport) and the calls already up keep their pace.
An idle box always admits: no turns, no evidence.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tom.monitor import events as ev
from tom.monitor.stats import percentile

WINDOW_S = 30.0
MIN_TURNS = 5  # fewer turns than this in the window say too little to refuse anyone
QUEUE_KEYS = ("stt_queue", "llm_queue", "tts_queue")


@dataclass(frozen=True)
class Overload:
    """Why the box takes no new call right now (said in the CallEnded reason and the log)."""

    queue_p95_ms: float
    limit_ms: float
    turns: int

    def __str__(self) -> str:
        return (f"the box is at capacity: turns waited {self.queue_p95_ms:.0f} ms for the "
                f"engines (p95 of {self.turns} turns in {WINDOW_S:.0f} s; limit "
                f"{self.limit_ms:.0f} ms)")


class LoadGate:
    """Listens to turn timings (`bus.listen(gate.on_event)`); `overload()` says whether to refuse."""

    def __init__(self, limit_ms: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit_ms = limit_ms  # 0: off
        self._clock = clock
        self._waits: deque[tuple[float, float]] = deque(maxlen=2000)

    def on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.TurnTimed):
            waits = [event.timings_ms.get(k) for k in QUEUE_KEYS]
            numbers = [float(w) for w in waits
                       if isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0]
            if numbers:
                self._waits.append((self._clock(), sum(numbers)))

    def overload(self) -> Overload | None:
        if self.limit_ms <= 0:
            return None
        horizon = self._clock() - WINDOW_S
        while self._waits and self._waits[0][0] < horizon:
            self._waits.popleft()
        if len(self._waits) < MIN_TURNS:
            return None
        p95 = percentile([w for _, w in self._waits], 95)
        if p95 is None or p95 <= self.limit_ms:
            return None
        return Overload(p95, self.limit_ms, len(self._waits))
