"""One worker thread per engine, and the time each request spent waiting for it and running on it.

Each model serves one request at a time (their thread budgets are sized together for the
machine), so several calls queue for the same worker. `await worker.run(fn, *args)` returns the
result with three timestamps, so a turn can report the queue wait apart from the compute:

    timed = await stt.run(model.transcribe, audio)
    timed.value, timed.queue_ns, timed.compute_ns
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from tom.engine.timings import Clock

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Timed(Generic[T]):
    """A worker's result and when it was asked for, begun and finished (monotonic ns)."""

    value: T
    submitted_ns: int
    started_ns: int
    done_ns: int

    @property
    def queue_ns(self) -> int:
        return self.started_ns - self.submitted_ns

    @property
    def compute_ns(self) -> int:
        return self.done_ns - self.started_ns


class Worker:
    """A single thread that runs one engine's blocking calls in the order they were asked for."""

    def __init__(self, name: str, *, clock: Clock = time.monotonic_ns) -> None:
        self.name = name
        self.clock = clock
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"tom-{name}")

    async def run(self, fn: Callable[..., T], *args: object) -> Timed[T]:
        """Run `fn(*args)` on the worker; the timestamps tell queue wait from compute."""
        submitted = self.clock()

        def timed() -> tuple[T, int, int]:
            started = self.clock()
            value = fn(*args)
            return value, started, self.clock()

        value, started, done = await asyncio.get_running_loop().run_in_executor(
            self._pool, timed)
        return Timed(value, submitted, started, done)

    def submit(self, fn: Callable[[], None]) -> Future[None]:
        """Start `fn` on the worker without waiting (a stream that reports back itself)."""
        return self._pool.submit(fn)

    def close(self) -> None:
        """Drop queued requests; the one running finishes in its thread (models cannot abort)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
