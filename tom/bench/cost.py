"""What calls cost the box: CPU seconds per call-minute by stage, and memory per call.

Operators size a deployment from these: a 2-core box has 120 CPU-seconds per minute, so the
total CPU-seconds per call-minute bounds how many calls it can carry before queues grow. Stage
CPU comes from TOM's threads by name (tom.monitor.cpu; `tom_stage_cpu_seconds_total` for a remote
TOM); memory per call is the resident set above the idle server, at the busiest moment, shared
out over the calls at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

STAGES = ("vad", "stt", "llm", "tts")
SAMPLE_S = 0.5


@dataclass(frozen=True)
class CpuSnapshot:
    """Cumulative CPU seconds per stage ("other": the event loop and everything else)."""

    stages: dict[str, float]

    def minus(self, earlier: CpuSnapshot) -> dict[str, float]:
        return {k: max(0.0, v - earlier.stages.get(k, 0.0)) for k, v in self.stages.items()}


@dataclass
class CallCost:
    """One stretch of calls: CPU per call-minute by stage and resident memory per call."""

    call_minutes: float
    cpu_s: dict[str, float]
    rss_idle_mb: float | None = None
    rss_peak_mb: float | None = None
    concurrency: int = 1
    note: str = ""

    @property
    def cpu_s_per_call_minute(self) -> dict[str, float]:
        if self.call_minutes <= 0:
            return {}
        per = {k: v / self.call_minutes for k, v in self.cpu_s.items()}
        per["total"] = sum(self.cpu_s.values()) / self.call_minutes
        return per

    @property
    def rss_mb_per_call(self) -> float | None:
        if self.rss_idle_mb is None or self.rss_peak_mb is None:
            return None
        return max(0.0, self.rss_peak_mb - self.rss_idle_mb) / max(1, self.concurrency)

    def to_dict(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 2)

        return {"call_minutes": r(self.call_minutes),
                "cpu_s_per_call_minute": {k: r(v) for k, v in
                                          self.cpu_s_per_call_minute.items()},
                "rss_idle_mb": r(self.rss_idle_mb), "rss_peak_mb": r(self.rss_peak_mb),
                "rss_mb_per_call": r(self.rss_mb_per_call), "concurrency": self.concurrency,
                "note": self.note}


@dataclass
class Meter:
    """Reads a target's CPU and memory; `measure()` wraps one stretch of calls."""

    cpu: Callable[[], Awaitable[CpuSnapshot | None]]
    rss_mb: Callable[[], Awaitable[float | None]]
    note: str = ""
    rss_samples: list[float] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def measure(self, concurrency: int) -> AsyncIterator[CallCost]:
        """Yields a CallCost that is filled in when the block ends (set call_minutes then)."""
        idle = await self.rss_mb()
        before = await self.cpu()
        cost = CallCost(0.0, {}, rss_idle_mb=idle, concurrency=concurrency, note=self.note)
        samples: list[float] = []
        sampler = asyncio.create_task(self._sample(samples))
        try:
            yield cost
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            after = await self.cpu()
            if before is not None and after is not None:
                cost.cpu_s = after.minus(before)
            cost.rss_peak_mb = max(samples) if samples else None

    async def _sample(self, into: list[float]) -> None:
        while True:
            value = await self.rss_mb()
            if value is not None:
                into.append(value)
            await asyncio.sleep(SAMPLE_S)


def parse_stage_cpu(metrics_text: str) -> CpuSnapshot | None:
    """`tom_stage_cpu_seconds_total{stage="…"}` lines of a /metrics page; None when absent."""
    stages: dict[str, float] = {}
    for line in metrics_text.splitlines():
        if not line.startswith('tom_stage_cpu_seconds_total{stage="'):
            continue
        label, _, value = line.partition("} ")
        with contextlib.suppress(ValueError):
            stages[label.split('"')[1]] = float(value)
    return CpuSnapshot(stages) if stages else None
