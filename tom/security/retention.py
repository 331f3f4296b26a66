"""Data retention: forget call records, transcripts and messages older than `data.retention_days`.

TOM keeps what callers said only as long as the operator needs it. A background task prunes
the in-memory recent-call list (transcripts live there) and the message store on a timer;
`retention_days = 0` keeps everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)

DAY_S = 86400.0
DEFAULT_INTERVAL_S = 3600.0


def prune_recent(registry: Any, days: float, *, now: float | None = None) -> int:
    """Drop finished call records that started more than `days` ago; returns how many.

    `registry.recent` is the CallRegistry's deque (newest first); active calls are never
    touched. Order and the deque's maxlen are kept.
    """
    if days <= 0:
        return 0
    cutoff = (time.time() if now is None else now) - days * DAY_S
    recent = registry.recent
    keep = [r for r in recent if r.started_at >= cutoff]
    removed = len(recent) - len(keep)
    if removed:
        recent.clear()
        recent.extend(keep)
    return removed


async def prune_messages(store: Any, days: float) -> int:
    """Ask the message store to delete entries older than `days`; returns how many it says."""
    if days <= 0 or store is None:
        return 0
    delete = getattr(store, "delete_older_than", None)
    if delete is None:
        raise TypeError(f"{type(store).__name__} has no delete_older_than(days)")
    if inspect.iscoroutinefunction(delete):
        result = await delete(days)
    else:  # a blocking SQLite call: run it off the loop
        result = await asyncio.to_thread(delete, days)
        if inspect.isawaitable(result):
            result = await result
    return int(result or 0)


class RetentionTask:
    """Runs the pruning now and every `interval_s` until stopped.

    `target` is an Assistant (uses `.registry` and `.messages`), a CallRegistry, or a
    message store; whatever it has is pruned.
    """

    def __init__(self, target: Any, days: float, interval_s: float = DEFAULT_INTERVAL_S, *,
                 clock: Callable[[], float] = time.time) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        self.target = target
        self.days = days
        self.interval_s = interval_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.runs = 0

    def _parts(self) -> tuple[Any, Any]:
        t = self.target
        if hasattr(t, "registry") or hasattr(t, "messages"):
            return getattr(t, "registry", None), getattr(t, "messages", None)
        if hasattr(t, "recent"):
            return t, None
        return None, t

    async def run_once(self) -> dict[str, int]:
        """One pass; a failing part is logged and the other parts still run."""
        removed = {"calls": 0, "messages": 0}
        if self.days <= 0:
            return removed
        registry, store = self._parts()
        if registry is not None:
            removed["calls"] = prune_recent(registry, self.days, now=self._clock())
        try:
            removed["messages"] = await prune_messages(store, self.days)
        except Exception as exc:  # retention must never take the server down
            log.warning("retention could not prune messages", error=repr(exc))
        self.runs += 1
        if removed["calls"] or removed["messages"]:
            log.info("retention pruned old data", days=self.days, **removed)
        return removed

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:
                log.warning("retention pass failed", error=repr(exc))
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        """Start the timer (a no-op when retention is off or already running)."""
        if self.days <= 0 or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="tom-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def __aenter__(self) -> RetentionTask:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
