"""The tasks of one call: owned, named, carrying the call id, cancelled and awaited at the end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import structlog

from tom.engine.workers import requester

T = TypeVar("T")


class CallTasks:
    """Every task a call starts. A task that fails reports to `on_error` (which ends the call);
    `cancel_all` stops and awaits the rest when the call ends."""

    def __init__(self, call_id: str, on_error: Callable[[BaseException], None]) -> None:
        self.call_id = call_id
        self.on_error = on_error
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        # Tasks copy the context they are created in: every log line of this call carries its id,
        # and the engine workers see whose request it is (they take turns between calls).
        token = requester.set(self.call_id)
        try:
            with structlog.contextvars.bound_contextvars(call_id=self.call_id):
                task = asyncio.get_running_loop().create_task(coro,
                                                              name=f"{self.call_id}-{name}")
        finally:
            requester.reset(token)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self.on_error(exc)

    def __len__(self) -> int:
        return len(self._tasks)

    async def cancel_all(self) -> None:
        """Cancel every task but the one calling, and wait until they are gone."""
        current = asyncio.current_task()
        others = [t for t in self._tasks if t is not current]
        for task in others:
            task.cancel()
        if others:
            await asyncio.wait(others)
