"""A call's sense of time: monotonic nanoseconds, timers and sleeps, all injectable.

Production uses `LoopClock` (time.monotonic_ns and the running event loop); unit tests pass a
fake that moves only when the test says, so re-prompts, time limits and pacing run instantly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class CallClock(Protocol):
    def now_ns(self) -> int: ...

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Cancellable: ...

    async def sleep(self, seconds: float) -> None: ...


class LoopClock:
    """Real time: `time.monotonic_ns` and the running loop's timers."""

    def now_ns(self) -> int:
        return time.monotonic_ns()

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Cancellable:
        return asyncio.get_running_loop().call_later(delay_s, callback)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
